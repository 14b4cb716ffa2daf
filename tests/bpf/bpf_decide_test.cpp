// SPDX-License-Identifier: Apache-2.0
// The decision code of the LSM programs (bpf/decide/*.h) on the host's verifier and JIT. Each table
// row names one behaviour. The harness (tests/bpf/decide_runner.h) installs a policy map the way
// the agent does, runs the header's function inside a BPF_PROG_TYPE_SYSCALL program
// (tests/bpf/progs/decide_test.bpf.c), and checks the return value, every record the call put in
// the ring buffer (how many, and each field), and every counter it changed.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/module.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "policy/sha256.h"
#include "tests/bpf/decide_runner.h"

namespace modgate::test {
namespace {

#define ASSERT_OK(expr)                                            \
  do {                                                             \
    auto ok_ = (expr);                                             \
    ASSERT_TRUE(ok_.ok()) << #expr << ": " << ok_.error().message; \
  } while (0)

constexpr int kEperm = -1;
constexpr std::uint64_t kVersion = 42;

// Shorter names for the tables.
constexpr std::uint32_t kAllow = MG_VERDICT_ALLOW;
constexpr std::uint32_t kDeny = MG_VERDICT_DENY;
constexpr std::uint32_t kWouldDeny = MG_VERDICT_WOULD_DENY;
constexpr std::uint32_t kDryRun = MG_MODE_DRY_RUN;
constexpr std::uint32_t kPostRead = MG_HOOK_KERNEL_POST_READ_FILE;
constexpr std::uint32_t kPostLoad = MG_HOOK_KERNEL_POST_LOAD_DATA;
constexpr std::uint32_t kLoadData = MG_HOOK_KERNEL_LOAD_DATA;
constexpr std::uint32_t kRequest = MG_HOOK_KERNEL_MODULE_REQUEST;
constexpr std::uint32_t kListed = MG_EVF_LISTED;
constexpr std::uint32_t kForced = MG_EVF_FORCED;
constexpr std::uint32_t kCompressed = MG_EVF_COMPRESSED;
constexpr std::uint32_t kPayloadFlag = MG_EVF_PAYLOAD;
constexpr std::uint32_t kModule = MG_KIND_MODULE;
constexpr std::uint32_t kFirmware = MG_KIND_FIRMWARE;
constexpr std::uint32_t kKexecImage = MG_KIND_KEXEC_IMAGE;
constexpr std::uint32_t kKexecInitramfs = MG_KIND_KEXEC_INITRAMFS;

// enum kernel_load_data_id (include/linux/kernel_read_file.h; checked against this kernel's BTF
// below).
constexpr std::uint32_t kLoadingUnknown = 0;
constexpr std::uint32_t kLoadingFirmware = 1;
constexpr std::uint32_t kLoadingModule = 2;
constexpr std::uint32_t kLoadingKexecImage = 3;
constexpr std::uint32_t kLoadingKexecInitramfs = 4;
constexpr std::uint32_t kLoadingPolicy = 5;

// Ids known only once the test runs; the expectations name them by these stand-ins.
constexpr std::uint32_t kInnerMapId = 0xfffffff0u;  // the policy map in slot 0
constexpr std::uint32_t kEventsMapId = 0xfffffff1u;
constexpr std::uint64_t kParentTgid = 0xfffffff2u;  // the tgid of this process's parent
constexpr std::uint64_t kMeTgid = 0xfffffff3u;      // the tgid of this process

// ---- The bytes a hook would see

enum class Buf {
  kNone,        // no buffer (tamper, autoload, kernel_load_data)
  kA,           // 1000 bytes: the module the tables usually list
  kB,           // 4097 bytes, across a 4 KiB read chunk: usually unlisted
  kComp,        // 300 bytes: a compressed module file
  kPayload,     // 5000 bytes: its decompressed payload
  kFw,          // 777 bytes: a firmware blob
  kKexec,       // 2048 bytes: a kexec image
  kEmpty,       // 0 bytes
  kTooLarge,    // MG_HASH_MAX_LEN + 1 bytes claimed: refused before any read
  kUnreadable,  // 100 bytes at an address no probe read can read
};

const std::vector<std::uint8_t>& bytes(Buf b) {
  static const std::map<Buf, std::vector<std::uint8_t>> all = [] {
    std::map<Buf, std::vector<std::uint8_t>> m;
    auto fill = [&](Buf which, size_t n, size_t seed) {
      std::vector<std::uint8_t> v(n);
      for (size_t i = 0; i < n; i++) v[i] = static_cast<std::uint8_t>(seed * 31 + i * 7 + i / 251);
      m[which] = std::move(v);
    };
    fill(Buf::kA, 1000, 1);
    fill(Buf::kB, 4097, 2);
    fill(Buf::kComp, 300, 3);
    fill(Buf::kPayload, 5000, 4);
    fill(Buf::kFw, 777, 5);
    fill(Buf::kKexec, 2048, 6);
    fill(Buf::kEmpty, 0, 7);
    return m;
  }();
  static const std::vector<std::uint8_t> none;
  auto it = all.find(b);
  return it == all.end() ? none : it->second;
}

bool has_bytes(Buf b) { return b != Buf::kNone && b != Buf::kTooLarge && b != Buf::kUnreadable; }

std::uint64_t size_of(Buf b) {
  if (b == Buf::kTooLarge) return MG_HASH_MAX_LEN + 1;
  if (b == Buf::kUnreadable) return 100;
  return bytes(b).size();
}

Sha256 sha_of(Buf b) { return sha256(bytes(b)); }

// ---- Policies

AllowRecord module(Buf b, std::uint32_t entry) {
  return {.sha = sha_of(b), .sections = MG_ALLOW_MODULE, .entry = entry};
}
AllowRecord firmware(Buf b, std::uint32_t entry) {
  return {.sha = sha_of(b), .sections = MG_ALLOW_FIRMWARE, .firmware_entry = entry};
}
AllowRecord kexec(Buf b, std::uint32_t entry) {
  return {.sha = sha_of(b), .sections = MG_ALLOW_KEXEC, .kexec_entry = entry};
}
// A record written before the sections existed: sections == 0.
AllowRecord legacy(Buf b, std::uint32_t entry) {
  return {.sha = sha_of(b), .sections = 0, .entry = entry};
}

PolicyMap enforce(std::vector<AllowRecord> allow = {}, std::uint32_t flags = 0) {
  return {.mode = MG_MODE_ENFORCE, .flags = flags, .version = kVersion, .allow = std::move(allow)};
}
PolicyMap dry_run(std::vector<AllowRecord> allow = {}, std::uint32_t flags = 0) {
  return {.mode = MG_MODE_DRY_RUN, .flags = flags, .version = kVersion, .allow = std::move(allow)};
}
PolicyMap autoload(std::uint32_t flags, std::vector<std::optional<std::string>> allow,
                   std::vector<std::optional<std::string>> deny,
                   std::uint32_t mode = MG_MODE_ENFORCE) {
  return {.mode = mode,
          .flags = flags,
          .version = kVersion,
          .autoload_allow = std::move(allow),
          .autoload_deny = std::move(deny)};
}
PolicyMap protect(std::uint32_t mode = MG_MODE_ENFORCE) {
  return {.mode = mode, .flags = MG_CFG_PROTECT, .version = kVersion};
}

// ---- Expected events and counters

struct Ev {
  std::uint32_t event = MG_EVENT_MODULE_LOAD;
  std::uint32_t hook = kPostRead;
  std::uint32_t verdict = kDeny;
  std::uint32_t reason = MG_REASON_NOT_LISTED;
  std::uint32_t kind = kModule;
  std::uint32_t flags = 0;
  std::uint32_t mode = MG_MODE_ENFORCE;
  std::uint32_t entry = 0;
  Buf buf = Buf::kNone;      // what was decided on: size is its size
  bool hashed = true;        // and sha256 its hash; false (or no bytes): all zero
  Buf payload = Buf::kNone;  // MG_EVF_PAYLOAD: payload_sha256 is its hash and size its size
  std::uint64_t version = kVersion;
  const char* name = nullptr;  // nullptr: the name the call passed
  const char* path = nullptr;  // nullptr: the path in the task record the call passed, if any
  std::optional<std::uint64_t> size = std::nullopt;  // instead of buf's
};

Ev tamper_ev(std::uint32_t op, std::uint32_t entry, std::uint64_t size, const char* name,
             std::uint32_t mode = MG_MODE_ENFORCE) {
  return {.event = MG_EVENT_TAMPER,
          .hook = MG_HOOK_NONE,
          .verdict = mode == MG_MODE_ENFORCE ? kDeny : kWouldDeny,
          .reason = op,
          .mode = mode,
          .entry = entry,
          .name = name,
          .path = "",
          .size = size};
}

Ev request_ev(std::uint32_t verdict, std::uint32_t reason, std::uint32_t mode = MG_MODE_ENFORCE,
              std::uint64_t version = kVersion) {
  return {.event = MG_EVENT_MODULE_REQUEST,
          .hook = kRequest,
          .verdict = verdict,
          .reason = reason,
          .mode = mode,
          .version = version,
          .path = ""};
}

using Counts = std::map<std::uint32_t, std::uint64_t>;

Counts operator+(Counts a, const Counts& b) {
  for (const auto& [slot, n] : b) a[slot] += n;
  return a;
}
// One content decision: the hook's counter and the kind's.
Counts decided(std::uint32_t hook, std::uint32_t verdict, std::uint32_t kind) {
  return {{hook * MG_VERDICT_COUNT + verdict, 1},
          {MG_STAT_KIND + kind * MG_VERDICT_COUNT + verdict, 1}};
}
Counts requested(std::uint32_t verdict) { return {{kRequest * MG_VERDICT_COUNT + verdict, 1}}; }
Counts tampered(std::uint32_t op) { return {{MG_STAT_TAMPER + op, 1}}; }
const Counts kHashFailed = {{MG_STAT_HASH_FAILED, 1}};

std::string stat_name(std::uint32_t i) {
  auto s = [](auto v) { return std::to_string(v); };
  if (i < MG_STAT_RINGBUF_LOST)
    return "hook " + s(i / MG_VERDICT_COUNT) + " verdict " + s(i % MG_VERDICT_COUNT);
  if (i == MG_STAT_RINGBUF_LOST) return "ringbuf lost";
  if (i == MG_STAT_HASH_FAILED) return "hash failed";
  if (i < MG_STAT_KIND) return "tamper op " + s(i - MG_STAT_TAMPER);
  if (i < MG_STAT_NEW_READ_ID)
    return "kind " + s((i - MG_STAT_KIND) / MG_VERDICT_COUNT) + " verdict " +
           s((i - MG_STAT_KIND) % MG_VERDICT_COUNT);
  return "new read id";
}

std::string describe(const mg_event& e) {
  std::ostringstream o;
  o << "{event " << e.event << " hook " << e.hook << " verdict " << e.verdict << " reason "
    << e.reason << " kind " << e.kind << " flags 0x" << std::hex << e.flags << std::dec << " mode "
    << e.mode << " entry " << e.entry << " size " << e.size << " name '"
    << std::string(e.name, strnlen(e.name, sizeof(e.name))) << "'}";
  return o.str();
}

std::string describe(const std::vector<mg_event>& events) {
  std::string out;
  for (const auto& e : events) out += "\n  " + describe(e);
  return out.empty() ? " none" : out;
}

std::string cstr(const char* s, size_t max) { return {s, strnlen(s, max)}; }

std::string thread_comm() {
  char comm[16] = {};
  prctl(PR_GET_NAME, comm, 0, 0, 0);
  return cstr(comm, sizeof(comm));
}

// What a call passed along, for the events' name and path.
struct Call {
  std::string name;
  std::string path;
};

// ---- The shared fixture

// One loaded object per set of programs, shared by the tests of a process.
DecideRunner* shared_runner(const std::vector<std::string>& programs, std::string* error) {
  static std::map<std::string, std::unique_ptr<DecideRunner>> loaded;
  std::string key;
  for (const auto& p : programs) key += p + ",";
  if (auto it = loaded.find(key); it != loaded.end()) return it->second.get();
  auto r = DecideRunner::open(programs);
  if (!r) {
    *error = r.error().message;
    return nullptr;
  }
  return (loaded[key] = std::move(*r)).get();
}

class DecideFixture : public ::testing::Test {
 protected:
  virtual std::vector<std::string> programs() const = 0;

  void SetUp() override {
    std::string error;
    r_ = shared_runner(programs(), &error);
    ASSERT_NE(r_, nullptr) << error;
    ASSERT_OK(r_->reset());
  }

  void install(const std::optional<PolicyMap>& p) {
    if (p) ASSERT_OK(r_->install(*p));
  }

  Stats stats() {
    auto s = r_->stats();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? *s : Stats{};
  }

  // The content-decision context for a buffer, with the bytes copied into the buffer map.
  mg_decide_args content(Buf b, const std::string& name) {
    mg_decide_args a{};
    a.size = size_of(b);
    a.bad_buf = b == Buf::kUnreadable ? 1 : 0;
    if (has_bytes(b)) {
      auto r = r_->set_buffer(bytes(b));
      EXPECT_TRUE(r.ok()) << r.error().message;
    }
    std::snprintf(a.name, sizeof(a.name), "%s", name.c_str());
    return a;
  }

  std::uint64_t resolve(std::uint64_t v) {
    auto id = [](Result<std::uint32_t> r) -> std::uint64_t {
      EXPECT_TRUE(r.ok()) << r.error().message;
      return r.ok() ? *r : 0;
    };
    if (v == kInnerMapId) return id(r_->policy_map_id());
    if (v == kEventsMapId) return id(r_->map_id("events"));
    if (v == kParentTgid) return static_cast<std::uint64_t>(getppid());
    if (v == kMeTgid) return static_cast<std::uint64_t>(getpid());
    return v;
  }

