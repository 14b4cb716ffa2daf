// YAML → Policy. Validation is exhaustive: every problem in the file is collected with its position
// and reported at once, so an operator fixes a policy in one round instead of one error per run.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "policy/policy.h"
#include "policy/read_file.h"
#include "policy/rollout.h"

namespace modgate::policy {
namespace {

// A valid policy nests four levels deep; anything far beyond is hostile or broken, and yaml-cpp
// parses recursively, so flow nesting is bounded before the text reaches it.
constexpr int kMaxFlowDepth = 64;
// MODULE_NAME_LEN - 1 on 64-bit kernels: the longest name the kernel keeps for a module.
constexpr std::size_t kMaxModuleName = MG_NAME_LEN - 8 - 1;
// Firmware and kexec names are labels for people (the hash decides); a path under /lib/firmware
// is at most this long in practice, and PATH_MAX would only invite abuse of the parser.
constexpr std::size_t kMaxFileEntryName = MG_PATH_LEN - 1;
// struct new_utsname's release is 65 bytes including the NUL.
constexpr std::size_t kMaxKernelRelease = 64;

struct Diag {
  int line = 0;  // 1-based; 0 when the problem has no position (the whole file)
  int col = 0;
  std::string message;
};

std::string quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Length of the well-formed multi-byte UTF-8 sequence starting at s[i] (whose byte is >= 0x80),
// or 0 when there is none: overlong forms, surrogates and code points above U+10FFFF included.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  std::uint32_t cp = 0, min = 0;
  if ((c & 0xe0) == 0xc0) {
    len = 2, cp = c & 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3, cp = c & 0x0f, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  for (std::size_t j = 1; j < len; j++) {
    if (i + j >= s.size() || (static_cast<unsigned char>(s[i + j]) & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (static_cast<unsigned char>(s[i + j]) & 0x3f);
  }
  return cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? len : 0;
}

// True when every byte of s at or above 0x80 belongs to a well-formed UTF-8 sequence.
bool is_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      i++;
      continue;
    }
    std::size_t len = utf8_sequence(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string_view kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an undefined node";
  }
}

// A plain (unquoted, untagged) scalar is the only spelling accepted for numbers and booleans: a
// quoted "true" is a string in YAML, and accepting it would make the file mean two things.
bool is_plain(const YAML::Node& n) { return n.IsScalar() && n.Tag() == "?"; }

// The allowlist sections: one parser and one set of rules for all three.
enum class Section { kModules, kFirmware, kKexec };

struct SectionInfo {
  std::string_view key;    // the policy key
  std::string_view entry;  // what one entry is called in messages
  std::string_view thing;  // what one file is, for "one file cannot be two ..."
};

SectionInfo section_info(Section s) {
  switch (s) {
    case Section::kFirmware:
      return {"firmware", "firmware entry", "firmware files"};
    case Section::kKexec:
      return {"kexec", "kexec entry", "kexec images"};
    default:
      return {"modules", "module entry", "modules"};
  }
}

// Why a name cannot be an entry's name, or "" when it can.
std::string check_entry_name(Section s, const std::string& name) {
  if (name.empty()) return "is empty";
  if (s == Section::kModules) {
    if (name.size() > kMaxModuleName)
      return "is " + std::to_string(name.size()) + " bytes; the kernel keeps at most " +
             std::to_string(kMaxModuleName);
    for (char c : name)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-'))
        return "contains " + quote(std::string_view(&c, 1)) +
               ": module names hold only letters, digits, '_' and '-'";
    return "";
  }
  // Firmware names are paths under /lib/firmware ("intel/ibt-12-16.sfi", commas included);
  // kexec names are file names. Anything printable that stays one word in a listing.
  if (name.size() > kMaxFileEntryName)
    return "is " + std::to_string(name.size()) + " bytes; at most " +
           std::to_string(kMaxFileEntryName) + " are kept";
  for (char c : name)
    if (c <= ' ' || c > '~')
      return "contains " + quote(std::string_view(&c, 1)) + ": " +
             std::string(section_info(s).key) +
             " names hold printable ASCII characters other than space";
  return "";
}

class Parser {
 public:
  explicit Parser(std::vector<Diag>& diags) : diags_(diags) {}

