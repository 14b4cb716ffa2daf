// SPDX-License-Identifier: Apache-2.0
// YAML → Policy. Validation is exhaustive: every problem in the file is collected with its position
// and reported at once, so an operator fixes a policy in one round instead of one error per run.
//
// The YAML is read as libyaml's event stream and validated as it streams: no document tree is
// built, so a parse needs memory for the policy it produces, not tens of bytes per byte of text
// (docs/performance.md). Positions, validation messages and what is accepted are those of the
// yaml-cpp node-tree parser this replaced (syntax errors are mostly in libyaml's words), including
// where libyaml and yaml-cpp disagree about YAML, each such place said below: a policy must mean
// the same to agents on either side of an upgrade.
#include <yaml.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "policy/policy.h"
#include "policy/read_file.h"
#include "policy/rollout.h"

namespace modgate::policy {
namespace {

// A valid policy nests four levels deep; anything far beyond is hostile or broken. Flow nesting is
// bounded before the text reaches the YAML parser, nesting of any kind while it parses.
constexpr int kMaxFlowDepth = 64;
constexpr int kMaxNodeDepth = 500;
// MODULE_NAME_LEN - 1 on 64-bit kernels: the longest name the kernel keeps for a module.
constexpr std::size_t kMaxModuleName = MG_NAME_LEN - 8 - 1;
// Firmware and kexec names are labels for people (the hash decides); a path under /lib/firmware
// is at most this long in practice, and PATH_MAX would only invite abuse of the parser.
constexpr std::size_t kMaxFileEntryName = MG_PATH_LEN - 1;
// struct new_utsname's release is 65 bytes including the NUL.
constexpr std::size_t kMaxKernelRelease = 64;

struct Diag {
  int line = 0;  // 1-based; 0 when the problem has no position (the whole file)
  int col = 0;   // 1-based, in bytes once format() has run
  std::string message;
  bool col_in_chars = false;  // from a libyaml mark, which counts characters
  bool warning = false;       // reported, but the policy stands (Policy::warnings)
};

// A position as libyaml reports it: 0-based line and column, the column in characters. line -1
// is no position.
struct Pos {
  int line = -1;
  int col = 0;
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

// Byte offsets of libyaml's marks. Built only as far as a caller asks (errors, and the rare
// string whose escapes need a second look), so a valid policy never pays for it.
class Lines {
 public:
  explicit Lines(std::string_view text) : text_(text) {}

  // Offset of the start of 0-based `line`, or the text's size past its end. Line breaks are
  // libyaml's: "\n", "\r\n" and a lone "\r" (NEL, LS and PS never get past prescan()).
  std::size_t line_start(int line) {
    while (static_cast<int>(starts_.size()) <= line && scanned_ < text_.size()) {
      char c = text_[scanned_++];
      if (c == '\n' || (c == '\r' && (scanned_ == text_.size() || text_[scanned_] != '\n')))
        starts_.push_back(scanned_);
    }
    return static_cast<int>(starts_.size()) > line ? starts_[static_cast<std::size_t>(line)]
                                                   : text_.size();
  }

  // Offset of a mark: its line's start plus `col` UTF-8 characters.
  std::size_t offset(Pos m) {
    std::size_t i = line_start(m.line);
    for (int c = 0; c < m.col && i < text_.size(); c++) {
      auto u = static_cast<unsigned char>(text_[i]);
      i += u < 0x80 ? 1 : u < 0xe0 ? 2 : u < 0xf0 ? 3 : 4;
    }
    return std::min(i, text_.size());
  }

  std::string_view text() const { return text_; }

  // 1-based byte column of a mark.
  int byte_col(Pos m) { return static_cast<int>(offset(m) - line_start(m.line)) + 1; }

