// SPDX-License-Identifier: Apache-2.0
// One control-socket request line (docs/control.md) → parse_request. Whatever it accepts must
// serialize and parse back to the same request, so the client and the agent agree on every
// request either can express.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/control/protocol.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modgate::control;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto r = parse_request(line);
  if (!r) {
    FUZZ_CHECK(!r.error().message.empty());
    return 0;
  }
  std::string again = serialize_request(*r);
  FUZZ_CHECK(!again.empty() && again.back() == '\n');
  again.pop_back();
  // One request per line: the serialized form must not contain the framing byte.
  FUZZ_CHECK(again.find('\n') == std::string::npos);
  auto back = parse_request(again);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->cmd == r->cmd);
  FUZZ_CHECK(back->file == r->file);
  FUZZ_CHECK(back->content == r->content);
  FUZZ_CHECK(back->force == r->force);
  return 0;
}