  void expect_event(const mg_event& got, const Ev& want, const Call& call) {
    SCOPED_TRACE(describe(got));
    EXPECT_EQ(got.event, want.event);
    EXPECT_EQ(got.hook, want.hook);
    EXPECT_EQ(got.verdict, want.verdict);
    EXPECT_EQ(got.reason, want.reason);
    EXPECT_EQ(got.kind, want.kind);
    EXPECT_EQ(got.flags, want.flags);
    EXPECT_EQ(got.mode, want.mode);
    EXPECT_EQ(got.entry, resolve(want.entry));
    std::uint64_t size = want.payload != Buf::kNone ? size_of(want.payload) : size_of(want.buf);
    EXPECT_EQ(got.size, want.size ? resolve(*want.size) : size);
    EXPECT_EQ(got.policy_version, want.version);
    Sha256 sha{};
    if (want.hashed && has_bytes(want.buf)) sha = sha_of(want.buf);
    EXPECT_EQ(to_hex({got.sha256, sizeof(got.sha256)}), to_hex(sha)) << "sha256";
    Sha256 payload_sha{};
    if (has_bytes(want.payload)) payload_sha = sha_of(want.payload);
    EXPECT_EQ(to_hex({got.payload_sha256, sizeof(got.payload_sha256)}), to_hex(payload_sha))
        << "payload_sha256";
    EXPECT_EQ(cstr(got.name, sizeof(got.name)), want.name ? want.name : call.name);
    EXPECT_EQ(cstr(got.path, sizeof(got.path)), want.path ? want.path : call.path);
    // Who asked: this very thread.
    EXPECT_EQ(got.pid, static_cast<std::uint32_t>(getpid()));
    EXPECT_EQ(got.tid, static_cast<std::uint32_t>(gettid()));
    EXPECT_EQ(got.uid, static_cast<std::uint32_t>(getuid()));
    EXPECT_EQ(cstr(got.comm, sizeof(got.comm)), thread_comm());
    EXPECT_NE(got.ts_ns, 0u);
    EXPECT_EQ(got._pad, 0u);
  }

  // Exactly these events since the last look, and exactly these counter changes since before.
  void expect_reported(const Stats& before, const std::vector<Ev>& want, const Counts& counts,
                       const Call& call) {
    auto got = r_->events();
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(got->size(), want.size()) << "events:" << describe(*got);
    for (size_t i = 0; i < got->size() && i < want.size(); i++) {
      SCOPED_TRACE("event " + std::to_string(i));
      expect_event((*got)[i], want[i], call);
    }
    Stats after = stats();
    for (std::uint32_t i = 0; i < MG_STAT_COUNT; i++) {
      auto it = counts.find(i);
      EXPECT_EQ(after[i] - before[i], it == counts.end() ? 0 : it->second)
          << "counter " << i << " (" << stat_name(i) << ")";
    }
  }

  DecideRunner* r_ = nullptr;
};

template <typename Case>
std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

// ---- judge(): the content rule shared by every load path

struct JudgeCase {
  const char* name = nullptr;
  std::optional<PolicyMap> policy = std::nullopt;
  std::uint32_t kind = kModule;
  std::uint32_t hook = kPostRead;
  std::uint32_t flags = 0;
  bool defer = false;
  bool with_task = false;  // pass the task record (its path goes into the event)
  Buf buf = Buf::kA;
  Buf kept = Buf::kNone;  // with_task: the hash judge() leaves in file_sha256 (kNone: untouched)
  int ret = 0;
  std::vector<Ev> events = {};
  Counts stats = {};
};
void PrintTo(const JudgeCase& c, std::ostream* os) { *os << c.name; }

constexpr char kTaskPath[] = "/lib/firmware/test/fw.bin";

const JudgeCase kJudgeCases[] = {
    {.name = "listed_module_allowed_without_event",
     .policy = enforce({module(Buf::kA, 3)}),
     .buf = Buf::kA,
     .ret = 0,
     .events = {},
     .stats = decided(kPostRead, kAllow, kModule)},
    {.name = "listed_module_allowed_with_event_when_log_allowed",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_LOG_ALLOWED),
     .buf = Buf::kA,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .flags = kListed,
                 .entry = 3,
                 .buf = Buf::kA}},
     .stats = decided(kPostRead, kAllow, kModule)},
    {.name = "unlisted_module_denied_in_enforce",
     .policy = enforce({module(Buf::kA, 3)}),
     .buf = Buf::kB,
     .ret = kEperm,
     .events = {{.buf = Buf::kB}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "unlisted_module_denied_once_with_log_allowed",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_LOG_ALLOWED),
     .buf = Buf::kB,
     .ret = kEperm,
     .events = {{.buf = Buf::kB}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "unlisted_module_would_deny_in_dry_run",
     .policy = dry_run({module(Buf::kA, 3)}),
     .buf = Buf::kB,
     .ret = 0,
     .events = {{.verdict = kWouldDeny, .mode = kDryRun, .buf = Buf::kB}},
     .stats = decided(kPostRead, kWouldDeny, kModule)},
    {.name = "no_policy_denies_module_fail_closed",
     .policy = std::nullopt,
     .buf = Buf::kA,
     .ret = kEperm,
     .events = {{.reason = MG_REASON_NO_POLICY, .buf = Buf::kA, .hashed = false, .version = 0}},
     .stats = decided(kPostRead, kDeny, kModule)},
    // A map without its config record says nothing about the mode: enforce, whatever it lists.
    {.name = "policy_without_config_denies_listed_module_as_no_policy",
     .policy = PolicyMap{.config = false, .mode = kDryRun, .allow = {module(Buf::kA, 3)}},
     .buf = Buf::kA,
     .ret = kEperm,
     .events = {{.reason = MG_REASON_NO_POLICY, .buf = Buf::kA, .hashed = false, .version = 0}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "no_policy_leaves_firmware_to_the_kernel",
     .policy = std::nullopt,
     .kind = kFirmware,
     .buf = Buf::kFw,
     .ret = 0},
    {.name = "no_policy_leaves_kexec_to_the_kernel",
     .policy = std::nullopt,
     .kind = kKexecImage,
     .buf = Buf::kKexec,
     .ret = 0},
    {.name = "firmware_not_judged_without_firmware_section",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_KEXEC),
     .kind = kFirmware,
     .buf = Buf::kFw,
     .ret = 0},
    {.name = "firmware_unlisted_denied_with_firmware_section",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_FIRMWARE),
     .kind = kFirmware,
     .buf = Buf::kFw,
     .ret = kEperm,
     .events = {{.kind = kFirmware, .buf = Buf::kFw}},
     .stats = decided(kPostRead, kDeny, kFirmware)},
    {.name = "firmware_unlisted_would_deny_in_dry_run",
     .policy = dry_run({}, MG_CFG_FIRMWARE),
     .kind = kFirmware,
     .buf = Buf::kFw,
     .ret = 0,
     .events = {{.verdict = kWouldDeny, .kind = kFirmware, .mode = kDryRun, .buf = Buf::kFw}},
     .stats = decided(kPostRead, kWouldDeny, kFirmware)},
    {.name = "firmware_listed_allowed_with_its_firmware_entry",
     .policy = enforce({firmware(Buf::kFw, 5)}, MG_CFG_FIRMWARE | MG_CFG_LOG_ALLOWED),
     .kind = kFirmware,
     .buf = Buf::kFw,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .kind = kFirmware,
                 .flags = kListed,
                 .entry = 5,
                 .buf = Buf::kFw}},
     .stats = decided(kPostRead, kAllow, kFirmware)},
    {.name = "firmware_event_carries_the_recorded_path",
     .policy = enforce({}, MG_CFG_FIRMWARE),
     .kind = kFirmware,
     .with_task = true,
     .buf = Buf::kFw,
     .ret = kEperm,
     .events = {{.kind = kFirmware, .buf = Buf::kFw, .path = kTaskPath}},
     .stats = decided(kPostRead, kDeny, kFirmware)},
    {.name = "firmware_section_does_not_judge_kexec",
     .policy = enforce({}, MG_CFG_FIRMWARE),
     .kind = kKexecImage,
     .buf = Buf::kKexec,
     .ret = 0},
    {.name = "kexec_image_not_judged_without_kexec_section",
     .policy = enforce({}, MG_CFG_FIRMWARE),
     .kind = kKexecImage,
     .buf = Buf::kKexec,
     .ret = 0},
    {.name = "kexec_initramfs_not_judged_without_kexec_section",
     .policy = enforce(),
     .kind = kKexecInitramfs,
     .buf = Buf::kKexec,
     .ret = 0},
    {.name = "kexec_image_unlisted_denied_with_kexec_section",
     .policy = enforce({}, MG_CFG_KEXEC),
     .kind = kKexecImage,
     .buf = Buf::kKexec,
     .ret = kEperm,
     .events = {{.kind = kKexecImage, .buf = Buf::kKexec}},
     .stats = decided(kPostRead, kDeny, kKexecImage)},
    {.name = "kexec_image_listed_allowed_with_its_kexec_entry",
     .policy = enforce({kexec(Buf::kKexec, 9)}, MG_CFG_KEXEC | MG_CFG_LOG_ALLOWED),
     .kind = kKexecImage,
     .buf = Buf::kKexec,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .kind = kKexecImage,
                 .flags = kListed,
                 .entry = 9,
                 .buf = Buf::kKexec}},
     .stats = decided(kPostRead, kAllow, kKexecImage)},
    {.name = "kexec_initramfs_listed_under_kexec_allowed",
     .policy = enforce({kexec(Buf::kKexec, 9)}, MG_CFG_KEXEC | MG_CFG_LOG_ALLOWED),
     .kind = kKexecInitramfs,
     .buf = Buf::kKexec,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .kind = kKexecInitramfs,
                 .flags = kListed,
                 .entry = 9,
                 .buf = Buf::kKexec}},
     .stats = decided(kPostRead, kAllow, kKexecInitramfs)},
    {.name = "hash_listed_only_under_firmware_does_not_admit_a_module",
     .policy = enforce({firmware(Buf::kA, 5)}, MG_CFG_FIRMWARE),
     .buf = Buf::kA,
     .ret = kEperm,
     .events = {{.buf = Buf::kA}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "hash_listed_only_under_kexec_does_not_admit_a_module",
     .policy = enforce({kexec(Buf::kA, 5)}, MG_CFG_KEXEC),
     .buf = Buf::kA,
     .ret = kEperm,
     .events = {{.buf = Buf::kA}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "hash_listed_only_as_module_does_not_admit_firmware",
     .policy = enforce({module(Buf::kFw, 3)}, MG_CFG_FIRMWARE),
     .kind = kFirmware,
     .buf = Buf::kFw,
     .ret = kEperm,
     .events = {{.kind = kFirmware, .buf = Buf::kFw}},
     .stats = decided(kPostRead, kDeny, kFirmware)},
    {.name = "hash_listed_only_under_firmware_does_not_admit_kexec",
     .policy = enforce({firmware(Buf::kKexec, 5)}, MG_CFG_FIRMWARE | MG_CFG_KEXEC),
     .kind = kKexecImage,
     .buf = Buf::kKexec,
     .ret = kEperm,
     .events = {{.kind = kKexecImage, .buf = Buf::kKexec}},
     .stats = decided(kPostRead, kDeny, kKexecImage)},
    {.name = "record_without_sections_lists_a_module",
     .policy = enforce({legacy(Buf::kA, 6)}, MG_CFG_LOG_ALLOWED),
     .buf = Buf::kA,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .flags = kListed,
                 .entry = 6,
                 .buf = Buf::kA}},
     .stats = decided(kPostRead, kAllow, kModule)},
    {.name = "record_without_sections_does_not_admit_firmware",
     .policy = enforce({legacy(Buf::kFw, 6)}, MG_CFG_FIRMWARE),
     .kind = kFirmware,
     .buf = Buf::kFw,
     .ret = kEperm,
     .events = {{.kind = kFirmware, .buf = Buf::kFw}},
     .stats = decided(kPostRead, kDeny, kFirmware)},
    {.name = "hash_in_two_sections_reports_the_firmware_entry_for_firmware",
     .policy = enforce({{.sha = sha_of(Buf::kFw),
                         .sections = MG_ALLOW_MODULE | MG_ALLOW_FIRMWARE,
                         .entry = 3,
                         .firmware_entry = 8}},
                       MG_CFG_FIRMWARE | MG_CFG_LOG_ALLOWED),
     .kind = kFirmware,
     .buf = Buf::kFw,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .kind = kFirmware,
                 .flags = kListed,
                 .entry = 8,
                 .buf = Buf::kFw}},
     .stats = decided(kPostRead, kAllow, kFirmware)},
    {.name = "hash_in_two_sections_reports_the_module_entry_for_a_module",
     .policy = enforce({{.sha = sha_of(Buf::kFw),
                         .sections = MG_ALLOW_MODULE | MG_ALLOW_FIRMWARE,
                         .entry = 3,
                         .firmware_entry = 8}},
                       MG_CFG_FIRMWARE | MG_CFG_LOG_ALLOWED),
     .buf = Buf::kFw,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .flags = kListed,
                 .entry = 3,
                 .buf = Buf::kFw}},
     .stats = decided(kPostRead, kAllow, kModule)},
    {.name = "forced_listed_module_denied_without_allow_forced",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_LOG_ALLOWED),
     .flags = kForced,
     .buf = Buf::kA,
     .ret = kEperm,
     .events =
         {{.reason = MG_REASON_FORCED, .flags = kForced | kListed, .entry = 3, .buf = Buf::kA}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "forced_unlisted_module_denied_as_forced",
     .policy = enforce({module(Buf::kA, 3)}),
     .flags = kForced,
     .buf = Buf::kB,
     .ret = kEperm,
     .events = {{.reason = MG_REASON_FORCED, .flags = kForced, .buf = Buf::kB}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "forced_listed_module_allowed_with_allow_forced",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_ALLOW_FORCED | MG_CFG_LOG_ALLOWED),
     .flags = kForced,
     .buf = Buf::kA,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .flags = kForced | kListed,
                 .entry = 3,
                 .buf = Buf::kA}},
     .stats = decided(kPostRead, kAllow, kModule)},
    {.name = "forced_unlisted_module_denied_not_listed_with_allow_forced",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_ALLOW_FORCED),
     .flags = kForced,
     .buf = Buf::kB,
     .ret = kEperm,
     .events = {{.flags = kForced, .buf = Buf::kB}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "forced_listed_module_would_deny_in_dry_run",
     .policy = dry_run({module(Buf::kA, 3)}),
     .flags = kForced,
     .buf = Buf::kA,
     .ret = 0,
     .events = {{.verdict = kWouldDeny,
                 .reason = MG_REASON_FORCED,
                 .flags = kForced | kListed,
                 .mode = kDryRun,
                 .entry = 3,
                 .buf = Buf::kA}},
     .stats = decided(kPostRead, kWouldDeny, kModule)},
    {.name = "forced_firmware_is_never_forced_by_flags_it_has_none",
     .policy = enforce({firmware(Buf::kFw, 5)}, MG_CFG_FIRMWARE),
     .kind = kFirmware,
     .buf = Buf::kFw,
     .ret = 0,
     .events = {},
     .stats = decided(kPostRead, kAllow, kFirmware)},
    {.name = "compressed_flag_carried_into_the_event",
     .policy = enforce({module(Buf::kA, 3)}),
     .flags = kCompressed,
     .buf = Buf::kB,
     .ret = kEperm,
     .events = {{.flags = kCompressed, .buf = Buf::kB}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "hash_too_large_fails_closed",
     .policy = enforce({module(Buf::kA, 3)}),
     .buf = Buf::kTooLarge,
     .ret = kEperm,
     .events = {{.reason = MG_REASON_HASH_FAILED, .buf = Buf::kTooLarge}},
     .stats = decided(kPostRead, kDeny, kModule) + kHashFailed},
    {.name = "unreadable_buffer_fails_closed",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_ALLOW_FORCED),
     .buf = Buf::kUnreadable,
     .ret = kEperm,
     .events = {{.reason = MG_REASON_HASH_FAILED, .buf = Buf::kUnreadable}},
     .stats = decided(kPostRead, kDeny, kModule) + kHashFailed},
    {.name = "hash_failure_would_deny_in_dry_run",
     .policy = dry_run({module(Buf::kA, 3)}),
     .buf = Buf::kUnreadable,
     .ret = 0,
     .events = {{.verdict = kWouldDeny,
                 .reason = MG_REASON_HASH_FAILED,
                 .mode = kDryRun,
                 .buf = Buf::kUnreadable}},
     .stats = decided(kPostRead, kWouldDeny, kModule) + kHashFailed},
    {.name = "hash_failure_of_firmware_decides_as_firmware",
     .policy = enforce({}, MG_CFG_FIRMWARE),
     .kind = kFirmware,
     .buf = Buf::kUnreadable,
     .ret = kEperm,
     .events = {{.reason = MG_REASON_HASH_FAILED, .kind = kFirmware, .buf = Buf::kUnreadable}},
     .stats = decided(kPostRead, kDeny, kFirmware) + kHashFailed},
    {.name = "firmware_without_section_is_not_even_hashed",
     .policy = enforce(),
     .kind = kFirmware,
     .buf = Buf::kUnreadable,
     .ret = 0},
    {.name = "forced_beats_hash_failure_only_after_the_hash",
     .policy = enforce({module(Buf::kA, 3)}),
     .flags = kForced,
     .buf = Buf::kUnreadable,
     .ret = kEperm,
     .events = {{.reason = MG_REASON_HASH_FAILED, .flags = kForced, .buf = Buf::kUnreadable}},
     .stats = decided(kPostRead, kDeny, kModule) + kHashFailed},
    {.name = "empty_buffer_hashes_to_the_empty_digest",
     .policy = enforce({module(Buf::kEmpty, 4)}, MG_CFG_LOG_ALLOWED),
     .buf = Buf::kEmpty,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .flags = kListed,
                 .entry = 4,
                 .buf = Buf::kEmpty}},
     .stats = decided(kPostRead, kAllow, kModule)},
    {.name = "buffer_across_a_read_chunk_hashes_as_openssl_does",
     .policy = enforce({module(Buf::kB, 11)}, MG_CFG_LOG_ALLOWED),
     .buf = Buf::kB,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .flags = kListed,
                 .entry = 11,
                 .buf = Buf::kB}},
     .stats = decided(kPostRead, kAllow, kModule)},
    {.name = "post_load_data_decision_counted_under_its_hook",
     .policy = enforce({module(Buf::kA, 3)}),
     .hook = kPostLoad,
     .buf = Buf::kB,
     .ret = kEperm,
     .events = {{.hook = kPostLoad, .buf = Buf::kB}},
     .stats = decided(kPostLoad, kDeny, kModule)},
    {.name = "defer_unlisted_returns_defer_without_decision_and_keeps_the_hash",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_LOG_ALLOWED),
     .defer = true,
     .with_task = true,
     .buf = Buf::kB,
     .kept = Buf::kB,
     .ret = MG_DT_JUDGE_DEFER},
    {.name = "defer_unlisted_in_dry_run_returns_defer_without_decision",
     .policy = dry_run({module(Buf::kA, 3)}),
     .defer = true,
     .with_task = true,
     .buf = Buf::kB,
     .kept = Buf::kB,
     .ret = MG_DT_JUDGE_DEFER},
    {.name = "defer_without_task_record_decides_not_listed",
     .policy = enforce({module(Buf::kA, 3)}),
     .defer = true,
     .buf = Buf::kB,
     .ret = kEperm,
     .events = {{.buf = Buf::kB}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "defer_listed_still_allows",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_LOG_ALLOWED),
     .defer = true,
     .buf = Buf::kA,
     .ret = 0,
     .events = {{.verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .flags = kListed,
                 .entry = 3,
                 .buf = Buf::kA}},
     .stats = decided(kPostRead, kAllow, kModule)},
    {.name = "defer_forced_still_denies",
     .policy = enforce({module(Buf::kA, 3)}),
     .flags = kForced,
     .defer = true,
     .buf = Buf::kB,
     .ret = kEperm,
     .events = {{.reason = MG_REASON_FORCED, .flags = kForced, .buf = Buf::kB}},
     .stats = decided(kPostRead, kDeny, kModule)},
    {.name = "defer_hash_failure_still_denies",
     .policy = enforce({module(Buf::kA, 3)}),
     .defer = true,
     .buf = Buf::kUnreadable,
     .ret = kEperm,
     .events = {{.reason = MG_REASON_HASH_FAILED, .buf = Buf::kUnreadable}},
     .stats = decided(kPostRead, kDeny, kModule) + kHashFailed},
    {.name = "defer_without_policy_still_denies",
     .policy = std::nullopt,
     .defer = true,
     .buf = Buf::kB,
     .ret = kEperm,
     .events = {{.reason = MG_REASON_NO_POLICY, .buf = Buf::kB, .hashed = false, .version = 0}},
     .stats = decided(kPostRead, kDeny, kModule)},
};

