// SPDX-License-Identifier: Apache-2.0

#include "policy/preloaded.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "policy/audit.h"

namespace modgate::policy {
namespace {

using Json = nlohmann::ordered_json;

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

template <typename T>
Json opt(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

// The record lives in a root-only runtime directory; written whole or not at all.
Result<Ok> write_file(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error{"cannot write " + tmp + ": " + std::strerror(errno)};
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Error{"cannot write " + path + ": " + std::strerror(e)};
  }
  return Ok{};
}

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

}  // namespace

std::size_t PreloadedRecord::not_listed() const {
  std::size_t n = 0;
  for (const auto& m : modules) n += m.listed.has_value() && !*m.listed;
  return n;
}

std::size_t PreloadedRecord::unchecked() const {
  std::size_t n = 0;
  for (const auto& m : modules) n += !m.listed.has_value();
  return n;
}

PreloadedRecord preloaded_from_audit(const AuditReport& report) {
  PreloadedRecord r;
  r.kernel_release = report.release;
  for (const auto& m : report.modules) {
    if (m.builtin) continue;
    PreloadedModule p;
    p.name = m.name;
    p.file = m.file;
    p.sha256 = m.sha256;
    p.listed = m.listed;
    p.error = m.file_error;
    if (!p.error && !p.listed) p.error = "no policy text to check it with";
    p.taint = m.taint;
    r.modules.push_back(std::move(p));
  }
  return r;
}

Json preloaded_json(const PreloadedRecord& r) {
  Json j;
  j["boot_id"] = r.boot_id;
  j["recorded_at"] = r.recorded_at;
  j["kernel_release"] = r.kernel_release;
  j["policy_version"] = r.policy_version;
  j["policy_digest"] = r.policy_digest;
  j["count"] = r.modules.size();
  j["not_listed"] = r.not_listed();
  j["unchecked"] = r.unchecked();
  j["modules"] = Json::array();
  for (const auto& m : r.modules)
    j["modules"].push_back({{"name", m.name},
                            {"file", opt(m.file)},
                            {"sha256", opt(m.sha256)},
                            {"listed", opt(m.listed)},
                            {"error", opt(m.error)},
                            {"taint", m.taint}});
  return j;
}

Result<PreloadedRecord> parse_preloaded(const std::string& text, const std::string& file) {
  auto bad = [&](const std::string& what) {
    return Error{file + ": not a loaded-before-enforcement record: " + what};
  };
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  PreloadedRecord r;
  try {
    r.boot_id = j.at("boot_id").get<std::string>();
    r.recorded_at = j.at("recorded_at").get<std::string>();
    r.kernel_release = j.at("kernel_release").get<std::string>();
    r.policy_version = j.at("policy_version").get<std::uint64_t>();
    r.policy_digest = j.at("policy_digest").get<std::string>();
    for (const auto& m : j.at("modules")) {
      PreloadedModule p;
      p.name = m.at("name").get<std::string>();
      auto str = [&](const char* k) -> std::optional<std::string> {
        if (m.at(k).is_null()) return std::nullopt;
        return m.at(k).get<std::string>();
      };
      p.file = str("file");
      p.sha256 = str("sha256");
      p.error = str("error");
      if (!m.at("listed").is_null()) p.listed = m.at("listed").get<bool>();
      p.taint = m.at("taint").get<std::string>();
      r.modules.push_back(std::move(p));
    }
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  return r;
}

std::string read_boot_id(const std::string& root) {
  std::string base = root.empty() || root == "/" ? "" : root;
  std::ifstream in(base + "/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

PreloadedAtStart preloaded_at_start(bool fresh, const std::string& file, const Policy* policy,
                                    std::uint64_t policy_version, const std::string& digest) {
  PreloadedAtStart out;
  const std::string boot_id = read_boot_id();
  if (fresh) {
    AuditOptions ao;
    ao.policy = policy;
    auto audit = run_audit(ao);
    if (!audit) {
      out.note = "cannot list the loaded modules: " + audit.error().message;
      return out;
    }
    PreloadedRecord r = preloaded_from_audit(*audit);
    r.boot_id = boot_id;
    r.recorded_at = utc_now();
    r.policy_version = policy_version;
    r.policy_digest = digest;
    if (r.kernel_release.empty()) {
      utsname u{};
      if (::uname(&u) == 0) r.kernel_release = u.release;
    }
    ::mkdir(dir_of(file).c_str(), 0700);
    if (auto w = write_file(file, preloaded_json(r).dump(2) + "\n"); !w)
      out.note = w.error().message + "; agents adopting this enforcement will not know the list";
    out.record = std::move(r);
    return out;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    out.note = "enforcement was armed by an agent that left no record in " + file +
               " (an older version, or the record was removed)";
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = parse_preloaded(ss.str(), file);
  if (!r) {
    out.note = r.error().message;
    return out;
  }
  if (r->boot_id != boot_id) {
    out.note = file + " is from another boot (" + r->boot_id + ")";
    return out;
  }
  out.record = std::move(*r);
  return out;
}

Json preloaded_status(const PreloadedAtStart& p) {
  if (!p.record) return Json{{"known", false}, {"reason", p.note}};
  Json j{{"known", true}};
  Json rec = preloaded_json(*p.record);
  for (auto& [k, v] : rec.items()) j[k] = v;
  if (!p.note.empty()) j["warning"] = p.note;
  return j;
}

}  // namespace modgate::policy
