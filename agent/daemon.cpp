// SPDX-License-Identifier: Apache-2.0

#include "agent/daemon.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/admission.h"
#include "agent/bpf/enforcer.h"
#include "agent/bpf/libbpf_log.h"
#include "agent/control/protocol.h"
#include "agent/disarm.h"
#include "agent/events.h"
#include "agent/fleet/pull.h"
#include "agent/protect.h"
#include "agent/report/prometheus.h"
#include "agent/sd_notify.h"
#include "agent/util/atomic_file.h"
#include "policy/installed.h"
#include "policy/policy.h"
#include "policy/preloaded.h"

namespace modgate {
namespace {

using nlohmann::ordered_json;

// The ABI header's stat indices are int arithmetic (it is C shared with the BPF side); named here
// as the size_t indices they are into the stats array.
// Where installed kernels keep their trees; the DaemonSet mounts the host's there too.
constexpr const char* kModulesDir = "/lib/modules";
constexpr std::size_t kStatRingbufLost = static_cast<std::size_t>(MG_STAT_RINGBUF_LOST);
constexpr std::size_t kStatHashFailed = static_cast<std::size_t>(MG_STAT_HASH_FAILED);

std::string errstr(int e) { return std::strerror(e); }

std::string utc_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ordered_json unattached_json(const hooks::Selection& sel) {
  ordered_json out = ordered_json::array();
  for (const auto& u : sel.unmatched)
    out.push_back({{"hook", u.hook},
                   {"essential", u.essential},
                   {"kernel_params", u.params},
                   {"message", u.message}});
  return out;
}

// What admission needs to know of the policy the kernel holds.
InForce in_force_of(const mg_config& cfg) {
  InForce f{cfg.policy_version,
            {},
            cfg.mode == MG_MODE_ENFORCE ? policy::Mode::kEnforce : policy::Mode::kDryRun};
  std::memcpy(f.digest.data(), cfg.policy_digest, f.digest.size());
  return f;
}

// nullopt where the kernel has no function tracer (then nothing can switch the trampolines off).
std::optional<bool> read_ftrace_enabled() {
  std::ifstream in("/proc/sys/kernel/ftrace_enabled");
  char c = 0;
  if (!(in >> c)) return std::nullopt;
  return c != '0';
}

std::string kernel_release() {
  utsname u{};
  uname(&u);
  return u.release;
}

class Daemon {
 public:
  explicit Daemon(const DaemonOptions& o) : o_(o) {}
  int run();

 private:
  struct ApplyResult {
    bool ok = false;
    bool changed = false;
    std::string reason;  // the Refusal's word when refused
    std::string message;
    std::string errors;  // FILE:LINE:COL lines, newline-separated, when the file is invalid
  };

  int fail(const std::string& msg) {
    std::cerr << "modgate run: " << msg << std::endl;
    return 1;
  }
  ApplyResult apply(std::string bytes, const std::string& file, bool force,
                    const std::string& source);
  // The same for a policy already decoded (startup checks its policy before touching the kernel
  // and hands it on, rather than parsing it a second time).
  ApplyResult apply(const Candidate& c, const std::string& file, bool force,
                    const std::string& source, KernelRule rule = KernelRule::kMustMatch);
  // The start could not put its policy in force (docs/boot.md, "When the start fails"): a
  // fallback runs instead, and this says so on stderr, in an event, in status, in the metrics and
  // to systemd, until a policy is applied.
  struct Fallback {
    std::string reason;   // the refusal's word, or unreadable, pull_failed, trust_unavailable
    std::string message;  // why, naming the input
    std::string action;   // report | deny (the fallback policy), or the policy's other_kernels
    std::int64_t since_unix = 0;
  };
  void enter_fallback(Fallback f);
  void leave_fallback(const std::string& source);
  // Installs fallback_policy(o_.fallback) when nothing else is in force.
  Result<Ok> install_fallback();
  std::optional<Fallback> fallback_;
  std::string notify_status() const;
  void refuse_apply(ApplyResult& res, const Refusal& r, const std::string& file, bool force,
                    const std::string& source);
  // Makes a candidate the policy this agent knows to be in force (names, status, events).
  void adopt_known(const Candidate& c, const policy::EffectiveMode& mode);
  // Version, digest, effective mode, rollout and signer of the policy in force.
  ordered_json applied_details() const;
  ordered_json rollout_json() const;
  // Why this agent cannot offer tamper protection, or nothing when it can. The one place that
  // decides whether `protect: true` is accepted at all.
  std::optional<std::string> protect_unavailable() const;
  bool protection_in_force() const;
  // What status reports as last_apply and the policy_apply event say, for every outcome.
  void record_apply(const std::string& result, const std::string& source, const std::string& file,
                    bool forced, const std::string& message, const ordered_json& details);
  Result<Ok> setup_socket();
  // Clients are served without blocking the loop: a slow or stalled one costs nothing but its
  // slot until its deadline, while events keep flowing.
  struct Client {
    std::string buf;
    std::chrono::steady_clock::time_point deadline;
  };
  void accept_clients();
  void read_client(int fd);
  void finish_client(int fd, const ordered_json& reply);
  ordered_json handle_request(const std::string& req);
  int next_client_timeout_ms() const;
  void check_ftrace();
  void expire_clients();
  ordered_json status() const;
  // Rewrites --metrics-file from status(); a failure is reported once per change of message.
  void write_metrics();
  std::string metrics_error_;
  void reload_file(const std::string& source);
  Result<std::string> read_input(const std::string& path) const;
  void on_pull();
  ordered_json pull_status() const;
  ordered_json kernels_status() const;
  void print_counters() const;
  void on_event(const mg_event& e);
  void note_preloaded(const policy::Policy* full);
  // An apply frees what it parsed and compiled (the request's text, the candidate, the map
  // entries), and glibc keeps what was freed mapped: without a trim an agent that once applied a
  // 100 k-hash policy stays at its peak for good (docs/performance.md). Called once the apply and
  // its request are gone.
  void trim_after_apply() {
    if (!trim_due_) return;
    trim_due_ = false;
    ::malloc_trim(0);
  }
  bool trim_due_ = false;

