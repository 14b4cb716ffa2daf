// SPDX-License-Identifier: Apache-2.0

#include "tests/bpf/decide_runner.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/bpf/special_key.h"
#include "agent/util/unique_fd.h"
#include "decide_test.skel.h"

namespace modgate::test {
namespace {

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

// libbpf's output (the verifier log on a failed load), kept for the error message.
std::string& libbpf_log() {
  static std::string log;
  return log;
}

int collect_libbpf(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = std::vsnprintf(line, sizeof(line), fmt, ap);
  if (n > 0) libbpf_log() += line;
  return n;
}

// The last lines of the log: where the verifier says why it refused.
std::string log_tail(size_t max_lines) {
  const std::string& log = libbpf_log();
  size_t pos = log.size();
  for (size_t lines = 0; pos > 0 && lines <= max_lines;)
    if (log[--pos] == '\n') lines++;
  return log.substr(pos);
}

using Fd = UniqueFd;

}  // namespace

Result<std::unique_ptr<DecideRunner>> DecideRunner::open(const std::vector<std::string>& programs) {
  std::unique_ptr<DecideRunner> r(new DecideRunner());
  libbpf_set_print(collect_libbpf);
  libbpf_log().clear();
  r->skel_ = decide_test__open();
  if (!r->skel_) return Error{"decide_test: open failed: " + errstr(errno)};
  if (!programs.empty()) {
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, r->skel_->obj) {
      bool want = false;
      for (const auto& p : programs) want |= p == bpf_program__name(prog);
      bpf_program__set_autoload(prog, want);
    }
  }
  if (int err = decide_test__load(r->skel_))
    return Error{"decide_test: load failed: " + errstr(err) + "\n" + log_tail(30)};

  void* p = mmap(nullptr, kCapacity, PROT_READ | PROT_WRITE, MAP_SHARED,
                 bpf_map__fd(r->skel_->maps.msg), 0);
  if (p == MAP_FAILED) return Error{"decide_test: mmap of the buffer map: " + errstr(errno)};
  r->buf_ = static_cast<std::uint8_t*>(p);
  r->rb_ = ring_buffer__new(bpf_map__fd(r->skel_->maps.events), &DecideRunner::on_event, r.get(),
                            nullptr);
  if (!r->rb_) return Error{"decide_test: ring buffer: " + errstr(errno)};
  return r;
}

DecideRunner::~DecideRunner() {
  ring_buffer__free(rb_);
  if (buf_) munmap(buf_, kCapacity);
  decide_test__destroy(skel_);
}

int DecideRunner::on_event(void* ctx, void* data, size_t size) {
  auto* self = static_cast<DecideRunner*>(ctx);
  mg_event e{};
  std::memcpy(&e, data, std::min(size, sizeof(e)));
  // A record of another size would be a layout bug: keep it visible as a zeroed event.
  if (size != sizeof(e)) e = mg_event{};
  self->pending_.push_back(e);
  return 0;
}

Result<Ok> DecideRunner::reset() {
  if (auto r = remove_policy(); !r) return r;
  if (auto r = set_guard(mg_guard{}); !r) return r;
  int ids = bpf_map__fd(skel_->maps.guard_ids);
  mg_guard_key k{};
  while (bpf_map_get_next_key(ids, nullptr, &k) == 0)
    if (bpf_map_delete_elem(ids, &k) != 0) return Error{"cannot clear guard_ids: " + errstr(errno)};
  if (auto r = set_task(mg_dt_task{}); !r) return r;
  if (auto r = events(); !r) return r.error();
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return Error{"cannot count CPUs: " + errstr(ncpu)};
  std::vector<std::uint64_t> zero(static_cast<size_t>(ncpu));
  for (__u32 i = 0; i < MG_STAT_COUNT; i++)
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.stats), &i, zero.data(), BPF_ANY) != 0)
      return Error{"cannot zero the counters: " + errstr(errno)};
  return Ok{};
}

Result<Ok> DecideRunner::install(const PolicyMap& p) {
  size_t n = p.allow.size() + (p.config ? 1 : 0);
  for (const auto* list : {&p.autoload_allow, &p.autoload_deny})
    for (const auto& g : *list) n += g ? 1 : 0;
  LIBBPF_OPTS(bpf_map_create_opts, opts);
  Fd inner(bpf_map_create(BPF_MAP_TYPE_HASH, "mg_policy", sizeof(mg_allow_key),
                          sizeof(mg_policy_value), static_cast<__u32>(n ? n : 1), &opts));
  if (inner.get() < 0) return Error{"cannot create a policy map: " + errstr(errno)};
  auto put = [&](const mg_allow_key& k, const mg_policy_value& v) -> Result<Ok> {
    if (bpf_map_update_elem(inner.get(), &k, &v, BPF_NOEXIST) != 0)
      return Error{"cannot fill the policy map: " + errstr(errno)};
    return Ok{};
  };
  for (const auto& a : p.allow) {
    mg_allow_key k{};
    std::memcpy(k.sha256, a.sha.data(), sizeof(k.sha256));
    mg_policy_value v{};
    v.allow.entry = a.entry;
    v.allow.sections = a.sections;
    v.allow.firmware_entry = a.firmware_entry;
    v.allow.kexec_entry = a.kexec_entry;
    if (auto r = put(k, v); !r) return r;
  }
  auto put_globs = [&](const std::vector<std::optional<std::string>>& globs,
                       std::uint32_t kind) -> Result<Ok> {
    for (size_t i = 0; i < globs.size(); i++) {
      if (!globs[i]) continue;
      mg_policy_value v{};
      std::strncpy(v.glob.pattern, globs[i]->c_str(), sizeof(v.glob.pattern) - 1);
      if (auto r = put(special_key(kind, static_cast<std::uint32_t>(i)), v); !r) return r;
    }
    return Ok{};
  };
  if (auto r = put_globs(p.autoload_allow, MG_KEY_AUTOLOAD_ALLOW); !r) return r;
  if (auto r = put_globs(p.autoload_deny, MG_KEY_AUTOLOAD_DENY); !r) return r;
  if (p.config) {
    mg_policy_value v{};
    v.config.policy_version = p.version;
    v.config.mode = p.mode;
    v.config.flags = p.flags;
    v.config.present = 1;
    v.config.n_autoload_allow = static_cast<__u32>(p.autoload_allow.size());
    v.config.n_autoload_deny = static_cast<__u32>(p.autoload_deny.size());
    if (auto r = put(special_key(MG_KEY_CONFIG, 0), v); !r) return r;
  }
  if (bpf_map_freeze(inner.get()) != 0)
    return Error{"cannot freeze the policy map: " + errstr(errno)};
  __u32 slot = 0;
  int fd = inner.get();
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.policy), &slot, &fd, BPF_ANY) != 0)
    return Error{"cannot install the policy map: " + errstr(errno)};
  return Ok{};
}

