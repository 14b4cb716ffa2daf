// SPDX-License-Identifier: Apache-2.0
// What `modgate disarm` removed, in the agent's reply and in the words the CLI prints, whether the
// agent removed the pins or the CLI did (no agent running): one shape for both.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "agent/bpf/enforcer.h"

namespace modgate {

inline nlohmann::ordered_json unpinned_json(const Enforcer::Unpinned& u) {
  return {{"dirs", u.dirs},
          {"links", u.links},
          {"programs_gone", u.programs_gone},
          {"other_pins", u.other_pins}};
}

// What was removed, as indented lines that fit a terminal: a line per object directory, then the
// counts ("  20 links (20 programs detached), 5 maps and other pins"); empty when nothing was.
inline std::string describe_unpinned(const nlohmann::ordered_json& j) {
  const auto dirs = j.value("dirs", nlohmann::ordered_json::array());
  if (dirs.empty()) return "";
  std::string out;
  for (const auto& d : dirs) out += "  removed " + d.get<std::string>() + "\n";
  const int links = j.value("links", 0), gone = j.value("programs_gone", 0);
  const int other = j.value("other_pins", 0);
  return out + "  " + std::to_string(links) + " link" + (links == 1 ? "" : "s") + " (" +
         std::to_string(gone) + " program" + (gone == 1 ? "" : "s") + " detached), " +
         std::to_string(other) + " map" + (other == 1 ? "" : "s") + " and other pins\n";
}

}  // namespace modgate
