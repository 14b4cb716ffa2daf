// SPDX-License-Identifier: Apache-2.0

#include "policy/audit.h"

#include <algorithm>
#include <array>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string_view>

#include "policy/cis.h"
#include "policy/decompress.h"
#include "policy/sha256.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// kernel/panic.c taint_flags; bit 0 prints 'G' when clear, which says nothing, so only set bits.
constexpr TaintFlag kTaintFlags[] = {
    {'P', 0, "proprietary module loaded"},
    {'F', 1, "module force-loaded"},
    {'S', 2, "CPU out of specification"},
    {'R', 3, "module force-unloaded"},
    {'M', 4, "machine check exception"},
    {'B', 5, "bad page referenced"},
    {'U', 6, "taint requested by user space"},
    {'D', 7, "kernel died recently (OOPS or BUG)"},
    {'A', 8, "ACPI table overridden"},
    {'W', 9, "kernel issued a warning"},
    {'C', 10, "staging driver loaded"},
    {'I', 11, "firmware bug workaround applied"},
    {'O', 12, "out-of-tree module loaded"},
    {'E', 13, "unsigned module loaded"},
    {'L', 14, "soft lockup occurred"},
    {'K', 15, "kernel live patched"},
    {'X', 16, "auxiliary taint (distribution-defined)"},
    {'T', 17, "built with struct randomization plugin"},
    {'N', 18, "in-kernel test loaded"},
    {'J', 19, "fwctl firmware command issued"},
};

// Taint bits that mean a module outside the distribution's signed set got in (or was forced):
// what this audit is about. The others (warnings, machine checks) are reported, not judged.
constexpr std::uint64_t kModuleTaintMask = 1u << 0 | 1u << 1 | 1u << 3 | 1u << 12 | 1u << 13;

std::string normalize(std::string_view name) {
  std::string s(name);
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

// "kernel/fs/minix/minix.ko.xz" → "minix".
std::string module_name_of(std::string_view path) {
  auto slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto ko = base.find(".ko");
  return normalize(base.substr(0, ko));
}

std::optional<std::string> read_text(const fs::path& p, std::size_t max = 16u << 20) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::string s;
  std::array<char, 65536> buf;
  while (in.read(buf.data(), buf.size()) || in.gcount() > 0) {
    s.append(buf.data(), static_cast<std::size_t>(in.gcount()));
    if (s.size() > max) return std::nullopt;
  }
  return s;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split_ws(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

struct LoadedModule {
  std::string name, state, proc_taint;
};

Result<std::vector<LoadedModule>> read_proc_modules(const fs::path& path,
                                                    std::vector<std::string>& warnings) {
  auto text = read_text(path);
  if (!text) return Error{"cannot read " + path.string()};
  std::vector<LoadedModule> out;
  std::istringstream in(*text);
  int lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    auto f = split_ws(line);
    if (f.empty()) continue;
    // name size refcount deps state address [(taint)]
    if (f.size() < 5) {
      warnings.push_back(path.string() + ":" + std::to_string(lineno) + ": malformed line ignored");
      continue;
    }
    // Module names never hold '/'; one that does would walk out of /sys/module.
    if (f[0].find('/') != std::string::npos || f[0] == "." || f[0] == "..") {
      warnings.push_back(path.string() + ":" + std::to_string(lineno) +
                         ": bad module name ignored");
      continue;
    }
    LoadedModule m{f[0], f[4], ""};
    if (f.back().size() >= 2 && f.back().front() == '(' && f.back().back() == ')')
      m.proc_taint = f.back().substr(1, f.back().size() - 2);
    out.push_back(std::move(m));
  }
  return out;
}

struct ModprobeConfig {
  std::set<std::string> install_disabled, blacklisted;
};

bool is_noop_command(std::string_view cmd) {
  return cmd == "/bin/false" || cmd == "/bin/true" || cmd == "/usr/bin/false" ||
         cmd == "/usr/bin/true" || cmd == "false" || cmd == "true";
}

ModprobeConfig read_modprobe_d(const fs::path& root) {
  ModprobeConfig c;
  for (const char* dir :
       {"etc/modprobe.d", "lib/modprobe.d", "usr/lib/modprobe.d", "run/modprobe.d"}) {
    std::error_code ec;
    fs::directory_iterator it(root / dir, ec);
    if (ec) continue;
    std::vector<fs::path> files;
    for (const auto& e : it)
      if (e.path().extension() == ".conf") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto text = read_text(f, 1u << 20);
      if (!text) continue;
      std::istringstream in(*text);
      for (std::string line; std::getline(in, line);) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        auto t = split_ws(line);
        if (t.size() >= 3 && t[0] == "install" && is_noop_command(t[2]))
          c.install_disabled.insert(normalize(t[1]));
        if (t.size() >= 2 && t[0] == "blacklist") c.blacklisted.insert(normalize(t[1]));
      }
    }
  }
  return c;
}