 private:
  std::string_view text_;
  std::vector<std::size_t> starts_{0};
  std::size_t scanned_ = 0;
};

// Ends the parse: the text is not YAML, or not YAML this parser takes. Thrown from inside the
// event stream and caught in parse_policy, which then reports this alone, as yaml-cpp did.
struct YamlError {
  Pos mark;
  std::string message;
  bool syntax = true;         // "YAML syntax error: " and the glob hint apply
  bool outside_flow = false;  // no flow collection was open: a stray ',', ']' or '}' is named
};

// One libyaml event, with what validation needs of it.
struct Ev {
  enum Type {
    kNone,
    kStreamStart,
    kStreamEnd,
    kDocStart,
    kDocEnd,
    kSeq,
    kSeqEnd,
    kMap,
    kMapEnd,
    kScalar,
    kAlias
  };
  Type type = kNone;
  Pos mark;
  std::string value;  // scalars
  // yaml-cpp's spelling, which messages and the plain-scalar rules use: "?" for an untagged plain
  // scalar, "!" for an untagged quoted one, else the resolved tag.
  std::string tag;
  bool double_quoted = false;
  int record = -1;  // aliases: the anchored node they repeat
};

// libyaml's events, plus anchors: the events of each anchored node are kept so that an alias can
// replay them. Only anchored nodes are kept; a policy without anchors keeps nothing.
class Events {
 public:
  explicit Events(std::string_view text) : text_(text) {
    // libyaml's marks start counting after a byte order mark.
    if (text.substr(0, 3) == "\xef\xbb\xbf") cursor_byte_ = 3;
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
  }
  ~Events() { yaml_parser_delete(&parser_); }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;

  // The next event: from the innermost alias being replayed, else from the text.
  Ev next() {
    while (!replays_.empty()) {
      Replay& r = replays_.back();
      if (r.pos < r.end) return log_[r.pos++];
      replays_.pop_back();
    }
    return live();
  }

  // The first event of an anchored node; for a collection, what follows it is replayed next.
  const Ev& start_replay(int record) {
    const Record& r = records_[static_cast<std::size_t>(record)];
    if (log_[r.begin].type == Ev::kSeq || log_[r.begin].type == Ev::kMap)
      replays_.push_back({r.begin + 1, r.end});
    return log_[r.begin];
  }
  std::size_t replay_depth() const { return replays_.size(); }
  void drop_replays(std::size_t depth) {
    if (replays_.size() > depth) replays_.resize(depth);
  }

 private:
  struct Record {
    std::size_t begin = 0, end = 0;
    bool open = true;
  };
  struct Replay {
    std::size_t pos, end;
  };

  [[noreturn]] void fail() const {
    const bool outside = flow_depth_ == 0;
    // prescan() refuses what libyaml's reader would; this is for completeness.
    if (parser_.error == YAML_READER_ERROR)
      throw YamlError{{0, 0}, parser_.problem ? parser_.problem : "unreadable text", true, outside};
    if (parser_.error == YAML_MEMORY_ERROR)
      throw YamlError{{0, 0}, "out of memory", false, outside};
    std::string message = parser_.problem ? parser_.problem : "invalid YAML";
    if (parser_.context)
      message += std::string(" (") + parser_.context + " that starts at " +
                 std::to_string(parser_.context_mark.line + 1) + ":" +
                 std::to_string(parser_.context_mark.column + 1) + ")";
    throw YamlError{{static_cast<int>(parser_.problem_mark.line),
                     static_cast<int>(parser_.problem_mark.column)},
                    std::move(message),
                    true,
                    outside};
  }

  // Byte offset of libyaml's character index `index`. Events arrive in text order, so a cursor
  // that only moves forward makes this linear in the text over a whole parse.
  std::size_t byte_at(std::size_t index) {
    if (index < cursor_index_) {
      cursor_index_ = 0;
      cursor_byte_ = text_.substr(0, 3) == "\xef\xbb\xbf" ? 3 : 0;
    }
    while (cursor_index_ < index && cursor_byte_ < text_.size()) {
      auto u = static_cast<unsigned char>(text_[cursor_byte_]);
      cursor_byte_ += u < 0x80 ? 1 : u < 0xe0 ? 2 : u < 0xf0 ? 3 : 4;
      cursor_index_++;
    }
    return std::min(cursor_byte_, text_.size());
  }