  void parse_root(const YAML::Node& root, Policy& p);

 private:
  // yaml-cpp gives a null value the position of the next token, which may be lines below; the key
  // is where the operator should look.
  void error_at(const YAML::Mark& m, std::string msg) {
    if (m.line < 0)
      diags_.push_back({0, 0, std::move(msg)});
    else
      diags_.push_back({m.line + 1, m.column + 1, std::move(msg)});
  }
  void error(const YAML::Node& n, std::string msg) { error_at(n.Mark(), std::move(msg)); }

  // Iterates a mapping's pairs, rejecting non-scalar and duplicate keys (yaml-cpp keeps both
  // copies of a repeated key rather than refusing it). `where` names the mapping in messages.
  template <typename F>
  void for_each_key(const YAML::Node& map, std::string_view where, F&& f);

  std::optional<std::string> get_string(const YAML::Node& key, const YAML::Node& v,
                                        std::string_view what);
  std::optional<bool> get_bool(const YAML::Node& key, const YAML::Node& v, std::string_view what);
  std::optional<std::uint64_t> get_uint(const YAML::Node& key, const YAML::Node& v,
                                        std::string_view what);
  // A list of globs, each checked by `valid` (which returns an error message or "").
  std::vector<std::string> get_patterns(const YAML::Node& key, const YAML::Node& v,
                                        std::string_view what, std::size_t max_count,
                                        std::string (*valid)(std::string_view));
  void parse_entries(Section s, const YAML::Node& key, const YAML::Node& v,
                     std::vector<ModuleEntry>& out);
  void parse_entry(Section s, const YAML::Node& item, std::vector<ModuleEntry>& out);
  void parse_autoload(const YAML::Node& key, const YAML::Node& v, Policy& p);
  void parse_rollout(const YAML::Node& key, const YAML::Node& v, Policy& p);

