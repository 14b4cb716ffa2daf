// The one owner of bpf/modgate_lsm.bpf.c's skeleton: open, load, attach, install a policy, drain
// events, read counters. Every failure comes back as one sentence naming the step.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "modgate_abi.h"
#include "policy/policy.h"
#include "policy/result.h"

struct modgate_lsm;  // the bpftool skeleton of bpf/modgate_lsm.bpf.c
struct ring_buffer;

namespace modgate {

// Checks that the kernel can run modgate at all, before anything is loaded. Each problem is one
// sentence with the fix; the first one found is returned.
Result<Ok> preflight();

class Enforcer {
 public:
  using EventFn = std::function<void(const mg_event&)>;

  // Loads and verifies the programs; nothing is attached yet.
  static Result<std::unique_ptr<Enforcer>> load();
  ~Enforcer();
  Enforcer(const Enforcer&) = delete;
  Enforcer& operator=(const Enforcer&) = delete;

  // Builds a complete new policy map, freezes it, then swaps it in with one map update.
  Result<Ok> install(const policy::CompiledPolicy& compiled);
  // Attaches every program; all or nothing.
  Result<Ok> attach();

  Result<Ok> open_events(EventFn fn);
  // Waits up to timeout_ms for events and hands each to the callback; returns how many.
  Result<int> poll_events(int timeout_ms);

  // Sum over CPUs of each MG_STAT_* slot.
  Result<std::array<std::uint64_t, MG_STAT_COUNT>> stats() const;

 private:
  Enforcer() = default;
  static int on_event(void* ctx, void* data, size_t size);

  struct modgate_lsm* skel_ = nullptr;
  struct ring_buffer* rb_ = nullptr;
  EventFn event_fn_;
  std::uint64_t malformed_events_ = 0;
};

}  // namespace modgate
