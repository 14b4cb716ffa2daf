// SPDX-License-Identifier: Apache-2.0
// Loads tests/bpf/progs/decide_test.bpf.c (bpf/decide/*.h inside BPF_PROG_TYPE_SYSCALL programs)
// and drives it as the kernel and the agent would: installs a policy map the way
// agent/bpf/enforcer.cpp does, writes the guard and the task record, runs one program with
// bpf_prog_test_run_opts, and reads back the events from the ring buffer and the counters.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "decide_test.h"
#include "policy/result.h"
#include "policy/sha256.h"

struct decide_test;
struct ring_buffer;

namespace modgate::test {

// One allowlist record (mg_allow_value) under a hash.
struct AllowRecord {
  Sha256 sha{};
  std::uint32_t sections = MG_ALLOW_MODULE;
  std::uint32_t entry = 0;
  std::uint32_t firmware_entry = 0;
  std::uint32_t kexec_entry = 0;
};

// What one inner policy map holds. An autoload pattern that is nullopt is counted in the config
// (n_autoload_*) but its record is not written: a config that promises a missing record.
struct PolicyMap {
  bool config = true;  // false: no config record at all
  std::uint32_t mode = MG_MODE_ENFORCE;
  std::uint32_t flags = 0;  // MG_CFG_*
  std::uint64_t version = 1;
  std::vector<AllowRecord> allow = {};
  std::vector<std::optional<std::string>> autoload_allow = {};
  std::vector<std::optional<std::string>> autoload_deny = {};
};

using Stats = std::array<std::uint64_t, MG_STAT_COUNT>;

class DecideRunner {
 public:
  // Loads only the named programs (all when empty): each costs a verification.
  static Result<std::unique_ptr<DecideRunner>> open(const std::vector<std::string>& programs = {});
  ~DecideRunner();
  DecideRunner(const DecideRunner&) = delete;
  DecideRunner& operator=(const DecideRunner&) = delete;

  // Back to a clean slate: no policy in slot 0, empty guard record and guard set, zeroed task
  // record, no pending events, all counters 0.
  Result<Ok> reset();

  // Builds a fresh "mg_policy" hash map as Enforcer::install does (records, config with present
  // = 1 under the special key, globs, freeze) and puts it in slot 0 of `policy`.
  Result<Ok> install(const PolicyMap& p);
  Result<Ok> remove_policy();
  // The id of the inner map now in slot 0.
  Result<std::uint32_t> policy_map_id() const;

  Result<Ok> set_guard(const mg_guard& g);
  Result<Ok> add_guarded(std::uint32_t kind, std::uint32_t dev, std::uint64_t id);
  Result<std::uint32_t> map_id(const char* name) const;

  Result<Ok> set_task(const mg_dt_task& t);
  Result<mg_dt_task> task() const;

  // Copies data to the start of the buffer map.
  Result<Ok> set_buffer(std::span<const std::uint8_t> data);
  static constexpr size_t kCapacity = size_t{MG_DT_PAGE} * MG_DT_PAGES;

  // Runs the named program with args as its context (updated in place).
  Result<Ok> run(const char* program, mg_decide_args& args);
  Result<Ok> run(mg_guard_args& args);

  // Every event submitted since the last call, in order.
  Result<std::vector<mg_event>> events();
  Result<Stats> stats() const;

 private:
  DecideRunner() = default;
  Result<Ok> run_ctx(const char* program, void* ctx, std::uint32_t size);
  static int on_event(void* ctx, void* data, size_t size);

  struct decide_test* skel_ = nullptr;
  struct ring_buffer* rb_ = nullptr;
  std::uint8_t* buf_ = nullptr;
  std::vector<mg_event> pending_;
};

// Who this process is, as the agent records itself (Enforcer::record_guard_in): tgid, field 22 of
// /proc/PID/stat, tick_ns = 1e9 / sysconf(_SC_CLK_TCK).
Result<mg_guard> guard_for(int pid);

}  // namespace modgate::test
