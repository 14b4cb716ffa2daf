// SPDX-License-Identifier: Apache-2.0

#include "agent/bpf/enforcer.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/bpf/hook_protos.h"
#include "agent/bpf/libbpf_log.h"
#include "agent/bpf/special_key.h"
#include "agent/bpf/whoami.h"
#include "agent/util/unique_fd.h"
#include "modgate_lsm.skel.h"
#include "policy/sha256.h"

namespace modgate {
namespace {

constexpr unsigned long kBpfFsMagic = 0xcafe4a11;

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

using Fd = UniqueFd;

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

const char* const kPinnedMaps[] = {"policy", "events", "stats", "guard", "guard_ids"};

// A directory is complete when it holds every map and the link of every program this kernel
// loads (hooks::select_programs), the tamper-protection guards included.
bool complete_pin_dir(const std::string& dir, const std::vector<std::string>& links) {
  for (const char* m : kPinnedMaps)
    if (!exists(dir + "/" + m)) return false;
  for (const auto& l : links)
    if (!exists(dir + "/link_" + l)) return false;
  return true;
}

std::string release() {
  struct utsname u {};
  return ::uname(&u) == 0 ? std::string(u.release) : std::string("(unknown release)");
}

// Which of the object's programs fit this kernel, from its BTF (agent/bpf/hook_protos.h).
Result<hooks::Selection> select_for_kernel(struct modgate_lsm* skel) {
  std::unique_ptr<struct btf, void (*)(struct btf*)> vmlinux(btf__load_vmlinux_btf(), btf__free);
  if (!vmlinux)
    return Error{"cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): " + errstr(errno)};
  std::vector<hooks::Program> programs;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel->obj) {
    programs.push_back({bpf_program__name(prog), bpf_program__section_name(prog)});
  }
  return hooks::select_programs(vmlinux.get(), programs, release());
}

std::vector<std::string> subdirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && e->d_type == DT_DIR) out.push_back(n);
  }
  ::closedir(d);
  return out;
}

// Removes the pins in one object directory, then the directory. Links whose last reference was
// the pin detach here. Counts what it removed into `out` when given.
Result<Ok> unpin_dir(const std::string& dir, Enforcer::Unpinned* out = nullptr) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return Ok{};
    return Error{"cannot open " + dir + ": " + errstr(errno)};
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  // Note the programs behind the links first. On 6.12 the last put of a link only schedules its
  // release (and the link's id vanishes at once), so "detached" can only be promised once the
  // programs themselves are gone: a program outlives its link until the link is released.
  std::vector<__u32> prog_ids;
  for (const auto& n : names) {
    if (n.rfind("link_", 0) != 0) continue;
    Fd fd(bpf_obj_get((dir + "/" + n).c_str()));
    bpf_link_info info{};
    __u32 len = sizeof(info);
    if (fd.get() >= 0 && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0)
      prog_ids.push_back(info.prog_id);
  }
  for (const auto& n : names)
    if (::unlink((dir + "/" + n).c_str()) != 0 && errno != ENOENT)
      return Error{"cannot remove pin " + dir + "/" + n + ": " + errstr(errno) +
                   (errno == EPERM ? std::string(" (tamper protection is on: the policy in force "
                                                 "has protect: true)")
                                   : std::string())};
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
    return Error{"cannot remove " + dir + ": " + errstr(errno)};
  if (out) {
    out->dirs.push_back(dir);
    for (const auto& n : names) (n.rfind("link_", 0) == 0 ? out->links : out->other_pins)++;
  }
  for (__u32 id : prog_ids) {
    for (int i = 0;; i++) {
      int fd = bpf_prog_get_fd_by_id(id);
      if (fd < 0) break;
      ::close(fd);
      if (i == 1000)
        return Error{
            "program " + std::to_string(id) +
            " still exists 10 s after its pin was removed; is another process holding it?"};
      ::usleep(10000);
    }
    if (out) out->programs_gone++;
  }
  return Ok{};
}

// Mounts bpffs on /sys/fs/bpf when nothing is mounted there, as systemd would.
Result<Ok> ensure_bpffs(const std::string& pin_dir) {
  std::string parent = pin_dir.substr(0, pin_dir.find_last_of('/'));
  if (parent.empty()) parent = "/";
  struct statfs fs {};
  if (::statfs(parent.c_str(), &fs) == 0 && static_cast<unsigned long>(fs.f_type) == kBpfFsMagic)
    return Ok{};
  if (parent == "/sys/fs/bpf" &&
      ::mount("bpf", "/sys/fs/bpf", "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") == 0)
    return Ok{};
  return Error{parent + " is not a bpf filesystem, so modgate cannot pin its programs there; " +
               "mount one (mount -t bpf bpf " + parent + ") or choose --pin-dir under one."};
}