class Judge : public DecideFixture, public ::testing::WithParamInterface<JudgeCase> {
 protected:
  std::vector<std::string> programs() const override { return {"judge_test"}; }
};

TEST_P(Judge, Decides) {
  const JudgeCase& c = GetParam();
  install(c.policy);
  Call call{.name = "test.bin", .path = ""};
  if (c.with_task) {
    mg_dt_task t{};
    std::snprintf(t.path, sizeof(t.path), "%s", kTaskPath);
    ASSERT_OK(r_->set_task(t));
    call.path = t.path;
  }
  mg_decide_args a = content(c.buf, call.name);
  a.kind = c.kind;
  a.hook = c.hook;
  a.flags = c.flags;
  a.defer = c.defer ? 1 : 0;
  a.no_task = c.with_task ? 0 : 1;
  Stats before = stats();
  ASSERT_OK(r_->run("judge_test", a));
  EXPECT_EQ(a.ret, c.ret);
  expect_reported(before, c.events, c.stats, call);
  if (c.with_task) {
    auto t = r_->task();
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(to_hex({t->file_sha256, sizeof(t->file_sha256)}),
              to_hex(c.kept == Buf::kNone ? Sha256{} : sha_of(c.kept)))
        << "file_sha256";
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, Judge, ::testing::ValuesIn(kJudgeCases), case_name<JudgeCase>);

// ---- module_post_read(): one decision and one event per finit_module, on 6.x and 7.x

constexpr char kModPath[] = "/lib/modules/test/extra/test.ko";

void set_path(mg_dt_task& t, const char* path) {
  std::snprintf(t.path, sizeof(t.path), "%s", path);
}

// What the fentry on finit_module writes, then the pre hook (kernel_read_file) of the module read.
std::function<void(mg_dt_task&)> fentry(std::uint32_t finit_flags) {
  return [finit_flags](mg_dt_task& t) {
    t.finit_flags = finit_flags;
    t.flags_seen = 1;
    t.phase = MG_DT_PHASE_NONE;
    set_path(t, kModPath);
  };
}
// The pre hook of a module read alone: a new read ends whatever an earlier one left pending.
std::function<void(mg_dt_task&)> pre_read() {
  return [](mg_dt_task& t) { t.phase = MG_DT_PHASE_NONE; };
}

struct TaskAfter {
  std::uint32_t flags_seen = 0;
  std::uint32_t phase = MG_DT_PHASE_NONE;
  std::uint32_t phase_flags = 0;  // checked in MG_DT_PHASE_PAYLOAD only
  Buf file = Buf::kNone;          // MG_DT_PHASE_PAYLOAD: file_sha256 is its hash
};

struct ReadStep {
  std::function<void(mg_dt_task&)> before = nullptr;  // applied to the task record first
  bool compressed = false;  // the READING_MODULE_COMPRESSED call, else READING_MODULE
  Buf buf = Buf::kA;
  int ret = 0;
  std::vector<Ev> events = {};
  Counts stats = {};  // this call's changes
  std::optional<TaskAfter> after = std::nullopt;
};

struct ReadCase {
  const char* name = nullptr;
  std::optional<PolicyMap> policy = std::nullopt;
  bool no_task = false;  // t == NULL: task storage had no record for the task
  std::vector<ReadStep> steps = {};
};
void PrintTo(const ReadCase& c, std::ostream* os) { *os << c.name; }

const Ev kAllowedA = {
    .verdict = kAllow, .reason = MG_REASON_LISTED, .flags = kListed, .entry = 3, .buf = Buf::kA};

const ReadCase kReadCases[] = {
    // Up to 6.18: one call with the file's bytes, compressed or not.
    {.name = "v6_listed_module_allowed_and_flags_consumed",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_LOG_ALLOWED),
     .steps = {{.before = fentry(0),
                .buf = Buf::kA,
                .ret = 0,
                .events = {kAllowedA},
                .stats = decided(kPostRead, kAllow, kModule),
                .after = TaskAfter{.flags_seen = 0, .phase = MG_DT_PHASE_NONE}}}},
    {.name = "v6_listed_module_allowed_without_event",
     .policy = enforce({module(Buf::kA, 3)}),
     .steps = {{.before = fentry(0),
                .buf = Buf::kA,
                .ret = 0,
                .stats = decided(kPostRead, kAllow, kModule),
                .after = TaskAfter{}}}},
    {.name = "v6_unlisted_module_denied",
     .policy = enforce({module(Buf::kA, 3)}),
     .steps = {{.before = fentry(0),
                .buf = Buf::kB,
                .ret = kEperm,
                .events = {{.buf = Buf::kB}},
                .stats = decided(kPostRead, kDeny, kModule),
                .after = TaskAfter{}}}},
    {.name = "v6_unlisted_module_would_deny_in_dry_run",
     .policy = dry_run({module(Buf::kA, 3)}),
     .steps = {{.before = fentry(0),
                .buf = Buf::kB,
                .ret = 0,
                .events = {{.verdict = kWouldDeny, .mode = kDryRun, .buf = Buf::kB}},
                .stats = decided(kPostRead, kWouldDeny, kModule),
                .after = TaskAfter{}}}},
    {.name = "v6_ignore_modversions_denied_as_forced",
     .policy = enforce({module(Buf::kA, 3)}),
     .steps = {{.before = fentry(MODULE_INIT_IGNORE_MODVERSIONS),
                .buf = Buf::kA,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kListed,
                            .entry = 3,
                            .buf = Buf::kA}},
                .stats = decided(kPostRead, kDeny, kModule),
                .after = TaskAfter{}}}},
    {.name = "v6_ignore_vermagic_denied_as_forced",
     .policy = enforce({module(Buf::kA, 3)}),
     .steps = {{.before = fentry(MODULE_INIT_IGNORE_VERMAGIC),
                .buf = Buf::kA,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kListed,
                            .entry = 3,
                            .buf = Buf::kA}},
                .stats = decided(kPostRead, kDeny, kModule)}}},
    {.name = "v6_forced_listed_allowed_with_allow_forced",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_ALLOW_FORCED | MG_CFG_LOG_ALLOWED),
     .steps = {{.before = fentry(MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC),
                .buf = Buf::kA,
                .ret = 0,
                .events = {{.verdict = kAllow,
                            .reason = MG_REASON_LISTED,
                            .flags = kForced | kListed,
                            .entry = 3,
                            .buf = Buf::kA}},
                .stats = decided(kPostRead, kAllow, kModule)}}},
    {.name = "v6_compressed_file_decided_by_its_only_call",
     .policy = enforce({module(Buf::kComp, 3)}, MG_CFG_LOG_ALLOWED),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .buf = Buf::kComp,
                .ret = 0,
                .events = {{.verdict = kAllow,
                            .reason = MG_REASON_LISTED,
                            .flags = kCompressed | kListed,
                            .entry = 3,
                            .buf = Buf::kComp}},
                .stats = decided(kPostRead, kAllow, kModule),
                .after = TaskAfter{.flags_seen = 0, .phase = MG_DT_PHASE_NONE}}}},
    {.name = "v6_compressed_file_unlisted_denied_by_its_only_call",
     .policy = enforce({module(Buf::kPayload, 4)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .buf = Buf::kComp,
                .ret = kEperm,
                .events = {{.flags = kCompressed, .buf = Buf::kComp}},
                .stats = decided(kPostRead, kDeny, kModule),
                .after = TaskAfter{}}}},
    {.name = "v6_no_fentry_record_judged_as_forced",
     .policy = enforce({module(Buf::kA, 3)}),
     .steps = {{.before =
                    [](mg_dt_task& t) {
                      t.flags_seen = 0;
                      set_path(t, kModPath);
                    },
                .buf = Buf::kA,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kListed,
                            .entry = 3,
                            .buf = Buf::kA}},
                .stats = decided(kPostRead, kDeny, kModule)}}},
    {.name = "v6_no_task_record_judged_as_forced",
     .policy = enforce({module(Buf::kA, 3)}),
     .no_task = true,
     .steps = {{.buf = Buf::kA,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kListed,
                            .entry = 3,
                            .buf = Buf::kA}},
                .stats = decided(kPostRead, kDeny, kModule)}}},
    {.name = "v6_no_task_record_with_allow_forced_judged_on_the_hash",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_ALLOW_FORCED | MG_CFG_LOG_ALLOWED),
     .no_task = true,
     .steps = {{.buf = Buf::kA,
                .ret = 0,
                .events = {{.verdict = kAllow,
                            .reason = MG_REASON_LISTED,
                            .flags = kForced | kListed,
                            .entry = 3,
                            .buf = Buf::kA}},
                .stats = decided(kPostRead, kAllow, kModule)}}},
    {.name = "v6_flags_consumed_so_a_second_read_is_judged_forced",
     .policy = enforce({module(Buf::kA, 3)}),
     .steps = {{.before = fentry(0),
                .buf = Buf::kA,
                .ret = 0,
                .stats = decided(kPostRead, kAllow, kModule)},
               {.buf = Buf::kA,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kListed,
                            .entry = 3,
                            .buf = Buf::kA}},
                .stats = decided(kPostRead, kDeny, kModule)}}},
    {.name = "v6_no_policy_denied",
     .policy = std::nullopt,
     .steps = {{.before = fentry(0),
                .buf = Buf::kA,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_NO_POLICY,
                            .buf = Buf::kA,
                            .hashed = false,
                            .version = 0}},
                .stats = decided(kPostRead, kDeny, kModule),
                .after = TaskAfter{}}}},

    // 7.x: READING_MODULE_COMPRESSED with the file's bytes, then READING_MODULE with the payload.
    {.name = "v7_compressed_listed_allowed_at_first_call_payload_call_passed_over",
     .policy = enforce({module(Buf::kComp, 3)}, MG_CFG_LOG_ALLOWED),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .events = {{.verdict = kAllow,
                            .reason = MG_REASON_LISTED,
                            .flags = kCompressed | kListed,
                            .entry = 3,
                            .buf = Buf::kComp}},
                .stats = decided(kPostRead, kAllow, kModule),
                .after = TaskAfter{.flags_seen = 0, .phase = MG_DT_PHASE_DECIDED}},
               {.compressed = false,
                .buf = Buf::kPayload,
                .ret = 0,
                .events = {},
                .stats = {},
                .after = TaskAfter{.flags_seen = 0, .phase = MG_DT_PHASE_NONE}}}},
    {.name = "v7_compressed_listed_without_log_allowed_counts_one_decision",
     .policy = enforce({module(Buf::kComp, 3)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .stats = decided(kPostRead, kAllow, kModule)},
               {.buf = Buf::kPayload, .ret = 0}}},
    {.name = "v7_both_listed_compressed_bytes_decide",
     .policy = enforce({module(Buf::kComp, 3), module(Buf::kPayload, 4)}, MG_CFG_LOG_ALLOWED),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .events = {{.verdict = kAllow,
                            .reason = MG_REASON_LISTED,
                            .flags = kCompressed | kListed,
                            .entry = 3,
                            .buf = Buf::kComp}},
                .stats = decided(kPostRead, kAllow, kModule)},
               {.buf = Buf::kPayload, .ret = 0}}},
    {.name = "v7_compressed_unlisted_payload_listed_allowed_by_the_payload",
     .policy = enforce({module(Buf::kPayload, 4)}, MG_CFG_LOG_ALLOWED),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .events = {},
                .stats = {},
                .after = TaskAfter{.flags_seen = 0,
                                   .phase = MG_DT_PHASE_PAYLOAD,
                                   .phase_flags = kCompressed,
                                   .file = Buf::kComp}},
               {.buf = Buf::kPayload,
                .ret = 0,
                .events = {{.verdict = kAllow,
                            .reason = MG_REASON_LISTED,
                            .flags = kListed | kCompressed | kPayloadFlag,
                            .entry = 4,
                            .buf = Buf::kComp,
                            .payload = Buf::kPayload}},
                .stats = decided(kPostRead, kAllow, kModule),
                .after = TaskAfter{.flags_seen = 0, .phase = MG_DT_PHASE_NONE}}}},
    {.name = "v7_both_unlisted_one_deny_from_the_payload_call",
     .policy = enforce({module(Buf::kA, 3)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .events = {},
                .stats = {},
                .after = TaskAfter{.phase = MG_DT_PHASE_PAYLOAD,
                                   .phase_flags = kCompressed,
                                   .file = Buf::kComp}},
               {.buf = Buf::kPayload,
                .ret = kEperm,
                .events = {{.flags = kCompressed | kPayloadFlag,
                            .buf = Buf::kComp,
                            .payload = Buf::kPayload}},
                .stats = decided(kPostRead, kDeny, kModule),
                .after = TaskAfter{.phase = MG_DT_PHASE_NONE}}}},
    {.name = "v7_both_unlisted_one_would_deny_in_dry_run",
     .policy = dry_run({module(Buf::kA, 3)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .after = TaskAfter{.phase = MG_DT_PHASE_PAYLOAD,
                                   .phase_flags = kCompressed,
                                   .file = Buf::kComp}},
               {.buf = Buf::kPayload,
                .ret = 0,
                .events = {{.verdict = kWouldDeny,
                            .flags = kCompressed | kPayloadFlag,
                            .mode = kDryRun,
                            .buf = Buf::kComp,
                            .payload = Buf::kPayload}},
                .stats = decided(kPostRead, kWouldDeny, kModule),
                .after = TaskAfter{}}}},
    // The payload cannot be hashed: refused, and the event still names the compressed file by
    // its hash, which was computed (bpf/decide/content.h, judge(): "With MG_EVF_PAYLOAD in flags
    // ... the event names the file's hash in sha256").
    {.name = "v7_payload_hash_failure_denied_naming_the_file",
     .policy = enforce({module(Buf::kA, 3)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .after = TaskAfter{.phase = MG_DT_PHASE_PAYLOAD,
                                   .phase_flags = kCompressed,
                                   .file = Buf::kComp}},
               {.buf = Buf::kUnreadable,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_HASH_FAILED,
                            .flags = kCompressed | kPayloadFlag,
                            .buf = Buf::kComp,
                            .size = size_of(Buf::kUnreadable)}},
                .stats = decided(kPostRead, kDeny, kModule) + kHashFailed,
                .after = TaskAfter{}}}},
    {.name = "v7_forced_compressed_denied_at_first_call_payload_call_passed_over",
     .policy = enforce({module(Buf::kPayload, 4)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE | MODULE_INIT_IGNORE_VERMAGIC),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kCompressed,
                            .buf = Buf::kComp}},
                .stats = decided(kPostRead, kDeny, kModule),
                .after = TaskAfter{.phase = MG_DT_PHASE_DECIDED}},
               {.buf = Buf::kPayload, .ret = 0, .after = TaskAfter{}}}},
    {.name = "v7_forced_compressed_listed_denied_at_first_call",
     .policy = enforce({module(Buf::kComp, 3)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE | MODULE_INIT_IGNORE_MODVERSIONS),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kCompressed | kListed,
                            .entry = 3,
                            .buf = Buf::kComp}},
                .stats = decided(kPostRead, kDeny, kModule),
                .after = TaskAfter{.phase = MG_DT_PHASE_DECIDED}},
               {.buf = Buf::kPayload, .ret = 0, .after = TaskAfter{}}}},
    {.name = "v7_forced_with_allow_forced_defers_to_the_payload_with_its_flags",
     .policy = enforce({module(Buf::kPayload, 4)}, MG_CFG_ALLOW_FORCED | MG_CFG_LOG_ALLOWED),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE | MODULE_INIT_IGNORE_MODVERSIONS),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .after = TaskAfter{.phase = MG_DT_PHASE_PAYLOAD,
                                   .phase_flags = kForced | kCompressed,
                                   .file = Buf::kComp}},
               {.buf = Buf::kPayload,
                .ret = 0,
                .events = {{.verdict = kAllow,
                            .reason = MG_REASON_LISTED,
                            .flags = kForced | kCompressed | kPayloadFlag | kListed,
                            .entry = 4,
                            .buf = Buf::kComp,
                            .payload = Buf::kPayload}},
                .stats = decided(kPostRead, kAllow, kModule),
                .after = TaskAfter{}}}},
    {.name = "v7_no_policy_denied_at_first_call_payload_call_passed_over",
     .policy = std::nullopt,
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_NO_POLICY,
                            .flags = kCompressed,
                            .buf = Buf::kComp,
                            .hashed = false,
                            .version = 0}},
                .stats = decided(kPostRead, kDeny, kModule),
                .after = TaskAfter{.phase = MG_DT_PHASE_DECIDED}},
               {.buf = Buf::kPayload, .ret = 0, .after = TaskAfter{}}}},
    {.name = "v7_hash_failure_denied_at_first_call_payload_call_passed_over",
     .policy = enforce({module(Buf::kPayload, 4)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kUnreadable,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_HASH_FAILED,
                            .flags = kCompressed,
                            .buf = Buf::kUnreadable}},
                .stats = decided(kPostRead, kDeny, kModule) + kHashFailed,
                .after = TaskAfter{.phase = MG_DT_PHASE_DECIDED}},
               {.buf = Buf::kPayload, .ret = 0, .after = TaskAfter{}}}},
    {.name = "v7_compressed_call_without_fentry_record_judged_forced",
     .policy = enforce({module(Buf::kComp, 3)}),
     .steps = {{.before =
                    [](mg_dt_task& t) {
                      t.flags_seen = 0;
                      set_path(t, kModPath);
                    },
                .compressed = true,
                .buf = Buf::kComp,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kCompressed | kListed,
                            .entry = 3,
                            .buf = Buf::kComp}},
                .stats = decided(kPostRead, kDeny, kModule),
                .after = TaskAfter{.phase = MG_DT_PHASE_DECIDED}}}},
    // t == NULL: nothing can be deferred, so the compressed bytes decide alone (as forced: no
    // fentry record either).
    {.name = "v7_no_task_record_compressed_bytes_decide_alone_as_forced",
     .policy = enforce({module(Buf::kComp, 3)}),
     .no_task = true,
     .steps = {{.compressed = true,
                .buf = Buf::kComp,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kCompressed | kListed,
                            .entry = 3,
                            .buf = Buf::kComp}},
                .stats = decided(kPostRead, kDeny, kModule)}}},
    {.name = "v7_no_task_record_compressed_listed_allowed_with_allow_forced",
     .policy = enforce({module(Buf::kComp, 3)}, MG_CFG_ALLOW_FORCED | MG_CFG_LOG_ALLOWED),
     .no_task = true,
     .steps = {{.compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .events = {{.verdict = kAllow,
                            .reason = MG_REASON_LISTED,
                            .flags = kForced | kCompressed | kListed,
                            .entry = 3,
                            .buf = Buf::kComp}},
                .stats = decided(kPostRead, kAllow, kModule)}}},
    {.name = "v7_no_task_record_compressed_unlisted_denied_at_once",
     .policy = enforce({module(Buf::kPayload, 4)}, MG_CFG_ALLOW_FORCED),
     .no_task = true,
     .steps = {{.compressed = true,
                .buf = Buf::kComp,
                .ret = kEperm,
                .events = {{.flags = kForced | kCompressed, .buf = Buf::kComp}},
                .stats = decided(kPostRead, kDeny, kModule)}}},
    {.name = "v7_new_finit_module_ends_a_pending_payload",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_LOG_ALLOWED),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .after = TaskAfter{.phase = MG_DT_PHASE_PAYLOAD,
                                   .phase_flags = kCompressed,
                                   .file = Buf::kComp}},
               {.before = fentry(0),
                .buf = Buf::kA,
                .ret = 0,
                .events = {kAllowedA},
                .stats = decided(kPostRead, kAllow, kModule),
                .after = TaskAfter{}}}},
    {.name = "v7_fresh_read_resets_the_phase_so_a_stray_read_is_not_a_payload",
     .policy = enforce({module(Buf::kPayload, 4)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .after = TaskAfter{.phase = MG_DT_PHASE_PAYLOAD,
                                   .phase_flags = kCompressed,
                                   .file = Buf::kComp}},
               {.before = pre_read(),
                .buf = Buf::kPayload,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kListed,
                            .entry = 4,
                            .buf = Buf::kPayload}},
                .stats = decided(kPostRead, kDeny, kModule),
                .after = TaskAfter{}}}},
    {.name = "v7_compressed_call_while_a_payload_is_pending_decides_afresh",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_LOG_ALLOWED),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .after = TaskAfter{.phase = MG_DT_PHASE_PAYLOAD,
                                   .phase_flags = kCompressed,
                                   .file = Buf::kComp}},
               {.before =
                    [](mg_dt_task& t) {
                      t.flags_seen = 1;
                      t.finit_flags = MODULE_INIT_COMPRESSED_FILE;
                    },
                .compressed = true,
                .buf = Buf::kA,
                .ret = 0,
                .events = {{.verdict = kAllow,
                            .reason = MG_REASON_LISTED,
                            .flags = kCompressed | kListed,
                            .entry = 3,
                            .buf = Buf::kA,
                            .path = kModPath}},
                .stats = decided(kPostRead, kAllow, kModule),
                .after = TaskAfter{.phase = MG_DT_PHASE_DECIDED}}}},
    {.name = "v7_decided_phase_passes_over_exactly_one_payload_call",
     .policy = enforce({module(Buf::kComp, 3), module(Buf::kPayload, 4)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0,
                .stats = decided(kPostRead, kAllow, kModule)},
               {.buf = Buf::kPayload, .ret = 0, .after = TaskAfter{}},
               {.buf = Buf::kPayload,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kListed,
                            .entry = 4,
                            .buf = Buf::kPayload}},
                .stats = decided(kPostRead, kDeny, kModule)}}},
    {.name = "v7_payload_phase_decides_exactly_one_payload_call",
     .policy = enforce({module(Buf::kPayload, 4)}),
     .steps = {{.before = fentry(MODULE_INIT_COMPRESSED_FILE),
                .compressed = true,
                .buf = Buf::kComp,
                .ret = 0},
               {.buf = Buf::kPayload,
                .ret = 0,
                .stats = decided(kPostRead, kAllow, kModule),
                .after = TaskAfter{}},
               {.buf = Buf::kPayload,
                .ret = kEperm,
                .events = {{.reason = MG_REASON_FORCED,
                            .flags = kForced | kListed,
                            .entry = 4,
                            .buf = Buf::kPayload}},
                .stats = decided(kPostRead, kDeny, kModule)}}},
};

