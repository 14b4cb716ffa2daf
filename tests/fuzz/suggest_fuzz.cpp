// SPDX-License-Identifier: Apache-2.0
// Event lines (JSONL from many hosts, docs/events.md) → policy suggest. It never fails on event
// content, and what it proposes must be a policy modgate itself accepts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "policy/init.h"
#include "policy/policy.h"
#include "policy/suggest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modgate::policy;
  std::string_view jsonl(reinterpret_cast<const char*>(data), size);
  SuggestReport r = suggest_from_events(jsonl, nullptr);
  FUZZ_CHECK(r.denials >= r.already_listed);
  if (r.suggestions.empty()) return 0;
  auto back = parse_policy(policy_to_yaml(r.proposed, {}), "proposed.yaml");
  if (!back) std::fprintf(stderr, "%s\n", back.error().message.c_str());
  FUZZ_CHECK(back.ok());
  return 0;
}