  Ev live() {
    yaml_event_t raw;
    const bool in_flow = !flow_.empty();
    if (!yaml_parser_parse(&parser_, &raw)) fail();
    struct Guard {
      yaml_event_t* e;
      ~Guard() { yaml_event_delete(e); }
    } guard{&raw};
    Ev ev;
    ev.mark = {static_cast<int>(raw.start_mark.line), static_cast<int>(raw.start_mark.column)};
    const yaml_char_t* anchor = nullptr;
    switch (raw.type) {
      case YAML_STREAM_START_EVENT:
        ev.type = Ev::kStreamStart;
        break;
      case YAML_STREAM_END_EVENT:
        ev.type = Ev::kStreamEnd;
        break;
      case YAML_DOCUMENT_START_EVENT:
        ev.type = Ev::kDocStart;
        anchors_.clear();  // an anchor names a node of its own document only
        break;
      case YAML_DOCUMENT_END_EVENT:
        ev.type = Ev::kDocEnd;
        break;
      case YAML_ALIAS_EVENT: {
        ev.type = Ev::kAlias;
        auto it = anchors_.find(reinterpret_cast<const char*>(raw.data.alias.anchor));
        if (it == anchors_.end()) throw YamlError{ev.mark, "the referenced anchor is not defined"};
        // yaml-cpp made such a node contain itself; nothing a policy holds needs that.
        if (records_[static_cast<std::size_t>(it->second)].open)
          throw YamlError{ev.mark, "an alias inside the node its anchor names"};
        ev.record = it->second;
        break;
      }
      case YAML_SCALAR_EVENT: {
        ev.type = Ev::kScalar;
        anchor = raw.data.scalar.anchor;
        ev.value.assign(reinterpret_cast<const char*>(raw.data.scalar.value),
                        raw.data.scalar.length);
        const bool plain = raw.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        ev.double_quoted = raw.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        ev.tag = raw.data.scalar.tag ? reinterpret_cast<const char*>(raw.data.scalar.tag)
                 : plain             ? "?"
                                     : "!";
        // yaml-cpp ends a plain scalar in a flow collection at '?' and then finds no token it
        // knows; libyaml reads on. An unquoted glob such as [fs-?] must stay the syntax error it
        // was, not become a pattern one parser sees and the other refuses.
        if (plain && flow_depth_ > 0) {
          auto q = ev.value.find('?');
          if (q != std::string::npos) {
            Pos at = ev.mark;
            if (raw.start_mark.line == raw.end_mark.line)
              for (std::size_t i = 0; i < q; i++)
                if ((static_cast<unsigned char>(ev.value[i]) & 0xc0) != 0x80) at.col++;
            throw YamlError{at, "unknown token"};
          }
        }
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
        ev.type = Ev::kSeq;
        anchor = raw.data.sequence_start.anchor;
        if (raw.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE) flow_.push_back(depth_);
        break;
      case YAML_MAPPING_START_EVENT:
        ev.type = Ev::kMap;
        anchor = raw.data.mapping_start.anchor;
        if (raw.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE) flow_.push_back(depth_);
        break;
      case YAML_SEQUENCE_END_EVENT:
        ev.type = Ev::kSeqEnd;
        break;
      case YAML_MAPPING_END_EVENT:
        ev.type = Ev::kMapEnd;
        break;
      default:
        ev.type = Ev::kNone;
        break;
    }
    const bool starts = ev.type == Ev::kSeq || ev.type == Ev::kMap;
    const bool ends = ev.type == Ev::kSeqEnd || ev.type == Ev::kMapEnd;
    // In a flow collection, libyaml takes '?' as a key indicator even when a node follows it
    // without a space ({?name: x}); to yaml-cpp that is no token at all.
    if (in_flow &&
        (starts || (ev.type == Ev::kScalar && raw.end_mark.index > raw.start_mark.index))) {
      std::size_t b = byte_at(raw.start_mark.index);
      if (b > 0 && text_[b - 1] == '?' && ev.mark.col > 0)
        throw YamlError{{ev.mark.line, ev.mark.col - 1}, "unknown token"};
    }
    if (starts && ++depth_ > kMaxNodeDepth)
      throw YamlError{ev.mark, "nested too deeply for the YAML parser; a policy needs four levels",
                      false};
    flow_depth_ = static_cast<int>(flow_.size());
    if (anchor) {
      anchors_[reinterpret_cast<const char*>(anchor)] = static_cast<int>(records_.size());
      records_.push_back({log_.size(), 0, true});
      if (starts) open_.emplace_back(records_.size() - 1, depth_);
    }
    if (!open_.empty() || anchor) log_.push_back(ev);
    if (anchor && !starts) {
      records_.back().end = log_.size();
      records_.back().open = false;
    }
    if (ends) {
      if (!open_.empty() && open_.back().second == depth_) {
        Record& r = records_[open_.back().first];
        r.end = log_.size();
        r.open = false;
        open_.pop_back();
      }
      --depth_;
      if (!flow_.empty() && flow_.back() == depth_) flow_.pop_back();
      flow_depth_ = static_cast<int>(flow_.size());
    }
    return ev;
  }

  std::string_view text_;
  std::size_t cursor_index_ = 0, cursor_byte_ = 0;
  yaml_parser_t parser_{};
  int depth_ = 0;          // collections open in the text
  std::vector<int> flow_;  // the depth at which each open flow collection started
  int flow_depth_ = 0;
  std::unordered_map<std::string, int> anchors_;  // name → its latest record
  std::vector<Record> records_;
  std::vector<std::pair<std::size_t, int>> open_;  // anchored collections being recorded, depth
  std::vector<Ev> log_;                            // the recorded events
  std::vector<Replay> replays_;
};

enum class Kind { kEnd, kNull, kScalar, kSequence, kMap };

// The head of one node: its kind, position and, for a scalar, its value. A collection's contents
// are read after it with Reader::next() and left with Reader::finish(). The accessors keep the
// names of yaml-cpp's Node, which the validation below was written against.
struct Node {
  Kind kind = Kind::kEnd;
  Pos mark;
  std::string value, tag;
  bool double_quoted = false;
  // Collections.
  std::size_t replay_depth = 0;  // replays open before this node
  bool alias = false;            // replayed from an anchor: finish() drops the replay
  bool done = false;             // its end was read