class ModuleRead : public DecideFixture, public ::testing::WithParamInterface<ReadCase> {
 protected:
  std::vector<std::string> programs() const override { return {"module_read_test"}; }
};

TEST_P(ModuleRead, OneDecisionPerLoad) {
  const ReadCase& c = GetParam();
  install(c.policy);
  for (size_t i = 0; i < c.steps.size(); i++) {
    const ReadStep& s = c.steps[i];
    SCOPED_TRACE("call " + std::to_string(i + 1) +
                 (s.compressed ? " (READING_MODULE_COMPRESSED)" : " (READING_MODULE)"));
    Call call{.name = "test.ko", .path = ""};
    if (!c.no_task) {
      auto t = r_->task();
      ASSERT_TRUE(t.ok()) << t.error().message;
      if (s.before) {
        s.before(*t);
        ASSERT_OK(r_->set_task(*t));
      }
      call.path = cstr(t->path, sizeof(t->path));
    }
    mg_decide_args a = content(s.buf, call.name);
    a.compressed = s.compressed ? 1 : 0;
    a.no_task = c.no_task ? 1 : 0;
    Stats before = stats();
    ASSERT_OK(r_->run("module_read_test", a));
    EXPECT_EQ(a.ret, s.ret);
    expect_reported(before, s.events, s.stats, call);
    if (s.after) {
      auto t = r_->task();
      ASSERT_TRUE(t.ok()) << t.error().message;
      EXPECT_EQ(t->flags_seen, s.after->flags_seen);
      EXPECT_EQ(t->phase, s.after->phase);
      if (s.after->phase == MG_DT_PHASE_PAYLOAD) {
        EXPECT_EQ(t->phase_flags, s.after->phase_flags);
        EXPECT_EQ(to_hex({t->file_sha256, sizeof(t->file_sha256)}), to_hex(sha_of(s.after->file)));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sequences, ModuleRead, ::testing::ValuesIn(kReadCases),
                         case_name<ReadCase>);

// ---- read_class() and read_kind() against this kernel's enum kernel_read_file_id

const struct btf* vmlinux_btf() {
  static std::unique_ptr<struct btf, void (*)(struct btf*)> btf(btf__load_vmlinux_btf(), btf__free);
  return btf.get();
}

std::optional<std::uint32_t> enum_value(const char* type, const char* name) {
  const struct btf* btf = vmlinux_btf();
  if (!btf) return std::nullopt;
  __s32 id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
  if (id < 0) return std::nullopt;
  const struct btf_type* t = btf__type_by_id(btf, static_cast<__u32>(id));
  const struct btf_enum* e = btf_enum(t);
  for (__u16 i = 0; i < btf_vlen(t); i++)
    if (std::strcmp(btf__name_by_offset(btf, e[i].name_off), name) == 0)
      return static_cast<std::uint32_t>(e[i].val);
  return std::nullopt;
}

struct ReadClassCase {
  const char* name = nullptr;
  const char* enumerator = nullptr;  // the id by its name in this kernel's BTF, or
  std::uint32_t raw = 0;             // a raw id
  std::uint32_t cls = MG_DT_READ_IGNORED;
  int kind_in_finit = -1;
  int kind_outside = -1;
};
void PrintTo(const ReadClassCase& c, std::ostream* os) { *os << c.name; }

const ReadClassCase kReadClassCases[] = {
    {.name = "reading_unknown_ignored", .enumerator = "READING_UNKNOWN"},
    {.name = "reading_firmware_is_firmware",
     .enumerator = "READING_FIRMWARE",
     .cls = MG_DT_READ_FIRMWARE,
     .kind_in_finit = MG_KIND_FIRMWARE,
     .kind_outside = MG_KIND_FIRMWARE},
    {.name = "reading_module_is_a_module",
     .enumerator = "READING_MODULE",
     .cls = MG_DT_READ_MODULE,
     .kind_in_finit = MG_KIND_MODULE,
     .kind_outside = MG_KIND_MODULE},
    {.name = "reading_kexec_image_is_a_kexec_image",
     .enumerator = "READING_KEXEC_IMAGE",
     .cls = MG_DT_READ_KEXEC_IMAGE,
     .kind_in_finit = MG_KIND_KEXEC_IMAGE,
     .kind_outside = MG_KIND_KEXEC_IMAGE},
    {.name = "reading_kexec_initramfs_is_a_kexec_initramfs",
     .enumerator = "READING_KEXEC_INITRAMFS",
     .cls = MG_DT_READ_KEXEC_INITRAMFS,
     .kind_in_finit = MG_KIND_KEXEC_INITRAMFS,
     .kind_outside = MG_KIND_KEXEC_INITRAMFS},
    {.name = "reading_policy_ignored", .enumerator = "READING_POLICY"},
    {.name = "reading_x509_certificate_ignored", .enumerator = "READING_X509_CERTIFICATE"},
    // Only 7.x kernels have it; skipped on this host when its BTF lacks it.
    {.name = "reading_module_compressed_is_a_module",
     .enumerator = "READING_MODULE_COMPRESSED",
     .cls = MG_DT_READ_MODULE_COMPRESSED,
     .kind_in_finit = MG_KIND_MODULE,
     .kind_outside = MG_KIND_MODULE},
    // 7 on 6.18: no kernel reads anything under it, but it is no id modgate knows either.
    {.name = "reading_max_id_is_new_a_module_only_inside_finit_module",
     .enumerator = "READING_MAX_ID",
     .cls = MG_DT_READ_NEW,
     .kind_in_finit = MG_KIND_MODULE,
     .kind_outside = -1},
    {.name = "id_99_is_new_a_module_only_inside_finit_module",
     .raw = 99,
     .cls = MG_DT_READ_NEW,
     .kind_in_finit = MG_KIND_MODULE,
     .kind_outside = -1},
    {.name = "id_0xffffffff_is_new_a_module_only_inside_finit_module",
     .raw = 0xffffffffu,
     .cls = MG_DT_READ_NEW,
     .kind_in_finit = MG_KIND_MODULE,
     .kind_outside = -1},
};

class ReadClass : public DecideFixture, public ::testing::WithParamInterface<ReadClassCase> {
 protected:
  std::vector<std::string> programs() const override { return {"read_class_test"}; }
};

TEST_P(ReadClass, MapsTheKernelsId) {
  const ReadClassCase& c = GetParam();
  mg_decide_args a{};
  a.id = c.raw;
  if (c.enumerator) {
    ASSERT_NE(vmlinux_btf(), nullptr) << "cannot read /sys/kernel/btf/vmlinux";
    auto v = enum_value("kernel_read_file_id", c.enumerator);
    if (!v) GTEST_SKIP() << "this kernel's enum kernel_read_file_id has no " << c.enumerator;
    a.id = *v;
  }
  ASSERT_OK(r_->run("read_class_test", a));
  EXPECT_EQ(a.cls, c.cls) << "id " << a.id;
  EXPECT_EQ(a.kind_in_finit, c.kind_in_finit) << "id " << a.id;
  EXPECT_EQ(a.kind_outside, c.kind_outside) << "id " << a.id;
  Stats s = stats();
  for (std::uint32_t i = 0; i < MG_STAT_COUNT; i++) EXPECT_EQ(s[i], 0u) << stat_name(i);
}

INSTANTIATE_TEST_SUITE_P(HostBtf, ReadClass, ::testing::ValuesIn(kReadClassCases),
                         case_name<ReadClassCase>);

// The ids the tables use are this kernel's: 1..6 as documented, and 7 new unless the kernel
// reads compressed modules under it.
TEST(DecideHostBtf, ReadAndLoadIdsAreTheOnesTheTablesUse) {
  ASSERT_NE(vmlinux_btf(), nullptr) << "cannot read /sys/kernel/btf/vmlinux";
  const std::pair<const char*, std::uint32_t> read_ids[] = {
      {"READING_UNKNOWN", 0},          {"READING_FIRMWARE", 1},        {"READING_MODULE", 2},
      {"READING_KEXEC_IMAGE", 3},      {"READING_KEXEC_INITRAMFS", 4}, {"READING_POLICY", 5},
      {"READING_X509_CERTIFICATE", 6},
  };
  for (const auto& [name, value] : read_ids)
    EXPECT_EQ(enum_value("kernel_read_file_id", name), std::optional<std::uint32_t>(value)) << name;
  auto compressed = enum_value("kernel_read_file_id", "READING_MODULE_COMPRESSED");
  auto max = enum_value("kernel_read_file_id", "READING_MAX_ID");
  EXPECT_EQ(max, std::optional<std::uint32_t>(compressed ? 8 : 7));
  const std::pair<const char*, std::uint32_t> load_ids[] = {
      {"LOADING_UNKNOWN", kLoadingUnknown},
      {"LOADING_FIRMWARE", kLoadingFirmware},
      {"LOADING_MODULE", kLoadingModule},
      {"LOADING_KEXEC_IMAGE", kLoadingKexecImage},
      {"LOADING_KEXEC_INITRAMFS", kLoadingKexecInitramfs},
      {"LOADING_POLICY", kLoadingPolicy},
  };
  for (const auto& [name, value] : load_ids)
    EXPECT_EQ(enum_value("kernel_load_data_id", name), std::optional<std::uint32_t>(value)) << name;
}

// ---- load_data_decide() and post_load_data_decide(): init_module, kexec_load, firmware blobs

struct LoadCase {
  const char* name = nullptr;
  std::optional<PolicyMap> policy = std::nullopt;
  bool post = false;  // kernel_post_load_data (with the buffer), else kernel_load_data
  std::uint32_t id = kLoadingModule;
  Buf buf = Buf::kNone;
  const char* description = "blob";  // post_load_data's description argument
  int ret = 0;
  std::vector<Ev> events = {};
  Counts stats = {};
};
void PrintTo(const LoadCase& c, std::ostream* os) { *os << c.name; }

const LoadCase kLoadCases[] = {
    {.name = "init_module_without_policy_denied_before_the_copy",
     .policy = std::nullopt,
     .id = kLoadingModule,
     .ret = kEperm,
     .events = {{.hook = kLoadData, .reason = MG_REASON_NO_POLICY, .version = 0, .name = ""}},
     .stats = decided(kLoadData, kDeny, kModule)},
    {.name = "init_module_with_policy_without_config_denied_before_the_copy",
     .policy = PolicyMap{.config = false, .allow = {module(Buf::kA, 3)}},
     .id = kLoadingModule,
     .ret = kEperm,
     .events = {{.hook = kLoadData, .reason = MG_REASON_NO_POLICY, .version = 0, .name = ""}},
     .stats = decided(kLoadData, kDeny, kModule)},
    {.name = "init_module_with_policy_left_to_the_post_hook",
     .policy = enforce(),
     .id = kLoadingModule,
     .ret = 0},
    {.name = "init_module_with_dry_run_policy_left_to_the_post_hook",
     .policy = dry_run(),
     .id = kLoadingModule,
     .ret = 0},
    {.name = "kexec_load_without_policy_left_to_the_kernel",
     .policy = std::nullopt,
     .id = kLoadingKexecImage,
     .ret = 0},
    {.name = "kexec_load_without_kexec_section_left_to_the_kernel",
     .policy = enforce({}, MG_CFG_FIRMWARE),
     .id = kLoadingKexecImage,
     .ret = 0},
    {.name = "kexec_load_refused_as_not_hashable_while_kexec_is_judged",
     .policy = enforce({}, MG_CFG_KEXEC),
     .id = kLoadingKexecImage,
     .ret = kEperm,
     .events =
         {{.hook = kLoadData, .reason = MG_REASON_NOT_HASHABLE, .kind = kKexecImage, .name = ""}},
     .stats = decided(kLoadData, kDeny, kKexecImage)},
    {.name = "kexec_load_would_deny_in_dry_run_while_kexec_is_judged",
     .policy = dry_run({}, MG_CFG_KEXEC),
     .id = kLoadingKexecImage,
     .ret = 0,
     .events = {{.hook = kLoadData,
                 .verdict = kWouldDeny,
                 .reason = MG_REASON_NOT_HASHABLE,
                 .kind = kKexecImage,
                 .mode = kDryRun,
                 .name = ""}},
     .stats = decided(kLoadData, kWouldDeny, kKexecImage)},
    {.name = "firmware_load_data_waits_for_the_post_hook",
     .policy = enforce({}, MG_CFG_FIRMWARE),
     .id = kLoadingFirmware,
     .ret = 0},
    {.name = "firmware_load_data_without_policy_left_to_the_kernel",
     .policy = std::nullopt,
     .id = kLoadingFirmware,
     .ret = 0},
    {.name = "other_load_ids_left_to_the_kernel_without_policy",
     .policy = std::nullopt,
     .id = kLoadingKexecInitramfs,
     .ret = 0},
    {.name = "unknown_load_id_left_to_the_kernel_without_policy",
     .policy = std::nullopt,
     .id = kLoadingUnknown,
     .ret = 0},
    {.name = "policy_load_id_left_to_the_kernel_without_policy",
     .policy = std::nullopt,
     .id = kLoadingPolicy,
     .ret = 0},

    // kernel_post_load_data: the whole image or blob in a kernel buffer.
    {.name = "post_init_module_image_listed_allowed",
     .policy = enforce({module(Buf::kA, 3)}, MG_CFG_LOG_ALLOWED),
     .post = true,
     .id = kLoadingModule,
     .buf = Buf::kA,
     .ret = 0,
     .events = {{.hook = kPostLoad,
                 .verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .flags = kListed,
                 .entry = 3,
                 .buf = Buf::kA,
                 .name = ""}},
     .stats = decided(kPostLoad, kAllow, kModule)},
    {.name = "post_init_module_image_unlisted_denied",
     .policy = enforce({module(Buf::kA, 3)}),
     .post = true,
     .id = kLoadingModule,
     .buf = Buf::kB,
     .ret = kEperm,
     .events = {{.hook = kPostLoad, .buf = Buf::kB, .name = ""}},
     .stats = decided(kPostLoad, kDeny, kModule)},
    {.name = "post_init_module_image_would_deny_in_dry_run",
     .policy = dry_run({module(Buf::kA, 3)}),
     .post = true,
     .id = kLoadingModule,
     .buf = Buf::kB,
     .ret = 0,
     .events =
         {{.hook = kPostLoad, .verdict = kWouldDeny, .mode = kDryRun, .buf = Buf::kB, .name = ""}},
     .stats = decided(kPostLoad, kWouldDeny, kModule)},
    {.name = "post_init_module_image_without_policy_denied",
     .policy = std::nullopt,
     .post = true,
     .id = kLoadingModule,
     .buf = Buf::kA,
     .ret = kEperm,
     .events = {{.hook = kPostLoad,
                 .reason = MG_REASON_NO_POLICY,
                 .buf = Buf::kA,
                 .hashed = false,
                 .version = 0,
                 .name = ""}},
     .stats = decided(kPostLoad, kDeny, kModule)},
    {.name = "post_init_module_image_listed_as_firmware_only_denied",
     .policy = enforce({firmware(Buf::kA, 5)}, MG_CFG_FIRMWARE),
     .post = true,
     .id = kLoadingModule,
     .buf = Buf::kA,
     .ret = kEperm,
     .events = {{.hook = kPostLoad, .buf = Buf::kA, .name = ""}},
     .stats = decided(kPostLoad, kDeny, kModule)},
    {.name = "post_firmware_blob_listed_allowed_with_its_description",
     .policy = enforce({firmware(Buf::kFw, 5)}, MG_CFG_FIRMWARE | MG_CFG_LOG_ALLOWED),
     .post = true,
     .id = kLoadingFirmware,
     .buf = Buf::kFw,
     .description = "blob",
     .ret = 0,
     .events = {{.hook = kPostLoad,
                 .verdict = kAllow,
                 .reason = MG_REASON_LISTED,
                 .kind = kFirmware,
                 .flags = kListed,
                 .entry = 5,
                 .buf = Buf::kFw,
                 .name = "blob"}},
     .stats = decided(kPostLoad, kAllow, kFirmware)},
    {.name = "post_platform_firmware_unlisted_denied_with_its_description",
     .policy = enforce({module(Buf::kFw, 3)}, MG_CFG_FIRMWARE),
     .post = true,
     .id = kLoadingFirmware,
     .buf = Buf::kFw,
     .description = "platform",
     .ret = kEperm,
     .events = {{.hook = kPostLoad, .kind = kFirmware, .buf = Buf::kFw, .name = "platform"}},
     .stats = decided(kPostLoad, kDeny, kFirmware)},
    {.name = "post_firmware_blob_without_firmware_section_left_to_the_kernel",
     .policy = enforce({}, MG_CFG_KEXEC),
     .post = true,
     .id = kLoadingFirmware,
     .buf = Buf::kFw,
     .ret = 0},
    {.name = "post_firmware_blob_without_policy_left_to_the_kernel",
     .policy = std::nullopt,
     .post = true,
     .id = kLoadingFirmware,
     .buf = Buf::kFw,
     .ret = 0},
    {.name = "post_kexec_image_id_left_to_the_kernel",
     .policy = enforce({}, MG_CFG_KEXEC),
     .post = true,
     .id = kLoadingKexecImage,
     .buf = Buf::kKexec,
     .ret = 0},
};

class LoadData : public DecideFixture, public ::testing::WithParamInterface<LoadCase> {
 protected:
  std::vector<std::string> programs() const override {
    return {"load_data_test", "post_load_data_test"};
  }
};

TEST_P(LoadData, Decides) {
  const LoadCase& c = GetParam();
  install(c.policy);
  Call call{.name = c.description, .path = ""};
  mg_decide_args a = content(c.buf, c.description);
  a.id = c.id;
  Stats before = stats();
  ASSERT_OK(r_->run(c.post ? "post_load_data_test" : "load_data_test", a));
  EXPECT_EQ(a.ret, c.ret);
  expect_reported(before, c.events, c.stats, call);
}

INSTANTIATE_TEST_SUITE_P(Rules, LoadData, ::testing::ValuesIn(kLoadCases), case_name<LoadCase>);

// ---- autoload_decide(): request_module() names against the autoload globs

struct AutoloadCase {
  const char* name = nullptr;
  std::optional<PolicyMap> policy = std::nullopt;
  const char* request = "rtnl-link-dummy";
  int ret = 0;
  std::vector<Ev> events = {};
  Counts stats = {};
};
void PrintTo(const AutoloadCase& c, std::ostream* os) { *os << c.name; }

constexpr std::uint32_t kDefaultAllow = MG_CFG_AUTOLOAD_DEFAULT_ALLOW;
constexpr std::uint32_t kLog = MG_CFG_LOG_ALLOWED;

std::vector<std::optional<std::string>> many(const char* prefix, int n) {
  std::vector<std::optional<std::string>> out;
  out.reserve(static_cast<size_t>(n) + 1);
  for (int i = 0; i < n; i++) out.emplace_back(std::string(prefix) + std::to_string(i));
  return out;
}
std::vector<std::optional<std::string>> many_then(const char* prefix, int n, const char* last) {
  auto out = many(prefix, n - 1);
  out.emplace_back(last);
  return out;
}

const AutoloadCase kAutoloadCases[] = {
    {.name = "no_policy_denied",
     .policy = std::nullopt,
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_NO_POLICY, MG_MODE_ENFORCE, 0)},
     .stats = requested(kDeny)},
    {.name = "policy_without_config_denied",
     .policy = PolicyMap{.config = false, .autoload_allow = {"rtnl-link-*"}},
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_NO_POLICY, MG_MODE_ENFORCE, 0)},
     .stats = requested(kDeny)},
    {.name = "deny_pattern_wins_over_allow_pattern",
     .policy = autoload(kDefaultAllow, {"rtnl-link-*"}, {"rtnl-link-nlmon"}),
     .request = "rtnl-link-nlmon",
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_AUTOLOAD_DENY)},
     .stats = requested(kDeny)},
    {.name = "allow_pattern_admits_without_event",
     .policy = autoload(0, {"rtnl-link-*"}, {"rtnl-link-nlmon"}),
     .request = "rtnl-link-dummy",
     .ret = 0,
     .stats = requested(kAllow)},
    {.name = "allow_pattern_admits_with_event_when_log_allowed",
     .policy = autoload(kLog, {"rtnl-link-*"}, {"rtnl-link-nlmon"}),
     .request = "rtnl-link-dummy",
     .ret = 0,
     .events = {request_ev(kAllow, MG_REASON_AUTOLOAD_ALLOW)},
     .stats = requested(kAllow)},
    {.name = "no_match_default_deny",
     .policy = autoload(0, {"rtnl-link-*"}, {"net-pf-*"}),
     .request = "fs-cramfs",
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_AUTOLOAD_DEFAULT)},
     .stats = requested(kDeny)},
    {.name = "no_match_default_allow",
     .policy = autoload(kDefaultAllow | kLog, {"rtnl-link-*"}, {"net-pf-*"}),
     .request = "fs-cramfs",
     .ret = 0,
     .events = {request_ev(kAllow, MG_REASON_AUTOLOAD_DEFAULT)},
     .stats = requested(kAllow)},
    {.name = "no_patterns_default_deny",
     .policy = autoload(0, {}, {}),
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_AUTOLOAD_DEFAULT)},
     .stats = requested(kDeny)},
    {.name = "deny_pattern_beats_default_allow",
     .policy = autoload(kDefaultAllow, {}, {"net-pf-*"}),
     .request = "net-pf-38",
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_AUTOLOAD_DENY)},
     .stats = requested(kDeny)},
    {.name = "deny_pattern_would_deny_in_dry_run",
     .policy = autoload(0, {"rtnl-link-*"}, {"rtnl-link-nlmon"}, MG_MODE_DRY_RUN),
     .request = "rtnl-link-nlmon",
     .ret = 0,
     .events = {request_ev(kWouldDeny, MG_REASON_AUTOLOAD_DENY, kDryRun)},
     .stats = requested(kWouldDeny)},
    {.name = "default_deny_would_deny_in_dry_run",
     .policy = autoload(0, {"rtnl-link-*"}, {}, MG_MODE_DRY_RUN),
     .request = "fs-cramfs",
     .ret = 0,
     .events = {request_ev(kWouldDeny, MG_REASON_AUTOLOAD_DEFAULT, kDryRun)},
     .stats = requested(kWouldDeny)},
    {.name = "later_deny_pattern_matches",
     .policy = autoload(kDefaultAllow, {"*"}, {"fs-*", "net-pf-*", "char-major-*", "rtnl-*"}),
     .request = "rtnl-link-dummy",
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_AUTOLOAD_DENY)},
     .stats = requested(kDeny)},
    {.name = "later_allow_pattern_matches",
     .policy = autoload(kLog, {"fs-*", "net-pf-?", "rtnl-link-d*"}, {"fs-cramfs"}),
     .request = "rtnl-link-dummy",
     .ret = 0,
     .events = {request_ev(kAllow, MG_REASON_AUTOLOAD_ALLOW)},
     .stats = requested(kAllow)},
    {.name = "question_mark_matches_one_character_only",
     .policy = autoload(0, {"net-pf-?"}, {}),
     .request = "net-pf-38",
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_AUTOLOAD_DEFAULT)},
     .stats = requested(kDeny)},
    {.name = "missing_promised_deny_record_denies",
     .policy = autoload(kDefaultAllow, {"rtnl-link-*"}, {std::nullopt}),
     .request = "rtnl-link-dummy",
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_AUTOLOAD_DENY)},
     .stats = requested(kDeny)},
    {.name = "missing_deny_record_after_non_matching_ones_denies",
     .policy = autoload(kDefaultAllow, {"rtnl-link-*"}, {"fs-*", "net-pf-*", std::nullopt}),
     .request = "rtnl-link-dummy",
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_AUTOLOAD_DENY)},
     .stats = requested(kDeny)},
    {.name = "missing_allow_record_is_passed_over",
     .policy = autoload(kLog, {std::nullopt, "rtnl-link-*"}, {}),
     .request = "rtnl-link-dummy",
     .ret = 0,
     .events = {request_ev(kAllow, MG_REASON_AUTOLOAD_ALLOW)},
     .stats = requested(kAllow)},
    {.name = "missing_allow_record_falls_to_the_default",
     .policy = autoload(0, {std::nullopt}, {}),
     .request = "rtnl-link-dummy",
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_AUTOLOAD_DEFAULT)},
     .stats = requested(kDeny)},
    {.name = "full_lists_last_allow_pattern_matches",
     .policy = autoload(kLog, many_then("allow-", MG_GLOB_MAX, "rtnl-link-*"),
                        many("deny-", MG_GLOB_MAX)),
     .request = "rtnl-link-dummy",
     .ret = 0,
     .events = {request_ev(kAllow, MG_REASON_AUTOLOAD_ALLOW)},
     .stats = requested(kAllow)},
    {.name = "full_lists_last_deny_pattern_matches",
     .policy = autoload(kDefaultAllow, {"*"}, many_then("deny-", MG_GLOB_MAX, "rtnl-*")),
     .request = "rtnl-link-dummy",
     .ret = kEperm,
     .events = {request_ev(kDeny, MG_REASON_AUTOLOAD_DENY)},
     .stats = requested(kDeny)},
    {.name = "empty_request_name_matches_star",
     .policy = autoload(kLog, {"*"}, {}),
     .request = "",
     .ret = 0,
     .events = {request_ev(kAllow, MG_REASON_AUTOLOAD_ALLOW)},
     .stats = requested(kAllow)},
};