int dup_cloexec(int fd) { return ::fcntl(fd, F_DUPFD_CLOEXEC, 3); }

}  // namespace

std::string object_tag() {
  // The embedded object never changes; status asks for its tag on every request.
  static const std::string tag = [] {
    size_t size = 0;
    const void* bytes = modgate_lsm__elf_bytes(&size);
    return to_hex(sha256({static_cast<const std::uint8_t*>(bytes), size})).substr(0, 16);
  }();
  return tag;
}

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
    return Error{"the bpf LSM is not active (active: " + list + "); boot with lsm=" + list +
                 ",bpf on the kernel command line."};
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0)
    return Error{
        "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing); modgate needs a kernel "
        "built with CONFIG_DEBUG_INFO_BTF=y."};
  return Ok{};
}

Result<std::unique_ptr<Enforcer>> Enforcer::open(const std::string& pin_dir) {
  std::unique_ptr<Enforcer> e(new Enforcer());
  e->pin_dir_ = pin_dir;
  if (auto r = ensure_bpffs(pin_dir); !r) return r.error();
  const std::string own = pin_dir + "/" + object_tag();

  // Which programs fit this kernel is decided before anything is loaded or adopted: it also
  // says which links a complete pin directory holds.
  LibbpfLogCapture log;
  e->skel_ = modgate_lsm__open();
  if (!e->skel_) return Error{"cannot open modgate's BPF object: " + errstr(errno)};
  auto sel = select_for_kernel(e->skel_);
  if (!sel) return sel.error();
  e->selection_ = std::move(*sel);
  if (!e->selection_.loadable()) {
    std::string msg =
        "modgate has no programs for this kernel's module-loading hooks, so it "
        "loaded nothing:";
    for (const auto& u : e->selection_.unmatched)
      if (u.essential) msg += "\n  " + u.message;
    return Error{msg};
  }
  for (const auto& name : e->selection_.skip)
    bpf_program__set_autoload(bpf_object__find_program_by_name(e->skel_->obj, name.c_str()), false);

  if (complete_pin_dir(own, e->selection_.load)) {
    // Same object already enforcing: take its maps, leave its links alone.
    modgate_lsm__destroy(e->skel_);
    e->skel_ = nullptr;
    Fd policy(bpf_obj_get((own + "/policy").c_str()));
    Fd events(bpf_obj_get((own + "/events").c_str()));
    Fd stats(bpf_obj_get((own + "/stats").c_str()));
    Fd guard(bpf_obj_get((own + "/guard").c_str()));
    Fd guard_ids(bpf_obj_get((own + "/guard_ids").c_str()));
    if (policy.get() < 0 || events.get() < 0 || stats.get() < 0 || guard.get() < 0 ||
        guard_ids.get() < 0) {
      if (errno == EPERM)
        return Error{"cannot open modgate's pinned maps in " + own +
                     ": the kernel refused (tamper protection is on: the policy in force has "
                     "protect: true, and only the agent that installed it may touch them). "
                     "Enforcement continues; a signed policy with protect: false applied through "
                     "that agent, or a reboot, ends protection."};
      return Error{"cannot open modgate's pinned maps in " + own + ": " + errstr(errno)};
    }
    e->policy_fd_ = policy.release();
    e->events_fd_ = events.release();
    e->stats_fd_ = stats.release();
    e->guard_fd_ = guard.release();
    e->guard_ids_fd_ = guard_ids.release();
    e->adopted_ = true;
    return e;
  }

  if (int err = modgate_lsm__load(e->skel_)) {
    std::string tail = log.tail(15);
    if (err == -EPERM || err == -EACCES) {
      if (tail.find("processed ") != std::string::npos)
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
  e->policy_fd_ = dup_cloexec(bpf_map__fd(e->skel_->maps.policy));
  e->events_fd_ = dup_cloexec(bpf_map__fd(e->skel_->maps.events));
  e->stats_fd_ = dup_cloexec(bpf_map__fd(e->skel_->maps.stats));
  e->guard_fd_ = dup_cloexec(bpf_map__fd(e->skel_->maps.guard));
  e->guard_ids_fd_ = dup_cloexec(bpf_map__fd(e->skel_->maps.guard_ids));
  if (e->policy_fd_ < 0 || e->events_fd_ < 0 || e->stats_fd_ < 0 || e->guard_fd_ < 0 ||
      e->guard_ids_fd_ < 0)
    return Error{"cannot duplicate map fds: " + errstr(errno)};

  // Another object's pins (an upgrade, or a damaged directory of our own): keep enforcing its
  // policy in the new maps until the caller installs one. The inner map is shared, not copied.
  for (const auto& d : subdirs(pin_dir)) {
    Fd old_outer(bpf_obj_get((pin_dir + "/" + d + "/policy").c_str()));
    if (old_outer.get() < 0) continue;
    __u32 slot = 0, inner_id = 0;
    if (bpf_map_lookup_elem(old_outer.get(), &slot, &inner_id) != 0) continue;
    Fd inner(bpf_map_get_fd_by_id(inner_id));
    if (inner.get() < 0) continue;
    int fd = inner.get();
    if (bpf_map_update_elem(e->policy_fd_, &slot, &fd, BPF_ANY) != 0)
      return Error{"cannot carry the policy of " + pin_dir + "/" + d +
                   " over to the new BPF object (" + errstr(errno) +
                   "); give --policy, or run 'modgate disarm' first."};
    e->replaced_ = pin_dir + "/" + d;
    break;
  }
  return e;
}

Enforcer::~Enforcer() { release(); }

void Enforcer::release() {
  ring_buffer__free(rb_);
  rb_ = nullptr;
  for (int fd : {policy_fd_, events_fd_, stats_fd_, guard_fd_, guard_ids_fd_})
    if (fd >= 0) ::close(fd);
  policy_fd_ = events_fd_ = stats_fd_ = guard_fd_ = guard_ids_fd_ = -1;
  modgate_lsm__destroy(skel_);
  skel_ = nullptr;
}

Result<Ok> Enforcer::install(const policy::CompiledPolicy& c) {
  const size_t n = c.allow.size() + 1 + c.autoload_allow.size() + c.autoload_deny.size();
  if (c.autoload_allow.size() > MG_GLOB_MAX || c.autoload_deny.size() > MG_GLOB_MAX)
    return Error{"policy has more than " + std::to_string(MG_GLOB_MAX) + " autoload patterns"};
  LIBBPF_OPTS(bpf_map_create_opts, opts);
  Fd inner(bpf_map_create(BPF_MAP_TYPE_HASH, "mg_policy", sizeof(mg_allow_key),
                          sizeof(mg_policy_value), static_cast<__u32>(n), &opts));
  if (inner.get() < 0)
    return Error{"cannot create a policy map of " + std::to_string(n) +
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

  // The swap: one update of the outer slot. Programs see the old map or this one, never a mix;
  // the kernel frees the old one after the readers that hold it are done.
  __u32 slot = 0;
  int inner_fd = inner.get();
  if (bpf_map_update_elem(policy_fd_, &slot, &inner_fd, BPF_ANY) != 0)
    return Error{"cannot install the policy map: " + errstr(errno)};
  return Ok{};
}

Result<std::optional<KernelPolicy>> Enforcer::policy_in_force() const {
  __u32 slot = 0, inner_id = 0;
  if (bpf_map_lookup_elem(policy_fd_, &slot, &inner_id) != 0) {
    if (errno == ENOENT) return std::optional<KernelPolicy>{};
    return Error{"cannot read the policy slot: " + errstr(errno)};
  }
  Fd inner(bpf_map_get_fd_by_id(inner_id));
  if (inner.get() < 0) return Error{"cannot open the policy map in force: " + errstr(errno)};
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(inner.get(), &info, &len) != 0)
    return Error{"cannot read the policy map's size: " + errstr(errno)};
  mg_allow_key k = special_key(MG_KEY_CONFIG, 0);
  mg_policy_value v{};
  if (bpf_map_lookup_elem(inner.get(), &k, &v) != 0)
    return Error{"the policy map in force has no config record: " + errstr(errno)};
  KernelPolicy kp;
  kp.config = v.config;
  kp.records = info.max_entries;
  return std::optional<KernelPolicy>{kp};
}

Result<Ok> Enforcer::attach_and_pin() {
  if (adopted_) return Ok{};
  LibbpfLogCapture log;
  if (int err = modgate_lsm__attach(skel_))
    return Error{"attaching modgate's programs to the kernel failed (" + errstr(err) + ")" +
                 (log.tail(3).empty() ? std::string(".") : ": " + log.tail(3))};

  // Pin into a fresh directory, then retire every other one, then rename: at each step the
  // programs are held by this process's links or by pins, so enforcement never lapses.
  const std::string tag = object_tag();
  // bpffs refuses names with a '.', hence no hidden or suffixed temporary name.
  const std::string tmp = pin_dir_ + "/new_" + tag;
  const std::string final_dir = pin_dir_ + "/" + tag;
  if (::mkdir(pin_dir_.c_str(), 0700) != 0 && errno != EEXIST)
    return Error{"cannot create " + pin_dir_ + ": " + errstr(errno)};
  if (auto r = unpin_dir(tmp); !r) return r;
  if (::mkdir(tmp.c_str(), 0700) != 0) return Error{"cannot create " + tmp + ": " + errstr(errno)};
  const std::pair<const char*, int> maps[] = {{"policy", policy_fd_},
                                              {"events", events_fd_},
                                              {"stats", stats_fd_},
                                              {"guard", guard_fd_},
                                              {"guard_ids", guard_ids_fd_}};
  for (const auto& [name, fd] : maps)
    if (bpf_obj_pin(fd, (tmp + "/" + name).c_str()) != 0)
      return Error{"cannot pin map " + std::string(name) + " in " + tmp + ": " + errstr(errno)};
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel_->obj) {
    if (!bpf_program__autoload(prog)) continue;
    bpf_link* link = nullptr;
    const std::string name = bpf_program__name(prog);
    for (int i = 0; i < skel_->skeleton->prog_cnt; i++)
      if (skel_->skeleton->progs[i].name == name) link = *skel_->skeleton->progs[i].link;
    if (!link) return Error{"program " + name + " has no link to pin"};
    if (int err = bpf_link__pin(link, (tmp + "/link_" + name).c_str()))
      return Error{"cannot pin the link of " + name + ": " + errstr(err)};
  }
  // Protected from the start: the new links and pins join the guard before anything else
  // happens to them (the inodes keep their numbers through the rename below).
  if (guard_recorded_)
    if (auto r = record_guard_in(tmp); !r) return r;
  for (const auto& d : subdirs(pin_dir_)) {
    if ("/" + d == tmp.substr(pin_dir_.size())) continue;
    if (auto r = unpin_dir(pin_dir_ + "/" + d); !r) return r;
  }
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0)
    return Error{"cannot rename " + tmp + " to " + final_dir + ": " + errstr(errno)};
  return Ok{};
}

