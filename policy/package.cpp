// SPDX-License-Identifier: Apache-2.0

#include "policy/package.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "policy/decompress.h"

namespace modgate::policy {
namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

// libarchive's errno for input of no format it reads (its private ARCHIVE_ERRNO_FILE_FORMAT:
// EFTYPE where that exists, EILSEQ on Linux).
constexpr int kNotThisFormat = EILSEQ;

std::string archive_message(archive* a) {
  const char* m = archive_error_string(a);
  return m ? m : "unknown libarchive error";
}

struct Job {
  std::string name, rel, shown;
  std::vector<std::uint8_t> bytes;
};

// Module files read out of the package, waiting for a hashing thread. Decompressing data.tar is
// one stream and so one thread; hashing (and decompressing each .ko.xz) is spread over the
// others. The queue holds at most kMaxQueuedBytes of files (one larger file alone), so peak
// memory is that plus one file per hashing thread, whatever the package's size; a whole
// data.tar is 400 MiB for bookworm.
class JobQueue {
 public:
  static constexpr std::size_t kMaxQueuedBytes = 64u << 20;

  void push(Job job) {
    std::unique_lock lock(mutex_);
    can_push_.wait(lock,
                   [&] { return jobs_.empty() || queued_ + job.bytes.size() <= kMaxQueuedBytes; });
    queued_ += job.bytes.size();
    jobs_.push_back(std::move(job));
    can_pop_.notify_one();
  }

  std::optional<Job> pop() {
    std::unique_lock lock(mutex_);
    can_pop_.wait(lock, [&] { return !jobs_.empty() || closed_; });
    if (jobs_.empty()) return std::nullopt;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    queued_ -= job.bytes.size();
    can_push_.notify_one();
    return job;
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    can_pop_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable can_push_, can_pop_;
  std::deque<Job> jobs_;
  std::size_t queued_ = 0;
  bool closed_ = false;
};

// What reading the packages found so far.
struct Scan {
  JobQueue queue;
  std::mutex results_mutex;
  std::vector<ScannedFile> results;  // hashed files, and files refused before hashing
  std::optional<std::string> release, release_deb;