class Autoload : public DecideFixture, public ::testing::WithParamInterface<AutoloadCase> {
 protected:
  std::vector<std::string> programs() const override { return {"autoload_test"}; }
};

TEST_P(Autoload, Decides) {
  const AutoloadCase& c = GetParam();
  install(c.policy);
  Call call{.name = c.request, .path = ""};
  mg_decide_args a = content(Buf::kNone, c.request);
  Stats before = stats();
  ASSERT_OK(r_->run("autoload_test", a));
  EXPECT_EQ(a.ret, c.ret);
  expect_reported(before, c.events, c.stats, call);
}

INSTANTIATE_TEST_SUITE_P(Rules, Autoload, ::testing::ValuesIn(kAutoloadCases),
                         case_name<AutoloadCase>);

// ---- guard.h: tamper protection

// Who the guard record says the agent is.
enum class Agent {
  kNobody,       // no agent recorded (agent_tgid 0)
  kMe,           // this process, as the agent records itself
  kMeLater,      // this pid but a later start: a process that reused the agent's pid
  kMeOtherTgid,  // this start time under another tgid
  kMeNoTick,     // this process with tick_ns 0
  kMeWrongTick,  // this process's start in ticks, read against the wrong tick length
  kParent,       // this process's parent
  kParentLater,  // the parent's pid with a later start
};

