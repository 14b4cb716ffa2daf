// SPDX-License-Identifier: Apache-2.0

#include "agent/util/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace modgate {
namespace {

std::string errstr(int e) { return std::strerror(e); }

}  // namespace

std::string dirname_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<Ok> write_output_file(const std::string& path, const std::string& text, mode_t mode) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)))
    return write_atomically(path, text, mode);
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Error{"cannot write " + path + ": " + errstr(errno)};
  for (std::size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error{"cannot write " + path + ": " + errstr(err)};
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return Error{"cannot write " + path + ": " + errstr(errno)};
  return Ok{};
}

Result<Ok> mkdir_p(const std::string& dir, mode_t mode) {
  if (dir.empty() || dir == "/" || dir == ".") return Ok{};
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return Ok{};
  if (auto r = mkdir_p(dirname_of(dir), mode); !r) return r;
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return Error{"cannot create " + dir + ": " + errstr(errno)};
  return Ok{};
}

Result<Ok> write_atomically(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  // Whatever sits at PATH.tmp goes first, then the file is made new (O_EXCL, which also never
  // follows a symlink): a FIFO planted there would block the open until a reader came, wedging the
  // agent's loop, and a symlink would redirect a root write. One planted again in between makes
  // the open fail, not block.
  if (::unlink(tmp.c_str()) != 0 && errno != ENOENT)
    return Error{"cannot remove the leftover " + tmp + ": " + errstr(errno)};
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Error{"cannot write " + tmp + ": " + errstr(errno)};
  // The mode given to open() is filtered by the umask; the file's readers depend on the real one.
  if (::fchmod(fd, mode) != 0) {
    int e = errno;
    ::close(fd);
    return Error{"cannot set the mode of " + tmp + ": " + errstr(e)};
  }
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Error{"cannot write " + tmp + ": " + errstr(e)};
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error{"cannot write " + tmp + ": " + errstr(e)};
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Error{"cannot replace " + path + ": " + errstr(e)};
  }
  // The rename itself is durable only once the directory is.
  int dfd = ::open(dirname_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Ok{};
}

}  // namespace modgate