bool Enforcer::pinned_policy_exists(const std::string& pin_dir) {
  for (const auto& d : subdirs(pin_dir))
    if (exists(pin_dir + "/" + d + "/policy")) return true;
  return false;
}

Result<Enforcer::Unpinned> Enforcer::unpin_all(const std::string& pin_dir) {
  Unpinned removed;
  for (const auto& d : subdirs(pin_dir))
    if (auto r = unpin_dir(pin_dir + "/" + d, &removed); !r) return r.error();
  ::rmdir(pin_dir.c_str());
  return removed;
}

// Records handled per consume_events() call. libbpf keeps consuming while producers keep
// producing, so without a bound a burst of denials would starve the control socket.
constexpr int kEventsPerBatch = 256;
constexpr int kBatchFull = -EAGAIN;

int Enforcer::on_event(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Enforcer*>(ctx);
  if (size >= sizeof(mg_event)) {
    mg_event e;
    std::memcpy(&e, data, sizeof(e));
    if (self->event_fn_) self->event_fn_(e);
  }
  // Returning an error stops libbpf after this record (it is consumed); the rest waits for the
  // next round of the loop.
  return ++self->batch_ >= kEventsPerBatch ? kBatchFull : 0;
}

Result<Ok> Enforcer::open_events(EventFn fn) {
  event_fn_ = std::move(fn);
  rb_ = ring_buffer__new(events_fd_, &Enforcer::on_event, this, nullptr);
  if (!rb_) return Error{"cannot open the event ring buffer: " + errstr(errno)};
  return Ok{};
}

