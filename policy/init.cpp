// SPDX-License-Identifier: Apache-2.0

#include "policy/init.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>
#include <tuple>

#include "policy/decompress.h"
#include "policy/modinfo.h"
#include "policy/rollout.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;

// What the kernel would call a module from this file name when .modinfo has no name= (it always
// has on kernels since 2.6): basename up to ".ko", with '-' folded to '_' as KBUILD_MODNAME does.
std::string name_from_file(const std::string& path) {
  std::string base = fs::path(path).filename().string();
  base = base.substr(0, base.rfind(".ko"));
  std::replace(base.begin(), base.end(), '-', '_');
  return base;
}

}  // namespace

std::string file_type_name(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  return "not a regular file";
}

namespace {

// Reads a whole module file. O_NONBLOCK keeps a FIFO named *.ko from hanging the walk; fstat then
// refuses everything but regular files before a byte is read.
Result<std::vector<std::uint8_t>> read_module_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    struct stat lst {};
    if (err == ENOENT && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
      std::error_code ec;
      auto target = fs::read_symlink(path, ec);
      return Error{"broken symbolic link" + (ec ? "" : " to " + target.string())};
    }
    return Error{std::strerror(err)};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error{std::strerror(err)};
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{"is " + file_type_name(st.st_mode) + ", not a module file"};
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxModuleBytes) {
    ::close(fd);
    return Error{"is " + std::to_string(st.st_size >> 20) + " MiB, larger than the " +
                 std::to_string(kMaxModuleBytes >> 20) + " MiB any module may be"};
  }
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error{std::string("read failed: ") + std::strerror(err)};
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  // A file that shrank under us would be hashed short; one that grew is hashed as fstat saw it.
  if (got != buf.size()) return Error{"changed size while being read"};
  return buf;
}

// Strings from module files go into a UTF-8 policy; the rare invalid byte becomes U+FFFD rather
// than making the whole policy unreadable.
std::string utf8_clean(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80             ? 1
                      : (c & 0xe0) == 0xc0 ? 2
                      : (c & 0xf0) == 0xe0 ? 3
                      : (c & 0xf8) == 0xf0 ? 4
                                           : 0;
    bool ok = len > 0 && i + len <= s.size();
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1fu) : len == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (std::size_t j = 1; ok && j < len; j++) {
      auto cc = static_cast<unsigned char>(s[i + j]);
      ok = (cc & 0xc0) == 0x80;
      cp = cp << 6 | (cc & 0x3fu);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMin[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    ok = ok && !(c < 0x20 && c != '\t') && c != 0x7f;
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      i += 1;
    }
  }
  return out;
}

bool valid_module_name(const std::string& n) {
  if (n.empty() || n.size() > MG_NAME_LEN - 9) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string yaml_quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size(); i++) {
    const char c = s[i];
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) {
      // NEL, LS and PS are line breaks to some YAML parsers and text to others, so the parser
      // refuses them raw (policy/parse.cpp); these escapes mean the character to both. Not \N:
      // yaml-cpp decodes that to a lone byte.
      out += "\\x85";
      i++;
    } else if (u == 0xe2 && s.substr(i, 3) == "\u2028") {
      out += "\\L";
      i += 2;
    } else if (u == 0xe2 && s.substr(i, 3) == "\u2029") {
      out += "\\P";
      i += 2;
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void yaml_list(std::string& out, const char* key, const std::vector<std::string>& v,
               const char* indent) {
  out += indent;
  out += key;
  if (v.empty()) {
    out += ": []\n";
    return;
  }
  out += ":\n";
  for (const auto& s : v) out += std::string(indent) + "  - " + yaml_quote(s) + "\n";
}

}  // namespace

bool is_module_file_name(std::string_view n) {
  auto ends = [&](std::string_view s) {
    return n.size() > s.size() && n.substr(n.size() - s.size()) == s;
  };
  return ends(".ko") || ends(".ko.xz") || ends(".ko.zst") || ends(".ko.gz");
}