  const DaemonOptions& o_;
  std::unique_ptr<Enforcer> enf_;
  // The policy in force, when we know its text: its header only (version, digest, mode, rollout,
  // ...), its sections emptied; names_ keeps what events need of those.
  std::optional<policy::Policy> policy_;
  std::optional<PolicyNames> names_;
  policy::EffectiveMode effective_;  // how this host runs policy_ (rollout resolved)
  ordered_json signed_ = nullptr;    // key id, key file and creation time when signed
  std::optional<Admission> admission_;
  std::string commit_error_;  // why the last applied policy could not be saved, if it could not
  std::unique_ptr<fleet::Puller> puller_;
  std::unique_ptr<std::ofstream> events_file_;
  std::unique_ptr<EventWriter> writer_;
  std::string policy_path_;  // the file SIGHUP and the watch re-read
  int listen_fd_ = -1;
  int ep_ = -1;
  std::map<int, Client> clients_;
  int lock_fd_ = -1;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  ordered_json last_apply_ = nullptr;
  // Outcomes of every apply since start, for status and metrics.
  ordered_json apply_stats_ = {{"last_success_unix", nullptr},
                               {"last_failure_unix", nullptr},
                               {"failures_total", 0},
                               {"refusals", ordered_json::object()}};
  const std::int64_t start_unix_ = unix_now();
  std::chrono::steady_clock::time_point metrics_due_ = std::chrono::steady_clock::now();
  // kernel.ftrace_enabled as last seen (nullopt: no such sysctl); 0 stops every BPF trampoline,
  // modgate's programs with them, so a change is said at once, loudly.
  std::optional<bool> ftrace_enabled_;
  std::chrono::steady_clock::time_point ftrace_due_ = std::chrono::steady_clock::now();
  bool disarm_requested_ = false;
  std::unique_ptr<response::HookRunner> hooks_;
  ordered_json preloaded_ = nullptr;  // the loaded_before_enforcement status object
};

bool Daemon::protection_in_force() const {
  auto kp = enf_->policy_in_force();
  // Unreadable means unknown, and unknown is treated as protected.
  if (!kp) return true;
  return *kp && protect::effective((*kp)->config.mode, (*kp)->config.flags);
}

std::optional<std::string> Daemon::protect_unavailable() const {
  // Unsigned, a protected policy proves nothing: any root user could apply one that lists a
  // rootkit and is then protected from being replaced.
  if (!admission_->signed_only())
    return "this agent runs without --trust, and tamper protection is only offered for signed "
           "policies (docs/threat-model.md)";
  return std::nullopt;
}

Daemon::ApplyResult Daemon::apply(std::string bytes, const std::string& file, bool force,
                                  const std::string& source) {
  trim_due_ = true;
  auto decoded = admission_->decode(std::move(bytes), file, unix_now());
  if (auto* r = std::get_if<Refusal>(&decoded)) {
    ApplyResult res;
    refuse_apply(res, *r, file, force, source);
    return res;
  }
  return apply(std::get<Candidate>(decoded), file, force, source);
}

void Daemon::refuse_apply(ApplyResult& res, const Refusal& r, const std::string& file, bool force,
                          const std::string& source) {
  res.message = r.message;
  res.reason = r.reason;
  if (res.message.find("unchanged") == std::string::npos)
    res.message += "; the policy in force is unchanged";
  res.errors = r.errors;
  record_apply("refused", source, file, force, res.message, {{"reason", r.reason}});
}

Daemon::ApplyResult Daemon::apply(const Candidate& c, const std::string& file, bool force,
                                  const std::string& source, KernelRule rule) {
  ApplyResult res;
  trim_due_ = true;
  auto refuse = [&](const Refusal& r) {
    refuse_apply(res, r, file, force, source);
    return res;
  };

  auto kernel = enf_->policy_in_force();
  if (!kernel) return refuse({"kernel_error", kernel.error().message, {}});
  std::optional<InForce> in_force;
  if (*kernel) in_force = in_force_of((*kernel)->config);
  auto admitted = admission_->admit(c, in_force, force, kernel_release(), rule);
  if (auto* r = std::get_if<Refusal>(&admitted)) return refuse(*r);
  Admitted& a = std::get<Admitted>(admitted);
  const std::string version = std::to_string(c.policy.version);
  if (a.unchanged) {
    res.ok = true;
    res.message = "policy version " + version + " is already in force";
    if (c.bundle && c.policy.version > admission_->high_water()) (void)admission_->commit(c);
    if (!policy_) adopt_known(c, a.mode);
    if (rule == KernelRule::kMustMatch) leave_fallback(source);
    // Recorded all the same: after a refused file, the good one coming back clears the refusal
    // from status.
    auto details = applied_details();
    details["unchanged"] = true;
    record_apply("ok", source, file, force, res.message, details);
    return res;
  }
  const bool protected_now =
      *kernel && protect::effective((*kernel)->config.mode, (*kernel)->config.flags);
  if (auto why = protect::apply_refusal(protected_now, c.policy, file, source, c.bundle.has_value(),
                                        protect_unavailable()))
    return refuse({"protected", *why, {}});
  // The agent is recorded before the policy that makes the kernel ask who the agent is (in
  // dry-run too, where the kernel reports what it would refuse).
  if (c.policy.protect)
    if (auto r = enf_->record_guard(); !r) return refuse({"kernel_error", r.error().message, {}});
  if (auto r = enf_->install(a.compiled); !r)
    return refuse({"kernel_error", r.error().message, {}});

  res.ok = res.changed = true;
  const std::string effective(policy::mode_name(a.mode.mode));
  // The digest travels in its own field; the message stays short enough for a terminal line.
  res.message =
      "policy version " + version + " in force: mode " + effective +
      (a.mode.staged ? std::string(a.mode.in_cohort() ? " (in the " : " (outside the ") +
                           policy::percent_string(a.mode.enforce_basis_points) + "% rollout)"
                     : std::string()) +
      ", " + std::to_string(a.compiled.allow.size()) + " hashes allowlisted" +
      (force ? " (forced)" : "");
  adopt_known(c, a.mode);
  if (rule == KernelRule::kMustMatch) leave_fallback(source);
  record_apply("ok", source, file, force, res.message, applied_details());
  if (force)
    std::cerr << "modgate: FORCED apply from " << source << ": " << res.message << std::endl;
  // Kept so that an agent that adopts this policy after a restart can name its modules, and (for
  // signed policies) so that the anti-rollback mark survives.
  if (auto r = admission_->commit(c); !r) {
    commit_error_ = r.error().message;
    std::cerr << "modgate: warning: " << commit_error_ << std::endl;
  } else {
    commit_error_.clear();
  }
  return res;
}

namespace {

// What a fallback does, for the people reading stderr, the event and status.
std::string fallback_effect(const std::string& reason, const std::string& action) {
  if (reason == "other_kernel")
    return action == "enforce"
               ? "the policy is enforced as written on this kernel (other_kernels: enforce)"
               : "the policy runs dry-run on this kernel: every load it does not list is "
                 "reported as would-deny and none is refused (other_kernels: report)";
  return action == "deny"
             ? "a fallback policy with no entries is enforced: every module load is refused "
               "(--fallback deny)"
             : "a fallback policy with no entries runs dry-run: every module load is reported "
               "as would-deny and none is refused (--fallback report)";
}

}  // namespace

Result<Ok> Daemon::install_fallback() {
  auto compiled = policy::compile(fallback_policy(o_.fallback));
  if (!compiled) return compiled.error();
  if (auto r = enf_->install(*compiled); !r) return r.error();
  policy_.reset();
  names_.reset();
  if (writer_) writer_->set_policy(nullptr);
  return Ok{};
}

void Daemon::enter_fallback(Fallback f) {
  const std::string effect = fallback_effect(f.reason, f.action);
  std::cerr << "modgate: FALLBACK (" << f.reason << "): " << f.message << ". Until a policy is "
            << "applied, " << effect << "." << std::endl;
  fallback_ = std::move(f);
  if (writer_)
    writer_->write_record(ordered_json{{"event", "fallback"},
                                       {"reason", fallback_->reason},
                                       {"action", fallback_->action},
                                       {"message", fallback_->message},
                                       {"effect", effect}});
  sd_notify("STATUS=" + notify_status());
}

void Daemon::leave_fallback(const std::string& source) {
  if (!fallback_) return;
  std::cerr << "modgate: fallback (" << fallback_->reason << ") ended: a policy from " << source
            << " is in force" << std::endl;
  if (writer_)
    writer_->write_record(ordered_json{
        {"event", "fallback_cleared"}, {"reason", fallback_->reason}, {"source", source}});
  fallback_.reset();
  sd_notify("STATUS=" + notify_status());
}

std::string Daemon::notify_status() const {
  auto kp = enf_ ? enf_->policy_in_force() : Result<std::optional<KernelPolicy>>(std::nullopt);
  std::string s =
      kp && *kp ? std::string((*kp)->config.mode == MG_MODE_ENFORCE ? "enforcing" : "dry-run") +
                      " policy version " + std::to_string((*kp)->config.policy_version)
                : std::string("no policy in force");
  if (fallback_) s = "FALLBACK (" + fallback_->reason + ", " + fallback_->action + "): " + s;
  return s;
}

void Daemon::adopt_known(const Candidate& c, const policy::EffectiveMode& mode) {
  names_.emplace(c.policy);
  policy_.emplace();
  policy_->version = c.policy.version;
  policy_->mode = c.policy.mode;
  policy_->rollout = c.policy.rollout;
  policy_->kernels = c.policy.kernels;
  if (c.policy.firmware) policy_->firmware.emplace();
  if (c.policy.kexec) policy_->kexec.emplace();
  policy_->autoload = c.policy.autoload;
  policy_->log_allowed = c.policy.log_allowed;
  policy_->allow_forced = c.policy.allow_forced;
  policy_->allow_empty = c.policy.allow_empty;
  policy_->protect = c.policy.protect;
  policy_->digest = c.policy.digest;
  effective_ = mode;
  signed_ = nullptr;
  if (c.bundle)
    signed_ = ordered_json{{"key_id", c.bundle->key_id()},
                           {"key_file", c.bundle->key_file},
                           {"created", policy::utc_time_string(c.bundle->created())}};
  if (writer_) writer_->set_policy(&*names_);
}

ordered_json Daemon::applied_details() const {
  ordered_json d = ordered_json::object();
  if (!policy_) return d;
  d["version"] = policy_->version;
  d["digest"] = to_hex(policy_->digest);
  d["mode"] = policy::mode_name(effective_.mode);
  d["configured_mode"] = policy::mode_name(policy_->mode);
  if (effective_.staged) d["rollout"] = rollout_json();
  if (!signed_.is_null()) d["signed"] = signed_;
  return d;
}

ordered_json Daemon::rollout_json() const {
  if (!effective_.staged || !policy_ || !policy_->rollout) return nullptr;
  return ordered_json{
      {"enforce_percent", static_cast<double>(effective_.enforce_basis_points) / 100.0},
      {"salt", policy_->rollout->salt},
      {"bucket", effective_.bucket},
      {"in_cohort", effective_.in_cohort()}};
}

void Daemon::record_apply(const std::string& result, const std::string& source,
                          const std::string& file, bool forced, const std::string& message,
                          const ordered_json& details) {
  last_apply_ = ordered_json{{"result", result}, {"time", utc_now()}, {"source", source},
                             {"file", file},     {"forced", forced},  {"message", message}};
  for (const auto& [k, v] : details.items()) last_apply_[k] = v;
  const std::int64_t now = unix_now();
  if (result == "ok") {
    apply_stats_["last_success_unix"] = now;
  } else {
    apply_stats_["last_failure_unix"] = now;
    apply_stats_["failures_total"] = apply_stats_["failures_total"].get<std::uint64_t>() + 1;
    std::string reason = details.value("reason", "other");
    auto& n = apply_stats_["refusals"][reason];
    n = n.is_null() ? 1 : n.get<std::uint64_t>() + 1;
  }
  if (writer_) writer_->write_apply(result, source, file, forced, message, details);
  write_metrics();
}

void Daemon::reload_file(const std::string& source) {
  auto bytes = read_input(policy_path_);
  if (!bytes) {
    record_apply("refused", source, policy_path_, false, bytes.error().message,
                 {{"reason", "unreadable"}});
    std::cerr << "modgate: " << source << ": " << bytes.error().message << std::endl;
    return;
  }
  auto r = apply(std::move(*bytes), policy_path_, false, source);
  if (!r.errors.empty()) std::cerr << r.errors << std::endl;
  if (r.changed || !r.ok) std::cerr << "modgate: " << source << ": " << r.message << std::endl;
}

Result<std::string> Daemon::read_input(const std::string& path) const {
  // A bundle may carry a maximum-size policy plus its header.
  return admission_->signed_only() ? policy::read_bundle_file(path)
                                   : policy::read_policy_text(path);
}

void Daemon::on_pull() {
  for (auto& r : puller_->take()) {
    const std::string url = fleet::redact_url(puller_->config().url);
    if (r.kind == fleet::PullKind::kError) {
      std::cerr << "modgate: pull: " << r.message << "; the policy in force is unchanged"
                << std::endl;
      continue;
    }
    if (r.kind != fleet::PullKind::kNew) continue;
    auto res = apply(std::move(r.body), url, false, "pull");
    if (!res.errors.empty()) std::cerr << res.errors << std::endl;
    if (res.changed || !res.ok) std::cerr << "modgate: pull: " << res.message << std::endl;
  }
  write_metrics();
}

ordered_json Daemon::pull_status() const {
  if (!puller_) return nullptr;
  auto st = puller_->stats();
  auto unix_or_null = [](std::chrono::system_clock::time_point t) {
    return t.time_since_epoch().count() == 0
               ? ordered_json(nullptr)
               : ordered_json(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())
                                  .count());
  };
  return ordered_json{
      {"url", fleet::redact_url(puller_->config().url)},
      {"interval_s", puller_->config().interval.count()},
      {"attempts", st.attempts},
      {"failures_total", st.failures_total},
      {"consecutive_failures", st.consecutive_failures},
      {"last_success_unix", unix_or_null(st.last_success_time)},
      {"last_failure_unix", unix_or_null(st.last_failure_time)},
      {"last_error", st.last_error.empty() ? ordered_json(nullptr) : ordered_json(st.last_error)},
      {"last_http_status", st.last_http_status},
      {"etag", st.last_etag.empty() ? ordered_json(nullptr) : ordered_json(st.last_etag)},
      {"next_poll_unix", unix_or_null(st.next_poll_time)}};
}

Result<Ok> Daemon::setup_socket() {
  const std::string dir = dirname_of(o_.socket_path);
  if (auto r = mkdir_p(dir, 0700); !r) return r;
  // One agent per socket: the lock is held for the process's life and released by the kernel
  // however it ends, so a stale lock cannot block a restart.
  const std::string lock = o_.socket_path + ".lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return Error{"cannot open " + lock + ": " + errstr(errno)};
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return Error{"another modgate agent is running (it holds " + lock + ")"};

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (o_.socket_path.size() >= sizeof(addr.sun_path))
    return Error{"socket path too long: " + o_.socket_path};
  std::memcpy(addr.sun_path, o_.socket_path.c_str(), o_.socket_path.size() + 1);
  ::unlink(o_.socket_path.c_str());  // stale: we hold the lock, so no agent owns it
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return Error{"socket: " + errstr(errno)};
  // Created 0600 from the start (umask), not chmod-ed after: no instant where others could
  // connect.
  mode_t old = ::umask(0177);
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc != 0) return Error{"cannot bind " + o_.socket_path + ": " + errstr(errno)};
  if (::listen(listen_fd_, 16) != 0) return Error{"listen: " + errstr(errno)};
  return Ok{};
}

