// SPDX-License-Identifier: Apache-2.0
// Pins the ABI header's layout as the C++ compiler sees it. The BPF side is checked against the
// same numbers from the compiled object's BTF in tests/bpf/abi_btf_test.cpp, so a layout drift
// between the two compilers fails a test instead of corrupting events.
#include <gtest/gtest.h>

#include <cstddef>

#include "modgate_abi.h"

namespace {

TEST(AbiLayout, AllowlistKeyAndValue) {
  EXPECT_EQ(sizeof(mg_allow_key), 32u);
  EXPECT_EQ(sizeof(mg_allow_value), 16u);
  EXPECT_EQ(offsetof(mg_allow_value, entry), 0u);
  EXPECT_EQ(offsetof(mg_allow_value, sections), 4u);
  EXPECT_EQ(offsetof(mg_allow_value, firmware_entry), 8u);
  EXPECT_EQ(offsetof(mg_allow_value, kexec_entry), 12u);
  EXPECT_LE(sizeof(mg_allow_value), sizeof(mg_policy_value)) << "must fit the policy map's value";
}

TEST(AbiLayout, KindsAndSections) {
  // Distinct bits: a hash may carry several sections, each admitting only its own kind.
  EXPECT_EQ(MG_ALLOW_MODULE & MG_ALLOW_FIRMWARE, 0u);
  EXPECT_EQ((MG_ALLOW_MODULE | MG_ALLOW_FIRMWARE) & MG_ALLOW_KEXEC, 0u);
  EXPECT_EQ(MG_CFG_FIRMWARE & MG_CFG_KEXEC, 0u);
  EXPECT_EQ((MG_CFG_FIRMWARE | MG_CFG_KEXEC) & (MG_CFG_LOG_ALLOWED | MG_CFG_ALLOW_FORCED |
                                                MG_CFG_AUTOLOAD_DEFAULT_ALLOW | MG_CFG_PROTECT),
            0u);
  EXPECT_EQ(MG_KIND_MODULE, 0) << "events of other types carry kind 0";
  EXPECT_EQ(MG_KIND_COUNT, 4);
}

TEST(AbiLayout, Config) {
  EXPECT_EQ(sizeof(mg_config), 64u);
  EXPECT_EQ(offsetof(mg_config, policy_digest), 8u);
  EXPECT_EQ(offsetof(mg_config, mode), 40u);
  EXPECT_EQ(offsetof(mg_config, present), 48u);
  EXPECT_EQ(offsetof(mg_config, n_autoload_allow), 56u);
}

TEST(AbiLayout, PolicyRecordsShareOneValueSize) {
  EXPECT_EQ(sizeof(mg_policy_value), 64u);
  EXPECT_EQ(sizeof(mg_special_key), sizeof(mg_allow_key));
  EXPECT_EQ(sizeof(MG_KEY_MAGIC) - 1, sizeof(mg_special_key::magic));
}

TEST(AbiLayout, Event) {
  EXPECT_EQ(offsetof(mg_event, ts_ns), 0u);
  EXPECT_EQ(offsetof(mg_event, event), 24u);
  EXPECT_EQ(offsetof(mg_event, entry), 60u);
  EXPECT_EQ(offsetof(mg_event, sha256), 64u);
  EXPECT_EQ(offsetof(mg_event, comm), 96u);
  EXPECT_EQ(offsetof(mg_event, name), 112u);
  EXPECT_EQ(offsetof(mg_event, path), 176u);
  EXPECT_EQ(offsetof(mg_event, kind), 432u);
  EXPECT_EQ(offsetof(mg_event, payload_sha256), 440u);
  EXPECT_EQ(sizeof(mg_event), 472u);
  EXPECT_EQ(sizeof(mg_event) % 8, 0u) << "ring buffer records should keep 8-byte alignment";
}

TEST(AbiLayout, HookAndStatIndexing) {
  EXPECT_EQ(MG_STAT_RINGBUF_LOST, MG_HOOK_COUNT * MG_VERDICT_COUNT);
  EXPECT_GT(MG_STAT_COUNT, MG_STAT_HASH_FAILED);
  EXPECT_EQ(MG_STAT_TAMPER, MG_STAT_HASH_FAILED + 1);
  EXPECT_EQ(MG_STAT_KIND, MG_STAT_TAMPER + MG_TAMPER_COUNT);
  EXPECT_EQ(MG_STAT_NEW_READ_ID, MG_STAT_KIND + MG_KIND_COUNT * MG_VERDICT_COUNT);
  EXPECT_EQ(MG_STAT_COUNT, MG_STAT_NEW_READ_ID + 1);
}

TEST(AbiLayout, Guard) {
  EXPECT_EQ(sizeof(mg_guard), 24u);
  EXPECT_EQ(offsetof(mg_guard, agent_tgid), 0u);
  EXPECT_EQ(offsetof(mg_guard, bpffs_dev), 4u);
  EXPECT_EQ(offsetof(mg_guard, agent_start), 8u);
  EXPECT_EQ(offsetof(mg_guard, tick_ns), 16u);
  EXPECT_EQ(sizeof(mg_guard_key), 16u);
  EXPECT_EQ(offsetof(mg_guard_key, dev), 4u);
  EXPECT_EQ(offsetof(mg_guard_key, id), 8u);
}

}  // namespace
