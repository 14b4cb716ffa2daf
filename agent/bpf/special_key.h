// SPDX-License-Identifier: Apache-2.0
// The key of a policy map's records that are not allowlist hashes: the config and the autoload
// patterns (bpf/modgate_abi.h, "One policy = one hash map"). The agent writes them; the host BPF
// tests build policy maps the same way.
#pragma once

#include <cstdint>
#include <cstring>

#include "modgate_abi.h"

namespace modgate {

inline mg_allow_key special_key(std::uint32_t kind, std::uint32_t index) {
  mg_special_key k{};
  std::memcpy(k.magic, MG_KEY_MAGIC, sizeof(k.magic));
  k.kind = kind;
  k.index = index;
  mg_allow_key out{};
  static_assert(sizeof(out) == sizeof(k));
  std::memcpy(&out, &k, sizeof(out));
  return out;
}

}  // namespace modgate