mg_guard guard_record(Agent who) {
  auto me = guard_for(getpid());
  auto parent = guard_for(getppid());
  EXPECT_TRUE(me.ok()) << me.error().message;
  EXPECT_TRUE(parent.ok()) << parent.error().message;
  if (!me.ok() || !parent.ok()) return {};
  mg_guard g{};
  switch (who) {
    case Agent::kNobody:
      break;
    case Agent::kMe:
      g = *me;
      break;
    case Agent::kMeLater:
      g = *me;
      g.agent_start += 1;
      break;
    case Agent::kMeOtherTgid:
      g = *me;
      g.agent_tgid = static_cast<__u32>(getppid());
      break;
    case Agent::kMeNoTick:
      g = *me;
      g.tick_ns = 0;
      break;
    case Agent::kMeWrongTick:
      g = *me;
      g.tick_ns *= 10;
      break;
    case Agent::kParent:
      g = *parent;
      break;
    case Agent::kParentLater:
      g = *parent;
      g.agent_start += 1;
      break;
  }
  return g;
}

mg_guard_args bpf_cmd(int cmd, std::uint32_t id) {
  static_assert(sizeof(union bpf_attr) <= MG_DT_ATTR_LEN);
  mg_guard_args a{};
  a.which = MG_DT_GUARD_BPF_CMD;
  a.cmd = cmd;
  union bpf_attr attr {};
  attr.link_id = id;
  std::memcpy(a.attr, &attr, sizeof(attr));
  return a;
}

