// SPDX-License-Identifier: Apache-2.0
// Every file modgate parses (policy, bundle, key) is read by one function with the same refusals:
// not a regular file, or larger than what that kind of file may be, before or during the read.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "policy/result.h"

namespace modgate::policy {

// The bytes of the regular file PATH, at most LIMIT of them. WHAT names the kind of file in the
// error ("a policy"). ST_OUT, when given, receives the fstat of the file that was read.
Result<std::string> read_regular_file(const std::string& path, std::uint64_t limit,
                                      const std::string& what, struct stat* st_out = nullptr);

}  // namespace modgate::policy