  void add(ScannedFile f) {
    std::lock_guard lock(results_mutex);
    results.push_back(std::move(f));
  }
};

// The outer (ar) archive's current member, data.tar, as the inner reader's input: blocks are
// handed over as libarchive decompresses them, never the whole member.
struct MemberSource {
  archive* outer;
};

la_ssize_t read_member(archive* inner, void* ctx, const void** buf) {
  auto* src = static_cast<MemberSource*>(ctx);
  std::size_t size = 0;
  la_int64_t offset = 0;
  int r = archive_read_data_block(src->outer, buf, &size, &offset);
  if (r == ARCHIVE_EOF) return 0;
  if (r < ARCHIVE_WARN) {
    archive_set_error(inner, archive_errno(src->outer), "%s", archive_message(src->outer).c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(size);
}

// Package paths start with "./"; dpkg installs them relative to /, so a leading "/" means the
// same.
std::string_view strip_root(std::string_view p) {
  while (p.starts_with("./") || p.starts_with("/")) p.remove_prefix(p.starts_with("/") ? 1 : 2);
  return p;
}

// "lib/modules/REL/kernel/x.ko" (or under usr/): REL and "kernel/x.ko".
std::optional<std::pair<std::string, std::string>> module_tree_path(std::string_view p) {
  for (std::string_view prefix : {"lib/modules/", "usr/lib/modules/"}) {
    if (!p.starts_with(prefix)) continue;
    std::string_view rest = p.substr(prefix.size());
    std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size())
      return std::nullopt;
    return std::pair{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
  }
  return std::nullopt;
}

// Queues every module file of one data.tar for hashing. Errors are the package's (damaged
// compression or tar stream, a second release); a module file's own trouble becomes its result.
Result<Ok> scan_data(const std::string& deb, archive* outer, Scan& scan) {
  ArchivePtr in(archive_read_new());
  archive_read_support_filter_all(in.get());
  archive_read_support_format_tar(in.get());
  MemberSource src{outer};
  if (archive_read_open(in.get(), &src, nullptr, read_member, nullptr) != ARCHIVE_OK)
    return Error{deb + ": data.tar: " + archive_message(in.get())};
  for (;;) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) return Ok{};
    if (r < ARCHIVE_WARN) return Error{deb + ": data.tar: " + archive_message(in.get())};
    const char* raw = archive_entry_pathname(entry);
    const std::string path(strip_root(raw ? raw : ""));
    auto where = module_tree_path(path);
    if (!where) continue;
    auto& [release, rel] = *where;
    std::string name = rel.substr(rel.rfind('/') + 1);
    if (!is_module_file_name(name)) continue;
    // A symbolic link points at a file of the system the package is installed on, or at another
    // file of the package, hashed as itself; a hard link's bytes are its target's, hashed already.
    auto type = archive_entry_filetype(entry);
    if (type == AE_IFLNK || archive_entry_hardlink(entry)) continue;

    if (!scan.release) {
      scan.release = release;
      scan.release_deb = deb;
    } else if (*scan.release != release) {
      return Error{"module files of two kernel releases: " + *scan.release + " (" +
                   *scan.release_deb + ") and " + release + " (" + deb +
                   "); give the packages of one release"};
    }
    std::string shown = deb + ": " + path;
    if (type != AE_IFREG) {
      scan.add({rel, shown, Error{"is " + file_type_name(type) + ", not a module file"}});
      continue;
    }
    la_int64_t size = archive_entry_size(entry);
    if (size < 0) {
      scan.add({rel, shown, Error{"has no size in the package's tar header"}});
      continue;
    }
    if (static_cast<std::uint64_t>(size) > kMaxModuleBytes) {
      scan.add({rel, shown,
                Error{"is " + std::to_string(size >> 20) + " MiB, larger than the " +
                      std::to_string(kMaxModuleBytes >> 20) + " MiB any module may be"}});
      continue;
    }
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    std::size_t got = 0;
    while (got < bytes.size()) {
      la_ssize_t n = archive_read_data(in.get(), bytes.data() + got, bytes.size() - got);
      if (n < 0) return Error{deb + ": " + path + ": " + archive_message(in.get())};
      if (n == 0) return Error{deb + ": " + path + ": data.tar ends inside this file"};
      got += static_cast<std::size_t>(n);
    }
    scan.queue.push({std::move(name), std::move(rel), std::move(shown), std::move(bytes)});
  }
}

// Checks that deb is a Debian package (an ar archive that starts with debian-binary) and scans
// its data.tar member.
Result<Ok> scan_deb(const std::string& deb, Scan& scan) {
  ArchivePtr outer(archive_read_new());
  archive_read_support_format_ar(outer.get());
  auto not_deb = [&](const std::string& why) {
    return Error{deb + ": not a Debian package (" + why + ")"};
  };
  // libarchive's own message for a file it cannot open or read is "Failed to open 'FILE'" or
  // "Error reading 'FILE'", which says less than errno.
  auto open_error = [&](archive* a) {
    int err = archive_errno(a);
    if (err == kNotThisFormat) return not_deb("not an ar archive");
    if (err > 0) return Error{deb + ": " + std::strerror(err)};
    return Error{deb + ": " + archive_message(a)};
  };
  if (archive_read_open_filename(outer.get(), deb.c_str(), 64u << 10) != ARCHIVE_OK)
    return open_error(outer.get());
  bool first = true, data = false;
  for (;;) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(outer.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (first) return open_error(outer.get());
      return Error{deb + ": " + archive_message(outer.get())};
    }
    const char* raw = archive_entry_pathname(entry);
    std::string member = raw ? raw : "";
    if (first && member != "debian-binary")
      return not_deb("its first member is '" + member + "', not debian-binary");
    first = false;
    if (!member.starts_with("data.tar")) continue;
    if (data) return not_deb("two data.tar members");
    data = true;
    auto r2 = scan_data(deb, outer.get(), scan);
    if (!r2) return r2.error();
  }
  if (first) return not_deb("an empty archive");
  if (!data) return not_deb("no data.tar member");
  return Ok{};
}

}  // namespace

Result<InitReport> scan_packages(const std::vector<std::string>& debs, const InitOptions& o) {
  if (debs.empty()) return Error{"no package given"};
  Scan scan;
  // One hashing thread per CPU, as for a tree, although the reading thread decompresses data.tar
  // besides them: it idles whenever the queue is full, and with one thread fewer hashing the
  // .ko.xz of trixie-bpo took 7.6 s instead of 5.9 s on 2 CPUs.
  unsigned n_threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < n_threads; t++) {
    pool.emplace_back([&scan] {
      while (auto job = scan.queue.pop())
        scan.add({job->rel, job->shown, module_bytes_entries(job->bytes, job->name, job->rel)});
    });
  }
  std::optional<Error> failed;
  for (const auto& deb : debs) {
    auto r = scan_deb(deb, scan);
    if (!r) {
      failed = r.error();
      break;
    }
  }
  scan.queue.close();
  for (auto& t : pool) t.join();
  if (failed) return *failed;

  if (scan.results.empty()) {
    std::string names;
    for (const auto& d : debs) names += (names.empty() ? "" : ", ") + d;
    return Error{names +
                 ": no module files (*.ko, *.ko.xz, *.ko.zst, *.ko.gz) under lib/modules/RELEASE/ "
                 "or usr/lib/modules/RELEASE/"};
  }
  return assemble_report(std::move(scan.results), {}, o);
}

}  // namespace modgate::policy
