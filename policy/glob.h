// SPDX-License-Identifier: Apache-2.0
// Glob matching over request_module() names: the reference the BPF side implements bit for bit
// (docs/policy.md, "Glob semantics"). Kept free of allocation and recursion so the same loop can be
// written under the verifier's bounded-loop rules.
#pragma once

#include <string_view>

namespace modgate::policy {

// True when the whole of `name` matches `pattern`. '*' matches any run of bytes (also none), '?'
// exactly one byte; every other pattern byte matches itself, case-sensitively. No escapes, no
// classes, no special treatment of '.', '/' or '-'.
bool glob_match(std::string_view pattern, std::string_view name);

// Characters an autoload pattern may hold besides '*' and '?': those of request_module() names.
bool is_autoload_pattern_char(char c);

// Characters a kernel release glob may hold besides '*' and '?' (uname -r, e.g.
// "6.12.1+deb13-amd64").
bool is_kernel_pattern_char(char c);

}  // namespace modgate::policy
