// SPDX-License-Identifier: Apache-2.0
// What may become the policy in force. Every source (the --policy file, SIGHUP, --watch, the
// control socket, an HTTPS pull) hands its bytes here; the daemon installs only what admit()
// returns. The rules live in one place so they are the same for all sources, and they are
// testable without a kernel:
//   - with a trust store (--trust DIR) only signed bundles are accepted, and a verified bundle's
//     version must lie above the highest signed version this host ever applied (the high-water
//     mark, kept in the state directory across restarts and reboots);
//   - the policy's `kernels` must match this kernel; its version must rise (or --force);
//   - a staged rollout is resolved to this host's effective mode from its machine id.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "policy/bundle.h"
#include "policy/policy.h"
#include "policy/result.h"
#include "policy/rollout.h"

namespace modgate {

// A policy refused; nothing changed. `reason` is a stable word (status, events, metric labels).
struct Refusal {
  std::string reason;
  std::string message;  // one sentence naming the input and the fix
  std::string errors;   // FILE:LINE:COL lines when the policy itself is invalid
};

// Bytes that decoded to a valid policy, signed or not.
struct Candidate {
  policy::Policy policy;
  std::string raw;  // as received: what is saved so that a restart can re-verify it
  std::optional<policy::VerifiedBundle> bundle;  // set when it came as a verified bundle
  std::string source;
};

// What the kernel enforces now, as far as admission cares.
struct InForce {
  std::uint64_t version = 0;
  Sha256 digest{};
  policy::Mode mode = policy::Mode::kDryRun;  // as the kernel runs it
};

// What admit() does with a policy whose `kernels:` does not name this kernel.
enum class KernelRule {
  kMustMatch,  // refuse it (other_kernel): an apply on a running host
  // Admit it as the policy's `other_kernels:` says (report: in dry-run; enforce: as written):
  // a start that would otherwise leave the host with no policy at all (docs/boot.md)
  kFallback,
};

struct Admitted {
  bool unchanged = false;  // this exact policy is already in force: nothing to install
  policy::EffectiveMode mode;
  policy::CompiledPolicy compiled;  // empty when unchanged
};

class Admission {
 public:
  struct Options {
    std::string trust_dir;  // empty: plain policy files, no signatures
    std::string state_dir;  // where the high-water mark and the applied policy are kept
    std::string machine_id_file = std::string(policy::kDefaultMachineIdPath);
    std::int64_t max_future_skew = policy::kDefaultMaxFutureSkew;
  };

  // Loads the trust store and the high-water mark. A corrupt mark is an error, not a zero: a
  // silent reset would re-open every older bundle.
  static Result<Admission> open(const Options& options);
  // An admission that refuses everything it is handed, saying why (trust_unavailable): what a
  // start whose trust store or mark cannot be read runs with, so that the agent still attaches,
  // reports and says why, instead of exiting and leaving the host open. Restart to recover.
  static Admission unavailable(const Options& options, std::string why);

  // The highest signed version applied on this host and its digest: the anti-rollback mark.
  struct Mark {
    std::uint64_t version = 0;
    Sha256 digest{};
  };

  // True with --trust, even when the store could not be read: nothing unsigned is ever accepted.
  bool signed_only() const { return trust_.has_value() || !o_.trust_dir.empty(); }
  std::uint64_t high_water() const { return mark_.version; }

  // The most any source may hand to decode().
  std::uint64_t max_input_bytes() const;

  // Verifies (bundle) or parses (plain file) without looking at the kernel.
  std::variant<Candidate, Refusal> decode(std::string bytes, const std::string& source,
                                          std::int64_t now) const;

  // Checks a candidate against this host and the policy in force and compiles it for this host.
  // A policy already in force in another mode (a fallback ran it dry-run) is not "unchanged": it
  // is installed again in its own mode, whatever the version rule says of its unchanged version.
  std::variant<Admitted, Refusal> admit(const Candidate& c, const std::optional<InForce>& in_force,
                                        bool force, std::string_view kernel_release,
                                        KernelRule rule = KernelRule::kMustMatch);

  // After the kernel took the candidate: raises the high-water mark (signed) and saves the
  // bytes for a restart. The policy is in force either way; an error here is a warning.
  Result<Ok> commit(const Candidate& c);

  // The saved bytes of the policy applied last, if any (see commit()).
  std::optional<std::string> saved() const;
  std::string saved_path() const;

  nlohmann::ordered_json status() const;  // the "trust" object of `modgate status`

 private:
  explicit Admission(Options o) : o_(std::move(o)) {}
  Result<std::string> machine_id();

  Options o_;
  std::optional<policy::TrustStore> trust_;
  Mark mark_;
  std::optional<std::string> machine_id_;   // read once, when a staged policy first needs it
  std::optional<std::string> unavailable_;  // why every decode() is refused, if it is
};

}  // namespace modgate