void add_finding(AuditReport& r, AuditModule* m, const std::string& subject, std::string kind,
                 std::string message) {
  if (m) m->findings.push_back(kind);
  r.findings.push_back({subject, std::move(kind), std::move(message)});
}

bool is_weak_hash(std::string_view alg) { return alg == "sha1" || alg == "md5" || alg == "md4"; }

void inspect_file(AuditModule& m, const Policy* policy) {
  std::error_code ec;
  auto size = fs::file_size(*m.file, ec);
  if (ec) {
    m.file_error = "cannot stat " + *m.file + ": " + ec.message();
    return;
  }
  if (size > kMaxModuleBytes) {
    m.file_error = *m.file + " is larger than " + std::to_string(kMaxModuleBytes) + " bytes";
    return;
  }
  auto text = read_text(*m.file, kMaxModuleBytes);
  if (!text) {
    m.file_error = "cannot read " + *m.file;
    return;
  }
  // Through a reference: clang-analyzer (cplusplus.InnerPointer) takes an optional::operator->
  // between data() and size() for a reallocation of the string.
  const std::string& file_bytes = *text;
  std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(file_bytes.data()),
                                      file_bytes.size());
  Sha256 file_hash = sha256(bytes);
  m.sha256 = to_hex(file_hash);
  std::vector<std::uint8_t> payload;
  std::optional<Sha256> payload_hash;
  Compression c = compression_from_name(*m.file);
  if (c != Compression::kNone) {
    auto d = decompress(bytes, c);
    if (!d) {
      m.file_error = *m.file + ": " + d.error().message;
      return;
    }
    payload = std::move(*d);
    payload_hash = sha256(payload);
    m.payload_sha256 = to_hex(*payload_hash);
    bytes = payload;
  }
  auto sig = module_signature(bytes);
  if (!sig)
    m.signature_error = sig.error().message;
  else if (sig->has_value())
    m.signature = **sig;
  if (policy) {
    bool listed = false;
    for (const auto& e : policy->modules)
      if (e.sha256 == file_hash || (payload_hash && e.sha256 == *payload_hash)) listed = true;
    m.listed = listed;
  }
}

