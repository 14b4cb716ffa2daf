// SPDX-License-Identifier: Apache-2.0
// Files other processes read while the agent rewrites them (the saved policy, the anti-rollback
// mark, the metrics textfile) are replaced in one rename, so a reader or a crash never sees half
// of one.
#pragma once

#include <sys/types.h>

#include <string>

#include "policy/result.h"

namespace modgate {

// Writes TEXT to PATH.tmp (never following a symlink there), fsyncs it, renames it over PATH and
// fsyncs the directory, so that after a power cut PATH holds the old or the new text.
Result<Ok> write_atomically(const std::string& path, const std::string& text, mode_t mode);

// A command's -o FILE: an existing character device or FIFO (/dev/null, /dev/stdout, a pipe from
// the shell's process substitution) is written in place, since renaming a file over it would
// replace, say, /dev/null itself; anything else goes through write_atomically.
Result<Ok> write_output_file(const std::string& path, const std::string& text, mode_t mode);

// mkdir -p with MODE for the directories it creates.
Result<Ok> mkdir_p(const std::string& dir, mode_t mode);

std::string dirname_of(const std::string& path);

}  // namespace modgate
