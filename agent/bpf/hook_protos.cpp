// SPDX-License-Identifier: Apache-2.0

#include "agent/bpf/hook_protos.h"

#include <bpf/btf.h>

#include <cstdarg>
#include <cstdio>
#include <map>
#include <optional>

namespace modgate::hooks {
namespace {

// One program and the kernel prototype it was written for (the hook's parameters without the
// `ret` the BPF LSM adds). An empty list with any_params: an fentry program, which reads its
// target's pt_regs and only needs the target to exist.
struct Variant {
  std::string_view program;
  std::vector<std::string_view> params;
  bool any_params = false;
};

struct Hook {
  std::string_view target;  // the kernel function the programs attach to
  bool essential;           // nothing loads unless one of its variants fits
  bool optional;            // absent by design on some kernels (no 32-bit syscalls): skipped
  std::vector<Variant> variants;
};

// The one description of what each program expects of the kernel. The prototypes were read from
// the BTF of every kernel in the VM matrix (docs/vm.md); tests/unit/hook_protos_test.cpp checks
// that this table and the BPF object name the same programs.
const std::vector<Hook>& table() {
  static const std::vector<Hook> hooks = {
      {"__x64_sys_finit_module", true, false, {{"finit_enter", {}, true}}},
      {"__ia32_sys_finit_module", false, true, {{"finit_enter_ia32", {}, true}}},
      {"bpf_lsm_kernel_read_file",
       true,
       false,
       {{"read_file", {"struct file *file", "enum kernel_read_file_id id", "bool contents"}}}},
      {"bpf_lsm_kernel_post_read_file",
       true,
       false,
       {{"post_read_file",
         {"struct file *file", "char *buf", "loff_t size", "enum kernel_read_file_id id"}}}},
      {"bpf_lsm_kernel_load_data",
       true,
       false,
       {{"load_data", {"enum kernel_load_data_id id", "bool contents"}}}},
      {"bpf_lsm_kernel_post_load_data",
       true,
       false,
       {{"post_load_data",
         {"char *buf", "loff_t size", "enum kernel_load_data_id id", "char *description"}}}},
      {"bpf_lsm_kernel_module_request", true, false, {{"module_request", {"char *kmod_name"}}}},
      {"bpf_lsm_bpf",
       false,
       false,
       {{"guard_bpf", {"int cmd", "union bpf_attr *attr", "unsigned int size"}},
        {"guard_bpf_kernel",
         {"int cmd", "union bpf_attr *attr", "unsigned int size", "bool kernel"}}}},
      {"bpf_lsm_bpf_map",
       false,
       false,
       {{"guard_bpf_map", {"struct bpf_map *map", "fmode_t fmode"}}}},
      {"bpf_lsm_bpf_prog", false, false, {{"guard_bpf_prog", {"struct bpf_prog *prog"}}}},
      {"bpf_lsm_inode_permission",
       false,
       false,
       {{"guard_inode_permission", {"struct inode *inode", "int mask"}}}},
      {"bpf_lsm_inode_unlink",
       false,
       false,
       {{"guard_inode_unlink", {"struct inode *dir", "struct dentry *dentry"}}}},
      {"bpf_lsm_inode_rmdir",
       false,
       false,
       {{"guard_inode_rmdir", {"struct inode *dir", "struct dentry *dentry"}}}},
      {"bpf_lsm_inode_rename",
       false,
       false,
       {{"guard_inode_rename",
         {"struct inode *old_dir", "struct dentry *old_dentry", "struct inode *new_dir",
          "struct dentry *new_dentry"}}}},
      {"bpf_lsm_sb_umount",
       false,
       false,
       {{"guard_sb_umount", {"struct vfsmount *mnt", "int flags"}}}},
      {"bpf_lsm_task_kill",
       false,
       false,
       {{"guard_task_kill",
         {"struct task_struct *p", "struct kernel_siginfo *info", "int sig",
          "const struct cred *cred"}}}},
      {"bpf_lsm_ptrace_access_check",
       false,
       false,
       {{"guard_ptrace", {"struct task_struct *child", "unsigned int mode"}}}},
      {"bpf_lsm_file_open", false, false, {{"guard_file_open", {"struct file *file"}}}},
      {"bpf_lsm_locked_down", false, false, {{"guard_locked_down", {"enum lockdown_reason what"}}}},
      {"bpf_lsm_file_send_sigiotask",
       false,
       false,
       {{"guard_file_send_sigiotask",
         {"struct task_struct *tsk", "struct fown_struct *fown", "int sig"}}}},
      {"bpf_lsm_task_setrlimit",
       false,
       false,
       {{"guard_task_setrlimit",
         {"struct task_struct *p", "unsigned int resource", "struct rlimit *new_rlim"}}}},
  };
  return hooks;
}

// The kernel function a program's section attaches to.
std::optional<std::string> target_of(const std::string& section) {
  for (std::string_view prefix : {"lsm/", "lsm.s/"})
    if (section.rfind(prefix, 0) == 0) return "bpf_lsm_" + section.substr(prefix.size());
  for (std::string_view prefix : {"fentry/", "fentry.s/"})
    if (section.rfind(prefix, 0) == 0) return section.substr(prefix.size());
  return std::nullopt;
}

void append(void* ctx, const char* fmt, va_list args) {
  auto* out = static_cast<std::string*>(ctx);
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return;
  std::string piece(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(piece.data(), piece.size(), fmt, args);
  piece.resize(static_cast<size_t>(n));
  *out += piece;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& p : v) s += (s.empty() ? "" : ", ") + p;
  return "(" + s + ")";
}

std::string join(const std::vector<std::string_view>& v) {
  return join(std::vector<std::string>(v.begin(), v.end()));
}

std::string short_name(std::string_view target) {
  constexpr std::string_view lsm = "bpf_lsm_";
  if (target.substr(0, lsm.size()) == lsm) return std::string(target.substr(lsm.size()));
  return std::string(target);
}

}  // namespace

bool Selection::loadable() const {
  for (const auto& u : unmatched)
    if (u.essential) return false;
  return true;
}

Result<std::vector<std::string>> function_params(const struct btf* btf, std::string_view name) {
  const std::string n(name);
  __s32 id = btf__find_by_name_kind(btf, n.c_str(), BTF_KIND_FUNC);
  if (id <= 0) return Error{"the kernel has no function " + n};
  const struct btf_type* func = btf__type_by_id(btf, static_cast<__u32>(id));
  const struct btf_type* proto = func ? btf__type_by_id(btf, func->type) : nullptr;
  if (!proto || !btf_is_func_proto(proto)) return Error{"the kernel's " + n + " has no prototype"};

  std::string text;
  struct btf_dump* d = btf_dump__new(btf, append, &text, nullptr);
  if (!d) return Error{"cannot render the kernel's types"};
  std::vector<std::string> out;
  const struct btf_param* p = btf_params(proto);
  for (__u16 i = 0; i < btf_vlen(proto); i++) {
    text.clear();
    const char* pname = btf__name_by_offset(btf, p[i].name_off);
    LIBBPF_OPTS(btf_dump_emit_type_decl_opts, opts, .field_name = pname ? pname : "");
    if (btf_dump__emit_type_decl(d, p[i].type, &opts) != 0) {
      btf_dump__free(d);
      return Error{"cannot render parameter " + std::to_string(i) + " of " + n};
    }
    out.push_back(text);
  }
  btf_dump__free(d);
  return out;
}

Result<Selection> select_programs(const struct btf* vmlinux, const std::vector<Program>& programs,
                                  const std::string& release) {
  // Program name -> where the table describes it.
  std::map<std::string, std::pair<const Hook*, const Variant*>> known;
  for (const auto& h : table())
    for (const auto& v : h.variants) known[std::string(v.program)] = {&h, &v};

  // A hook's verdict once, whichever of its programs comes first.
  std::map<std::string_view, std::optional<std::string_view>> chosen;  // target -> program
  Selection sel;
  for (const auto& h : table()) {
    auto params = function_params(vmlinux, h.target);
    if (!params) {
      chosen[h.target] = std::nullopt;
      if (h.optional) continue;
      Unmatched u{short_name(h.target), h.essential, {}, true, ""};
      u.message = "kernel " + release + " has no " + std::string(h.target) +
                  (h.target.substr(0, 8) == "bpf_lsm_" ? " (its BPF LSM has no such hook)" : "") +
                  ", so modgate cannot attach there";
      sel.unmatched.push_back(std::move(u));
      continue;
    }
    std::optional<std::string_view> pick;
    for (const auto& v : h.variants) {
      if (v.any_params || std::vector<std::string>(v.params.begin(), v.params.end()) == *params) {
        pick = v.program;
        break;
      }
    }
    chosen[h.target] = pick;
    if (pick) continue;
    Unmatched u{short_name(h.target), h.essential, *params, false, ""};
    u.message = "kernel " + release + ": hook " + u.hook + " has the parameters " + join(*params) +
                ", and modgate has programs only for ";
    for (size_t i = 0; i < h.variants.size(); i++)
      u.message += (i ? " and " : "") + join(h.variants[i].params) + " [" +
                   std::string(h.variants[i].program) + "]";
    sel.unmatched.push_back(std::move(u));
  }

  for (const auto& p : programs) {
    auto it = known.find(p.name);
    auto target = target_of(p.section);
    if (it == known.end() || !target || *target != it->second.first->target)
      return Error{"modgate's BPF object has a program " + p.name + " (section " + p.section +
                   ") that agent/bpf/hook_protos.cpp does not describe; this build is broken"};
    auto c = chosen.find(it->second.first->target);
    if (c != chosen.end() && c->second && *c->second == p.name)
      sel.load.push_back(p.name);
    else
      sel.skip.push_back(p.name);
  }
  return sel;
}

std::vector<std::string> known_programs() {
  std::vector<std::string> out;
  for (const auto& h : table())
    for (const auto& v : h.variants) out.emplace_back(v.program);
  return out;
}

}  // namespace modgate::hooks