std::string utc_date(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void audit_certs(AuditReport& r, const std::string& dir, std::int64_t now) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    r.warnings.push_back("cannot read certificate directory " + dir + ": " + ec.message());
    return;
  }
  std::vector<fs::path> files;
  for (const auto& e : it)
    if (e.is_regular_file(ec)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    CertStatus s;
    s.file = f.string();
    auto text = read_text(f, 1u << 20);
    if (!text) {
      s.error = "cannot read it, or it is larger than 1 MiB";
    } else {
      const std::string& cert_bytes = *text;  // see inspect_file on the reference
      auto cert = parse_certificate(
          {reinterpret_cast<const std::uint8_t*>(cert_bytes.data()), cert_bytes.size()});
      if (!cert) {
        s.error = cert.error().message;
      } else {
        s.subject = cert->subject;
        s.issuer = cert->issuer;
        s.serial = cert->serial;
        s.skid = cert->skid;
        s.not_before = cert->not_before;
        s.not_after = cert->not_after;
        s.expired = now > cert->not_after;
        s.expiring = !s.expired && cert->not_after - now < std::int64_t{kCertWarnDays} * 86400;
        for (const auto& m : r.modules)
          if (m.signature && signed_by(*m.signature, *cert)) s.modules.push_back(m.name);
      }
    }
    if (s.error) {
      r.warnings.push_back(s.file + ": " + *s.error);
    } else if (s.expired) {
      add_finding(r, nullptr, "cert:" + s.file, "cert-expired",
                  s.subject + " expired " + utc_date(s.not_after) + "; signs " +
                      std::to_string(s.modules.size()) + " loaded modules");
    } else if (s.expiring) {
      add_finding(r, nullptr, "cert:" + s.file, "cert-expiring",
                  s.subject + " expires " + utc_date(s.not_after) + ", within " +
                      std::to_string(kCertWarnDays) + " days; signs " +
                      std::to_string(s.modules.size()) + " loaded modules");
    }
    r.certs.push_back(std::move(s));
  }
}

// No record is no finding: no agent has armed enforcement in this boot, which the rest of the
// audit (not-listed modules) already covers.
void audit_preloaded(AuditReport& r, const fs::path& root, const std::string& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  auto text = read_text(file, 16u << 20);
  if (!text) {
    r.warnings.push_back("cannot read " + file);
    return;
  }
  auto rec = parse_preloaded(*text, file);
  if (!rec) {
    r.warnings.push_back(rec.error().message);
    return;
  }
  std::string boot_id = read_boot_id(root.string());
  if (rec->boot_id != boot_id) {
    r.warnings.push_back(file + " is from another boot (" + rec->boot_id + "); ignored");
    return;
  }
  for (const auto& m : rec->modules) {
    if (m.listed && *m.listed) continue;
    if (m.listed)
      add_finding(r, nullptr, m.name, "loaded-before-enforcement",
                  "in the kernel before modgate enforced (recorded " + rec->recorded_at +
                      "), and " + m.sha256.value_or("its file") + " is not on the allowlist");
    else
      add_finding(r, nullptr, m.name, "loaded-before-enforcement-unchecked",
                  "in the kernel before modgate enforced (recorded " + rec->recorded_at +
                      "), and could not be checked: " + m.error.value_or("no file"));
  }
  r.preloaded = std::move(*rec);
}

}  // namespace

std::vector<TaintFlag> decode_taint(std::uint64_t mask) {
  std::vector<TaintFlag> out;
  for (const auto& f : kTaintFlags)
    if (mask >> f.bit & 1) out.push_back(f);
  for (int bit = 20; bit < 64; ++bit)
    if (mask >> bit & 1) out.push_back({'?', bit, "unknown taint bit"});
  return out;
}

