// SPDX-License-Identifier: Apache-2.0
// Which of modgate's BPF programs fit the running kernel, read from its BTF rather than guessed
// from its version number.
//
// BPF_PROG() reads a hook's arguments by position, so a program written for one prototype of a
// hook misreads another (7.x added `bool kernel` to bpf(), which the old program took for `ret`).
// bpf/modgate_lsm.bpf.c therefore has one program per prototype of such a hook, and this table
// says which prototype each was written for. Before anything is loaded, the loader reads each
// hook's prototype from the kernel (the FUNC_PROTO of bpf_lsm_<hook>) and loads the one program
// written for it. A hook whose prototype no program was written for is reported with the
// parameters the kernel has; the enforcement hooks are essential (nothing loads without them),
// the tamper-protection hooks are not (the rest loads, and the gap is reported).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/result.h"

struct btf;

namespace modgate::hooks {

// One program of the BPF object, as libbpf names it.
struct Program {
  std::string name;
  std::string section;  // "lsm/bpf", "lsm.s/kernel_read_file", "fentry/__x64_sys_finit_module"
};

// A hook (or fentry target) no program fits on this kernel.
struct Unmatched {
  std::string hook;
  bool essential = false;
  // The kernel's parameters as C declarations; empty when the kernel has no such function.
  std::vector<std::string> params;
  bool missing = false;
  std::string message;  // one sentence: the hook, the release, what was seen, what modgate has
};

struct Selection {
  std::vector<std::string> load;  // programs to load, in the object's order
  std::vector<std::string> skip;  // programs written for another prototype, or not needed here
  std::vector<Unmatched> unmatched;
  bool loadable() const;  // no essential hook is unmatched
};

// The parameters of FUNC `name` in btf, as C declarations ("union bpf_attr *attr"); an error
// when btf has no such function.
Result<std::vector<std::string>> function_params(const struct btf* btf, std::string_view name);

// Chooses the programs to load for the kernel described by vmlinux (release is for messages).
// Every program must be known to the table: an unknown one is an error (the table and
// bpf/modgate_lsm.bpf.c disagree, a bug, caught by tests/unit/hook_protos_test.cpp).
Result<Selection> select_programs(const struct btf* vmlinux, const std::vector<Program>& programs,
                                  const std::string& release);

// Every program name the table knows, for the test that keeps it and the object in step.
std::vector<std::string> known_programs();

}  // namespace modgate::hooks
