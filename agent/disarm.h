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

// "removed 1 object directory (/sys/fs/bpf/modgate/TAG): 19 attached programs detached, 5 maps
// and other pins", or that nothing was there.
inline std::string describe_unpinned(const nlohmann::ordered_json& j, const std::string& pin_dir) {
  const auto dirs = j.value("dirs", nlohmann::ordered_json::array());
  if (dirs.empty()) return "nothing was pinned in " + pin_dir + ": nothing was enforcing";
  std::string list;
  for (const auto& d : dirs) list += (list.empty() ? "" : ", ") + d.get<std::string>();
  const int links = j.value("links", 0), gone = j.value("programs_gone", 0);
  std::string out = "removed " + std::to_string(dirs.size()) + " object director" +
                    (dirs.size() == 1 ? "y" : "ies") + " (" + list + "): " + std::to_string(links) +
                    " link" + (links == 1 ? "" : "s") + " (" + std::to_string(gone) + " program" +
                    (gone == 1 ? "" : "s") + " detached)";
  const int other = j.value("other_pins", 0);
  return out + " and " + std::to_string(other) + " map" + (other == 1 ? "" : "s") +
         " and other pins";
}

}  // namespace modgate
