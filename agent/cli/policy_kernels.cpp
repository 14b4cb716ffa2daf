// SPDX-License-Identifier: Apache-2.0
// `modgate policy merge|prune`: a policy's kernels added and removed as new versions, by a release
// pipeline or by the kernel hooks on a standalone host (docs/policy.md, docs/rollout.md).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/cli/policy_io.h"
#include "policy/merge.h"

namespace modgate::cli {
namespace {

struct KernelOptions {
  std::vector<std::string> merge_inputs;
  std::string merge_output;
  bool keep_settings = false;
  std::string prune_input, prune_output;
  std::vector<std::string> prune_kernels;
};

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

int run_merge(const KernelOptions& o) {
  const std::string me = "modgate policy merge";
  std::vector<policy::MergeInput> inputs;
  for (const auto& file : o.merge_inputs) {
    auto p = load_policy_file(file);
    if (!p) {
      std::cerr << p.error().message << "\n";
      return kExitFailure;
    }
    inputs.push_back({file, std::move(*p)});
  }
  auto merged = policy::merge_policies(inputs, {.settings_from_first = o.keep_settings});
  if (!merged) {
    std::cerr << me << ": " << merged.error().message << "\n";
    return kExitFailure;
  }
  std::size_t in_entries = 0;
  for (const auto& in : inputs) in_entries += in.policy.modules.size();
  std::cerr << me << ": " << inputs.size() << " policies, " << in_entries << " module entries, "
            << merged->modules.size() << " after dropping repeats; version " << merged->version
            << "\n";
  return write_generated(
      me, *merged,
      {"modgate policy merged by 'modgate policy merge' from " + joined(o.merge_inputs),
       "Format: docs/policy.md"},
      o.merge_output);
}

int run_prune(const KernelOptions& o) {
  const std::string me = "modgate policy prune";
  auto p = load_policy_file(o.prune_input);
  if (!p) {
    std::cerr << p.error().message << "\n";
    return kExitFailure;
  }
  auto pruned = policy::prune_kernels(*p, o.prune_kernels);
  if (!pruned) {
    std::cerr << me << ": " << o.prune_input << ": " << pruned.error().message
              << "; nothing written\n";
    return kExitFailure;
  }
  std::cerr << me << ": removed " << pruned->entries_removed << " of " << p->modules.size()
            << " module entries";
  if (!pruned->kernels_removed.empty())
    std::cerr << " and kernels " << joined(pruned->kernels_removed);
  std::cerr << "; kernels now "
            << (pruned->policy.kernels.empty() ? "every kernel" : joined(pruned->policy.kernels))
            << "; version " << pruned->policy.version << "\n";
  return write_generated(me, pruned->policy,
                         {"modgate policy pruned by 'modgate policy prune' from " + o.prune_input +
                              " (removed: " + joined(o.prune_kernels) + ")",
                          "Format: docs/policy.md"},
                         o.prune_output);
}

}  // namespace

std::function<std::optional<int>()> register_policy_kernels(CLI::App& grp) {
  auto o = std::make_shared<KernelOptions>();
  auto* merge = grp.add_subcommand(
      "merge", "Unite several policies' entries and kernels into one new version");
  merge->add_option("POLICY", o->merge_inputs, "Policy files to merge (two or more)")
      ->required()
      ->expected(2, -1);
  merge->add_flag("--keep-settings", o->keep_settings,
                  "Keep the first policy's settings; the others add only entries and kernels");
  merge->add_option("-o,--output", o->merge_output,
                    "Write the merged policy here (default: stdout)");
  merge->footer(
      "Entries are united by (name, sha256), in the order given; an exact repeat is dropped and\n"
      "the first one's descriptive fields kept. kernels: is the union (every kernel if any\n"
      "input names none). Every other setting (mode, rollout, autoload, flags, firmware:/kexec:\n"
      "present or not) must be the same in all inputs, or nothing is written; with\n"
      "--keep-settings the first input's settings are kept instead, as when a new kernel's\n"
      "'policy init' output is added to a policy in force. The version is one above the\n"
      "highest input's.\n"
      "Exit status: 0 when the merged policy was written; 1 when an input is invalid or the\n"
      "inputs cannot be merged (nothing is written then).\n\n"
      "Examples:\n  modgate policy init --kernel 6.1.0-57-amd64 -o 6.1.yaml\n"
      "  modgate policy init --kernel 6.12.118+deb13-amd64 -o 6.12.yaml\n"
      "  modgate policy merge 6.1.yaml 6.12.yaml -o policy.yaml\n"
      "  modgate policy merge --keep-settings policy.yaml 6.12.yaml -o new.yaml");

  auto* prune = grp.add_subcommand(
      "prune", "Remove the entries and kernels: items of kernels into a new version");
  prune->add_option("POLICY", o->prune_input, "The policy to prune")->required();
  prune
      ->add_option("--kernels", o->prune_kernels,
                   "Releases to remove (uname -r, or globs such as '6.1.0-*'); repeat the option "
                   "or separate them with commas")
      ->required()
      ->expected(1)
      ->delimiter(',');
  prune->add_option("-o,--output", o->prune_output,
                    "Write the pruned policy here (default: stdout)");
  prune->footer(
      "A module entry is removed when the release its vermagic names matches one of --kernels;\n"
      "entries without vermagic (written by hand) stay. A kernels: item is removed when it is\n"
      "named exactly or is a release a glob matches; a glob item that only covers a named\n"
      "release stays, since it may cover others. Firmware and kexec entries stay.\n"
      "Nothing is written when nothing matches, or when a policy that named kernels would\n"
      "name none: an empty kernels: means every kernel. The version is one above the input's.\n"
      "Exit status: 0 when the pruned policy was written; 1 otherwise.\n\n"
      "Example:\n"
      "  modgate policy prune policy.yaml --kernels 6.1.0-57-amd64 -o new.yaml");

  return [o, merge, prune]() -> std::optional<int> {
    if (merge->parsed()) return run_merge(*o);
    if (prune->parsed()) return run_prune(*o);
    return std::nullopt;
  };
}

}  // namespace modgate::cli