int Enforcer::events_epoll_fd() const { return rb_ ? ring_buffer__epoll_fd(rb_) : -1; }

Result<int> Enforcer::consume_events() {
  batch_ = 0;
  int n = ring_buffer__consume(rb_);
  if (n == kBatchFull) return batch_;
  if (n < 0) return Error{"reading events failed: " + errstr(n)};
  return n;
}

Result<std::array<std::uint64_t, MG_STAT_COUNT>> Enforcer::stats() const {
  std::array<std::uint64_t, MG_STAT_COUNT> out{};
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Error{"cannot count CPUs: " + errstr(ncpu)};
  std::vector<std::uint64_t> percpu(static_cast<size_t>(ncpu));
  for (__u32 i = 0; i < MG_STAT_COUNT; i++) {
    if (bpf_map_lookup_elem(stats_fd_, &i, percpu.data()) != 0)
      return Error{"cannot read counters: " + errstr(errno)};
    for (auto v : percpu) out[i] += v;
  }
  return out;
}

namespace {

// The kernel's own encoding of a device number (s_dev), which is what the programs read; glibc's
// dev_t packs major and minor differently.
__u32 kernel_dev(dev_t d) { return (major(d) << 20) | minor(d); }

// mount id -> parent mount id, from /proc/self/mountinfo.
std::map<std::uint64_t, std::uint64_t> mount_parents() {
  std::map<std::uint64_t, std::uint64_t> out;
  std::ifstream in("/proc/self/mountinfo");
  std::uint64_t id = 0, parent = 0;
  std::string rest;
  while (in >> id >> parent && std::getline(in, rest)) out[id] = parent;
  return out;
}

}  // namespace

