// SPDX-License-Identifier: Apache-2.0
// The one owner of bpf/modgate_lsm.bpf.c in the kernel: load or adopt, install a policy, attach,
// pin, drain events, read counters, disarm. Every failure comes back as one sentence naming the
// step.
//
// Pinning model (docs/design.md, "Restart without a gap"): the links and the maps that carry
// state live under PIN_DIR/<tag>/, where <tag> identifies the exact BPF object. While the pins
// exist, enforcement goes on whether an agent runs or not; a new agent of the same object adopts
// them, an agent with a different object attaches its own programs first and removes the old
// pins after, so there is no instant without a program attached.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/bpf/hook_protos.h"
#include "modgate_abi.h"
#include "policy/policy.h"
#include "policy/result.h"

struct modgate_lsm;  // the bpftool skeleton of bpf/modgate_lsm.bpf.c
struct ring_buffer;

namespace modgate {

inline constexpr const char* kDefaultPinDir = "/sys/fs/bpf/modgate";

// Checks that the kernel can run modgate at all, before anything is loaded. Each problem is one
// sentence with the fix; the first one found is returned. Mounts securityfs and bpffs if needed.
Result<Ok> preflight();

// The identity of the BPF object this binary carries: the first 16 hex digits of its SHA-256.
std::string object_tag();

// What the kernel enforces now, read back from the policy map itself.
struct KernelPolicy {
  mg_config config{};
  std::uint64_t records = 0;  // allowlist entries + config + autoload patterns
  std::uint64_t allowlist_entries() const {
    return records - 1 - config.n_autoload_allow - config.n_autoload_deny;
  }
};

class Enforcer {
 public:
  using EventFn = std::function<void(const mg_event&)>;

  // Adopts PIN_DIR/<object_tag()> when it is complete; otherwise loads the object (verified, not
  // attached) and, if an older object's pins exist, takes over the policy they enforce.
  static Result<std::unique_ptr<Enforcer>> open(const std::string& pin_dir);
  ~Enforcer();
  Enforcer(const Enforcer&) = delete;
  Enforcer& operator=(const Enforcer&) = delete;

  bool adopted() const { return adopted_; }
  // Which programs fit this kernel's hooks, and the hooks none fits (tamper-protection hooks
  // only: without an essential one open() fails). Computed for adopted state too.
  const hooks::Selection& hooks() const { return selection_; }
  // Where the previous pins came from, when this start replaced another object's.
  const std::optional<std::string>& replaced() const { return replaced_; }

  // Builds a complete new policy map, freezes it, then swaps it in with one map update.
  Result<Ok> install(const policy::CompiledPolicy& compiled);
  // Nothing when no policy is installed.
  Result<std::optional<KernelPolicy>> policy_in_force() const;

  // Fresh objects only: attaches every program (all or nothing), pins links and maps, then
  // removes the pins of any other object. A no-op for adopted state.
  Result<Ok> attach_and_pin();

  // Whether some modgate object's policy map is pinned under pin_dir (adoption is possible).
  static bool pinned_policy_exists(const std::string& pin_dir);

  // What unpin_all removed, for `modgate disarm` to say.
  struct Unpinned {
    std::vector<std::string> dirs;  // object directories (one per BPF object build)
    int links = 0;                  // link pins: each one an attached program
    int programs_gone = 0;          // programs that no longer exist afterwards
    int other_pins = 0;             // maps and anything else pinned there
  };
  // Removes every pin under pin_dir (this object's and any other's). Programs stay attached only
  // while some process (this one included) holds their links.
  static Result<Unpinned> unpin_all(const std::string& pin_dir);
  // Drops this process's own references, so that after unpin_all nothing is attached.
  void release();

  Result<Ok> open_events(EventFn fn);
  // An fd that is readable when events are waiting (for the daemon's epoll set).
  int events_epoll_fd() const;
  // Hands up to a batch of waiting events to the callback; returns how many. Bounded so that a
  // flood of events cannot starve the rest of the agent's loop.
  Result<int> consume_events();

  // Tamper protection (docs/threat-model.md): records this process as the agent, and every
  // object, pin, mount and mapped file that is modgate's, in the guard maps the programs consult.
  // Call before installing a policy with protect: true (protection starts with that policy);
  // attach_and_pin records again once the links and pins exist. Entries are only added: an id of
  // a live object never becomes wrong, and removing one first would open a gap.
  Result<Ok> record_guard();

  // Sum over CPUs of each MG_STAT_* slot.
  Result<std::array<std::uint64_t, MG_STAT_COUNT>> stats() const;

 private:
  Enforcer() = default;
  static int on_event(void* ctx, void* data, size_t size);
  Result<Ok> record_guard_in(const std::string& dir);

  std::string pin_dir_;
  bool adopted_ = false;
  std::optional<std::string> replaced_;
  hooks::Selection selection_;
  struct modgate_lsm* skel_ = nullptr;                   // null when adopted
  int policy_fd_ = -1, events_fd_ = -1, stats_fd_ = -1;  // owned duplicates
  int guard_fd_ = -1, guard_ids_fd_ = -1;
  bool guard_recorded_ = false;  // record again after pinning
  std::vector<int> link_fds_;
  struct ring_buffer* rb_ = nullptr;
  EventFn event_fn_;
  int batch_ = 0;
};

}  // namespace modgate
