#include "agent/bpf/enforcer.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agent/bpf/libbpf_log.h"
#include "modgate_lsm.skel.h"

namespace modgate {
namespace {

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

// Closes an fd on scope exit unless released.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

mg_allow_key special_key(std::uint32_t kind, std::uint32_t index) {
  mg_special_key k{};
  std::memcpy(k.magic, MG_KEY_MAGIC, sizeof(k.magic));
  k.kind = kind;
  k.index = index;
  mg_allow_key out{};
  static_assert(sizeof(out) == sizeof(k));
  std::memcpy(&out, &k, sizeof(out));
  return out;
}

bool kernel_has_function(const char* name) {
  struct btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  bool found = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0;
  btf__free(vmlinux);
  return found;
}

}  // namespace

Result<Ok> preflight() {
  if (::geteuid() != 0)
    return Error{"modgate must run as root: it loads BPF LSM programs (CAP_BPF, CAP_SYS_ADMIN)."};
  // Minimal systems and early boot often have securityfs unmounted; mounting it is harmless and
  // what systemd would do.
  if (::access("/sys/kernel/security/lsm", R_OK) != 0)
    ::mount("securityfs", "/sys/kernel/security", "securityfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            nullptr);
  std::ifstream lsm("/sys/kernel/security/lsm");
  std::string list;
  if (!lsm || !std::getline(lsm, list))
    return Error{
        "cannot read /sys/kernel/security/lsm to check that the bpf LSM is active; mount "
        "securityfs (mount -t securityfs securityfs /sys/kernel/security) and retry."};
  bool has_bpf = false;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) has_bpf |= item == "bpf";
  if (!has_bpf)
    return Error{"the bpf LSM is not active (active: " + list +
                 "); boot with lsm=" + list + ",bpf on the kernel command line."};
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0)
    return Error{
        "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing); modgate needs a kernel "
        "built with CONFIG_DEBUG_INFO_BTF=y."};
  return Ok{};
}

Result<std::unique_ptr<Enforcer>> Enforcer::load() {
  std::unique_ptr<Enforcer> e(new Enforcer());
  LibbpfLogCapture log;
  e->skel_ = modgate_lsm__open();
  if (!e->skel_) return Error{"cannot open modgate's BPF object: " + errstr(errno)};
  // The ia32 entry exists only with CONFIG_IA32_EMULATION; without it there is no 32-bit
  // finit_module to watch, and libbpf would fail the whole load on the missing target.
  if (!kernel_has_function("__ia32_sys_finit_module"))
    bpf_program__set_autoload(e->skel_->progs.finit_enter_ia32, false);
  if (int err = modgate_lsm__load(e->skel_)) {
    std::string tail = log.tail(15);
    if (err == -EPERM || err == -EACCES) {
      if (tail.find("processed ") != std::string::npos || tail.find("R0 ") != std::string::npos)
        return Error{"the kernel's verifier rejected modgate's programs (" + errstr(err) +
                     "); its last words:\n" + tail};
      return Error{
          "the kernel refused to load modgate's BPF LSM programs (" + errstr(err) +
          "): loading LSM programs is not permitted on this kernel (lockdown, a restricted or "
          "sandboxed kernel, or missing CAP_BPF/CAP_SYS_ADMIN)."};
    }
    return Error{"loading modgate's BPF programs failed (" + errstr(err) + "); libbpf said:\n" +
                 tail};
  }
  return e;
}

Enforcer::~Enforcer() {
  ring_buffer__free(rb_);
  modgate_lsm__destroy(skel_);
}

