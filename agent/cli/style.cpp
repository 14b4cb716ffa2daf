// SPDX-License-Identifier: Apache-2.0

#include "agent/cli/style.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace modgate::cli {

Style Style::for_fd(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return Style(false);
  const char* term = std::getenv("TERM");
  if (term && std::strcmp(term, "dumb") == 0) return Style(false);
  return Style(::isatty(fd) == 1);
}

}  // namespace modgate::cli
