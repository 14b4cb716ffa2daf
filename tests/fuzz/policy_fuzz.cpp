// SPDX-License-Identifier: Apache-2.0
// Policy YAML → parse_policy (parser and validator) → compile, and the properties every accepted
// policy must have: a stable canonical digest, a YAML rendering that reads back to the same
// digest, an empty diff against itself, and renderings that do not fail.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "policy/diff.h"
#include "policy/init.h"
#include "policy/policy.h"
#include "policy/report.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modgate::policy;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = parse_policy(text, "fuzz.yaml");
  if (!p) {
    // Every failure names the file: an operator must be able to tell which input was bad.
    FUZZ_CHECK(p.error().message.rfind("fuzz.yaml", 0) == 0);
    return 0;
  }
  FUZZ_CHECK(policy_digest(*p) == p->digest);

  auto compiled = compile(*p);
  if (compiled) {
    // One record per distinct hash over the three sections, each naming at least one section.
    std::size_t entries = p->modules.size() + (p->firmware ? p->firmware->size() : 0) +
                          (p->kexec ? p->kexec->size() : 0);
    FUZZ_CHECK(compiled->allow.size() <= entries);
    for (const auto& e : compiled->allow) FUZZ_CHECK(e.value.sections != 0);
    FUZZ_CHECK(((compiled->config.flags & MG_CFG_FIRMWARE) != 0) == p->firmware.has_value());
    FUZZ_CHECK(((compiled->config.flags & MG_CFG_KEXEC) != 0) == p->kexec.has_value());
  }

  auto yaml = policy_to_yaml(*p, {"fuzz"});
  auto back = parse_policy(yaml, "roundtrip.yaml");
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->digest == p->digest);

  FUZZ_CHECK(diff_policies(*p, *p).empty());
  (void)kernel_matches(*p, "6.1.0-56-amd64");
  (void)show_text(*p, "fuzz.yaml", true);
  (void)show_json(*p, "fuzz.yaml");
  return 0;
}
