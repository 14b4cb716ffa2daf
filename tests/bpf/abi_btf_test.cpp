// SPDX-License-Identifier: Apache-2.0
// The ABI header as the BPF compiler laid it out (read from modgate_lsm.bpf.o's BTF) must equal
// the C++ compiler's layout of the same header: both sides include bpf/modgate_abi.h, and this
// proves they agree on every size and offset, so a record is never read with the wrong shape.
#include <bpf/btf.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "modgate_abi.h"

namespace {

struct Field {
  const char* name;
  size_t offset;
};

#define F(type, field) \
  Field { #field, offsetof(type, field) }

class AbiBtf : public ::testing::Test {
 protected:
  void SetUp() override {
    btf_ = btf__parse_elf(MODGATE_LSM_OBJECT, nullptr);
    ASSERT_NE(btf_, nullptr) << "cannot read BTF from " << MODGATE_LSM_OBJECT;
  }
  void TearDown() override { btf__free(btf_); }

  void check(const char* name, int kind, size_t size, const std::vector<Field>& fields) {
    int id = btf__find_by_name_kind(btf_, name, kind);
    ASSERT_GT(id, 0) << name << " is not in the BPF object's BTF";
    const btf_type* t = btf__type_by_id(btf_, static_cast<__u32>(id));
    EXPECT_EQ(t->size, size) << name;
    const btf_member* m = btf_members(t);
    std::vector<std::string> seen;
    for (unsigned i = 0; i < btf_vlen(t); i++) {
      std::string member = btf__name_by_offset(btf_, m[i].name_off);
      seen.push_back(member);
      for (const auto& f : fields) {
        if (member == f.name) {
          EXPECT_EQ(btf_member_bit_offset(t, i), f.offset * 8) << name << "." << member;
        }
      }
    }
    EXPECT_EQ(seen.size(), fields.size())
        << name << ": the test lists " << fields.size() << " members, BTF has " << seen.size();
  }

  btf* btf_ = nullptr;
};

TEST_F(AbiBtf, Event) {
  check("mg_event", BTF_KIND_STRUCT, sizeof(mg_event),
        {F(mg_event, ts_ns),  F(mg_event, size),          F(mg_event, policy_version),
         F(mg_event, event),  F(mg_event, hook),          F(mg_event, verdict),
         F(mg_event, reason), F(mg_event, mode),          F(mg_event, flags),
         F(mg_event, pid),    F(mg_event, tid),           F(mg_event, uid),
         F(mg_event, entry),  F(mg_event, sha256),        F(mg_event, comm),
         F(mg_event, name),   F(mg_event, path),          F(mg_event, kind),
         F(mg_event, _pad),   F(mg_event, payload_sha256)});
}

TEST_F(AbiBtf, Config) {
  check("mg_config", BTF_KIND_STRUCT, sizeof(mg_config),
        {F(mg_config, policy_version), F(mg_config, policy_digest), F(mg_config, mode),
         F(mg_config, flags), F(mg_config, present), F(mg_config, _pad),
         F(mg_config, n_autoload_allow), F(mg_config, n_autoload_deny)});
}

TEST_F(AbiBtf, PolicyRecords) {
  check("mg_special_key", BTF_KIND_STRUCT, sizeof(mg_special_key),
        {F(mg_special_key, magic), F(mg_special_key, kind), F(mg_special_key, index),
         F(mg_special_key, zero)});
  check("mg_allow_value", BTF_KIND_STRUCT, sizeof(mg_allow_value),
        {F(mg_allow_value, entry), F(mg_allow_value, sections), F(mg_allow_value, firmware_entry),
         F(mg_allow_value, kexec_entry)});
  check("mg_glob", BTF_KIND_STRUCT, sizeof(mg_glob), {F(mg_glob, pattern)});
  check("mg_policy_value", BTF_KIND_UNION, sizeof(mg_policy_value),
        {F(mg_policy_value, allow), F(mg_policy_value, config), F(mg_policy_value, glob)});
}

TEST_F(AbiBtf, Guard) {
  check("mg_guard", BTF_KIND_STRUCT, sizeof(mg_guard),
        {F(mg_guard, agent_tgid), F(mg_guard, bpffs_dev), F(mg_guard, agent_start),
         F(mg_guard, tick_ns)});
  check("mg_guard_key", BTF_KIND_STRUCT, sizeof(mg_guard_key),
        {F(mg_guard_key, kind), F(mg_guard_key, dev), F(mg_guard_key, id)});
}

}  // namespace
