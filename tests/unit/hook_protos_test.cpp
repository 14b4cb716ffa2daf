// SPDX-License-Identifier: Apache-2.0
// Choosing the program variant for each hook from a kernel's BTF (agent/bpf/hook_protos.h). The
// kernels are described by BTF built here, in the shapes the VM matrix's kernels have; the host's
// own BTF and the real BPF object are checked too.
#include "agent/bpf/hook_protos.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

// The skeleton names the ABI structs its read-only data holds (bpf/modgate_lsm.bpf.c).
#include "modgate_abi.h"
#include "modgate_lsm.skel.h"

namespace modgate::hooks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Params = std::vector<std::pair<std::string, std::string>>;  // type, name

// A BTF of just the types the hook prototypes use, and bpf_lsm_* functions added one by one.
class FakeKernel {
 public:
  FakeKernel() : btf_(btf__new_empty(), btf__free) {
    auto* b = btf_.get();
    types_["int"] = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
    types_["unsigned int"] = btf__add_int(b, "unsigned int", 4, 0);
    types_["bool"] = btf__add_int(b, "_Bool", 1, BTF_INT_BOOL);
    types_["char"] = btf__add_int(b, "char", 1, BTF_INT_CHAR);
    int ll = btf__add_int(b, "long long int", 8, BTF_INT_SIGNED);
    types_["loff_t"] = btf__add_typedef(b, "loff_t", ll);
    types_["fmode_t"] = btf__add_typedef(b, "fmode_t", types_["unsigned int"]);
    // bool is a typedef of _Bool in the kernel's BTF.
    types_["bool"] = btf__add_typedef(b, "bool", types_["bool"]);
    for (const char* e : {"kernel_read_file_id", "kernel_load_data_id", "lockdown_reason"}) {
      int id = btf__add_enum(b, e, 4);
      btf__add_enum_value(b, "X", 0);
      types_[std::string("enum ") + e] = id;
    }
    for (const char* s :
         {"file", "bpf_map", "bpf_prog", "inode", "dentry", "vfsmount", "task_struct",
          "kernel_siginfo", "cred", "pt_regs", "fown_struct", "rlimit"})
      types_[std::string("struct ") + s] = btf__add_fwd(b, s, BTF_FWD_STRUCT);
    types_["union bpf_attr"] = btf__add_fwd(b, "bpf_attr", BTF_FWD_UNION);
  }

  // type is "T", "T *" or "const T *".
  int type(const std::string& t) {
    std::string base = t;
    bool ptr = false, is_const = false;
    if (base.size() > 2 && base.compare(base.size() - 2, 2, " *") == 0) {
      ptr = true;
      base.resize(base.size() - 2);
    }
    if (base.rfind("const ", 0) == 0) {
      is_const = true;
      base = base.substr(6);
    }
    int id = types_.at(base);
    if (is_const) id = btf__add_const(btf_.get(), id);
    if (ptr) id = btf__add_ptr(btf_.get(), id);
    return id;
  }

  void add(const std::string& func, const Params& params) {
    std::vector<int> ids;
    for (const auto& [t, n] : params) ids.push_back(type(t));
    // Parameters must directly follow their FUNC_PROTO, so their types are added first.
    int proto = btf__add_func_proto(btf_.get(), types_["int"]);
    for (size_t i = 0; i < params.size(); i++)
      btf__add_func_param(btf_.get(), params[i].second.c_str(), ids[i]);
    btf__add_func(btf_.get(), func.c_str(), BTF_FUNC_STATIC, proto);
  }

  // Every hook modgate uses, as 6.1 and 6.12 have them; `bpf` as given.
  void add_kernel(const Params& bpf_params, bool ia32 = true) {
    add("__x64_sys_finit_module", {{"struct pt_regs *", "regs"}});
    if (ia32) add("__ia32_sys_finit_module", {{"struct pt_regs *", "regs"}});
    add("bpf_lsm_kernel_read_file",
        {{"struct file *", "file"}, {"enum kernel_read_file_id", "id"}, {"bool", "contents"}});
    add("bpf_lsm_kernel_post_read_file", {{"struct file *", "file"},
                                          {"char *", "buf"},
                                          {"loff_t", "size"},
                                          {"enum kernel_read_file_id", "id"}});
    add("bpf_lsm_kernel_load_data", {{"enum kernel_load_data_id", "id"}, {"bool", "contents"}});
    add("bpf_lsm_kernel_post_load_data", {{"char *", "buf"},
                                          {"loff_t", "size"},
                                          {"enum kernel_load_data_id", "id"},
                                          {"char *", "description"}});
    add("bpf_lsm_kernel_module_request", {{"char *", "kmod_name"}});
    add("bpf_lsm_bpf", bpf_params);
    add("bpf_lsm_bpf_map", {{"struct bpf_map *", "map"}, {"fmode_t", "fmode"}});
    add("bpf_lsm_bpf_prog", {{"struct bpf_prog *", "prog"}});
    add("bpf_lsm_inode_permission", {{"struct inode *", "inode"}, {"int", "mask"}});
    add("bpf_lsm_inode_unlink", {{"struct inode *", "dir"}, {"struct dentry *", "dentry"}});
    add("bpf_lsm_inode_rmdir", {{"struct inode *", "dir"}, {"struct dentry *", "dentry"}});
    add("bpf_lsm_inode_rename", {{"struct inode *", "old_dir"},
                                 {"struct dentry *", "old_dentry"},
                                 {"struct inode *", "new_dir"},
                                 {"struct dentry *", "new_dentry"}});
    add("bpf_lsm_sb_umount", {{"struct vfsmount *", "mnt"}, {"int", "flags"}});
    add("bpf_lsm_task_kill", {{"struct task_struct *", "p"},
                              {"struct kernel_siginfo *", "info"},
                              {"int", "sig"},
                              {"const struct cred *", "cred"}});
    add("bpf_lsm_ptrace_access_check",
        {{"struct task_struct *", "child"}, {"unsigned int", "mode"}});
    add("bpf_lsm_file_open", {{"struct file *", "file"}});
    add("bpf_lsm_locked_down", {{"enum lockdown_reason", "what"}});
    add("bpf_lsm_file_send_sigiotask",
        {{"struct task_struct *", "tsk"}, {"struct fown_struct *", "fown"}, {"int", "sig"}});
    add("bpf_lsm_task_setrlimit", {{"struct task_struct *", "p"},
                                   {"unsigned int", "resource"},
                                   {"struct rlimit *", "new_rlim"}});
  }