mg_guard_args prog_load(std::uint32_t type, std::uint32_t attach, const char* name) {
  mg_guard_args a{};
  a.which = MG_DT_GUARD_BPF_CMD;
  a.cmd = BPF_PROG_LOAD;
  union bpf_attr attr {};
  attr.prog_type = type;
  attr.expected_attach_type = attach;
  std::snprintf(attr.prog_name, sizeof(attr.prog_name), "%s", name);
  std::memcpy(a.attr, &attr, sizeof(attr));
  return a;
}

mg_guard_args object(std::uint32_t kind, std::uint32_t dev, std::uint64_t id, std::uint32_t op,
                     std::uint32_t entry, std::uint64_t size, const char* name) {
  mg_guard_args a{};
  a.which = MG_DT_GUARD_OBJECT;
  a.kind = kind;
  a.dev = dev;
  a.id = id;
  a.op = op;
  a.entry = entry;
  a.size = size;
  std::snprintf(a.name, sizeof(a.name), "%s", name);
  return a;
}

mg_guard_args tamper_args(std::uint32_t op, std::uint32_t entry, std::uint64_t size,
                          const char* name) {
  mg_guard_args a = object(0, 0, 0, op, entry, size, name);
  a.which = MG_DT_TAMPER;
  return a;
}

mg_guard_args task_args(bool allowed, std::uint32_t op, std::uint32_t entry) {
  mg_guard_args a{};
  a.which = MG_DT_GUARD_TASK;
  a.allowed = allowed ? 1 : 0;
  a.by_current = 1;
  a.op = op;
  a.entry = entry;
  return a;
}

// A signal through an fd's owner (SIGIO): whoever writes to the fd sends it, so the current task
// is not the one asking. self: aimed at this process rather than its parent.
mg_guard_args sigio_args(std::uint32_t sig, bool self) {
  mg_guard_args a = task_args(false, MG_TAMPER_SIGIO, sig);
  a.by_current = 0;
  a.target_self = self ? 1 : 0;
  return a;
}

mg_guard_args map_args(std::uint32_t sel) {
  mg_guard_args a{};
  a.which = MG_DT_GUARD_MAP;
  a.map_sel = sel;
  return a;
}

// This kernel's value of a lockdown reason: the values differ between kernels, and the rule
// reads them by CO-RE, so the cases name them too.
std::uint32_t lockdown(const char* reason) {
  return enum_value("lockdown_reason", reason).value_or(0xfffffffeu);
}

mg_guard_args lockdown_args(const char* reason) {
  mg_guard_args a{};
  a.which = MG_DT_GUARD_LOCKDOWN;
  a.entry = lockdown(reason);
  return a;
}

constexpr std::uint32_t kDev = 0x00800001;  // a kernel s_dev: major 8, minor 1
constexpr std::uint64_t kIno = 1234;

struct GuardCase {
  const char* name = nullptr;
  std::optional<PolicyMap> policy = std::nullopt;
  Agent agent = Agent::kMeLater;  // by default this process is not the agent
  std::vector<mg_guard_key> guarded = {};
  mg_guard_args args = {};
  int ret = 0;
  std::vector<Ev> events = {};
  Counts stats = {};
};
void PrintTo(const GuardCase& c, std::ostream* os) { *os << c.name; }

const mg_guard_key kLink42 = {MG_GUARD_LINK, 0, 42};
const mg_guard_key kPin = {MG_GUARD_INODE, kDev, kIno};