Result<Ok> Enforcer::record_guard() {
  guard_recorded_ = true;
  return record_guard_in(pin_dir_ + "/" + object_tag());
}

Result<Ok> Enforcer::record_guard_in(const std::string& dir) {
  auto fail = [](const std::string& what) {
    return Error{"cannot record " + what + " for tamper protection: " + errstr(errno)};
  };
  auto add = [&](std::uint32_t kind, std::uint32_t dev, std::uint64_t id) -> Result<Ok> {
    mg_guard_key k{};
    k.kind = kind;
    k.dev = dev;
    k.id = id;
    __u32 one = 1;
    if (bpf_map_update_elem(guard_ids_fd_, &k, &one, BPF_ANY) != 0)
      return fail("modgate's objects");
    return Ok{};
  };
  auto add_map_fd = [&](int fd) -> Result<Ok> {
    bpf_map_info info{};
    __u32 len = sizeof(info);
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return fail("a map id");
    return add(MG_GUARD_MAP, 0, info.id);
  };
  // A program, and every map it uses: that reaches the maps of an adopted object too, which
  // this process has no skeleton for.
  auto add_prog = [&](__u32 prog_id) -> Result<Ok> {
    if (auto r = add(MG_GUARD_PROG, 0, prog_id); !r) return r;
    Fd prog(bpf_prog_get_fd_by_id(prog_id));
    if (prog.get() < 0) return fail("program " + std::to_string(prog_id));
    __u32 map_ids[64] = {};
    bpf_prog_info info{};
    info.nr_map_ids = 64;
    info.map_ids = reinterpret_cast<std::uintptr_t>(map_ids);
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0)
      return fail("program " + std::to_string(prog_id));
    for (__u32 i = 0; i < info.nr_map_ids && i < 64; i++)
      if (auto r = add(MG_GUARD_MAP, 0, map_ids[i]); !r) return r;
    return Ok{};
  };

  for (int fd : {policy_fd_, events_fd_, stats_fd_, guard_fd_, guard_ids_fd_})
    if (auto r = add_map_fd(fd); !r) return r;
  if (skel_) {
    bpf_map* m = nullptr;
    bpf_object__for_each_map(m, skel_->obj) {
      if (bpf_map__fd(m) >= 0)
        if (auto r = add_map_fd(bpf_map__fd(m)); !r) return r;
    }
    bpf_program* p = nullptr;
    bpf_object__for_each_program(p, skel_->obj) {
      int fd = bpf_program__fd(p);
      if (fd < 0) continue;
      bpf_prog_info info{};
      __u32 len = sizeof(info);
      if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return fail("a program id");
      if (auto r = add_prog(info.id); !r) return r;
    }
  }

  // The pins: the links behind them, and the inodes of the pins and their directories.
  // Before the first start's attach the pin directory does not exist yet; its bpffs (ensured
  // by open()) is its parent's, and attach_and_pin records again once it exists.
  struct stat st {};
  std::string anchor = pin_dir_;
  if (::stat(pin_dir_.c_str(), &st) == 0) {
    if (auto r = add(MG_GUARD_INODE, kernel_dev(st.st_dev), st.st_ino); !r) return r;
  } else {
    anchor = pin_dir_.substr(0, pin_dir_.find_last_of('/'));
    if (anchor.empty()) anchor = "/";
    if (::stat(anchor.c_str(), &st) != 0) return fail(anchor);
  }
  const __u32 bpffs_dev = kernel_dev(st.st_dev);
  std::vector<std::string> dirs = {dir};
  if (dir != pin_dir_ + "/" + object_tag()) dirs.push_back(pin_dir_ + "/" + object_tag());
  for (const auto& d : dirs) {
    if (::stat(d.c_str(), &st) != 0) continue;  // not pinned yet: attach_and_pin records again
    if (auto r = add(MG_GUARD_INODE, kernel_dev(st.st_dev), st.st_ino); !r) return r;
    DIR* dp = ::opendir(d.c_str());
    if (!dp) return fail(d);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(dp)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(dp);
    for (const auto& n : names) {
      const std::string path = d + "/" + n;
      if (::stat(path.c_str(), &st) != 0) return fail(path);
      if (auto r = add(MG_GUARD_INODE, kernel_dev(st.st_dev), st.st_ino); !r) return r;
      if (n.rfind("link_", 0) != 0) continue;
      Fd link(bpf_obj_get(path.c_str()));
      bpf_link_info info{};
      __u32 len = sizeof(info);
      if (link.get() < 0 || bpf_obj_get_info_by_fd(link.get(), &info, &len) != 0) return fail(path);
      if (auto r = add(MG_GUARD_LINK, 0, info.id); !r) return r;
      if (auto r = add_prog(info.prog_id); !r) return r;
    }
  }

  // Mounts: the bpffs itself is recognised by its device; the mounts above it by id, because
  // a lazy umount of any of them detaches the bpffs with it.
  struct statx stx {};
  if (::statx(AT_FDCWD, anchor.c_str(), 0, STATX_MNT_ID, &stx) == 0 &&
      (stx.stx_mask & STATX_MNT_ID)) {
    auto parents = mount_parents();
    std::set<std::uint64_t> seen;
    for (std::uint64_t id = stx.stx_mnt_id; parents.count(id) && seen.insert(id).second;
         id = parents[id])
      if (auto r = add(MG_GUARD_MOUNT, 0, id); !r) return r;
  }

  // Files mapped into this process: writing one changes the code the agent runs.
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::istringstream f(line);
    std::string range, perms, offset, dev;
    std::uint64_t ino = 0;
    if (!(f >> range >> perms >> offset >> dev >> ino) || ino == 0) continue;
    // DEV is "MAJ:MIN" in hex, as the kernel prints it.
    auto colon = dev.find(':');
    if (colon == std::string::npos) continue;
    char* end = nullptr;
    unsigned long maj = std::strtoul(dev.c_str(), &end, 16);
    if (end != dev.c_str() + colon) continue;
    unsigned long min = std::strtoul(dev.c_str() + colon + 1, &end, 16);
    if (*end != '\0' || maj > 0xfff || min > 0xfffff) continue;
    if (auto r = add(MG_GUARD_AGENT_FILE, static_cast<std::uint32_t>((maj << 20) | min), ino); !r)
      return r;
  }

  // Last, who the agent is: from here on only this process passes. The tgid and start time are
  // the kernel's, not getpid()'s: in a pod without hostPID that is the pod's pid, and the hooks
  // would not know the agent by it.
  auto me = kernel_identity();
  if (!me) return me.error();
  long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return Error{"cannot read the clock tick rate"};
  mg_guard g{};
  g.agent_tgid = me->tgid;
  g.bpffs_dev = bpffs_dev;
  g.tick_ns = 1'000'000'000ull / static_cast<std::uint64_t>(ticks);
  g.agent_start = me->start_boottime_ns / g.tick_ns;
  __u32 zero = 0;
  if (bpf_map_update_elem(guard_fd_, &zero, &g, BPF_ANY) != 0) return fail("the agent");
  return Ok{};
}

}  // namespace modgate