// Listed on every status request rather than watched: a readdir of /lib/modules costs less than
// keeping an inotify watch honest across kernel installs, and the metrics file is rewritten on a
// timer anyway.
ordered_json Daemon::kernels_status() const {
  if (!policy_) return nullptr;
  auto r = policy::installed_kernels_not_covered(*policy_, kModulesDir, kernel_release());
  if (!r) return ordered_json{{"modules_dir", kModulesDir}, {"error", r.error().message}};
  return ordered_json{{"modules_dir", kModulesDir}, {"not_covered", *r}};
}

ordered_json Daemon::status() const {
  ordered_json s;
  auto in_force = enf_->policy_in_force();
  ordered_json pol = nullptr;
  if (in_force && *in_force) {
    const auto& kp = **in_force;
    pol = ordered_json{{"mode", kp.config.mode == MG_MODE_ENFORCE ? "enforce" : "dry-run"},
                       {"version", kp.config.policy_version},
                       {"digest", to_hex(kp.config.policy_digest)},
                       {"entries", kp.allowlist_entries()},
                       {"autoload_allow", kp.config.n_autoload_allow},
                       {"autoload_deny", kp.config.n_autoload_deny},
                       {"log_allowed", (kp.config.flags & MG_CFG_LOG_ALLOWED) != 0},
                       {"allow_forced", (kp.config.flags & MG_CFG_ALLOW_FORCED) != 0},
                       {"protect", (kp.config.flags & MG_CFG_PROTECT) != 0},
                       {"firmware", (kp.config.flags & MG_CFG_FIRMWARE) != 0},
                       {"kexec", (kp.config.flags & MG_CFG_KEXEC) != 0},
                       {"names_known", policy_.has_value()}};
    if (policy_ && std::memcmp(kp.config.policy_digest, policy_->digest.data(), 32) == 0) {
      pol["configured_mode"] = policy::mode_name(policy_->mode);
      pol["rollout"] = rollout_json();
      pol["signed"] = signed_;
    }
  }
  s["policy"] = pol;
  s["kernels"] = kernels_status();
  if (auto f = read_ftrace_enabled())
    s["ftrace_enabled"] = *f;
  else
    s["ftrace_enabled"] = nullptr;
  s["fallback"] =
      fallback_ ? ordered_json{{"reason", fallback_->reason},
                               {"action", fallback_->action},
                               {"message", fallback_->message},
                               {"effect", fallback_effect(fallback_->reason, fallback_->action)},
                               {"since_unix", fallback_->since_unix}}
                : ordered_json(nullptr);
  ordered_json counters = ordered_json::object();
  std::uint64_t lost = 0, hash_failed = 0, new_read_ids = 0;
  ordered_json tamper = ordered_json::object();
  ordered_json by_kind = ordered_json::object();
  if (auto st = enf_->stats(); st) {
    for (std::uint32_t hook = 1; hook < MG_HOOK_COUNT; hook++) {
      ordered_json h;
      for (std::uint32_t v = 0; v < MG_VERDICT_COUNT; v++)
        h[verdict_name(v)] = (*st)[hook * MG_VERDICT_COUNT + v];
      counters[hook_name(hook)] = h;
    }
    lost = (*st)[kStatRingbufLost];
    new_read_ids = (*st)[MG_STAT_NEW_READ_ID];
    hash_failed = (*st)[kStatHashFailed];
    for (std::uint32_t op = 0; op < MG_TAMPER_COUNT; op++)
      tamper[tamper_op_name(op)] = (*st)[MG_STAT_TAMPER + op];
    for (std::uint32_t kind = 0; kind < MG_KIND_COUNT; kind++) {
      ordered_json k;
      for (std::uint32_t v = 0; v < MG_VERDICT_COUNT; v++)
        k[verdict_name(v)] = (*st)[MG_STAT_KIND + kind * MG_VERDICT_COUNT + v];
      by_kind[kind_name(kind)] = k;
    }
  }
  s["counters"] = counters;
  s["decisions_by_kind"] = by_kind;
  s["events_lost"] = lost;
  s["hash_failures"] = hash_failed;
  s["new_read_ids"] = new_read_ids;
  s["tamper_attempts"] = tamper;
  s["last_apply"] = last_apply_;
  s["apply"] = apply_stats_;
  if (!commit_error_.empty()) s["apply"]["save_error"] = commit_error_;
  s["trust"] = admission_ ? admission_->status() : ordered_json(nullptr);
  s["pull"] = pull_status();
  s["loaded_before_enforcement"] = preloaded_;
  s["hooks"] = hooks_ ? hooks_->status() : ordered_json(nullptr);
  const std::string own = o_.pin_dir + "/" + object_tag();
  struct stat st {};
  s["agent"] = ordered_json{
      {"pid", ::getpid()},
      {"start_unix", start_unix_},
      {"uptime_s",
       std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
           .count()},
      {"kernel_release", kernel_release()},
      {"object", object_tag()},
      {"adopted", enf_->adopted()},
      {"programs", enf_->hooks().load},
      {"hooks_unattached", unattached_json(enf_->hooks())},
      {"pinned", ::stat((own + "/policy").c_str(), &st) == 0},
      {"pin_dir", o_.pin_dir},
      {"socket", o_.socket_path},
      {"policy_file", policy_path_.empty() ? ordered_json(nullptr) : ordered_json(policy_path_)},
      {"watch_dir", o_.watch_dir.empty() ? ordered_json(nullptr) : ordered_json(o_.watch_dir)}};
  return s;
}