Result<Ok> DecideRunner::remove_policy() {
  __u32 slot = 0;
  if (bpf_map_delete_elem(bpf_map__fd(skel_->maps.policy), &slot) != 0 && errno != ENOENT)
    return Error{"cannot empty the policy slot: " + errstr(errno)};
  return Ok{};
}

Result<std::uint32_t> DecideRunner::policy_map_id() const {
  __u32 slot = 0, id = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.policy), &slot, &id) != 0)
    return Error{"no policy in slot 0: " + errstr(errno)};
  return id;
}

Result<Ok> DecideRunner::set_guard(const mg_guard& g) {
  __u32 zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.guard), &zero, &g, BPF_ANY) != 0)
    return Error{"cannot write the guard record: " + errstr(errno)};
  return Ok{};
}

Result<Ok> DecideRunner::add_guarded(std::uint32_t kind, std::uint32_t dev, std::uint64_t id) {
  mg_guard_key k{};
  k.kind = kind;
  k.dev = dev;
  k.id = id;
  __u32 one = 1;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.guard_ids), &k, &one, BPF_ANY) != 0)
    return Error{"cannot write guard_ids: " + errstr(errno)};
  return Ok{};
}

Result<std::uint32_t> DecideRunner::map_id(const char* name) const {
  bpf_map* m = bpf_object__find_map_by_name(skel_->obj, name);
  if (!m) return Error{std::string("no map ") + name};
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_map__fd(m), &info, &len) != 0)
    return Error{std::string("cannot read the id of ") + name + ": " + errstr(errno)};
  return info.id;
}

Result<Ok> DecideRunner::set_task(const mg_dt_task& t) {
  __u32 zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.task_rec), &zero, &t, BPF_ANY) != 0)
    return Error{"cannot write the task record: " + errstr(errno)};
  return Ok{};
}

Result<mg_dt_task> DecideRunner::task() const {
  __u32 zero = 0;
  mg_dt_task t{};
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.task_rec), &zero, &t) != 0)
    return Error{"cannot read the task record: " + errstr(errno)};
  return t;
}

Result<Ok> DecideRunner::set_buffer(std::span<const std::uint8_t> data) {
  if (data.size() > kCapacity)
    return Error{"buffer of " + std::to_string(data.size()) + " bytes exceeds the map"};
  if (!data.empty()) std::memcpy(buf_, data.data(), data.size());
  return Ok{};
}

Result<Ok> DecideRunner::run_ctx(const char* program, void* ctx, std::uint32_t size) {
  bpf_program* prog = bpf_object__find_program_by_name(skel_->obj, program);
  if (!prog || bpf_program__fd(prog) < 0)
    return Error{std::string("program ") + program + " is not loaded"};
  // Syscall programs take no ctx_out: the kernel copies the context back over ctx_in.
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx, .ctx_size_in = size);
  if (int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts))
    return Error{std::string(program) + ": test_run failed: " + errstr(err)};
  if (opts.retval != 0)
    return Error{std::string(program) + " returned " + std::to_string(opts.retval)};
  return Ok{};
}

Result<Ok> DecideRunner::run(const char* program, mg_decide_args& args) {
  return run_ctx(program, &args, sizeof(args));
}

Result<Ok> DecideRunner::run(mg_guard_args& args) {
  return run_ctx("guard_test", &args, sizeof(args));
}

Result<std::vector<mg_event>> DecideRunner::events() {
  int n = ring_buffer__consume(rb_);
  if (n < 0) return Error{"reading events failed: " + errstr(n)};
  return std::exchange(pending_, {});
}

Result<Stats> DecideRunner::stats() const {
  Stats out{};
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

Result<mg_guard> guard_for(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return Error{"cannot read /proc/PID/stat"};
  // comm (field 2) may hold spaces and parentheses; the fields after it start at the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return Error{"cannot parse /proc/PID/stat"};
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; i++)
    if (!(rest >> field)) return Error{"cannot parse /proc/PID/stat"};
  long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return Error{"cannot read the clock tick rate"};
  mg_guard g{};
  g.agent_tgid = static_cast<__u32>(pid);
  g.agent_start = std::stoull(field);
  g.tick_ns = 1'000'000'000ull / static_cast<std::uint64_t>(ticks);
  return g;
}

}  // namespace modgate::test