  bool IsNull() const { return kind == Kind::kNull; }
  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsSequence() const { return kind == Kind::kSequence; }
  bool IsMap() const { return kind == Kind::kMap; }
  bool is_collection() const { return IsSequence() || IsMap(); }
  const std::string& Scalar() const { return value; }
  const std::string& Tag() const { return tag; }
  Pos Mark() const { return mark; }
};

class Reader {
 public:
  explicit Reader(Events& events) : ev_(events) {}

  // The next node; kEnd at the end of the collection being read.
  Node read() { return head(ev_.next()); }

  // The next child of `parent`, false (and parent done) at its end.
  bool next(Node& parent, Node& child) {
    child = read();
    if (child.kind != Kind::kEnd) return true;
    parent.done = true;
    return false;
  }

  // Skips what is left of a collection. Aliases inside it are not expanded, and an aliased
  // collection is dropped whole: skipping costs at most the text's own size, however often a
  // hostile file repeats an alias.
  void finish(Node& n) {
    if (!n.is_collection() || n.done) return;
    n.done = true;
    ev_.drop_replays(n.replay_depth);
    if (n.alias) return;
    for (int depth = 0;;) {
      Ev e = ev_.next();
      if (e.type == Ev::kSeq || e.type == Ev::kMap) {
        depth++;
      } else if (e.type == Ev::kSeqEnd || e.type == Ev::kMapEnd) {
        if (depth-- == 0) return;
      }
    }
  }

 private:
  Node head(Ev e) {
    Node n;
    std::size_t replays = ev_.replay_depth();
    if (e.type == Ev::kAlias) {
      // yaml-cpp made an alias the anchored node itself, position included.
      const Ev& first = ev_.start_replay(e.record);
      n = from(first);
      n.alias = true;
      n.replay_depth = replays;
      return n;
    }
    n = from(std::move(e));
    n.replay_depth = replays;
    return n;
  }

  static Node from(Ev e) {
    Node n;
    n.mark = e.mark;
    switch (e.type) {
      case Ev::kSeq:
        n.kind = Kind::kSequence;
        break;
      case Ev::kMap:
        n.kind = Kind::kMap;
        break;
      case Ev::kScalar: {
        n.tag = std::move(e.tag);
        n.value = std::move(e.value);
        n.double_quoted = e.double_quoted;
        // yaml-cpp's nulls: empty, ~, null, Null and NULL, when plain and untagged.
        const std::string& v = n.value;
        n.kind =
            n.tag == "?" && (v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL")
                ? Kind::kNull
                : Kind::kScalar;
        break;
      }
      default:
        n.kind = Kind::kEnd;
        break;
    }
    return n;
  }

  Events& ev_;
};

// Keys seen in one mapping. Entries have two to seven keys, where a short vector beats any tree;
// a hostile mapping with a million keys moves to a hash set instead of going quadratic.
class KeySet {
 public:
  // The line the key was first seen at, or nullopt (and the key is recorded) when it is new.
  std::optional<int> insert(const std::string& key, int line) {
    if (n_ <= small_.size()) {
      for (std::size_t i = 0; i < n_; i++)
        if (small_[i].first == key) return small_[i].second;
      if (n_ < small_.size()) {
        small_[n_++] = {key, line};
        return std::nullopt;
      }
      for (auto& kv : small_) big_.emplace(std::move(kv.first), kv.second);
      n_ = small_.size() + 1;  // from now on, big_ holds them all
    }
    auto [it, inserted] = big_.emplace(key, line);
    if (inserted) return std::nullopt;
    return it->second;
  }

