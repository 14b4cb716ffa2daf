// SPDX-License-Identifier: Apache-2.0
// `modgate run --config FILE`: the agent's configuration file (docs/config.md). Every long option
// of the command is a key, spelled with dashes or underscores, so options added later need no code
// here. The file is CLI11's TOML/INI dialect; the command line wins over the file.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "policy/result.h"

namespace modgate::cli {

inline constexpr const char* kDefaultConfigFile = "/etc/modgate/modgate.conf";

// Gives each key of `file` to the option of `cmd` with that long name, unless the command line set
// it already. Unknown keys, sections other than [NAME-OF-CMD], keys naming options that cannot be
// configured, and values the option refuses are errors naming the file and the key; on an error
// no later key is applied, and the caller must not run the command.
Result<Ok> apply_config_file(CLI::App& cmd, const std::string& file);

}  // namespace modgate::cli
