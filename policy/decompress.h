// SPDX-License-Identifier: Apache-2.0
// Decompression of kernel module files (.ko.xz, .ko.zst, .ko.gz) into memory, with a ceiling on
// the output so a corrupt or hostile file cannot exhaust memory.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "policy/result.h"

namespace modgate::policy {

enum class Compression { kNone, kXz, kZstd, kGzip };

// Largest module file or decompressed payload read into memory. The kernel's own limit is INT_MAX
// bytes; the largest module Debian ships (amdgpu) is about 30 MiB uncompressed.
inline constexpr std::size_t kMaxModuleBytes = 512u << 20;

// By file name: ".ko.xz" → kXz and so on; anything else → kNone.
Compression compression_from_name(std::string_view filename);
// ".xz", ".zst", ".gz", or "" for kNone.
std::string_view compression_suffix(Compression c);
// By magic bytes, or kNone when none matches.
Compression compression_from_magic(std::span<const std::uint8_t> data);

// Decompresses all of `data`. Fails on corrupt input, trailing garbage after the stream, or output
// beyond max_out bytes; the message says which, without naming the file (callers add it).
Result<std::vector<std::uint8_t>> decompress(std::span<const std::uint8_t> data, Compression c,
                                             std::size_t max_out = kMaxModuleBytes);

}  // namespace modgate::policy
