// SPDX-License-Identifier: Apache-2.0

#include "policy/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace modgate::policy {
namespace {

std::string limit_text(std::uint64_t limit) {
  constexpr std::uint64_t kMiB = 1ull << 20;
  return limit % kMiB == 0 ? std::to_string(limit / kMiB) + " MiB"
                           : std::to_string(limit) + " bytes";
}

}  // namespace

Result<std::string> read_regular_file(const std::string& path, std::uint64_t limit,
                                      const std::string& what, struct stat* st_out) {
  // O_NONBLOCK: a FIFO put in place of the file must not hang open(); only regular files pass
  // the check below, and for them the flag has no effect.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Error{path + ": " + std::strerror(errno)};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error{path + ": " + std::strerror(err)};
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{path + ": not a regular file"};
  }
  if (static_cast<std::uint64_t>(st.st_size) > limit) {
    ::close(fd);
    return Error{path + ": " + std::to_string(st.st_size) + " bytes is larger than the " +
                 limit_text(limit) + " " + what + " may be"};
  }
  // Read at most one byte past the limit: the file may grow between fstat and read.
  std::string text(static_cast<std::size_t>(st.st_size) + 1, '\0');
  std::size_t got = 0;
  for (;;) {
    if (got == text.size()) {
      if (text.size() > limit) break;
      text.resize(static_cast<std::size_t>(std::min<std::uint64_t>(text.size() * 2, limit + 1)));
    }
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Error{path + ": read failed: " + std::strerror(err)};
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  if (text.size() > limit)
    return Error{path + ": grew past the " + limit_text(limit) + " " + what +
                 " may be while being read"};
  if (st_out) *st_out = st;
  return text;
}

}  // namespace modgate::policy