void Daemon::write_metrics() {
  if (o_.metrics_file.empty() || !enf_) return;
  metrics_due_ = std::chrono::steady_clock::now() + o_.metrics_interval;
  auto r = report::write_textfile(o_.metrics_file, report::render_prometheus(status()));
  std::string err = r ? std::string() : r.error().message;
  if (err != metrics_error_ && !err.empty()) std::cerr << "modgate: " << err << std::endl;
  metrics_error_ = err;
}

constexpr std::size_t kMaxClients = 32;
constexpr auto kClientTimeout = std::chrono::seconds(5);

void Daemon::accept_clients() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    ucred cred{};
    socklen_t len = sizeof(cred);
    clients_[fd] = Client{{}, std::chrono::steady_clock::now() + kClientTimeout};
    // The socket is 0600 already; the peer check also covers a descriptor passed to a non-root
    // process.
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
      finish_client(
          fd, {{"ok", false}, {"error", "permission denied: the control socket is for root only"}});
      continue;
    }
    if (clients_.size() > kMaxClients) {
      finish_client(fd, {{"ok", false}, {"error", "busy: too many clients, retry"}});
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) finish_client(fd, {{"ok", false}});
  }
}

void Daemon::read_client(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  std::string& buf = it->second.buf;
  char chunk[65536];
  bool eof = false;
  for (;;) {
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;  // EAGAIN: wait for more
    if (n == 0) {
      eof = true;
      break;
    }
    buf.append(chunk, static_cast<size_t>(n));
    if (buf.size() > control::kMaxRequestBytes) {
      finish_client(fd, {{"ok", false}, {"error", "request too large"}});
      return;
    }
    if (buf.find('\n') != std::string::npos) break;
  }
  if (buf.find('\n') != std::string::npos || eof) finish_client(fd, handle_request(buf));
}