Result<std::vector<ModuleEntry>> module_bytes_entries(std::span<const std::uint8_t> file,
                                                      const std::string& name,
                                                      const std::string& rel) {
  Compression c = compression_from_name(name);
  std::vector<std::uint8_t> payload_buf;
  std::span<const std::uint8_t> payload = file;
  if (c != Compression::kNone) {
    Compression magic = compression_from_magic(file);
    if (magic != c)
      return Error{"is named " + std::string(compression_suffix(c)) + " but is not " +
                   std::string(compression_suffix(c)).substr(1) + " data"};
    auto d = decompress(file, c);
    if (!d) return d.error();
    payload_buf = std::move(*d);
    payload = payload_buf;
  }
  auto mi = read_modinfo(payload);
  if (!mi)
    return Error{(c == Compression::kNone ? "" : "decompressed payload ") + mi.error().message};
  auto signer = module_signer(payload);
  if (!signer) return signer.error();

  ModuleEntry e;
  e.name = mi->name ? *mi->name : name_from_file(name);
  if (!valid_module_name(e.name))
    return Error{"module name '" + utf8_clean(e.name) + "' from .modinfo is not a valid name"};
  if (mi->version) e.version = utf8_clean(*mi->version);
  if (mi->vermagic) e.vermagic = utf8_clean(*mi->vermagic);
  if (*signer) e.signer = utf8_clean(**signer);
  e.path = utf8_clean(rel);
  e.sha256 = sha256(file);
  if (c == Compression::kNone) return std::vector<ModuleEntry>{e};

  std::string suffix(compression_suffix(c));
  ModuleEntry payload_entry = e;
  e.note = "compressed file (" + suffix +
           ") as on disk: what finit_module with in-kernel decompression reads";
  payload_entry.sha256 = sha256(payload);
  payload_entry.note = "decompressed payload of the " + suffix +
                       " file: what is loaded when modprobe or insmod decompresses in userspace";
  return std::vector<ModuleEntry>{e, payload_entry};
}

Result<std::vector<ModuleEntry>> module_file_entries(const std::string& path,
                                                     const std::string& rel) {
  auto file = read_module_file(path);
  if (!file) return file.error();
  return module_bytes_entries(*file, fs::path(path).filename().string(), rel);
}

Result<InitReport> scan_module_tree(const InitOptions& o) {
  InitReport report;
  struct Candidate {
    std::string path, rel;
    std::uintmax_t size = 0;  // of a regular file; 0 for anything else (it fails fast)
  };
  std::vector<Candidate> files;

  std::error_code ec;
  auto root_status = fs::status(o.root, ec);
  if (ec) return Error{o.root + ": " + ec.message()};
  if (!fs::is_directory(root_status)) return Error{o.root + ": not a directory"};

  // An explicit stack rather than recursive_directory_iterator, so an unreadable directory is
  // reported and the walk carries on past it.
  std::vector<fs::path> dirs{fs::path(o.root)};
  while (!dirs.empty()) {
    fs::path dir = std::move(dirs.back());
    dirs.pop_back();
    fs::directory_iterator it(dir, ec), end;
    if (ec) {
      report.problems.push_back(dir.string() + ": cannot list directory: " + ec.message());
      continue;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) break;
      const auto& entry = *it;
      std::error_code sec;
      auto st = entry.symlink_status(sec);
      std::string name = entry.path().filename().string();
      if (is_module_file_name(name)) {
        std::error_code zec;
        std::uintmax_t size = !sec && fs::is_regular_file(st) ? entry.file_size(zec) : 0;
        files.push_back({entry.path().string(),
                         entry.path().lexically_relative(o.root).generic_string(), zec ? 0 : size});
      } else if (!sec && fs::is_directory(st)) {
        dirs.push_back(entry.path());
      }
    }
    if (ec) report.problems.push_back(dir.string() + ": listing failed: " + ec.message());
  }
  report.files = files.size();
  if (files.empty()) return Error{o.root + ": no module files (*.ko, *.ko.xz, *.ko.zst, *.ko.gz)"};

  // Each file's result has its own slot, so the output does not depend on which thread took
  // which file or when it finished. Largest first: a tree's few huge modules (amdgpu decompresses
  // to 28 MiB) start early instead of leaving one thread decompressing after the others ran out
  // of work.
  std::vector<Result<std::vector<ModuleEntry>>> results(files.size(), Error{});
  std::vector<std::size_t> dispatch(files.size());
  for (std::size_t i = 0; i < dispatch.size(); i++) dispatch[i] = i;
  std::stable_sort(dispatch.begin(), dispatch.end(),
                   [&](std::size_t a, std::size_t b) { return files[a].size > files[b].size; });
  std::atomic<std::size_t> next{0};
  unsigned n_threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  n_threads = static_cast<unsigned>(std::min<std::size_t>(n_threads, files.size()));
  auto work = [&] {
    for (std::size_t k; (k = next.fetch_add(1)) < dispatch.size();) {
      const std::size_t i = dispatch[k];
      results[i] = module_file_entries(files[i].path, files[i].rel);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < n_threads; t++) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  std::vector<ScannedFile> scanned;
  scanned.reserve(files.size());
  for (std::size_t i = 0; i < files.size(); i++)
    scanned.push_back({std::move(files[i].rel), std::move(files[i].path), std::move(results[i])});
  return assemble_report(std::move(scanned), std::move(report.problems), o);
}