  std::vector<Diag>& diags_;
  struct Seen {
    std::string name;
    int line;
  };
  // Per section: a hash may be in two sections (both kinds admitted), not twice in one.
  std::map<Section, std::map<Sha256, Seen>> hashes_;
};

template <typename F>
void Parser::for_each_key(const YAML::Node& map, std::string_view where, F&& f) {
  std::map<std::string, int> seen;
  // Not `it->first`: yaml-cpp's iterator returns its key/value pair through a temporary proxy, so a
  // reference to it->first dangles after that statement (ASan: stack-use-after-scope, found by
  // tests/fuzz/policy_fuzz.cpp). The range-for binds the pair itself for the whole iteration.
  for (const auto& kv : map) {
    const YAML::Node& k = kv.first;
    if (!k.IsScalar()) {
      error(k, "keys in " + std::string(where) + " must be plain names, got " +
                   std::string(kind_name(k)));
      continue;
    }
    const std::string& name = k.Scalar();
    auto [pos, inserted] = seen.emplace(name, k.Mark().line + 1);
    if (!inserted) {
      error(k, "duplicate key " + quote(name) + " in " + std::string(where) + " (first at line " +
                   std::to_string(pos->second) + ")");
      continue;
    }
    f(name, k, kv.second);
  }
}

std::optional<std::string> Parser::get_string(const YAML::Node& key, const YAML::Node& v,
                                              std::string_view what) {
  if (!v.IsScalar()) {
    error_at(v.IsNull() ? key.Mark() : v.Mark(),
             std::string(what) + " must be a string, got " + std::string(kind_name(v)));
    return std::nullopt;
  }
  const std::string& t = v.Tag();
  if (t != "?" && t != "!" && t != "tag:yaml.org,2002:str") {
    error(v, std::string(what) + ": unsupported tag " + quote(t));
    return std::nullopt;
  }
  // The text was checked to be UTF-8, but yaml-cpp turns the escapes \N and \_ into the single
  // bytes 0x85 and 0xa0, which are not: such a string could never be written back as a policy
  // (found by tests/fuzz/policy_fuzz.cpp).
  if (!is_utf8(v.Scalar())) {
    error(v, std::string(what) +
                 " is not UTF-8 once unescaped (yaml-cpp decodes \\N and \\_ to single bytes); "
                 "write the character itself");
    return std::nullopt;
  }
  return v.Scalar();
}

std::optional<bool> Parser::get_bool(const YAML::Node& key, const YAML::Node& v,
                                     std::string_view what) {
  if (is_plain(v)) {
    const std::string& s = v.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  std::string got =
      v.IsScalar() ? (is_plain(v) ? quote(v.Scalar()) : "the quoted string " + quote(v.Scalar()))
                   : std::string(kind_name(v));
  error_at(v.IsNull() ? key.Mark() : v.Mark(),
           std::string(what) + " must be true or false (unquoted), got " + got);
  return std::nullopt;
}

std::optional<std::uint64_t> Parser::get_uint(const YAML::Node& key, const YAML::Node& v,
                                              std::string_view what) {
  if (is_plain(v)) {
    const std::string& s = v.Scalar();
    bool digits =
        !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) {
      std::uint64_t n = 0;
      bool overflow = false;
      for (char c : s) {
        auto d = static_cast<std::uint64_t>(c - '0');
        if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
          overflow = true;
          break;
        }
        n = n * 10 + d;
      }
      if (!overflow) return n;
      error(v, std::string(what) + " " + s + " does not fit in 64 bits");
      return std::nullopt;
    }
  }
  std::string got =
      v.IsScalar() ? (is_plain(v) ? quote(v.Scalar()) : "the quoted string " + quote(v.Scalar()))
                   : std::string(kind_name(v));
  error_at(v.IsNull() ? key.Mark() : v.Mark(),
           std::string(what) + " must be a non-negative decimal integer, got " + got);
  return std::nullopt;
}

std::string check_autoload_pattern(std::string_view s) {
  if (s.empty()) return "is empty";
  if (s.size() >= MG_NAME_LEN)
    return "is " + std::to_string(s.size()) + " bytes; at most " + std::to_string(MG_NAME_LEN - 1) +
           " fit";
  for (char c : s)
    if (!is_autoload_pattern_char(c) && c != '*' && c != '?')
      return "contains " + quote(std::string_view(&c, 1)) +
             ": only letters, digits, '_', ':', '.', '-' and the wildcards '*' and '?' may appear";
  return "";
}

std::string check_kernel_pattern(std::string_view s) {
  if (s.empty()) return "is empty";
  if (s.size() > kMaxKernelRelease)
    return "is " + std::to_string(s.size()) + " bytes; a kernel release is at most " +
           std::to_string(kMaxKernelRelease);
  for (char c : s)
    if (!is_kernel_pattern_char(c) && c != '*' && c != '?')
      return "contains " + quote(std::string_view(&c, 1)) +
             ": only letters, digits, '_', '.', '-', '+', '~' and the wildcards '*' and '?' may "
             "appear";
  return "";
}

std::vector<std::string> Parser::get_patterns(const YAML::Node& key, const YAML::Node& v,
                                              std::string_view what, std::size_t max_count,
                                              std::string (*valid)(std::string_view)) {
  std::vector<std::string> out;
  if (!v.IsSequence()) {
    error_at(v.IsNull() ? key.Mark() : v.Mark(),
             std::string(what) + " must be a list of patterns, got " + std::string(kind_name(v)) +
                 (v.IsNull() ? " (write [] for an empty list)" : ""));
    return out;
  }
  std::map<std::string, int> seen;
  for (const auto& item : v) {
    auto s = get_string(item, item, std::string(what) + " entries");
    if (!s) continue;
    if (auto msg = valid(*s); !msg.empty()) {
      error(item, std::string(what) + " pattern " + quote(*s) + " " + msg);
      continue;
    }
    auto [pos, inserted] = seen.emplace(*s, item.Mark().line + 1);
    if (!inserted) {
      error(item, std::string(what) + " pattern " + quote(*s) + " is listed twice (first at line " +
                      std::to_string(pos->second) + ")");
      continue;
    }
    out.push_back(*s);
  }
  if (v.size() > max_count)
    error(v, std::string(what) + " has " + std::to_string(v.size()) + " patterns; at most " +
                 std::to_string(max_count) + " fit in the kernel's table");
  return out;
}

void Parser::parse_root(const YAML::Node& root, Policy& p) {
  if (!root.IsMap()) {
    error(root, "a policy is a mapping with at least 'version' and 'mode', got " +
                    std::string(kind_name(root)));
    return;
  }
  bool have_version = false, have_mode = false;
  YAML::Mark modules_mark = YAML::Mark::null_mark(), mode_mark = YAML::Mark::null_mark();
  YAML::Mark rollout_mark = YAML::Mark::null_mark();
  bool mode_valid = false;
  for_each_key(
      root, "the policy", [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
        if (k == "version") {
          if (auto n = get_uint(key, v, "'version'")) p.version = *n;
          have_version = true;
        } else if (k == "mode") {
          have_mode = true;
          mode_mark = key.Mark();
          auto s = get_string(key, v, "'mode'");
          if (!s) return;
          mode_valid = *s == "enforce" || *s == "dry-run";
          if (*s == "enforce")
            p.mode = Mode::kEnforce;
          else if (*s == "dry-run")
            p.mode = Mode::kDryRun;
          else
            error(v, "'mode' must be 'enforce' or 'dry-run', got " + quote(*s));
        } else if (k == "kernels") {
          p.kernels = get_patterns(key, v, "'kernels'", std::numeric_limits<std::size_t>::max(),
                                   check_kernel_pattern);
        } else if (k == "modules") {
          modules_mark = key.Mark();
          parse_entries(Section::kModules, key, v, p.modules);
        } else if (k == "firmware") {
          parse_entries(Section::kFirmware, key, v, p.firmware.emplace());
        } else if (k == "kexec") {
          parse_entries(Section::kKexec, key, v, p.kexec.emplace());
        } else if (k == "autoload") {
          parse_autoload(key, v, p);
        } else if (k == "rollout") {
          rollout_mark = key.Mark();
          parse_rollout(key, v, p);
        } else if (k == "log_allowed") {
          if (auto b = get_bool(key, v, "'log_allowed'")) p.log_allowed = *b;
        } else if (k == "allow_forced") {
          if (auto b = get_bool(key, v, "'allow_forced'")) p.allow_forced = *b;
        } else if (k == "allow_empty") {
          if (auto b = get_bool(key, v, "'allow_empty'")) p.allow_empty = *b;
        } else if (k == "protect") {
          if (auto b = get_bool(key, v, "'protect'")) p.protect = *b;
        } else {
          error(key, "unknown key " + quote(k) +
                         " (expected version, mode, kernels, modules, firmware, kexec, autoload, "
                         "log_allowed, allow_forced, allow_empty, rollout, protect)");
        }
      });
  if (!have_version) error(root, "missing required key 'version'");
  if (!have_mode) error(root, "missing required key 'mode' (enforce or dry-run)");
  // Staging only ever moves hosts from dry-run to enforce; a dry-run policy has nothing to stage.
  if (rollout_mark.line >= 0 && mode_valid && p.mode != Mode::kEnforce)
    error_at(rollout_mark,
             "'rollout' stages enforcement and needs 'mode: enforce'; with mode dry-run every "
             "host runs dry-run already");
  // An enforcing policy with no modules denies every load, which locks a machine out of its own
  // drivers; that is only what the operator means if they say so.
  if (p.mode == Mode::kEnforce && p.modules.empty() && !p.allow_empty)
    error_at(modules_mark.line >= 0 ? modules_mark : mode_mark,
             "mode is enforce but no modules are listed, so every module load would be denied; "
             "list modules or set 'allow_empty: true'");
}

void Parser::parse_entries(Section sec, const YAML::Node& key, const YAML::Node& v,
                           std::vector<ModuleEntry>& out) {
  const SectionInfo info = section_info(sec);
  if (!v.IsSequence()) {
    error_at(v.IsNull() ? key.Mark() : v.Mark(),
             "'" + std::string(info.key) + "' must be a list of entries, got " +
                 std::string(kind_name(v)) + (v.IsNull() ? " (write [] for an empty list)" : ""));
    return;
  }
  for (const auto& item : v) parse_entry(sec, item, out);
}

void Parser::parse_entry(Section sec, const YAML::Node& item, std::vector<ModuleEntry>& out) {
  const SectionInfo info = section_info(sec);
  const std::string entry(info.entry);
  if (!item.IsMap()) {
    error(item, "a '" + std::string(info.key) +
                    "' entry must be a mapping with 'name' and 'sha256', got " +
                    std::string(kind_name(item)));
    return;
  }
  ModuleEntry e;
  e.line = item.Mark().line + 1;
  bool have_name = false, have_hash = false, bad = false;
  YAML::Mark hash_mark = item.Mark();
  for_each_key(
      item, "a " + entry, [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
        std::optional<std::string>* opt = nullptr;
        if (k == "name") {
          have_name = true;
          auto name = get_string(key, v, "'name'");
          if (!name) {
            bad = true;
            return;
          }
          if (auto problem = check_entry_name(sec, *name); !problem.empty()) {
            error(v, (sec == Section::kModules ? "module" : std::string(info.key)) + " name " +
                         quote(*name) + " " + problem);
            bad = true;
            return;
          }
          e.name = *name;
        } else if (k == "sha256") {
          have_hash = true;
          hash_mark = v.IsNull() ? key.Mark() : v.Mark();
          auto s = get_string(key, v, "'sha256'");
          if (!s) {
            bad = true;
            return;
          }
          auto h = sha256_from_hex(*s);
          if (!h) {
            error(v, "'sha256' " + quote(*s) + ": " + h.error().message);
            bad = true;
            return;
          }
          e.sha256 = *h;
        } else if (k == "version") {
          opt = &e.version;
        } else if (k == "vermagic") {
          opt = &e.vermagic;
        } else if (k == "signer") {
          opt = &e.signer;
        } else if (k == "path") {
          opt = &e.path;
        } else if (k == "note") {
          opt = &e.note;
        } else {
          error(key, "unknown key " + quote(k) + " in a " + entry +
                         " (expected name, sha256, version, vermagic, signer, path, note)");
          return;
        }
        if (opt) *opt = get_string(key, v, "'" + k + "'");
      });
  if (!have_name) {
    error(item, entry + " without 'name'");
    bad = true;
  }
  if (!have_hash) {
    error(item, entry + " without 'sha256'");
    bad = true;
  }
  if (bad) return;
  auto [pos, inserted] = hashes_[sec].emplace(e.sha256, Seen{e.name, e.line});
  if (!inserted) {
    if (pos->second.name == e.name)
      error_at(hash_mark, "sha256 " + to_hex(e.sha256) + " of " + quote(e.name) +
                              " is listed twice (first at line " +
                              std::to_string(pos->second.line) + ")");
    else
      error_at(hash_mark, "sha256 " + to_hex(e.sha256) + " is listed under " + quote(e.name) +
                              " and under " + quote(pos->second.name) + " at line " +
                              std::to_string(pos->second.line) + "; one file cannot be two " +
                              std::string(info.thing));
    return;
  }
  out.push_back(std::move(e));
}

void Parser::parse_autoload(const YAML::Node& key, const YAML::Node& v, Policy& p) {
  if (!v.IsMap()) {
    error_at(v.IsNull() ? key.Mark() : v.Mark(),
             "'autoload' must be a mapping with default, allow and deny, got " +
                 std::string(kind_name(v)));
    return;
  }
  for_each_key(
      v, "'autoload'", [&](const std::string& k, const YAML::Node& key2, const YAML::Node& v2) {
        if (k == "default") {
          auto s = get_string(key2, v2, "'autoload.default'");
          if (!s) return;
          if (*s == "allow")
            p.autoload.default_action = AutoloadDefault::kAllow;
          else if (*s == "deny")
            p.autoload.default_action = AutoloadDefault::kDeny;
          else
            error(v2, "'autoload.default' must be 'allow' or 'deny', got " + quote(*s));
        } else if (k == "allow") {
          p.autoload.allow =
              get_patterns(key2, v2, "'autoload.allow'", MG_GLOB_MAX, check_autoload_pattern);
        } else if (k == "deny") {
          p.autoload.deny =
              get_patterns(key2, v2, "'autoload.deny'", MG_GLOB_MAX, check_autoload_pattern);
        } else {
          error(key2, "unknown key " + quote(k) + " in 'autoload' (expected default, allow, deny)");
        }
      });
}

void Parser::parse_rollout(const YAML::Node& key, const YAML::Node& v, Policy& p) {
  if (!v.IsMap()) {
    error_at(v.IsNull() ? key.Mark() : v.Mark(),
             "'rollout' must be a mapping with enforce_percent and salt, got " +
                 std::string(kind_name(v)));
    return;
  }
  Rollout r;
  bool have_percent = false, have_salt = false, bad = false;
  for_each_key(
      v, "'rollout'", [&](const std::string& k, const YAML::Node& key2, const YAML::Node& v2) {
        if (k == "enforce_percent") {
          have_percent = true;
          // Unquoted like every number here; the text is parsed exactly (no floating point), so
          // 12.5 means 1250 basis points on every host.
          auto bp = is_plain(v2) ? parse_enforce_percent(v2.Scalar())
                                 : Result<std::uint32_t>(Error{"must be unquoted"});
          if (!bp) {
            std::string got = v2.IsScalar()
                                  ? (is_plain(v2) ? quote(v2.Scalar())
                                                  : "the quoted string " + quote(v2.Scalar()))
                                  : std::string(kind_name(v2));
            error_at(v2.IsNull() ? key2.Mark() : v2.Mark(),
                     "'rollout.enforce_percent' must be a number from 0 to 100 with at most two "
                     "decimals, unquoted (e.g. 5 or 12.5), got " +
                         got);
            bad = true;
            return;
          }
          r.enforce_basis_points = *bp;
        } else if (k == "salt") {
          have_salt = true;
          auto s = get_string(key2, v2, "'rollout.salt'");
          if (!s) {
            bad = true;
            return;
          }
          if (auto problem = check_rollout_salt(*s); !problem.empty()) {
            error(v2, "'rollout.salt' " + quote(*s) + " " + problem);
            bad = true;
            return;
          }
          r.salt = *s;
        } else {
          error(key2, "unknown key " + quote(k) + " in 'rollout' (expected enforce_percent, salt)");
          bad = true;
        }
      });
  if (!have_percent) {
    error(v, "'rollout' without 'enforce_percent' (the share of hosts that enforce, 0 to 100)");
    bad = true;
  }
  if (!have_salt) {
    error(v, "'rollout' without 'salt' (any string; a new salt draws new cohorts)");
    bad = true;
  }
  if (!bad) p.rollout = std::move(r);
}

// Position of byte `off` as yaml-cpp would report it (1-based line and column, in bytes).
std::pair<int, int> position(std::string_view text, std::size_t off) {
  int line = 1, col = 1;
  for (std::size_t i = 0; i < off && i < text.size(); i++) {
    if (text[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return {line, col};
}

// Checks what yaml-cpp would mishandle or misreport before it sees the text: bytes that are not
// UTF-8 text (binary files), and flow nesting deep enough to exhaust its recursion.
bool prescan(std::string_view text, std::vector<Diag>& diags) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 1;
    bool ok = true;
    if (c < 0x80) {
      ok = c >= 0x20 || c == '\t' || c == '\n' || c == '\r';
      ok = ok && c != 0x7f;
    } else {
      len = utf8_sequence(text, i);
      ok = len > 0;
    }
    if (!ok) {
      auto [l, col] = position(text, i);
      static constexpr char kHex[] = "0123456789abcdef";
      diags.push_back({l, col,
                       std::string("byte 0x") + kHex[c >> 4] + kHex[c & 0xf] +
                           " is not UTF-8 text; a policy is a YAML text file"});
      return false;
    }
    i += len;
  }

  // Brackets inside quotes or comments are not nesting. Quotes end where YAML ends them: a
  // backslash escapes the next byte in "...", and '' is a quote inside '...'. Ending them early
  // would count the brackets of a note as nesting, and refuse the text policy_to_yaml writes for
  // a note holding \" and many brackets (found by tests/fuzz/policy_fuzz.cpp).
  int depth = 0;
  char in_quote = 0;
  bool in_comment = false;
  for (i = 0; i < text.size(); i++) {
    char c = text[i];
    if (in_comment) {
      if (c == '\n') in_comment = false;
    } else if ((in_quote == '"' && c == '\\') ||
               (in_quote == '\'' && c == '\'' && i + 1 < text.size() && text[i + 1] == '\'')) {
      i++;  // the escape and the byte it escapes
    } else if (in_quote) {
      if (c == in_quote) in_quote = 0;
    } else if (c == '#' &&
               (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n')) {
      in_comment = true;
    } else if (c == '"' || c == '\'') {
      if (i == 0 || std::string_view(" \t\n[{,:").find(text[i - 1]) != std::string_view::npos)
        in_quote = c;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxFlowDepth) {
        auto [l, col] = position(text, i);
        diags.push_back({l, col,
                         "nested more than " + std::to_string(kMaxFlowDepth) +
                             " levels deep; a policy needs four"});
        return false;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return true;
}

std::string format(const std::string& filename, std::vector<Diag> diags) {
  std::stable_sort(diags.begin(), diags.end(), [](const Diag& a, const Diag& b) {
    return std::tie(a.line, a.col) < std::tie(b.line, b.col);
  });
  std::string out;
  for (const auto& d : diags) {
    if (!out.empty()) out += '\n';
    out += filename;
    if (d.line > 0) out += ":" + std::to_string(d.line) + ":" + std::to_string(d.col);
    out += ": " + d.message;
  }
  return out;
}

// Events of one YAML document, as much as the document check below needs.
class DocumentScan : public YAML::EventHandler {
 public:
  YAML::Mark start;
  int events = 0;
  std::optional<YAML::Mark> only_null;  // the document is a single null at this mark

  void reset() {
    events = 0;
    only_null.reset();
  }
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override {
    if (events++ == 0) only_null = mark;
  }
  void OnAlias(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override { ++events; }
  void OnScalar(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {
    ++events;
  }
  void OnSequenceStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {
    ++events;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {
    ++events;
  }
  void OnMapEnd() override {}
};

// Documents in the text, counted to two: a policy needs to know only whether there is more than
// one. Not YAML::LoadAll: in yaml-cpp 0.7 a stray ',', ']' or '}' outside any collection makes
// the parser report an empty document without consuming the token, and LoadAll then appends
// empty documents until memory runs out (fixed upstream in yaml-cpp PR #1319; found by
// tests/fuzz/policy_fuzz.cpp). Such a token is reported here as the syntax error it is.
// Returns the count (0, 1 or 2), or -1 after adding a diagnostic for a stray token. Throws what
// yaml-cpp's parser throws.
int check_documents(std::string_view text, std::vector<Diag>& diags) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentScan scan;
  int docs = 0;
  for (; docs < 2; ++docs) {
    scan.reset();
    if (!parser.HandleNextDocument(scan)) break;
    if (scan.events == 1 && scan.only_null && scan.only_null->pos >= 0 &&
        static_cast<std::size_t>(scan.only_null->pos) < text.size()) {
      char c = text[static_cast<std::size_t>(scan.only_null->pos)];
      if (c == ',' || c == ']' || c == '}') {
        diags.push_back(
            {scan.only_null->line + 1, scan.only_null->column + 1,
             std::string("YAML syntax error: unexpected '") + c + "' outside any flow collection"});
        return -1;
      }
    }
    if (docs == 1)
      diags.push_back({scan.start.line + 1, scan.start.column + 1,
                       "a second YAML document; a policy file holds exactly one"});
  }
  return docs;
}

}  // namespace

Result<Policy> parse_policy(std::string_view text, const std::string& filename) {
  std::vector<Diag> diags;
  if (text.size() > kMaxPolicyBytes)
    return Error{filename + ": " + std::to_string(text.size()) + " bytes is larger than the " +
                 std::to_string(kMaxPolicyBytes >> 20) + " MiB a policy may be"};
  if (!prescan(text, diags)) return Error{format(filename, std::move(diags))};

  YAML::Node root;
  int docs = 0;
  try {
    docs = check_documents(text, diags);
    if (docs < 0) return Error{format(filename, std::move(diags))};
    if (docs > 0) root = YAML::Load(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    diags.push_back({e.mark.line + 1, e.mark.column + 1,
                     "nested too deeply for the YAML parser; a policy needs four levels"});
    return Error{format(filename, std::move(diags))};
  } catch (const YAML::Exception& e) {
    Diag d{e.mark.line + 1, e.mark.column + 1, "YAML syntax error: " + e.msg};
    if (e.mark.line < 0) d.line = d.col = 0;
    // An unquoted glob is the likeliest cause: "*x" is an alias and "?" a key marker in YAML, and
    // yaml-cpp's message says neither.
    if (e.mark.pos >= 0 && static_cast<std::size_t>(e.mark.pos) <= text.size()) {
      auto start = text.rfind('\n', e.mark.pos == 0 ? 0 : static_cast<std::size_t>(e.mark.pos) - 1);
      start = start == std::string_view::npos ? 0 : start + 1;
      auto line = text.substr(start, text.find('\n', start) - start);
      if (line.find_first_of("*?") != std::string_view::npos)
        d.message += " (glob patterns containing '*' or '?' must be quoted, e.g. \"fs-*\")";
    }
    diags.push_back(std::move(d));
    return Error{format(filename, std::move(diags))};
  }
  if (docs == 0) {
    diags.push_back({0, 0, "is empty; a policy needs at least 'version' and 'mode'"});
    return Error{format(filename, std::move(diags))};
  }

  Policy p;
  Parser parser(diags);
  parser.parse_root(root, p);
  if (!diags.empty()) return Error{format(filename, std::move(diags))};
  p.digest = policy_digest(p);
  return p;
}

Result<std::string> read_policy_text(const std::string& path) {
  return read_regular_file(path, kMaxPolicyBytes, "a policy");
}

Result<Policy> load_policy_file(const std::string& path) {
  auto text = read_policy_text(path);
  if (!text) return text.error();
  return parse_policy(*text, path);
}

}  // namespace modgate::policy