void Daemon::finish_client(int fd, const ordered_json& reply) {
  // The reply is small; a short blocking send is enough, bounded by a timeout.
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string line = reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  for (size_t off = 0; off < line.size();) {
    ssize_t n = ::send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  clients_.erase(fd);
}

int Daemon::next_client_timeout_ms() const {
  int ms = 250;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [fd, c] : clients_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count();
    ms = static_cast<int>(std::clamp<long long>(left, 0, ms));
  }
  return ms;
}

void Daemon::check_ftrace() {
  auto now = std::chrono::steady_clock::now();
  if (now < ftrace_due_) return;
  ftrace_due_ = now + std::chrono::seconds(2);
  auto on = read_ftrace_enabled();
  if (!on || on == ftrace_enabled_) return;
  bool first = !ftrace_enabled_.has_value();
  ftrace_enabled_ = on;
  if (first && *on) return;
  if (!*on) {
    std::cerr << "modgate: kernel.ftrace_enabled is 0: the kernel runs none of modgate's programs, "
                 "so no load is judged or reported until it is 1 again (sysctl "
                 "kernel.ftrace_enabled=1; protect: true refuses the write)"
              << std::endl;
    writer_->write_record(ordered_json{{"event", "ftrace_disabled"},
                                       {"message",
                                        "kernel.ftrace_enabled is 0: modgate's programs "
                                        "do not run"}});
  } else {
    std::cerr << "modgate: kernel.ftrace_enabled is 1 again: modgate's programs run" << std::endl;
    writer_->write_record(ordered_json{{"event", "ftrace_enabled"}});
  }
  write_metrics();
}

void Daemon::expire_clients() {
  auto now = std::chrono::steady_clock::now();
  std::vector<int> late;
  for (const auto& [fd, c] : clients_)
    if (c.deadline <= now) late.push_back(fd);
  for (int fd : late)
    finish_client(fd, {{"ok", false}, {"error", "malformed request: no complete line received"}});
}