InitReport assemble_report(std::vector<ScannedFile> files, std::vector<std::string> problems,
                           const InitOptions& o) {
  InitReport report;
  report.files = files.size();
  report.problems = std::move(problems);
  // Within one tree, rel orders like the full path; shown breaks ties between packages.
  std::sort(files.begin(), files.end(), [](const ScannedFile& a, const ScannedFile& b) {
    return std::tie(a.rel, a.shown) < std::tie(b.rel, b.shown);
  });
  struct Found {
    ModuleEntry entry;
    const std::string* shown;
  };
  std::vector<Found> entries;
  for (auto& f : files) {
    if (!f.entries) {
      report.problems.push_back(f.shown + ": " + f.entries.error().message);
      continue;
    }
    for (auto& e : *f.entries) entries.push_back({std::move(e), &f.shown});
  }
  // Name, then path, keeps a module's file and payload entries together; stable_sort keeps the
  // file before its payload.
  std::stable_sort(entries.begin(), entries.end(), [](const Found& a, const Found& b) {
    return std::tie(a.entry.name, a.entry.path) < std::tie(b.entry.name, b.entry.path);
  });
  // The same bytes twice (a module in both kernel/ and updates/, or a .ko next to its .ko.xz)
  // need one entry; the same bytes under two names cannot be a policy.
  std::map<Sha256, const ModuleEntry*> seen;
  for (auto& [e, shown] : entries) {
    auto [it, inserted] = seen.emplace(e.sha256, &e);
    if (inserted) {
      report.policy.modules.push_back(e);
    } else if (it->second->name != e.name) {
      report.problems.push_back(*shown + ": same bytes as " + it->second->path.value_or("") +
                                " but named '" + e.name + "' instead of '" + it->second->name +
                                "'");
    }
  }
  std::sort(report.problems.begin(), report.problems.end());

  if (o.kernel) {
    report.policy.kernels = {*o.kernel};
  } else {
    // The release every module was built for, when they agree: vermagic starts with it.
    std::optional<std::string> release;
    bool agree = true;
    for (const auto& m : report.policy.modules) {
      if (!m.vermagic) continue;
      std::string r = m.vermagic->substr(0, m.vermagic->find(' '));
      if (release && *release != r) agree = false;
      release = r;
    }
    bool valid = release && !release->empty() && release->size() <= 64 &&
                 std::all_of(release->begin(), release->end(), is_kernel_pattern_char);
    if (agree && valid) report.policy.kernels = {*release};
  }
  report.policy.version = 1;
  report.policy.mode = o.mode;
  report.policy.digest = policy_digest(report.policy);
  return report;
}

std::string policy_to_yaml(const Policy& p, const std::vector<std::string>& header) {
  std::string out;
  for (const auto& h : header) out += "# " + h + "\n";
  out += "version: " + std::to_string(p.version) + "\n";
  out += "mode: " + std::string(mode_name(p.mode)) + "\n";
  if (p.rollout)
    out += "rollout:\n  enforce_percent: " + percent_string(p.rollout->enforce_basis_points) +
           "\n  salt: " + yaml_quote(p.rollout->salt) + "\n";
  yaml_list(out, "kernels", p.kernels, "");
  if (p.other_kernels != OtherKernels::kReport)
    out += "other_kernels: " + std::string(other_kernels_name(p.other_kernels)) + "\n";
  out += std::string("log_allowed: ") + (p.log_allowed ? "true" : "false") + "\n";
  out += std::string("allow_forced: ") + (p.allow_forced ? "true" : "false") + "\n";
  if (p.allow_empty) out += "allow_empty: true\n";
  out += "autoload:\n  default: " + std::string(autoload_default_name(p.autoload.default_action)) +
         "\n";
  yaml_list(out, "allow", p.autoload.allow, "  ");
  yaml_list(out, "deny", p.autoload.deny, "  ");
  auto entries = [&](const char* key, const std::vector<ModuleEntry>& list) {
    out += std::string(key) + (list.empty() ? ": []\n" : ":\n");
    for (const auto& m : list) {
      out += "  - name: " + yaml_quote(m.name) + "\n";
      out += "    sha256: \"" + to_hex(m.sha256) + "\"\n";
      auto opt = [&](const char* k, const std::optional<std::string>& v) {
        if (v) out += std::string("    ") + k + ": " + yaml_quote(*v) + "\n";
      };
      opt("version", m.version);
      opt("vermagic", m.vermagic);
      opt("signer", m.signer);
      opt("path", m.path);
      opt("note", m.note);
    }
  };
  entries("modules", p.modules);
  // policy suggest writes an existing policy back with new modules: every other section and
  // setting must survive the round trip, or the new policy would quietly mean less.
  if (p.firmware) entries("firmware", *p.firmware);
  if (p.kexec) entries("kexec", *p.kexec);
  if (p.protect) out += "protect: true\n";
  return out;
}

}  // namespace modgate::policy
