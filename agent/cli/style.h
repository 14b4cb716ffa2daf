// SPDX-License-Identifier: Apache-2.0
// Color for people, plain text for everything else: escapes only when the stream is a terminal,
// NO_COLOR (https://no-color.org) is unset or empty, and TERM is not "dumb".
#pragma once

#include <string>

namespace modgate::cli {

class Style {
 public:
  // For standard output (fd 1) or standard error (fd 2).
  static Style for_fd(int fd);
  static Style plain() { return Style(false); }

  bool enabled() const { return on_; }
  std::string good(const std::string& s) const { return wrap("1;32", s); }  // bold green
  std::string warn(const std::string& s) const { return wrap("1;33", s); }  // bold yellow
  std::string bad(const std::string& s) const { return wrap("1;31", s); }   // bold red
  std::string added(const std::string& s) const { return wrap("32", s); }
  std::string removed(const std::string& s) const { return wrap("31", s); }
  std::string bold(const std::string& s) const { return wrap("1", s); }
  std::string dim(const std::string& s) const { return wrap("2", s); }
  // A mode as status and check print it: enforce stands out, dry-run warns.
  std::string mode(const std::string& m) const { return m == "enforce" ? good(m) : warn(m); }

 private:
  explicit Style(bool on) : on_(on) {}
  std::string wrap(const char* sgr, const std::string& s) const {
    return on_ ? "\033[" + std::string(sgr) + "m" + s + "\033[0m" : s;
  }
  bool on_;
};

}  // namespace modgate::cli