ordered_json Daemon::handle_request(const std::string& req) {
  auto nl = req.find('\n');
  if (nl == std::string::npos)
    return {{"ok", false}, {"error", "malformed request: no complete line received"}};
  auto r = control::parse_request(std::string_view(req).substr(0, nl));
  if (!r) return {{"ok", false}, {"error", r.error().message}};
  switch (r->cmd) {
    case control::Request::Cmd::kStatus:
      return {{"ok", true}, {"status", status()}};
    case control::Request::Cmd::kApply: {
      auto a = apply(r->content, r->file, r->force, "socket");
      ordered_json j{{"ok", a.ok}, {"changed", a.changed}, {"message", a.message}};
      if (!a.errors.empty()) j["errors"] = a.errors;
      if (a.ok && policy_) j["digest"] = to_hex(policy_->digest);
      if (a.ok && policy_) j["version"] = policy_->version;
      return j;
    }
    case control::Request::Cmd::kDisarm: {
      if (auto why = protect::disarm_refusal(protection_in_force()))
        return {{"ok", false}, {"error", *why}};
      // Our own references go first, so that removing the pins is what detaches the programs.
      enf_->release();
      disarm_requested_ = true;
      auto removed = Enforcer::unpin_all(o_.pin_dir);
      if (!removed) return {{"ok", false}, {"error", removed.error().message}};
      ::unlink((dirname_of(o_.socket_path) + "/" + policy::kPreloadedFileName).c_str());
      return {{"ok", true}, {"removed", unpinned_json(*removed)}};
    }
  }
  return {{"ok", false}, {"error", "unhandled command"}};
}

void Daemon::print_counters() const {
  auto st = enf_->stats();
  if (!st) return;
  std::cerr << "modgate: decisions:";
  bool any = false;
  for (std::uint32_t hook = 1; hook < MG_HOOK_COUNT; hook++) {
    std::string line;
    for (std::uint32_t v = 0; v < MG_VERDICT_COUNT; v++) {
      std::uint64_t n = (*st)[hook * MG_VERDICT_COUNT + v];
      if (n) line += std::string(" ") + verdict_name(v) + "=" + std::to_string(n);
    }
    if (!line.empty()) {
      std::cerr << "\n  " << hook_name(hook) << line;
      any = true;
    }
  }
  std::cerr << (any ? "\n  " : " none; ") << "events lost=" << (*st)[kStatRingbufLost]
            << " hash failures=" << (*st)[kStatHashFailed] << std::endl;
}

void Daemon::on_event(const mg_event& e) {
  std::string line = writer_->write(e);
  if (!hooks_) return;
  if (e.verdict == MG_VERDICT_DENY) hooks_->fire("on_deny", line + "\n");
  if (e.verdict == MG_VERDICT_WOULD_DENY) hooks_->fire("on_would_deny", line + "\n");
}

// A fresh start (nothing pinned) began enforcement just now: what is already in the kernel got in
// unchecked, so it is listed and checked. An adopting agent reports the record its first agent
// left for this boot (docs/boot.md).
void Daemon::note_preloaded(const policy::Policy* full) {
  const bool fresh = !enf_->adopted() && !enf_->replaced();
  auto kp = enf_->policy_in_force();
  std::uint64_t version = kp && *kp ? (*kp)->config.policy_version : 0;
  std::string digest = kp && *kp ? to_hex((*kp)->config.policy_digest) : "";
  auto pre = policy::preloaded_at_start(
      fresh, dirname_of(o_.socket_path) + "/" + policy::kPreloadedFileName, full, version, digest);
  preloaded_ = policy::preloaded_status(pre);
  if (!pre.note.empty()) std::cerr << "modgate: loaded before enforcement: " << pre.note << "\n";
  ordered_json ev{{"event", "loaded_before_enforcement"}};
  for (const auto& [k, v] : preloaded_.items()) ev[k] = v;
  writer_->write_record(ev);
}