 private:
  std::array<std::pair<std::string, int>, 16> small_;
  std::size_t n_ = 0;
  std::unordered_map<std::string, int> big_;
};

std::string_view kind_name(const Node& n) {
  switch (n.kind) {
    case Kind::kNull:
      return "nothing (null)";
    case Kind::kScalar:
      return "a scalar";
    case Kind::kSequence:
      return "a list";
    case Kind::kMap:
      return "a mapping";
    default:
      return "an undefined node";
  }
}

// A plain (unquoted, untagged) scalar is the only spelling accepted for numbers and booleans: a
// quoted "true" is a string in YAML, and accepting it would make the file mean two things.
bool is_plain(const Node& n) { return n.IsScalar() && n.Tag() == "?"; }
class Parser {
 public:
  Parser(Reader& reader, Lines& lines, std::vector<Diag>& diags)
      : rd_(reader), lines_(lines), diags_(diags) {}

  void parse_root(Node& root, Policy& p);

 private:
  // A null value has the position of whatever follows it, which may be lines below; the key is
  // where the operator should look.
  void error_at(Pos m, std::string msg) {
    if (m.line < 0)
      diags_.push_back({0, 0, std::move(msg)});
    else
      diags_.push_back({m.line + 1, m.col + 1, std::move(msg), true});
  }
  void error(Node& n, std::string msg) { error_at(n.Mark(), std::move(msg)); }
  void warn_at(Pos m, std::string msg) {
    error_at(m, "warning: " + std::move(msg));
    diags_.back().warning = true;
  }

  // Iterates a mapping's pairs, rejecting non-scalar and duplicate keys (YAML forbids repeated
  // keys, but neither parser refuses them). `where` names the mapping in messages. Each value is
  // skipped once `f` returns, whatever of it `f` read.
  template <typename F>
  void for_each_key(Node& map, std::string_view where, F&& f);

  std::optional<std::string> get_string(Node& key, Node& v, std::string_view what);
  std::optional<bool> get_bool(Node& key, Node& v, std::string_view what);
  std::optional<std::uint64_t> get_uint(Node& key, Node& v, std::string_view what);
  // A list of globs, each checked by `valid` (which returns an error message or "").
  std::vector<std::string> get_patterns(Node& key, Node& v, std::string_view what,
                                        std::size_t max_count,
                                        std::string (*valid)(std::string_view));
  void parse_entries(Section s, Node& key, Node& v, std::vector<ModuleEntry>& out);
  void parse_entry(Section s, Node& item, std::vector<ModuleEntry>& out);
  void parse_autoload(Node& key, Node& v, Policy& p);
  void parse_rollout(Node& key, Node& v, Policy& p);

  // Whether a double-quoted scalar spells \N or \_ (see get_string).
  bool has_nonutf8_escape(const Node& v);

