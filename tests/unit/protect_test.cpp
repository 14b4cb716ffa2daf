// SPDX-License-Identifier: Apache-2.0
// Tamper protection on the host: the policy key (parse, FILE:LINE:COL errors, canonical form and
// digest, compile), the agent's rules for policy changes and disarm, and how tamper events are
// rendered. The kernel side is tested in the VM (tests/vm/scenarios/tamper*.sh).
#include "agent/protect.h"

#include <bpf/btf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "agent/events.h"
#include "modgate_abi.h"
#include "policy/policy.h"

namespace modgate {
namespace {

using ::testing::HasSubstr;

const std::string kBase =
    "version: 3\nmode: enforce\nmodules:\n- name: a\n  sha256: "
    "a000000000000000000000000000000000000000000000000000000000000001\n";

policy::Policy parsed(const std::string& text) {
  auto r = policy::parse_policy(text, "p.yaml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : policy::Policy{};
}

TEST(ProtectPolicy, DefaultsToOffAndParsesBothValues) {
  EXPECT_FALSE(parsed(kBase).protect);
  EXPECT_TRUE(parsed(kBase + "protect: true\n").protect);
  EXPECT_FALSE(parsed(kBase + "protect: false\n").protect);
}

TEST(ProtectPolicy, BadValuesAreErrorsWithPosition) {
  auto r = policy::parse_policy(kBase + "protect: yes\n", "p.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "p.yaml:6:10: 'protect' must be true or false (unquoted), got 'yes'");
  r = policy::parse_policy(kBase + "protect: \"true\"\n", "p.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("p.yaml:6:10: 'protect' must be true or false"));
  r = policy::parse_policy(kBase + "protect:\n", "p.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("p.yaml:6:1: 'protect' must be true or false"));
  r = policy::parse_policy(kBase + "protect: true\nprotect: false\n", "p.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("p.yaml:7:1: duplicate key 'protect'"));
}

TEST(ProtectPolicy, CanonicalFormNamesItOnlyWhenOn) {
  // Off is the default and leaves the form (and so every existing digest) as it was.
  EXPECT_EQ(policy::canonical_form(parsed(kBase + "protect: false\n")),
            policy::canonical_form(parsed(kBase)));
  EXPECT_EQ(parsed(kBase + "protect: false\n").digest, parsed(kBase).digest);
  std::string on = policy::canonical_form(parsed(kBase + "protect: true\n"));
  EXPECT_THAT(on, HasSubstr("allow_empty false\nprotect true\nkernels 0\n"));
  EXPECT_NE(parsed(kBase + "protect: true\n").digest, parsed(kBase).digest);
}

TEST(ProtectPolicy, CompilesToTheConfigFlag) {
  auto on = policy::compile(parsed(kBase + "protect: true\n"));
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(on->config.flags & MG_CFG_PROTECT);
  auto off = policy::compile(parsed(kBase));
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->config.flags & MG_CFG_PROTECT);
}

TEST(ProtectRules, EffectiveOnlyWhenEnforcing) {
  EXPECT_TRUE(protect::effective(MG_MODE_ENFORCE, MG_CFG_PROTECT | MG_CFG_LOG_ALLOWED));
  EXPECT_FALSE(protect::effective(MG_MODE_DRY_RUN, MG_CFG_PROTECT));
  EXPECT_FALSE(protect::effective(MG_MODE_ENFORCE, MG_CFG_LOG_ALLOWED));
  EXPECT_TRUE(protect::effective(parsed(kBase + "protect: true\n")));
  EXPECT_FALSE(protect::effective(parsed("version: 1\nmode: dry-run\nprotect: true\n")));
}

TEST(ProtectRules, SwitchingOffNeedsATrustedPolicy) {
  auto off = parsed(kBase);
  auto dry = parsed("version: 4\nmode: dry-run\nprotect: true\n");
  auto on = parsed(kBase + "protect: true\n");
  auto why = protect::apply_refusal(true, off, "v4.yaml", "socket", false, std::nullopt);
  ASSERT_TRUE(why);
  EXPECT_THAT(*why, HasSubstr("v4.yaml (socket) would switch tamper protection off "
                              "(protect: false)"));
  EXPECT_THAT(*why, HasSubstr("policy in force is unchanged"));
  why = protect::apply_refusal(true, dry, "v4.yaml", "watch", false, std::nullopt);
  ASSERT_TRUE(why);
  EXPECT_THAT(*why, HasSubstr("(mode: dry-run)"));
  // A verified policy may; a protected one may replace a protected one; unprotected is free.
  EXPECT_FALSE(protect::apply_refusal(true, off, "b", "bundle", true, std::nullopt));
  EXPECT_FALSE(protect::apply_refusal(true, on, "v5.yaml", "socket", false, std::nullopt));
  EXPECT_FALSE(protect::apply_refusal(false, off, "v5.yaml", "socket", false, std::nullopt));
  EXPECT_FALSE(protect::apply_refusal(false, on, "v5.yaml", "socket", false, std::nullopt));
}

TEST(ProtectRules, TurningOnCanBeRefusedByOnePredicate) {
  auto on = parsed(kBase + "protect: true\n");
  auto why = protect::apply_refusal(false, on, "v5.yaml", "socket", false,
                                    std::string("the agent does not verify signatures"));
  ASSERT_TRUE(why);
  EXPECT_EQ(*why,
            "refused: v5.yaml asks for protect: true, but the agent does not verify signatures; "
            "the policy in force is unchanged");
  // A dry-run policy with protect: true protects nothing, so nothing to refuse.
  EXPECT_FALSE(protect::apply_refusal(false, parsed("version: 1\nmode: dry-run\nprotect: true\n"),
                                      "d.yaml", "socket", false, std::string("no")));
}

TEST(ProtectRules, DisarmRefusedWhileProtected) {
  EXPECT_FALSE(protect::disarm_refusal(false));
  auto why = protect::disarm_refusal(true);
  ASSERT_TRUE(why);
  EXPECT_THAT(*why, HasSubstr("disarm refused: tamper protection is on"));
}

nlohmann::json render(const mg_event& e) {
  std::ostringstream out;
  EventWriter w(out);
  w.write(e);
  return nlohmann::json::parse(out.str());
}

mg_event tamper_event(std::uint32_t op) {
  mg_event e{};
  e.event = MG_EVENT_TAMPER;
  e.verdict = MG_VERDICT_DENY;
  e.reason = op;
  e.mode = MG_MODE_ENFORCE;
  e.pid = 42;
  e.tid = 43;
  e.uid = 0;
  e.policy_version = 7;
  std::strcpy(e.comm, "bpftool");
  return e;
}

TEST(TamperEvents, SignalNamesTheSignalAndTheTarget) {
  auto e = tamper_event(MG_TAMPER_SIGNAL);
  e.entry = 9;
  e.size = 125;
  auto j = render(e);
  EXPECT_EQ(j["event"], "tamper");
  EXPECT_EQ(j["verdict"], "deny");
  EXPECT_EQ(j["operation"], "signal");
  EXPECT_EQ(j["signal"], 9);
  EXPECT_EQ(j["target_pid"], 125);
  EXPECT_EQ(j["pid"], 42);
  EXPECT_EQ(j["comm"], "bpftool");
  EXPECT_EQ(j["policy_version"], 7);
  EXPECT_EQ(j["mode"], "enforce");
  EXPECT_FALSE(j.contains("sha256"));
}

TEST(TamperEvents, EachOperationHasItsFields) {
  auto e = tamper_event(MG_TAMPER_MAP_FD);
  e.entry = 5;
  std::strcpy(e.name, "policy");
  auto j = render(e);
  EXPECT_EQ(j["operation"], "bpf-map-fd");
  EXPECT_EQ(j["object_id"], 5);
  EXPECT_EQ(j["name"], "policy");

  e = tamper_event(MG_TAMPER_PROG_LOAD);
  e.entry = 26;
  e.verdict = MG_VERDICT_WOULD_DENY;
  e.mode = MG_MODE_DRY_RUN;
  j = render(e);
  EXPECT_EQ(j["operation"], "bpf-prog-load");
  EXPECT_EQ(j["verdict"], "would-deny");
  EXPECT_EQ(j["prog_type"], "tracing");
  EXPECT_TRUE(j["name"].is_null());
  EXPECT_EQ(j["mode"], "dry-run");

  e = tamper_event(MG_TAMPER_PIN_UNLINK);
  e.size = 10053;
  std::strcpy(e.name, "link_post_read_file");
  j = render(e);
  EXPECT_EQ(j["operation"], "pin-unlink");
  EXPECT_EQ(j["inode"], 10053);
  EXPECT_EQ(j["name"], "link_post_read_file");

  e = tamper_event(MG_TAMPER_UMOUNT);
  e.entry = 31;
  std::strcpy(e.name, "bpf");
  j = render(e);
  EXPECT_EQ(j["mount_id"], 31);
  EXPECT_EQ(j["fstype"], "bpf");

  e = tamper_event(MG_TAMPER_FTRACE);
  e.size = 4711;
  std::strcpy(e.name, "kernel/ftrace_enabled");
  j = render(e);
  EXPECT_EQ(j["operation"], "ftrace-write");
  EXPECT_EQ(j["name"], "kernel/ftrace_enabled");
  EXPECT_EQ(j["inode"], 4711);

  e = tamper_event(MG_TAMPER_SIGIO);
  e.entry = 0;  // F_SETSIG 0: the default SIGIO
  e.size = 125;
  j = render(e);
  EXPECT_EQ(j["operation"], "sigio");
  EXPECT_EQ(j["signal"], 0);
  EXPECT_EQ(j["target_pid"], 125);

  e = tamper_event(MG_TAMPER_RLIMIT);
  e.entry = 7;  // RLIMIT_NOFILE
  e.size = 125;
  j = render(e);
  EXPECT_EQ(j["operation"], "rlimit");
  EXPECT_EQ(j["resource"], "nofile");
  EXPECT_EQ(j["target_pid"], 125);
  e.entry = 99;
  EXPECT_EQ(render(e)["resource"], "99") << "a resource newer than this table still says which";
}

// The BPF side reports the running kernel's value of enum lockdown_reason; the event names it
// from the same kernel's BTF (here the build machine's).
TEST(TamperEvents, LockdownReasonIsNamedFromTheKernelsBtf) {
  std::unique_ptr<struct btf, void (*)(struct btf*)> btf(btf__load_vmlinux_btf(), btf__free);
  ASSERT_TRUE(btf) << "no /sys/kernel/btf/vmlinux";
  int id = btf__find_by_name_kind(btf.get(), "lockdown_reason", BTF_KIND_ENUM);
  ASSERT_GT(id, 0);
  const struct btf_type* t = btf__type_by_id(btf.get(), static_cast<__u32>(id));
  std::optional<std::uint32_t> dev_mem;
  const struct btf_enum* en = btf_enum(t);
  for (unsigned i = 0; i < btf_vlen(t); i++, en++)
    if (std::string(btf__name_by_offset(btf.get(), en->name_off)) == "LOCKDOWN_DEV_MEM")
      dev_mem = static_cast<std::uint32_t>(en->val);
  ASSERT_TRUE(dev_mem);

  auto e = tamper_event(MG_TAMPER_LOCKDOWN);
  e.entry = *dev_mem;
  auto j = render(e);
  EXPECT_EQ(j["operation"], "lockdown");
  EXPECT_EQ(j["lockdown_reason"], "dev_mem");
  e.entry = 4242;  // no such reason on any kernel
  EXPECT_EQ(render(e)["lockdown_reason"], "reason-4242");
}

TEST(TamperEvents, EveryOperationHasAName) {
  for (std::uint32_t op = 0; op < MG_TAMPER_COUNT; op++)
    EXPECT_STRNE(tamper_op_name(op), "unknown") << op;
  EXPECT_STREQ(tamper_op_name(MG_TAMPER_COUNT), "unknown");
}

}  // namespace
}  // namespace modgate
