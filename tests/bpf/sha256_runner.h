// SPDX-License-Identifier: Apache-2.0
// Loads tests/bpf/progs/sha256_test.bpf.c (the shared BPF SHA-256 inside a BPF_PROG_TYPE_SYSCALL
// program) and runs it with bpf_prog_test_run_opts over a message placed in an mmapable array map.
// Used by the host tests and by bench/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "policy/result.h"
#include "policy/sha256.h"

struct sha256_test;

namespace modgate {

class BpfSha256Runner {
 public:
  // capacity: the largest message that will be hashed, rounded up to whole pages.
  static Result<std::unique_ptr<BpfSha256Runner>> open(size_t capacity);
  ~BpfSha256Runner();
  BpfSha256Runner(const BpfSha256Runner&) = delete;
  BpfSha256Runner& operator=(const BpfSha256Runner&) = delete;

  // Copies data into the kernel buffer, then hashes it in BPF.
  Result<Sha256> hash(std::span<const std::uint8_t> data);
  // Hashes the first len bytes already in buffer(); for benchmarks that fill once.
  Result<Sha256> hash_in_place(size_t len);

  std::uint8_t* buffer() { return buf_; }
  // The loaded program, for bpf_obj_get_info_by_fd (the verifier's instruction count).
  int prog_fd() const;
  size_t capacity() const { return cap_; }

 private:
  BpfSha256Runner() = default;
  struct sha256_test* skel_ = nullptr;
  std::uint8_t* buf_ = nullptr;
  size_t cap_ = 0;
};

}  // namespace modgate