Result<AuditReport> run_audit(const AuditOptions& o) {
  AuditReport r;
  const fs::path root = o.root.empty() ? fs::path("/") : fs::path(o.root);
  auto loaded = read_proc_modules(root / "proc/modules", r.warnings);
  if (!loaded) return loaded.error();

  if (auto rel = read_text(root / "proc/sys/kernel/osrelease")) r.release = trim(*rel);
  if (o.modules_dir) {
    r.modules_dir = *o.modules_dir;
  } else if (!r.release.empty()) {
    r.modules_dir = (root / "lib/modules" / r.release).string();
    std::error_code ec;
    if (!fs::is_directory(r.modules_dir, ec) &&
        fs::is_directory(root / "usr/lib/modules" / r.release, ec))
      r.modules_dir = (root / "usr/lib/modules" / r.release).string();
  } else {
    r.warnings.push_back("cannot read " + (root / "proc/sys/kernel/osrelease").string() +
                         "; no module tree to look in (give --modules)");
  }

  if (auto t = read_text(root / "proc/sys/kernel/tainted")) {
    std::string s = trim(*t);
    try {
      std::size_t used = 0;
      r.kernel_taint = std::stoull(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
    } catch (const std::exception&) {
      r.warnings.push_back((root / "proc/sys/kernel/tainted").string() + ": not a number: '" + s +
                           "'");
    }
  } else {
    r.warnings.push_back("cannot read " + (root / "proc/sys/kernel/tainted").string());
  }
  r.kernel_taint_flags = decode_taint(r.kernel_taint);

  // Where each module's file is: modules.dep names every loadable module; the tree walk is the
  // fallback for a tree depmod never ran on.
  std::map<std::string, std::string> files;  // normalized name → absolute path
  std::set<std::string> builtin;
  if (!r.modules_dir.empty()) {
    const fs::path dir(r.modules_dir);
    if (auto dep = read_text(dir / "modules.dep", 64u << 20)) {
      std::istringstream in(*dep);
      for (std::string line; std::getline(in, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string rel = line.substr(0, colon);
        if (rel.empty()) continue;
        fs::path p = rel.front() == '/' ? fs::path(rel) : dir / rel;
        files.emplace(module_name_of(rel), p.string());
      }
    } else {
      std::error_code ec;
      r.warnings.push_back("no " + (dir / "modules.dep").string() + "; walking the tree");
      for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string p = it->path().string();
        if (p.find(".ko") != std::string::npos && it->is_regular_file(ec))
          files.emplace(module_name_of(p), p);
      }
    }
    if (auto b = read_text(dir / "modules.builtin", 16u << 20)) {
      std::istringstream in(*b);
      for (std::string line; std::getline(in, line);)
        if (!trim(line).empty()) builtin.insert(module_name_of(trim(line)));
    } else {
      r.warnings.push_back("cannot read " + (dir / "modules.builtin").string());
    }
  }

  std::set<std::string> cis_names;
  for (const auto& c : cis_disabled_modules()) cis_names.insert(normalize(c.name));

  std::sort(loaded->begin(), loaded->end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::set<std::string> loaded_names;
  for (const auto& l : *loaded) {
    AuditModule m;
    m.name = l.name;
    m.state = l.state;
    loaded_names.insert(normalize(l.name));
    m.cis = cis_names.count(normalize(l.name)) > 0;
    if (auto t = read_text(root / "sys/module" / l.name / "taint", 4096))
      m.taint = trim(*t);
    else
      m.taint = l.proc_taint;
    if (auto it = files.find(normalize(l.name)); it != files.end()) {
      m.file = it->second;
      inspect_file(m, o.policy);
    } else {
      m.file_error = "no file for " + l.name + " in " +
                     (r.modules_dir.empty() ? std::string("any module tree") : r.modules_dir);
    }
    r.modules.push_back(std::move(m));
  }
  for (const auto& b : builtin) {
    AuditModule m;
    m.name = b;
    m.builtin = true;
    m.cis = cis_names.count(b) > 0;
    r.modules.push_back(std::move(m));
  }

  for (auto& m : r.modules) {
    if (m.builtin) continue;
    if (m.file_error) {
      add_finding(r, &m, m.name, "file-missing",
                  *m.file_error + "; what is loaded cannot be checked");
      continue;
    }
    // Taint E on the module: the kernel found no valid signature on the bytes it loaded, whatever
    // the file on disk carries now (an init_module of a stripped copy, or a replaced file).
    bool kernel_unsigned = m.taint.find('E') != std::string::npos;
    if (kernel_unsigned && m.signature && !m.signature_error)
      add_finding(r, &m, m.name, "unsigned",
                  "the kernel loaded it without a valid signature (taint E), though " + *m.file +
                      " is signed: what is loaded is not that file");
    if (m.signature_error) {
      add_finding(r, &m, m.name, "bad-signature", *m.file + ": " + *m.signature_error);
    } else if (!m.signature) {
      add_finding(r, &m, m.name, "unsigned", *m.file + " carries no module signature");
    } else if (is_weak_hash(m.signature->hash_algorithm)) {
      add_finding(r, &m, m.name, "weak-signature-hash",
                  *m.file + " is signed with " + m.signature->hash_algorithm);
    }
    if (m.listed && !*m.listed)
      add_finding(r, &m, m.name, "not-listed", *m.sha256 + " is not on the policy's allowlist");
    if (!m.taint.empty())
      add_finding(r, &m, m.name, "module-tainted", "the kernel marks it tainted: " + m.taint);
  }
  if (r.kernel_taint & kModuleTaintMask) {
    std::string letters;
    for (const auto& f : r.kernel_taint_flags)
      if (kModuleTaintMask >> f.bit & 1) letters += f.letter;
    add_finding(r, nullptr, "kernel", "kernel-tainted",
                "kernel taint " + std::to_string(r.kernel_taint) + " includes " + letters);
  }

  if (o.certs_dir) audit_certs(r, *o.certs_dir, o.now ? o.now : std::time(nullptr));
  if (o.preloaded_file) audit_preloaded(r, root, *o.preloaded_file);

  ModprobeConfig mp = read_modprobe_d(root);
  for (const auto& c : cis_disabled_modules()) {
    CisStatus s;
    s.name = std::string(c.name);
    s.section = std::string(c.section);
    s.title = std::string(c.title);
    std::string n = normalize(c.name);
    s.loaded = loaded_names.count(n) > 0;
    s.builtin = builtin.count(n) > 0;
    s.loadable = files.count(n) > 0;
    s.install_disabled = mp.install_disabled.count(n) > 0;
    s.blacklisted = mp.blacklisted.count(n) > 0;
    std::string subject = "cis:" + s.name;
    if (s.loaded) {
      s.findings.emplace_back("cis-loaded");
      add_finding(r, nullptr, subject, "cis-loaded",
                  s.name + " is loaded; CIS " + s.section + " says it should not be available");
    }
    if (s.loadable && !s.install_disabled) {
      s.findings.emplace_back("cis-loadable");
      add_finding(r, nullptr, subject, "cis-loadable",
                  s.name + " is in the module tree and modprobe.d has no 'install " + s.name +
                      " /bin/false' (CIS " + s.section + ")");
    }
    if (s.loadable && !s.blacklisted) {
      s.findings.emplace_back("cis-not-blacklisted");
      add_finding(r, nullptr, subject, "cis-not-blacklisted",
                  s.name + " is in the module tree and modprobe.d has no 'blacklist " + s.name +
                      "' (CIS " + s.section + ")");
    }
    r.cis.push_back(std::move(s));
  }
  return r;
}

namespace {

struct Summary {
  std::size_t loaded = 0, builtin = 0, is_signed = 0, unsigned_ = 0, weak = 0, bad = 0, missing = 0,
              not_listed = 0, tainted = 0;
};

Summary summarize(const AuditReport& r) {
  Summary s;
  for (const auto& m : r.modules) {
    if (m.builtin) {
      ++s.builtin;
      continue;
    }
    ++s.loaded;
    for (const auto& f : m.findings) {
      if (f == "unsigned") ++s.unsigned_;
      if (f == "weak-signature-hash") ++s.weak;
      if (f == "bad-signature") ++s.bad;
      if (f == "file-missing") ++s.missing;
      if (f == "not-listed") ++s.not_listed;
      if (f == "module-tainted") ++s.tainted;
    }
    if (m.signature) ++s.is_signed;
  }
  return s;
}

std::string taint_letters(const std::vector<TaintFlag>& flags) {
  std::string s;
  for (const auto& f : flags) s += f.letter;
  return s;
}

template <typename T>
Json opt(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

}  // namespace

std::string audit_json(const AuditReport& r) {
  Json j;
  j["schema"] = "modgate-audit/1";
  Json kernel;
  kernel["release"] = r.release;
  kernel["modules_dir"] = r.modules_dir;
  kernel["tainted"] = r.kernel_taint;
  kernel["taint_letters"] = taint_letters(r.kernel_taint_flags);
  kernel["taint_flags"] = Json::array();
  for (const auto& f : r.kernel_taint_flags)
    kernel["taint_flags"].push_back(
        {{"letter", std::string(1, f.letter)}, {"bit", f.bit}, {"meaning", f.meaning}});
  j["kernel"] = kernel;
  j["modules"] = Json::array();
  for (const auto& m : r.modules) {
    Json jm;
    jm["name"] = m.name;
    jm["builtin"] = m.builtin;
    jm["state"] = m.builtin ? Json(nullptr) : Json(m.state);
    jm["file"] = opt(m.file);
    jm["file_error"] = opt(m.file_error);
    jm["sha256"] = opt(m.sha256);
    jm["payload_sha256"] = opt(m.payload_sha256);
    jm["listed"] = opt(m.listed);
    if (m.builtin || m.file_error) {
      jm["signature"] = nullptr;
    } else {
      Json s;
      s["signed"] = m.signature.has_value();
      s["error"] = opt(m.signature_error);
      s["signer"] = m.signature ? Json(m.signature->signer) : Json(nullptr);
      s["issuer"] = m.signature ? opt(m.signature->issuer) : Json(nullptr);
      s["serial"] = m.signature ? opt(m.signature->serial) : Json(nullptr);
      s["skid"] = m.signature ? opt(m.signature->skid) : Json(nullptr);
      s["key_id"] = m.signature ? Json(m.signature->key_id) : Json(nullptr);
      s["hash_algorithm"] = m.signature ? Json(m.signature->hash_algorithm) : Json(nullptr);
      jm["signature"] = s;
    }
    jm["taint"] = m.taint;
    jm["cis"] = m.cis;
    jm["findings"] = m.findings;
    j["modules"].push_back(jm);
  }
  j["cis"] = Json::array();
  for (const auto& c : r.cis)
    j["cis"].push_back({{"name", c.name},
                        {"section", c.section},
                        {"title", c.title},
                        {"loaded", c.loaded},
                        {"builtin", c.builtin},
                        {"loadable", c.loadable},
                        {"install_disabled", c.install_disabled},
                        {"blacklisted", c.blacklisted},
                        {"findings", c.findings}});
  j["certs"] = Json::array();
  for (const auto& c : r.certs) {
    Json jc;
    jc["file"] = c.file;
    jc["error"] = opt(c.error);
    jc["subject"] = c.subject;
    jc["issuer"] = c.issuer;
    jc["serial"] = c.serial;
    jc["skid"] = opt(c.skid);
    jc["not_before"] = c.error ? Json(nullptr) : Json(utc_date(c.not_before));
    jc["not_after"] = c.error ? Json(nullptr) : Json(utc_date(c.not_after));
    jc["expired"] = c.expired;
    jc["expiring"] = c.expiring;
    jc["modules"] = c.modules;
    j["certs"].push_back(jc);
  }
  j["loaded_before_enforcement"] = r.preloaded ? preloaded_json(*r.preloaded) : Json(nullptr);
  j["findings"] = Json::array();
  for (const auto& f : r.findings)
    j["findings"].push_back({{"subject", f.subject}, {"kind", f.kind}, {"message", f.message}});
  j["warnings"] = r.warnings;
  Summary s = summarize(r);
  j["summary"] = {
      {"loaded", s.loaded},           {"builtin", s.builtin},          {"signed", s.is_signed},
      {"unsigned", s.unsigned_},      {"weak_signature_hash", s.weak}, {"bad_signature", s.bad},
      {"file_missing", s.missing},    {"not_listed", s.not_listed},    {"tainted", s.tainted},
      {"findings", r.findings.size()}};
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string audit_text(const AuditReport& r) {
  std::ostringstream out;
  out << "kernel " << (r.release.empty() ? "(unknown release)" : r.release) << ", modules "
      << (r.modules_dir.empty() ? "(none)" : r.modules_dir) << "\n";
  out << "kernel taint " << r.kernel_taint;
  if (!r.kernel_taint_flags.empty()) {
    out << " (" << taint_letters(r.kernel_taint_flags) << ":";
    for (const auto& f : r.kernel_taint_flags) out << " " << f.letter << " " << f.meaning << ";";
    out << ")";
  }
  out << "\n\n";
  for (const auto& m : r.modules) {
    if (m.builtin) continue;
    out << m.name;
    if (m.state != "Live") out << " [" << m.state << "]";
    out << "\n";
    if (m.file_error) {
      out << "  file: " << *m.file_error << "\n";
    } else {
      out << "  file: " << *m.file << "\n  sha256: " << *m.sha256 << "\n";
      if (m.payload_sha256) out << "  payload sha256: " << *m.payload_sha256 << "\n";
      if (m.signature_error)
        out << "  signature: unparseable: " << *m.signature_error << "\n";
      else if (!m.signature)
        out << "  signature: none\n";
      else
        out << "  signature: " << m.signature->signer << ", key " << m.signature->key_id << ", "
            << m.signature->hash_algorithm << "\n";
    }
    if (m.listed) out << "  policy: " << (*m.listed ? "listed" : "NOT LISTED") << "\n";
    if (!m.taint.empty()) out << "  taint: " << m.taint << "\n";
    if (m.cis) out << "  on the CIS list of modules to disable\n";
  }
  out << "\nCIS modules to disable:\n";
  for (const auto& c : r.cis) {
    out << "  " << c.section << " " << c.name << ": "
        << (c.loaded     ? "loaded"
            : c.builtin  ? "built in"
            : c.loadable ? "loadable"
                         : "absent");
    if (c.install_disabled) out << ", install disabled";
    if (c.blacklisted) out << ", blacklisted";
    out << (c.findings.empty() ? "" : "  <- finding") << "\n";
  }
  if (!r.certs.empty()) out << "\ncertificates:\n";
  for (const auto& c : r.certs) {
    out << "  " << c.file << ": ";
    if (c.error) {
      out << *c.error << "\n";
      continue;
    }
    out << c.subject << ", serial " << c.serial << ", valid " << utc_date(c.not_before) << " to "
        << utc_date(c.not_after)
        << (c.expired    ? " EXPIRED"
            : c.expiring ? " EXPIRING"
                         : "")
        << ", signs " << c.modules.size() << " loaded modules\n";
  }
  if (r.preloaded) {
    out << "\nloaded before enforcement began (recorded " << r.preloaded->recorded_at
        << "): " << r.preloaded->modules.size() << " modules, " << r.preloaded->not_listed()
        << " not listed, " << r.preloaded->unchecked() << " unchecked\n";
    for (const auto& m : r.preloaded->modules)
      out << "  " << m.name << ": "
          << (!m.listed   ? "unchecked (" + m.error.value_or("no file") + ")"
              : *m.listed ? std::string("listed")
                          : std::string("NOT LISTED"))
          << "\n";
  }
  if (!r.warnings.empty()) {
    out << "\nwarnings:\n";
    for (const auto& w : r.warnings) out << "  " << w << "\n";
  }
  out << "\nfindings:\n";
  for (const auto& f : r.findings)
    out << "  " << f.subject << ": " << f.kind << ": " << f.message << "\n";
  Summary s = summarize(r);
  out << "\nsummary: " << s.loaded << " loaded (" << s.is_signed << " signed, " << s.unsigned_
      << " unsigned, " << s.weak << " weak hash, " << s.bad << " bad signature, " << s.missing
      << " without file";
  if (s.not_listed) out << ", " << s.not_listed << " not listed";
  out << "), " << s.builtin << " built in, " << r.findings.size() << " findings\n";
  return out.str();
}

}  // namespace modgate::policy