const GuardCase kGuardCases[] = {
    // guard_bpf_cmd: BPF_LINK_GET_FD_BY_ID
    {.name = "link_fd_of_guarded_link_by_non_agent_refused",
     .policy = protect(),
     .guarded = {kLink42},
     .args = bpf_cmd(BPF_LINK_GET_FD_BY_ID, 42),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_LINK_FD, 42, 0, "")},
     .stats = tampered(MG_TAMPER_LINK_FD)},
    {.name = "link_fd_of_guarded_link_refused_while_no_agent_is_recorded",
     .policy = protect(),
     .agent = Agent::kNobody,
     .guarded = {kLink42},
     .args = bpf_cmd(BPF_LINK_GET_FD_BY_ID, 42),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_LINK_FD, 42, 0, "")},
     .stats = tampered(MG_TAMPER_LINK_FD)},
    {.name = "link_fd_of_guarded_link_by_the_agent_passes",
     .policy = protect(),
     .agent = Agent::kMe,
     .guarded = {kLink42},
     .args = bpf_cmd(BPF_LINK_GET_FD_BY_ID, 42),
     .ret = 0},
    {.name = "link_fd_of_unguarded_link_passes",
     .policy = protect(),
     .guarded = {kLink42},
     .args = bpf_cmd(BPF_LINK_GET_FD_BY_ID, 43),
     .ret = 0},
    {.name = "link_fd_of_id_guarded_as_a_map_passes",
     .policy = protect(),
     .guarded = {{MG_GUARD_MAP, 0, 42}},
     .args = bpf_cmd(BPF_LINK_GET_FD_BY_ID, 42),
     .ret = 0},
    {.name = "link_fd_passes_when_the_policy_does_not_protect",
     .policy = enforce(),
     .guarded = {kLink42},
     .args = bpf_cmd(BPF_LINK_GET_FD_BY_ID, 42),
     .ret = 0},
    {.name = "link_fd_passes_without_policy",
     .policy = std::nullopt,
     .guarded = {kLink42},
     .args = bpf_cmd(BPF_LINK_GET_FD_BY_ID, 42),
     .ret = 0},
    {.name = "link_fd_would_deny_in_dry_run",
     .policy = protect(MG_MODE_DRY_RUN),
     .guarded = {kLink42},
     .args = bpf_cmd(BPF_LINK_GET_FD_BY_ID, 42),
     .ret = 0,
     .events = {tamper_ev(MG_TAMPER_LINK_FD, 42, 0, "", kDryRun)},
     .stats = tampered(MG_TAMPER_LINK_FD)},
    {.name = "map_fd_by_id_left_to_the_bpf_map_hook",
     .policy = protect(),
     .guarded = {kLink42, {MG_GUARD_MAP, 0, 42}},
     .args = bpf_cmd(BPF_MAP_GET_FD_BY_ID, 42),
     .ret = 0},
    {.name = "prog_fd_by_id_left_to_the_bpf_prog_hook",
     .policy = protect(),
     .guarded = {kLink42, {MG_GUARD_PROG, 0, 42}},
     .args = bpf_cmd(BPF_PROG_GET_FD_BY_ID, 42),
     .ret = 0},
    // guard_bpf_cmd: BPF_PROG_LOAD
    {.name = "lsm_prog_load_by_non_agent_refused",
     .policy = protect(),
     .args = prog_load(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "evil_lsm"),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_PROG_LOAD, BPF_PROG_TYPE_LSM, 0, "evil_lsm")},
     .stats = tampered(MG_TAMPER_PROG_LOAD)},
    {.name = "fmod_ret_tracing_prog_load_by_non_agent_refused",
     .policy = protect(),
     .args = prog_load(BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, "fake_success"),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_PROG_LOAD, BPF_PROG_TYPE_TRACING, 0, "fake_success")},
     .stats = tampered(MG_TAMPER_PROG_LOAD)},
    {.name = "lsm_prog_load_would_deny_in_dry_run",
     .policy = protect(MG_MODE_DRY_RUN),
     .args = prog_load(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "evil_lsm"),
     .ret = 0,
     .events = {tamper_ev(MG_TAMPER_PROG_LOAD, BPF_PROG_TYPE_LSM, 0, "evil_lsm", kDryRun)},
     .stats = tampered(MG_TAMPER_PROG_LOAD)},
    {.name = "lsm_prog_load_by_the_agent_passes",
     .policy = protect(),
     .agent = Agent::kMe,
     .args = prog_load(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "post_read_file"),
     .ret = 0},
    {.name = "lsm_prog_load_passes_when_the_policy_does_not_protect",
     .policy = enforce(),
     .args = prog_load(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "evil_lsm"),
     .ret = 0},
    {.name = "lsm_prog_load_passes_without_policy",
     .policy = std::nullopt,
     .args = prog_load(BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "evil_lsm"),
     .ret = 0},
    {.name = "fentry_tracing_prog_load_passes",
     .policy = protect(),
     .args = prog_load(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, "observer"),
     .ret = 0},
    {.name = "fexit_tracing_prog_load_passes",
     .policy = protect(),
     .args = prog_load(BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, "observer"),
     .ret = 0},
    {.name = "kprobe_prog_load_passes",
     .policy = protect(),
     .args = prog_load(BPF_PROG_TYPE_KPROBE, 0, "observer"),
     .ret = 0},
    {.name = "socket_filter_prog_load_passes",
     .policy = protect(),
     .args = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 0, "filter"),
     .ret = 0},
    {.name = "syscall_prog_load_passes",
     .policy = protect(),
     .args = prog_load(BPF_PROG_TYPE_SYSCALL, 0, "loader"),
     .ret = 0},
    {.name = "other_bpf_commands_pass",
     .policy = protect(),
     .guarded = {kLink42},
     .args = bpf_cmd(BPF_MAP_CREATE, 42),
     .ret = 0},

    // guard_object: (kind, dev, id) recorded in guard_ids
    {.name = "guarded_pin_opened_by_non_agent_refused",
     .policy = protect(),
     .guarded = {kPin},
     .args = object(MG_GUARD_INODE, kDev, kIno, MG_TAMPER_PIN_OPEN, 0, kIno, "link_x"),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_PIN_OPEN, 0, kIno, "link_x")},
     .stats = tampered(MG_TAMPER_PIN_OPEN)},
    {.name = "guarded_pin_unlinked_would_deny_in_dry_run",
     .policy = protect(MG_MODE_DRY_RUN),
     .guarded = {kPin},
     .args = object(MG_GUARD_INODE, kDev, kIno, MG_TAMPER_PIN_UNLINK, 0, kIno, "policy"),
     .ret = 0,
     .events = {tamper_ev(MG_TAMPER_PIN_UNLINK, 0, kIno, "policy", kDryRun)},
     .stats = tampered(MG_TAMPER_PIN_UNLINK)},
    {.name = "guarded_pin_opened_by_the_agent_passes",
     .policy = protect(),
     .agent = Agent::kMe,
     .guarded = {kPin},
     .args = object(MG_GUARD_INODE, kDev, kIno, MG_TAMPER_PIN_OPEN, 0, kIno, "link_x"),
     .ret = 0},
    {.name = "same_inode_number_on_another_device_passes",
     .policy = protect(),
     .guarded = {kPin},
     .args = object(MG_GUARD_INODE, kDev + 1, kIno, MG_TAMPER_PIN_OPEN, 0, kIno, "link_x"),
     .ret = 0},
    {.name = "other_inode_on_the_same_device_passes",
     .policy = protect(),
     .guarded = {kPin},
     .args = object(MG_GUARD_INODE, kDev, kIno + 1, MG_TAMPER_PIN_OPEN, 0, kIno + 1, "x"),
     .ret = 0},
    {.name = "same_dev_and_id_of_another_kind_passes",
     .policy = protect(),
     .guarded = {kPin},
     .args = object(MG_GUARD_AGENT_FILE, kDev, kIno, MG_TAMPER_AGENT_FILE, 0, kIno, "modgate"),
     .ret = 0},
    {.name = "guarded_pin_passes_when_the_policy_does_not_protect",
     .policy = enforce(),
     .guarded = {kPin},
     .args = object(MG_GUARD_INODE, kDev, kIno, MG_TAMPER_PIN_OPEN, 0, kIno, "link_x"),
     .ret = 0},
    {.name = "guarded_pin_passes_without_policy",
     .policy = std::nullopt,
     .guarded = {kPin},
     .args = object(MG_GUARD_INODE, kDev, kIno, MG_TAMPER_PIN_OPEN, 0, kIno, "link_x"),
     .ret = 0},
    {.name = "agent_file_written_by_non_agent_refused",
     .policy = protect(),
     .guarded = {{MG_GUARD_AGENT_FILE, kDev, kIno}},
     .args = object(MG_GUARD_AGENT_FILE, kDev, kIno, MG_TAMPER_AGENT_FILE, 0, kIno, "modgate"),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_AGENT_FILE, 0, kIno, "modgate")},
     .stats = tampered(MG_TAMPER_AGENT_FILE)},
    {.name = "guarded_prog_fd_by_non_agent_refused",
     .policy = protect(),
     .guarded = {{MG_GUARD_PROG, 0, 77}},
     .args = object(MG_GUARD_PROG, 0, 77, MG_TAMPER_PROG_FD, 77, 0, "post_read_file"),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_PROG_FD, 77, 0, "post_read_file")},
     .stats = tampered(MG_TAMPER_PROG_FD)},

    // tamper(): the report and the answer
    {.name = "tamper_in_enforce_refuses_and_reports",
     .policy = protect(),
     .args = tamper_args(MG_TAMPER_MODPROBE_PATH, 0, 4242, "kernel/modprobe"),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_MODPROBE_PATH, 0, 4242, "kernel/modprobe")},
     .stats = tampered(MG_TAMPER_MODPROBE_PATH)},
    {.name = "tamper_in_dry_run_passes_and_reports_would_deny",
     .policy = protect(MG_MODE_DRY_RUN),
     .args = tamper_args(MG_TAMPER_UMOUNT, 31, 0, "bpf"),
     .ret = 0,
     .events = {tamper_ev(MG_TAMPER_UMOUNT, 31, 0, "bpf", kDryRun)},
     .stats = tampered(MG_TAMPER_UMOUNT)},
    {.name = "tamper_with_unknown_op_reports_without_counting",
     .policy = protect(),
     .args = tamper_args(MG_TAMPER_COUNT, 1, 2, "x"),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_COUNT, 1, 2, "x")},
     .stats = {}},

    // guard_task: a signal or ptrace aimed at the agent (here: this process's parent)
    {.name = "signal_to_the_agent_by_non_agent_refused",
     .policy = protect(),
     .agent = Agent::kParent,
     .args = task_args(false, MG_TAMPER_SIGNAL, 9),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_SIGNAL, 9, kParentTgid, "")},
     .stats = tampered(MG_TAMPER_SIGNAL)},
    {.name = "ptrace_attach_to_the_agent_by_non_agent_refused",
     .policy = protect(),
     .agent = Agent::kParent,
     .args = task_args(false, MG_TAMPER_PTRACE, 2),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_PTRACE, 2, kParentTgid, "")},
     .stats = tampered(MG_TAMPER_PTRACE)},
    {.name = "signal_to_the_agent_would_deny_in_dry_run",
     .policy = protect(MG_MODE_DRY_RUN),
     .agent = Agent::kParent,
     .args = task_args(false, MG_TAMPER_SIGNAL, 15),
     .ret = 0,
     .events = {tamper_ev(MG_TAMPER_SIGNAL, 15, kParentTgid, "", kDryRun)},
     .stats = tampered(MG_TAMPER_SIGNAL)},
    {.name = "allowed_signal_to_the_agent_passes",
     .policy = protect(),
     .agent = Agent::kParent,
     .args = task_args(true, MG_TAMPER_SIGNAL, 1),
     .ret = 0},
    {.name = "signal_to_a_process_that_reused_the_agents_pid_passes",
     .policy = protect(),
     .agent = Agent::kParentLater,
     .args = task_args(false, MG_TAMPER_SIGNAL, 9),
     .ret = 0},
    {.name = "signal_to_a_non_agent_passes",
     .policy = protect(),
     .agent = Agent::kMe,
     .args = task_args(false, MG_TAMPER_SIGNAL, 9),
     .ret = 0},
    {.name = "sigio_to_the_agent_refused",
     .policy = protect(),
     .agent = Agent::kParent,
     .args = sigio_args(9, false),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_SIGIO, 9, kParentTgid, "")},
     .stats = tampered(MG_TAMPER_SIGIO)},
    {.name = "default_sigio_to_the_agent_refused",
     .policy = protect(),
     .agent = Agent::kParent,
     .args = sigio_args(0, false),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_SIGIO, 0, kParentTgid, "")},
     .stats = tampered(MG_TAMPER_SIGIO)},
    // The agent answering on a socket whose other end was set O_ASYNC and owned by the agent:
    // the agent is current, and still the signal does not reach it.
    {.name = "sigio_to_the_agent_refused_when_the_agent_writes",
     .policy = protect(),
     .agent = Agent::kMe,
     .args = sigio_args(9, true),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_SIGIO, 9, kMeTgid, "")},
     .stats = tampered(MG_TAMPER_SIGIO)},
    {.name = "signal_from_the_agent_to_itself_passes",
     .policy = protect(),
     .agent = Agent::kMe,
     .args =
         [] {
           mg_guard_args a = sigio_args(9, true);
           a.op = MG_TAMPER_SIGNAL;
           a.by_current = 1;
           return a;
         }(),
     .ret = 0},
    // prlimit on the agent (lsm/task_setrlimit): entry is the RLIMIT_* resource.
    {.name = "rlimit_of_the_agent_by_non_agent_refused",
     .policy = protect(),
     .agent = Agent::kParent,
     .args = task_args(false, MG_TAMPER_RLIMIT, 7),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_RLIMIT, 7, kParentTgid, "")},
     .stats = tampered(MG_TAMPER_RLIMIT)},
    {.name = "rlimit_set_by_the_agent_on_itself_passes",
     .policy = protect(),
     .agent = Agent::kMe,
     .args =
         [] {
           mg_guard_args a = task_args(false, MG_TAMPER_RLIMIT, 7);
           a.target_self = 1;
           return a;
         }(),
     .ret = 0},
    {.name = "rlimit_of_the_agent_passes_when_the_policy_does_not_protect",
     .policy = enforce(),
     .agent = Agent::kParent,
     .args = task_args(false, MG_TAMPER_RLIMIT, 7),
     .ret = 0},
    {.name = "sigio_to_a_non_agent_passes",
     .policy = protect(),
     .agent = Agent::kMe,
     .args = sigio_args(9, false),
     .ret = 0},
    {.name = "sigio_to_the_agent_passes_when_the_policy_does_not_protect",
     .policy = enforce(),
     .agent = Agent::kParent,
     .args = sigio_args(9, false),
     .ret = 0},
    {.name = "signal_to_the_agent_passes_when_the_policy_does_not_protect",
     .policy = enforce(),
     .agent = Agent::kParent,
     .args = task_args(false, MG_TAMPER_SIGNAL, 9),
     .ret = 0},

    // guard_lockdown: lockdown's integrity reasons while protected, but those the policy judges
    {.name = "lockdown_dev_mem_refused",
     .policy = protect(),
     .args = lockdown_args("LOCKDOWN_DEV_MEM"),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_LOCKDOWN, lockdown("LOCKDOWN_DEV_MEM"), 0, "")},
     .stats = tampered(MG_TAMPER_LOCKDOWN)},
    {.name = "lockdown_module_parameters_refused",
     .policy = protect(),
     .args = lockdown_args("LOCKDOWN_MODULE_PARAMETERS"),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_LOCKDOWN, lockdown("LOCKDOWN_MODULE_PARAMETERS"), 0, "")},
     .stats = tampered(MG_TAMPER_LOCKDOWN)},
    {.name = "lockdown_bpf_write_user_refused_even_to_the_agent",
     .policy = protect(),
     .agent = Agent::kMe,
     .args = lockdown_args("LOCKDOWN_BPF_WRITE_USER"),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_LOCKDOWN, lockdown("LOCKDOWN_BPF_WRITE_USER"), 0, "")},
     .stats = tampered(MG_TAMPER_LOCKDOWN)},
    {.name = "lockdown_ioport_would_deny_in_dry_run",
     .policy = protect(MG_MODE_DRY_RUN),
     .args = lockdown_args("LOCKDOWN_IOPORT"),
     .ret = 0,
     .events = {tamper_ev(MG_TAMPER_LOCKDOWN, lockdown("LOCKDOWN_IOPORT"), 0, "", kDryRun)},
     .stats = tampered(MG_TAMPER_LOCKDOWN)},
    {.name = "lockdown_module_signature_left_to_the_allowlist",
     .policy = protect(),
     .args = lockdown_args("LOCKDOWN_MODULE_SIGNATURE"),
     .ret = 0},
    {.name = "lockdown_kexec_left_to_the_kexec_section",
     .policy = protect(),
     .args = lockdown_args("LOCKDOWN_KEXEC"),
     .ret = 0},
    {.name = "lockdown_confidentiality_reason_passes",
     .policy = protect(),
     .args = lockdown_args("LOCKDOWN_KCORE"),
     .ret = 0},
    {.name = "lockdown_integrity_max_itself_passes",
     .policy = protect(),
     .args = lockdown_args("LOCKDOWN_INTEGRITY_MAX"),
     .ret = 0},
    {.name = "lockdown_none_passes",
     .policy = protect(),
     .args = lockdown_args("LOCKDOWN_NONE"),
     .ret = 0},
    {.name = "lockdown_dev_mem_passes_when_the_policy_does_not_protect",
     .policy = enforce(),
     .args = lockdown_args("LOCKDOWN_DEV_MEM"),
     .ret = 0},

    // guard_map: a new fd to one of modgate's maps, or to any policy map by its name
    {.name = "policy_map_fd_by_non_agent_refused_by_its_name",
     .policy = protect(),
     .args = map_args(MG_DT_MAP_POLICY_INNER),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_MAP_FD, kInnerMapId, 0, "mg_policy")},
     .stats = tampered(MG_TAMPER_MAP_FD)},
    {.name = "policy_map_fd_by_the_agent_passes",
     .policy = protect(),
     .agent = Agent::kMe,
     .args = map_args(MG_DT_MAP_POLICY_INNER),
     .ret = 0},
    {.name = "policy_map_fd_passes_when_the_policy_does_not_protect",
     .policy = enforce(),
     .args = map_args(MG_DT_MAP_POLICY_INNER),
     .ret = 0},
    {.name = "guarded_map_fd_by_non_agent_refused_by_its_id",
     .policy = protect(),
     .guarded = {{MG_GUARD_MAP, 0, kEventsMapId}},
     .args = map_args(MG_DT_MAP_EVENTS),
     .ret = kEperm,
     .events = {tamper_ev(MG_TAMPER_MAP_FD, kEventsMapId, 0, "events")},
     .stats = tampered(MG_TAMPER_MAP_FD)},
    {.name = "guarded_map_fd_would_deny_in_dry_run",
     .policy = protect(MG_MODE_DRY_RUN),
     .guarded = {{MG_GUARD_MAP, 0, kEventsMapId}},
     .args = map_args(MG_DT_MAP_EVENTS),
     .ret = 0,
     .events = {tamper_ev(MG_TAMPER_MAP_FD, kEventsMapId, 0, "events", kDryRun)},
     .stats = tampered(MG_TAMPER_MAP_FD)},
    {.name = "unguarded_map_fd_passes",
     .policy = protect(),
     .args = map_args(MG_DT_MAP_EVENTS),
     .ret = 0},
    {.name = "unguarded_map_with_another_name_passes",
     .policy = protect(),
     .guarded = {{MG_GUARD_MAP, 0, kEventsMapId}},
     .args = map_args(MG_DT_MAP_TASK_REC),
     .ret = 0},
};

class Guard : public DecideFixture, public ::testing::WithParamInterface<GuardCase> {
 protected:
  std::vector<std::string> programs() const override { return {"guard_test"}; }
};

TEST_P(Guard, Decides) {
  const GuardCase& c = GetParam();
  install(c.policy);
  ASSERT_OK(r_->set_guard(guard_record(c.agent)));
  for (const auto& k : c.guarded) ASSERT_OK(r_->add_guarded(k.kind, k.dev, resolve(k.id)));
  mg_guard_args a = c.args;
  Call call{.name = cstr(a.name, sizeof(a.name)), .path = ""};
  Stats before = stats();
  ASSERT_OK(r_->run(a));
  EXPECT_EQ(a.ret, c.ret);
  expect_reported(before, c.events, c.stats, call);
}

INSTANTIATE_TEST_SUITE_P(Rules, Guard, ::testing::ValuesIn(kGuardCases), case_name<GuardCase>);

// ---- task_is_agent(), current_is_agent(): tgid and group leader start time

struct IdentityCase {
  const char* name = nullptr;
  Agent agent = Agent::kMe;
  bool is_agent = false;
};
void PrintTo(const IdentityCase& c, std::ostream* os) { *os << c.name; }

const IdentityCase kIdentityCases[] = {
    {.name = "recorded_tgid_and_start_is_the_agent", .agent = Agent::kMe, .is_agent = true},
    {.name = "same_pid_started_later_is_not", .agent = Agent::kMeLater, .is_agent = false},
    {.name = "same_start_other_tgid_is_not", .agent = Agent::kMeOtherTgid, .is_agent = false},
    {.name = "no_agent_recorded_nobody_is", .agent = Agent::kNobody, .is_agent = false},
    {.name = "zero_tick_length_nobody_is", .agent = Agent::kMeNoTick, .is_agent = false},
    {.name = "start_in_other_ticks_is_not", .agent = Agent::kMeWrongTick, .is_agent = false},
    {.name = "parent_recorded_this_process_is_not", .agent = Agent::kParent, .is_agent = false},
};

class Identity : public DecideFixture, public ::testing::WithParamInterface<IdentityCase> {
 protected:
  std::vector<std::string> programs() const override { return {"guard_test"}; }
};

TEST_P(Identity, OfTheCaller) {
  const IdentityCase& c = GetParam();
  ASSERT_OK(r_->set_guard(guard_record(c.agent)));
  mg_guard_args a{};
  a.which = MG_DT_IS_AGENT;
  a.agent_self = -1;
  ASSERT_OK(r_->run(a));
  EXPECT_EQ(a.ret, c.is_agent ? 1 : 0) << "current_is_agent()";
  EXPECT_EQ(a.agent_self, c.is_agent ? 1 : 0) << "task_is_agent(current)";
  auto events = r_->events();
  ASSERT_TRUE(events.ok()) << events.error().message;
  EXPECT_TRUE(events->empty()) << describe(*events);
}

INSTANTIATE_TEST_SUITE_P(Guard, Identity, ::testing::ValuesIn(kIdentityCases),
                         case_name<IdentityCase>);

class IdentityThread : public DecideFixture {
 protected:
  std::vector<std::string> programs() const override { return {"guard_test"}; }
};

// The agent is its thread group: its other threads pass too (the group leader's start counts).
TEST_F(IdentityThread, OtherThreadOfTheAgentIsTheAgent) {
  ASSERT_OK(r_->set_guard(guard_record(Agent::kMe)));
  mg_guard_args a{};
  a.which = MG_DT_IS_AGENT;
  Result<Ok> run = Ok{};
  pid_t tid = 0;
  std::thread([&] {
    tid = gettid();
    run = r_->run(a);
  }).join();
  ASSERT_TRUE(run.ok()) << run.error().message;
  ASSERT_NE(tid, getpid());
  EXPECT_EQ(a.ret, 1);
  EXPECT_EQ(a.agent_self, 1);
}

}  // namespace
}  // namespace modgate::test