  Reader& rd_;
  Lines& lines_;
  std::vector<Diag>& diags_;
  struct Seen {
    std::size_t index;  // in the section's entries
    int line;
  };
  // Per section: a hash may be in two sections (both kinds admitted), not twice in one.
  std::map<Section, std::unordered_map<Sha256, Seen, Sha256Hash>> hashes_;
};

template <typename F>
void Parser::for_each_key(Node& map, std::string_view where, F&& f) {
  KeySet seen;
  Node k, v;
  while (rd_.next(map, k)) {
    const bool scalar_key = k.IsScalar();
    if (!scalar_key) {
      error(k, "keys in " + std::string(where) + " must be plain names, got " +
                   std::string(kind_name(k)));
      rd_.finish(k);
    }
    rd_.next(map, v);  // libyaml's events pair every key with a value
    if (scalar_key) {
      const std::string& name = k.Scalar();
      if (auto first = seen.insert(name, k.Mark().line + 1)) {
        error(k, "duplicate key " + quote(name) + " in " + std::string(where) + " (first at line " +
                     std::to_string(*first) + ")");
      } else {
        f(name, k, v);
      }
    }
    rd_.finish(v);
  }
}

std::optional<std::string> Parser::get_string(Node& key, Node& v, std::string_view what) {
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
  // libyaml decodes the escapes \N and \_ to U+0085 and U+00A0, but yaml-cpp, which earlier
  // agents parse with, to the single bytes 0x85 and 0xa0: not UTF-8, and such a string could never
  // be written back as a policy (found by tests/fuzz/policy_fuzz.cpp). Refused as before, so that
  // a policy never means one thing to a new agent and another to an old one.
  if (!is_utf8(v.Scalar()) || has_nonutf8_escape(v)) {
    error(v, std::string(what) +
                 " is not UTF-8 once unescaped by earlier modgate agents (their yaml-cpp decodes "
                 "\\N and \\_ to single bytes); write the character itself");
    return std::nullopt;
  }
  // Each node is read once, and the value is all a caller keeps of it.
  return std::move(v.value);
}

std::optional<bool> Parser::get_bool(Node& key, Node& v, std::string_view what) {
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

std::optional<std::uint64_t> Parser::get_uint(Node& key, Node& v, std::string_view what) {
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

std::vector<std::string> Parser::get_patterns(Node& key, Node& v, std::string_view what,
                                              std::size_t max_count,
                                              std::string (*valid)(std::string_view)) {
  std::vector<std::string> out;
  if (!v.IsSequence()) {
    error_at(v.IsNull() ? key.Mark() : v.Mark(),
             std::string(what) + " must be a list of patterns, got " + std::string(kind_name(v)) +
                 (v.IsNull() ? " (write [] for an empty list)" : ""));
    return out;
  }
  std::map<std::string, int> seen;
  std::size_t count = 0;
  for (Node item; rd_.next(v, item); rd_.finish(item)) {
    count++;
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
  if (count > max_count)
    error(v, std::string(what) + " has " + std::to_string(count) + " patterns; at most " +
                 std::to_string(max_count) + " fit in the kernel's table");
  return out;
}

void Parser::parse_root(Node& root, Policy& p) {
  if (!root.IsMap()) {
    error(root, "a policy is a mapping with at least 'version' and 'mode', got " +
                    std::string(kind_name(root)));
    return;
  }
  bool have_version = false, have_mode = false;
  Pos modules_mark = Pos{}, mode_mark = Pos{};
  Pos rollout_mark = Pos{};
  bool mode_valid = false;
  for_each_key(root, "the policy", [&](const std::string& k, Node& key, Node& v) {
    if (k == "version") {
      if (auto n = get_uint(key, v, "'version'")) {
        p.version = *n;
        // Valid, and almost certainly a mistake: where signed policies must be newer than the
        // one in force, nothing can follow it.
        if (*n == std::numeric_limits<std::uint64_t>::max())
          warn_at(v.Mark(),
                  "version " + std::to_string(*n) +
                      " is the highest possible: on a host that takes signed policies (--trust) "
                      "no later policy can ever replace it, short of resetting the host's "
                      "anti-rollback mark");
      }
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
    } else if (k == "other_kernels") {
      auto s = get_string(key, v, "'other_kernels'");
      if (!s) return;
      if (*s == "report")
        p.other_kernels = OtherKernels::kReport;
      else if (*s == "enforce")
        p.other_kernels = OtherKernels::kEnforce;
      else
        error(v, "'other_kernels' must be 'report' or 'enforce', got " + quote(*s));
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
                     " (expected version, mode, kernels, other_kernels, modules, firmware, kexec, "
                     "autoload, log_allowed, allow_forced, allow_empty, rollout, protect)");
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

void Parser::parse_entries(Section sec, Node& key, Node& v, std::vector<ModuleEntry>& out) {
  const SectionInfo info = section_info(sec);
  if (!v.IsSequence()) {
    error_at(v.IsNull() ? key.Mark() : v.Mark(),
             "'" + std::string(info.key) + "' must be a list of entries, got " +
                 std::string(kind_name(v)) + (v.IsNull() ? " (write [] for an empty list)" : ""));
    return;
  }
  // Room for every entry the text could hold, reserved once: growing by doubling would copy
  // the entries and, mid-copy, hold half again as many, which at 100 k entries was the parse's
  // peak memory. An entry spells "sha256" at least once and takes at least its 64 digits, so
  // both bound the count; the first is close for any real policy.
  if (sec == Section::kModules) {
    std::string_view text = lines_.text();
    std::size_t n = 0;
    for (auto i = text.find("sha256"); i != std::string_view::npos; i = text.find("sha256", i + 6))
      n++;
    out.reserve(std::min(n, text.size() / 64));
  }
  hashes_[sec].reserve(out.capacity());
  for (Node item; rd_.next(v, item); rd_.finish(item)) parse_entry(sec, item, out);
}

void Parser::parse_entry(Section sec, Node& item, std::vector<ModuleEntry>& out) {
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
  Pos hash_mark = item.Mark();
  for_each_key(item, "a " + entry, [&](const std::string& k, Node& key, Node& v) {
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
      e.name = std::move(*name);
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
  auto [pos, inserted] = hashes_[sec].emplace(e.sha256, Seen{out.size(), e.line});
  if (!inserted) {
    const std::string& first = out[pos->second.index].name;
    // The same module twice (concatenated `policy init` outputs): one entry, and a word about it.
    if (first == e.name)
      warn_at(hash_mark, "sha256 " + to_hex(e.sha256) + " of " + quote(e.name) +
                             " is listed twice (first at line " + std::to_string(pos->second.line) +
                             "); the repeat is left out");
    else
      error_at(hash_mark, "sha256 " + to_hex(e.sha256) + " is listed under " + quote(e.name) +
                              " and under " + quote(first) + " at line " +
                              std::to_string(pos->second.line) + "; one file cannot be two " +
                              std::string(info.thing));
    return;
  }
  out.push_back(std::move(e));
}

void Parser::parse_autoload(Node& key, Node& v, Policy& p) {
  if (!v.IsMap()) {
    error_at(v.IsNull() ? key.Mark() : v.Mark(),
             "'autoload' must be a mapping with default, allow and deny, got " +
                 std::string(kind_name(v)));
    return;
  }
  for_each_key(v, "'autoload'", [&](const std::string& k, Node& key2, Node& v2) {
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

void Parser::parse_rollout(Node& key, Node& v, Policy& p) {
  if (!v.IsMap()) {
    error_at(v.IsNull() ? key.Mark() : v.Mark(),
             "'rollout' must be a mapping with enforce_percent and salt, got " +
                 std::string(kind_name(v)));
    return;
  }
  Rollout r;
  bool have_percent = false, have_salt = false, bad = false;
  for_each_key(v, "'rollout'", [&](const std::string& k, Node& key2, Node& v2) {
    if (k == "enforce_percent") {
      have_percent = true;
      // Unquoted like every number here; the text is parsed exactly (no floating point), so
      // 12.5 means 1250 basis points on every host.
      auto bp = is_plain(v2) ? parse_enforce_percent(v2.Scalar())
                             : Result<std::uint32_t>(Error{"must be unquoted"});
      if (!bp) {
        std::string got = v2.IsScalar() ? (is_plain(v2) ? quote(v2.Scalar())
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

bool Parser::has_nonutf8_escape(const Node& v) {
  // Only a string holding U+0085 or U+00A0 can have come from them; the text is looked at again
  // only then, so that the common case costs two searches.
  if (!v.double_quoted) return false;
  const std::string& s = v.Scalar();
  if (s.find("\xc2\x85") == std::string::npos && s.find("\xc2\xa0") == std::string::npos)
    return false;
  std::string_view text = lines_.text();
  for (std::size_t i = lines_.offset(v.Mark()) + 1; i < text.size(); i++) {
    if (text[i] == '"') return false;
    if (text[i] == '\\') {
      if (i + 1 < text.size() && (text[i + 1] == 'N' || text[i + 1] == '_')) return true;
      i++;
    }
  }
  return false;
}

// Position of byte `off` as messages give it (1-based line and column, in bytes).
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

// Checks what the YAML parser would misreport, or read otherwise than earlier agents did, before
// it sees the text: bytes that are not UTF-8 text (binary files), line breaks that the two
// parsers disagree on, and absurd flow nesting.
bool prescan(std::string_view text, std::vector<Diag>& diags) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 1;
    bool ok = true;
    if (c >= 0x20 && c < 0x7f) {
      i++;  // the common case, first
      continue;
    }
    if (c < 0x80) {
      ok = c == '\t' || c == '\n' || c == '\r';
      // A lone CR is a line break to libyaml and a character inside a scalar to yaml-cpp, which
      // earlier agents parse with: the same bytes would be two different policies.
      if (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) {
        auto [l, col] = position(text, i);
        diags.push_back(
            {l, col, "carriage return without a line feed; end lines with \\n or \\r\\n"});
        return false;
      }
    } else {
      len = utf8_sequence(text, i);
      ok = len > 0;
      // NEL, LS and PS are the same kind of disagreement (line breaks in YAML 1.1, text in 1.2).
      const auto seq = text.substr(i, len);
      if (ok && (seq == "\u0085" || seq == "\u2028" || seq == "\u2029")) {
        auto [l, col] = position(text, i);
        const bool nel = len == 2, ls = !nel && text[i + 2] == '\xa8';
        diags.push_back({l, col,
                         std::string("character U+") +
                             (nel  ? "0085"
                              : ls ? "2028"
                                   : "2029") +
                             " is a line break to some YAML parsers and text to others; inside a "
                             "double-quoted string, write it as " +
                             (nel  ? "\\x85"
                              : ls ? "\\L"
                                   : "\\P")});
        return false;
      }
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

  // Too few brackets to nest that deep, as in every policy written in block style: the scan
  // below, a branch per byte, is not needed.
  if (std::count(text.begin(), text.end(), '[') + std::count(text.begin(), text.end(), '{') <=
      kMaxFlowDepth)
    return true;

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

std::string format(const std::string& filename, std::vector<Diag> diags, Lines* lines) {
  for (auto& d : diags)
    if (d.col_in_chars && lines) {
      d.col = lines->byte_col({d.line - 1, d.col - 1});
      d.col_in_chars = false;
    }
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

// The one diagnostic for text the YAML parser gave up on.
Diag yaml_error_diag(const YamlError& e, std::string_view text, Lines& lines) {
  Diag d{e.mark.line + 1, e.mark.col + 1, e.message, true};
  if (e.mark.line < 0) {
    d.line = d.col = 0;
    d.col_in_chars = false;
  }
  if (!e.syntax || e.mark.line < 0) return d;
  // libyaml reports a ',', ']' or '}' outside any flow collection as a missing document start or
  // node; yaml-cpp's words, which say what is wrong, are kept.
  std::size_t off = lines.offset(e.mark);
  char c = off < text.size() ? text[off] : 0;
  if (e.outside_flow && c == ',') {
    d.message = "YAML syntax error: unexpected ',' outside any flow collection";
    return d;
  }
  if (e.outside_flow && (c == ']' || c == '}')) d.message = "illegal flow end";
  d.message = "YAML syntax error: " + d.message;
  // An unquoted glob is the likeliest cause: "*x" is an alias and "?" a key marker in YAML, and
  // the parser's message says neither.
  std::size_t start = lines.line_start(e.mark.line);
  auto line = text.substr(start, text.find('\n', start) - start);
  if (line.find_first_of("*?") != std::string_view::npos)
    d.message += " (glob patterns containing '*' or '?' must be quoted, e.g. \"fs-*\")";
  return d;
}

}  // namespace

Result<Policy> parse_policy(std::string_view text, const std::string& filename) {
  std::vector<Diag> diags;
  if (text.size() > kMaxPolicyBytes)
    return Error{filename + ": " + std::to_string(text.size()) + " bytes is larger than the " +
                 std::to_string(kMaxPolicyBytes >> 20) + " MiB a policy may be"};
  if (!prescan(text, diags)) return Error{format(filename, std::move(diags), nullptr)};

  Lines lines(text);
  Policy p;
  try {
    Events events(text);
    Reader reader(events);
    Parser parser(reader, lines, diags);
    events.next();  // the stream's start
    if (events.next().type == Ev::kStreamEnd) {
      diags.push_back({0, 0, "is empty; a policy needs at least 'version' and 'mode'"});
      return Error{format(filename, std::move(diags), nullptr)};
    }
    Node root = reader.read();
    parser.parse_root(root, p);
    reader.finish(root);
    events.next();  // the document's end
    // Documents are counted to two: a policy needs to know only whether there is more than one.
    // The second is read to its end, so that a syntax error in it is the error reported.
    Ev second = events.next();
    if (second.type == Ev::kDocStart) {
      diags.push_back({second.mark.line + 1, second.mark.col + 1,
                       "a second YAML document; a policy file holds exactly one", true});
      Node r = reader.read();
      reader.finish(r);
      events.next();
    }
  } catch (const YamlError& e) {
    // What was found before the parser gave up is not reported: it may be an artefact of the
    // same mistake, and yaml-cpp, which parsed before validating, never reported it either.
    diags.clear();
    diags.push_back(yaml_error_diag(e, text, lines));
    return Error{format(filename, std::move(diags), &lines)};
  }
  std::vector<Diag> warnings;
  for (const auto& d : diags)
    if (d.warning) warnings.push_back(d);
  std::erase_if(diags, [](const Diag& d) { return d.warning; });
  if (!diags.empty()) return Error{format(filename, std::move(diags), &lines)};
  if (!warnings.empty()) {
    std::istringstream text_lines(format(filename, std::move(warnings), &lines));
    for (std::string line; std::getline(text_lines, line);) p.warnings.push_back(line);
  }
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
