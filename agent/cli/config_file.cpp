// SPDX-License-Identifier: Apache-2.0

#include "agent/cli/config_file.h"

#include <algorithm>
#include <fstream>
#include <vector>

namespace modgate::cli {

Result<Ok> apply_config_file(CLI::App& cmd, const std::string& file) {
  {
    std::ifstream probe(file);
    if (!probe) return Error{"cannot read configuration file " + file};
  }
  std::vector<CLI::ConfigItem> items;
  CLI::ConfigTOML format;
  try {
    items = format.from_file(file);
  } catch (const CLI::Error& e) {
    return Error{file + ": " + e.what()};
  }
  const std::string section = cmd.get_name();
  for (const auto& item : items) {
    // CLI11 marks the start and end of a [section] with these pseudo-keys.
    if (item.name == "++" || item.name == "--") {
      if (!(item.parents.size() == 1 && item.parents[0] == section))
        return Error{file + ": unknown section [" + CLI::detail::join(item.parents, ".") +
                     "] (keys go at the top or under [" + section + "])"};
      continue;
    }
    if (!item.parents.empty() && !(item.parents.size() == 1 && item.parents[0] == section))
      return Error{file + ": unknown key '" + item.fullname() + "' (keys go at the top or under [" +
                   section + "])"};
    std::string name = item.name;
    std::replace(name.begin(), name.end(), '_', '-');
    CLI::Option* op =
        name == "config" || name == "help" ? nullptr : cmd.get_option_no_throw("--" + name);
    if (op == nullptr || !op->get_configurable())
      return Error{file + ": unknown key '" + item.name + "'; the keys are the long options of " +
                   "'modgate " + section + "' (see --help), e.g. policy, on_deny"};
    if (op->count() > 0) continue;  // given on the command line
    try {
      if (op->get_expected_min() == 0)
        op->add_result(op->get_flag_value(item.name, format.to_flag(item)));
      else
        op->add_result(item.inputs);
      op->run_callback();
    } catch (const CLI::Error& e) {
      return Error{file + ": " + item.name + ": " + e.what()};
    }
  }
  return Ok{};
}

}  // namespace modgate::cli