  const struct btf* get() const { return btf_.get(); }

 private:
  std::unique_ptr<struct btf, void (*)(struct btf*)> btf_;
  std::map<std::string, int> types_;
};

const Params kBpf6 = {{"int", "cmd"}, {"union bpf_attr *", "attr"}, {"unsigned int", "size"}};
const Params kBpf7 = {
    {"int", "cmd"}, {"union bpf_attr *", "attr"}, {"unsigned int", "size"}, {"bool", "kernel"}};

// The programs of the real BPF object, as the loader sees them.
std::vector<Program> object_programs() {
  std::vector<Program> out;
  struct modgate_lsm* skel = modgate_lsm__open();
  EXPECT_NE(skel, nullptr);
  if (!skel) return out;
  bpf_program* p = nullptr;
  bpf_object__for_each_program(p, skel->obj) {
    out.push_back({bpf_program__name(p), bpf_program__section_name(p)});
  }
  modgate_lsm__destroy(skel);
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(HookProtos, ParamsRenderAsCDeclarations) {
  FakeKernel k;
  k.add_kernel(kBpf7);
  auto p = function_params(k.get(), "bpf_lsm_bpf");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_THAT(*p,
              ElementsAre("int cmd", "union bpf_attr *attr", "unsigned int size", "bool kernel"));
  auto t = function_params(k.get(), "bpf_lsm_task_kill");
  ASSERT_TRUE(t);
  EXPECT_EQ((*t)[3], "const struct cred *cred");
  EXPECT_FALSE(function_params(k.get(), "bpf_lsm_no_such_hook"));
}

TEST(HookProtos, SixXKernelLoadsTheThreeArgumentBpfGuard) {
  FakeKernel k;
  k.add_kernel(kBpf6);
  auto sel = select_programs(k.get(), object_programs(), "6.12.0-test");
  ASSERT_TRUE(sel) << sel.error().message;
  EXPECT_TRUE(sel->loadable());
  EXPECT_TRUE(sel->unmatched.empty());
  EXPECT_TRUE(has(sel->load, "guard_bpf"));
  EXPECT_TRUE(has(sel->skip, "guard_bpf_kernel"));
  EXPECT_TRUE(has(sel->load, "post_read_file"));
  EXPECT_TRUE(has(sel->load, "finit_enter_ia32"));
}

TEST(HookProtos, SevenXKernelLoadsTheFourArgumentBpfGuard) {
  FakeKernel k;
  k.add_kernel(kBpf7);
  auto sel = select_programs(k.get(), object_programs(), "7.3.4+deb13-amd64");
  ASSERT_TRUE(sel) << sel.error().message;
  EXPECT_TRUE(sel->unmatched.empty());
  EXPECT_TRUE(has(sel->load, "guard_bpf_kernel"));
  EXPECT_TRUE(has(sel->skip, "guard_bpf"));
  // Every program is either loaded or skipped, none both.
  EXPECT_EQ(sel->load.size() + sel->skip.size(), object_programs().size());
}

TEST(HookProtos, UnknownGuardPrototypeIsReportedAndTheRestLoads) {
  FakeKernel k;
  Params weird = kBpf7;
  weird.emplace_back("int", "flags");
  k.add_kernel(weird);
  auto sel = select_programs(k.get(), object_programs(), "7.9.0-future");
  ASSERT_TRUE(sel) << sel.error().message;
  EXPECT_TRUE(sel->loadable());
  ASSERT_EQ(sel->unmatched.size(), 1u);
  const auto& u = sel->unmatched[0];
  EXPECT_EQ(u.hook, "bpf");
  EXPECT_FALSE(u.essential);
  EXPECT_THAT(u.params, ElementsAre("int cmd", "union bpf_attr *attr", "unsigned int size",
                                    "bool kernel", "int flags"));
  EXPECT_THAT(u.message, HasSubstr("7.9.0-future"));
  EXPECT_THAT(u.message, HasSubstr("(int cmd, union bpf_attr *attr, unsigned int size, bool "
                                   "kernel, int flags)"));
  EXPECT_THAT(u.message, HasSubstr("[guard_bpf_kernel]"));
  EXPECT_TRUE(has(sel->skip, "guard_bpf"));
  EXPECT_TRUE(has(sel->skip, "guard_bpf_kernel"));
  EXPECT_TRUE(has(sel->load, "guard_file_open"));
}

TEST(HookProtos, RenamedParameterIsAnotherPrototype) {
  // 7.3 names mmap_file's file "file__nullable": the verifier then lets it be NULL, so a
  // program written for "file" is not the program for that hook.
  FakeKernel k;
  Params renamed = kBpf6;
  renamed[1].second = "attr__nullable";
  k.add_kernel(renamed);
  auto sel = select_programs(k.get(), object_programs(), "7.3.4+deb13-amd64");
  ASSERT_TRUE(sel);
  ASSERT_EQ(sel->unmatched.size(), 1u);
  EXPECT_THAT(sel->unmatched[0].message, HasSubstr("union bpf_attr *attr__nullable"));
}

TEST(HookProtos, UnknownEssentialHookRefusesTheWholeLoad) {
  FakeKernel k;
  k.add("bpf_lsm_kernel_post_read_file", {{"struct file *", "file"},
                                          {"char *", "buf"},
                                          {"loff_t", "size"},
                                          {"enum kernel_read_file_id", "id"},
                                          {"bool", "contents"}});
  k.add_kernel(kBpf6);  // its post_read_file comes second and is never found
  auto sel = select_programs(k.get(), object_programs(), "8.0.0");
  ASSERT_TRUE(sel);
  EXPECT_FALSE(sel->loadable());
  ASSERT_EQ(sel->unmatched.size(), 1u);
  EXPECT_TRUE(sel->unmatched[0].essential);
  EXPECT_EQ(sel->unmatched[0].hook, "kernel_post_read_file");
  EXPECT_THAT(sel->unmatched[0].message, HasSubstr("8.0.0"));
  EXPECT_THAT(sel->unmatched[0].message, HasSubstr("bool contents)"));
}

TEST(HookProtos, MissingIa32EntryIsSkippedSilently) {
  FakeKernel k;
  k.add_kernel(kBpf6, /*ia32=*/false);
  auto sel = select_programs(k.get(), object_programs(), "6.1.0-test");
  ASSERT_TRUE(sel);
  EXPECT_TRUE(sel->unmatched.empty());
  EXPECT_TRUE(has(sel->skip, "finit_enter_ia32"));
}

TEST(HookProtos, MissingGuardHookIsReported) {
  FakeKernel k;
  k.add("__x64_sys_finit_module", {{"struct pt_regs *", "regs"}});
  auto sel = select_programs(k.get(), object_programs(), "6.1.0-test");
  ASSERT_TRUE(sel);
  EXPECT_FALSE(sel->loadable());
  bool saw_file_open = false;
  for (const auto& u : sel->unmatched)
    if (u.hook == "file_open") {
      saw_file_open = true;
      EXPECT_TRUE(u.missing);
      EXPECT_THAT(u.message, HasSubstr("has no bpf_lsm_file_open"));
    }
  EXPECT_TRUE(saw_file_open);
}

TEST(HookProtos, TableAndObjectNameTheSamePrograms) {
  std::vector<std::string> in_object;
  for (const auto& p : object_programs()) in_object.push_back(p.name);
  auto known = known_programs();
  std::sort(in_object.begin(), in_object.end());
  std::sort(known.begin(), known.end());
  EXPECT_EQ(in_object, known);
}

TEST(HookProtos, ProgramTheTableDoesNotKnowIsABuildError) {
  FakeKernel k;
  k.add_kernel(kBpf6);
  auto programs = object_programs();
  programs.push_back({"guard_new", "lsm/mmap_file"});
  auto sel = select_programs(k.get(), programs, "6.1.0");
  ASSERT_FALSE(sel);
  EXPECT_THAT(sel.error().message, HasSubstr("guard_new"));
}

// The host's own kernel (6.18 in CI): every hook has a program.
TEST(HookProtos, HostKernelHasAProgramForEveryHook) {
  std::unique_ptr<struct btf, void (*)(struct btf*)> host(btf__load_vmlinux_btf(), btf__free);
  if (!host) GTEST_SKIP() << "no /sys/kernel/btf/vmlinux on this host";
  auto sel = select_programs(host.get(), object_programs(), "host");
  ASSERT_TRUE(sel) << sel.error().message;
  for (const auto& u : sel->unmatched) ADD_FAILURE() << u.message;
  EXPECT_TRUE(sel->loadable());
}

}  // namespace
}  // namespace modgate::hooks