Result<Ok> Enforcer::install(const policy::CompiledPolicy& c) {
  const size_t n = c.allow.size() + 1 + c.autoload_allow.size() + c.autoload_deny.size();
  if (c.autoload_allow.size() > MG_GLOB_MAX || c.autoload_deny.size() > MG_GLOB_MAX)
    return Error{"policy has more than " + std::to_string(MG_GLOB_MAX) + " autoload patterns"};
  LIBBPF_OPTS(bpf_map_create_opts, opts);
  Fd inner(bpf_map_create(BPF_MAP_TYPE_HASH, "mg_policy", sizeof(mg_allow_key),
                          sizeof(mg_policy_value), static_cast<__u32>(n), &opts));
  if (inner.get() < 0) return Error{"cannot create a policy map of " + std::to_string(n) +
                                    " entries: " + errstr(errno)};

  auto put = [&](const mg_allow_key& k, const mg_policy_value& v) -> Result<Ok> {
    if (bpf_map_update_elem(inner.get(), &k, &v, BPF_NOEXIST) != 0)
      return Error{"cannot fill the policy map: " + errstr(errno)};
    return Ok{};
  };
  for (const auto& a : c.allow) {
    mg_policy_value v{};
    v.allow = a.value;
    if (auto r = put(a.key, v); !r) return r;
  }
  auto put_globs = [&](const std::vector<mg_glob>& globs, std::uint32_t kind) -> Result<Ok> {
    for (size_t i = 0; i < globs.size(); i++) {
      mg_policy_value v{};
      v.glob = globs[i];
      if (auto r = put(special_key(kind, static_cast<std::uint32_t>(i)), v); !r) return r;
    }
    return Ok{};
  };
  if (auto r = put_globs(c.autoload_allow, MG_KEY_AUTOLOAD_ALLOW); !r) return r;
  if (auto r = put_globs(c.autoload_deny, MG_KEY_AUTOLOAD_DENY); !r) return r;
  // The config goes in last: a program that somehow saw this map half-filled would find no
  // config and fail closed. (It cannot: the map is not reachable until the swap below.)
  mg_policy_value cfg{};
  cfg.config = c.config;
  cfg.config.present = 1;
  cfg.config.n_autoload_allow = static_cast<__u32>(c.autoload_allow.size());
  cfg.config.n_autoload_deny = static_cast<__u32>(c.autoload_deny.size());
  if (auto r = put(special_key(MG_KEY_CONFIG, 0), cfg); !r) return r;
  // Frozen: from here on not even root can change this map through bpf(); a new policy is a
  // new map.
  if (bpf_map_freeze(inner.get()) != 0)
    return Error{"cannot freeze the policy map: " + errstr(errno)};

  __u32 slot = 0;
  int inner_fd = inner.get();
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.policy), &slot, &inner_fd, BPF_ANY) != 0)
    return Error{"cannot install the policy map: " + errstr(errno)};
  return Ok{};
}

Result<Ok> Enforcer::attach() {
  LibbpfLogCapture log;
  if (int err = modgate_lsm__attach(skel_))
    return Error{"attaching modgate's programs to the kernel failed (" + errstr(err) + ")" +
                 (log.tail(3).empty() ? std::string(".") : ": " + log.tail(3))};
  return Ok{};
}

int Enforcer::on_event(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Enforcer*>(ctx);
  if (size < sizeof(mg_event)) {
    self->malformed_events_++;
    return 0;
  }
  mg_event e;
  std::memcpy(&e, data, sizeof(e));
  if (self->event_fn_) self->event_fn_(e);
  return 0;
}

Result<Ok> Enforcer::open_events(EventFn fn) {
  event_fn_ = std::move(fn);
  rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &Enforcer::on_event, this, nullptr);
  if (!rb_) return Error{"cannot open the event ring buffer: " + errstr(errno)};
  return Ok{};
}

Result<int> Enforcer::poll_events(int timeout_ms) {
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n < 0 && n != -EINTR) return Error{"reading events failed: " + errstr(n)};
  return n < 0 ? 0 : n;
}

Result<std::array<std::uint64_t, MG_STAT_COUNT>> Enforcer::stats() const {
  std::array<std::uint64_t, MG_STAT_COUNT> out{};
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Error{"cannot count CPUs: " + errstr(ncpu)};
  std::vector<std::uint64_t> percpu(static_cast<size_t>(ncpu));
  for (__u32 i = 0; i < MG_STAT_COUNT; i++) {
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.stats), &i, percpu.data()) != 0)
      return Error{"cannot read counters: " + errstr(errno)};
    for (auto v : percpu) out[i] += v;
  }
  return out;
}

}  // namespace modgate