int Daemon::run() {
  policy_path_ = o_.policy_file;
  if (!o_.watch_dir.empty() && policy_path_.empty()) policy_path_ = o_.watch_dir + "/policy.yaml";

  Admission::Options ao;
  ao.trust_dir = o_.trust_dir;
  ao.state_dir = o_.state_dir;
  ao.machine_id_file = o_.machine_id_file;
  ao.max_future_skew = o_.max_future_skew.count();
  // What keeps the configured policy from being put in force. It no longer ends the start: the
  // programs are attached all the same, and a fallback runs in its place, loudly (enter_fallback).
  std::optional<Fallback> failure;
  auto failed = [&](std::string reason, std::string message) {
    if (failure) return;
    // Said at once: should the kernel refuse the programs too, this is still the first thing
    // the operator reads.
    std::cerr << "modgate run: " << message << std::endl;
    failure = Fallback{std::move(reason), std::move(message), "", unix_now()};
  };
  auto adm = Admission::open(ao);
  if (adm) {
    admission_ = std::move(*adm);
  } else {
    failed("trust_unavailable", adm.error().message);
    admission_ = Admission::unavailable(ao, adm.error().message);
  }

  std::optional<fleet::PullConfig> pull;
  if (!o_.pull_url.empty()) {
    pull = fleet::PullConfig{};
    pull->url = o_.pull_url;
    pull->ca_file = o_.pull_ca;
    pull->interval = o_.pull_interval;
    std::string bad;
    if (auto r = fleet::check_config(*pull); !r)
      bad = r.error().message;
    else if (!admission_->signed_only())
      bad =
          "--pull needs --trust DIR: a policy fetched over the network is accepted only when "
          "signed by a trusted key";
    if (!bad.empty()) {
      failed("pull_config", bad);
      pull.reset();
    }
  }

  // Read and check the configured policy before touching the kernel.
  std::optional<std::string> bytes;
  std::string input = policy_path_;
  const bool pinned = Enforcer::pinned_policy_exists(o_.pin_dir);
  if (!policy_path_.empty()) {
    auto t = read_input(policy_path_);
    if (t)
      bytes = std::move(*t);
    else
      failed("unreadable", t.error().message);
  } else if (pull && !pinned) {
    // Nothing enforced (a reboot): the last applied bundle first, so that the host enforces
    // before the network is up; with none, one pull now.
    if (auto saved = admission_->saved()) {
      bytes = std::move(*saved);
      input = admission_->saved_path();
    } else {
      auto r = fleet::fetch_once(*pull, "");
      if (r.kind == fleet::PullKind::kNew) {
        bytes = std::move(r.body);
        input = fleet::redact_url(o_.pull_url);
      } else {
        failed("pull_failed",
               "no policy is in force and none is saved, and the first pull failed: " + r.message);
      }
    }
  }
  std::optional<Candidate> startup;
  if (bytes) {
    auto d = admission_->decode(std::move(*bytes), input, unix_now());
    if (auto* r = std::get_if<Refusal>(&d)) {
      if (!r->errors.empty()) std::cerr << r->errors << "\n";
      failed(r->reason, r->message);
    } else {
      startup = std::move(std::get<Candidate>(d));
      if (auto c = policy::compile(startup->policy); !c) {
        failed("invalid", c.error().message);
        startup.reset();
      }
    }
  }
  if (!startup && !pinned && !failure)
    return fail(
        "no policy given (--policy FILE, --watch DIR or --pull URL) and none is in force "
        "(nothing pinned in " +
        o_.pin_dir + "); modgate never runs without one.");
  if (!o_.hooks.empty() && !o_.arm_only) {
    auto h =
        response::HookRunner::create(o_.hooks, o_.hook_limits, [this](const ordered_json& rec) {
          if (writer_) writer_->write_record(rec);
        });
    if (!h) return fail(h.error().message);
    hooks_ = std::move(*h);
  }
  if (auto ok = preflight(); !ok) return fail(ok.error().message);
  if (auto r = setup_socket(); !r) return fail(r.error().message);

  libbpf_set_verbose(o_.verbose);
  auto enf = Enforcer::open(o_.pin_dir);
  if (!enf) return fail(enf.error().message);
  enf_ = std::move(*enf);
  // A tamper-protection hook this kernel has in a shape modgate has no program for: the rest is
  // attached, and the gap is said here, in status and in the metrics.
  for (const auto& u : enf_->hooks().unmatched)
    std::cerr << "modgate: warning: tamper protection is incomplete: " << u.message
              << "; that hook is not guarded" << std::endl;

  if (!o_.events_file.empty()) {
    events_file_ = std::make_unique<std::ofstream>(o_.events_file, std::ios::app);
    if (!*events_file_) return fail("cannot open events file " + o_.events_file);
  }
  writer_ = std::make_unique<EventWriter>(events_file_ ? *events_file_ : std::cout);

  auto in_force = enf_->policy_in_force();
  if (!in_force) return fail(in_force.error().message);
  if (!*in_force && !startup && !failure)
    return fail(
        "no policy given (--policy FILE, --watch DIR or --pull URL) and none is in force; "
        "modgate never runs without one.");
  bool applied = false;
  if (startup) {
    auto r = apply(*startup, input, false, "startup");
    applied = r.ok;
    if (!r.ok && r.reason == "other_kernel") {
      // Booted into a kernel the policy does not name (another kernel package, an upgrade): the
      // policy runs as its other_kernels: says, rather than not at all.
      auto fb = apply(*startup, input, false, "startup", KernelRule::kFallback);
      applied = fb.ok;
      if (fb.ok)
        enter_fallback(
            {"other_kernel", r.message.substr(0, r.message.find("; the policy in force")),
             std::string(policy::other_kernels_name(startup->policy.other_kernels)), unix_now()});
      else
        failed(fb.reason, fb.message);
    } else if (!r.ok) {
      failed(r.reason, r.message);
    }
  }
  if (failure && applied) {
    // The policy is in force; what failed was beside it (the pull's configuration).
    std::cerr << "modgate: warning: " << failure->message << std::endl;
  } else if (failure) {
    // Something enforced already (pinned): it stays, and the refusal is said. Nothing: the
    // fallback policy, never an open host.
    if (!*in_force) {
      if (auto r = install_fallback(); !r)
        return fail(failure->message + "; and the fallback policy could not be installed either: " +
                    r.error().message + ". Nothing is enforced.");
      failure->action = std::string(fallback_action_name(o_.fallback));
      enter_fallback(*failure);
    } else if (auto fb = fallback_of_digest((*in_force)->config.policy_digest)) {
      // A fallback a start before this one installed (the initramfs, a restart) still runs.
      failure->action = std::string(fallback_action_name(*fb));
      enter_fallback(*failure);
    } else {
      std::cerr << "modgate run: " << failure->message << "; the policy in force (version "
                << (*in_force)->config.policy_version << ") stays" << std::endl;
    }
  } else if (!startup && *in_force && !fallback_) {
    if (auto fb = fallback_of_digest((*in_force)->config.policy_digest))
      enter_fallback({"fallback_in_force",
                      "the policy in force is the fallback an earlier start installed, and this "
                      "start was given no policy to replace it",
                      std::string(fallback_action_name(*fb)), unix_now()});
  }
  if (!policy_) {
    // Adopted state: know the policy in force (names, rollout, signer) from the saved copy, if
    // that is what the kernel holds.
    auto now = enf_->policy_in_force();
    auto saved = admission_->saved();
    if (saved && now && *now) {
      auto d = admission_->decode(std::move(*saved), admission_->saved_path(), unix_now());
      if (auto* c = std::get_if<Candidate>(&d)) {
        // A policy for other kernels that a fallback start put in force is known all the same.
        auto a = admission_->admit(*c, in_force_of((*now)->config), false, kernel_release(),
                                   KernelRule::kFallback);
        if (auto* ok = std::get_if<Admitted>(&a); ok && ok->unchanged) adopt_known(*c, ok->mode);
      }
    }
  }
  writer_->set_policy(names_ ? &*names_ : nullptr);
  if (auto r = enf_->attach_and_pin(); !r) return fail(r.error().message);
  // The audit of what loaded before enforcement needs the whole allowlist, which only the startup
  // policy still has (policy_ keeps its header); a start with nothing pinned always applied it.
  const bool startup_in_force = startup && policy_ && startup->policy.digest == policy_->digest;
  note_preloaded(startup_in_force ? &startup->policy : nullptr);
  startup.reset();
  trim_due_ = true;
  if (o_.arm_only) {
    ::unlink(o_.socket_path.c_str());
    std::cerr << "modgate: ready: armed in " << o_.pin_dir
              << (fallback_ ? " with the FALLBACK (" + fallback_->reason + ")" : std::string())
              << "; exiting (--arm-only): the next agent adopts the pins and reports the events "
                 "waiting in the pinned ring buffer"
              << std::endl;
    // Armed either way; the initramfs script tells the console which (docs/boot.md).
    return fallback_ ? kArmedFallbackExit : 0;
  }
  if (auto r = enf_->open_events([&](const mg_event& e) { on_event(e); }); !r)
    return fail(r.error().message);

  // A reader of our stdout that goes away must not take the agent with it (SIGPIPE is sent by
  // the kernel, not through kill(), so tamper protection could not refuse it).
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  // With the signals blocked and no signalfd, SIGTERM would never stop the agent.
  if (sfd < 0) return fail("signalfd: " + errstr(errno));
  int ifd = -1;
  if (!o_.watch_dir.empty()) {
    ifd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0 || ::inotify_add_watch(ifd, o_.watch_dir.c_str(),
                                       IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                                           IN_MOVED_FROM | IN_ATTRIB) < 0)
      return fail("cannot watch " + o_.watch_dir + ": " + errstr(errno));
  }
  if (pull) {
    auto p = fleet::Puller::create(*pull);
    if (!p) return fail(p.error().message);
    puller_ = std::move(*p);
    if (auto r = puller_->start(); !r) return fail(r.error().message);
  }
  const int pfd = puller_ ? puller_->notify_fd() : -1;
  ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  const int hfd = hooks_ ? hooks_->poll_fd() : -1;
  for (int fd : {enf_->events_epoll_fd(), listen_fd_, sfd, ifd, pfd, hfd}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) return fail("epoll: " + errstr(errno));
  }

  trim_after_apply();
  auto kp = enf_->policy_in_force();
  std::cerr << "modgate: ready: "
            << (enf_->adopted() ? "adopted the pinned programs" : "programs attached and pinned")
            << " in " << o_.pin_dir
            << (enf_->replaced() ? " (replacing " + *enf_->replaced() + ")" : std::string())
            << "; policy version "
            << (kp && *kp ? std::to_string((*kp)->config.policy_version) : "?") << " (sha256 "
            << (kp && *kp ? to_hex((*kp)->config.policy_digest) : "?") << "), mode "
            << (kp && *kp && (*kp)->config.mode == MG_MODE_ENFORCE ? "enforce" : "dry-run")
            << "; control socket " << o_.socket_path << std::endl;
  sd_notify("READY=1\nSTATUS=" + notify_status());

  write_metrics();
  std::uint64_t lost_reported = 0;
  if (auto st = enf_->stats(); st) lost_reported = (*st)[kStatRingbufLost];
  // When the watched directory has been quiet long enough to re-read the policy; max() = idle.
  auto watch_due = std::chrono::steady_clock::time_point::max();
  bool stop = false;
  while (!stop && !disarm_requested_) {
    int timeout = next_client_timeout_ms();
    if (watch_due != std::chrono::steady_clock::time_point::max()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    watch_due - std::chrono::steady_clock::now())
                    .count();
      timeout = static_cast<int>(std::clamp<long long>(ms, 0, timeout));
    }
    if (int h = hooks_ ? hooks_->next_timeout_ms() : -1; h >= 0) timeout = std::min(timeout, h);
    epoll_event evs[8];
    int n = ::epoll_wait(ep_, evs, 8, timeout);
    if (n < 0 && errno != EINTR) return fail("epoll_wait: " + errstr(errno));
    for (int i = 0; i < n && !disarm_requested_; i++) {
      int fd = evs[i].data.fd;
      if (fd == enf_->events_epoll_fd()) {
        if (auto r = enf_->consume_events(); !r)
          std::cerr << "modgate: " << r.error().message << "\n";
      } else if (fd == listen_fd_) {
        accept_clients();
      } else if (fd == pfd) {
        on_pull();
      } else if (hooks_ && fd == hooks_->poll_fd()) {
        hooks_->process();
      } else if (clients_.count(fd)) {
        read_client(fd);
      } else if (fd == sfd) {
        signalfd_siginfo si{};
        while (::read(sfd, &si, sizeof(si)) == sizeof(si)) {
          if (si.ssi_signo == SIGHUP) {
            if (puller_) puller_->refetch();
            if (!policy_path_.empty())
              reload_file("sighup");
            else if (!puller_)
              std::cerr << "modgate: SIGHUP ignored: no policy file configured" << std::endl;
          } else {
            stop = true;
          }
        }
      } else if (fd == ifd) {
        char buf[4096];
        while (::read(ifd, buf, sizeof(buf)) > 0) {
        }
        // Settle: tools replace files in several steps (write temp, rename; Kubernetes swaps
        // ..data); act once the directory has been quiet for a moment.
        watch_due = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
      }
    }
    if (disarm_requested_) break;
    expire_clients();
    check_ftrace();
    if (hooks_) hooks_->process();
    if (std::chrono::steady_clock::now() >= watch_due) {
      watch_due = std::chrono::steady_clock::time_point::max();
      reload_file("watch");
    }
    if (!o_.metrics_file.empty() && std::chrono::steady_clock::now() >= metrics_due_)
      write_metrics();
    trim_after_apply();
    if (auto st = enf_->stats(); st) {
      std::uint64_t lost = (*st)[kStatRingbufLost];
      if (lost > lost_reported) {
        writer_->write_lost(lost - lost_reported);
        lost_reported = lost;
      }
    }
  }
  if (puller_) puller_->stop();
  ::unlink(o_.socket_path.c_str());
  if (disarm_requested_) {
    std::cerr << "modgate: disarmed: programs detached and unpinned; module loads are no longer "
                 "checked"
              << std::endl;
    return 0;
  }
  (void)enf_->consume_events();
  print_counters();
  std::cerr << "modgate: stopped; enforcement continues (pinned in " << o_.pin_dir
            << "); 'modgate disarm' removes it" << std::endl;
  return 0;
}

}  // namespace

int run_daemon(const DaemonOptions& options) { return Daemon(options).run(); }

}  // namespace modgate
