// SPDX-License-Identifier: Apache-2.0

#include "tests/bpf/sha256_runner.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "agent/bpf/libbpf_log.h"
#include "sha256_test.h"
#include "sha256_test.skel.h"

namespace modgate {

Result<std::unique_ptr<BpfSha256Runner>> BpfSha256Runner::open(size_t capacity) {
  std::unique_ptr<BpfSha256Runner> r(new BpfSha256Runner());
  size_t pages = (capacity + MG_TEST_PAGE - 1) / MG_TEST_PAGE;
  if (pages == 0) pages = 1;
  r->cap_ = pages * MG_TEST_PAGE;

  LibbpfLogCapture log;
  r->skel_ = sha256_test__open();
  if (!r->skel_) return Error{std::string("sha256_test: open failed: ") + std::strerror(errno)};
  r->skel_->rodata->msg_capacity = r->cap_;
  if (int err = bpf_map__set_max_entries(r->skel_->maps.msg, static_cast<__u32>(pages)))
    return Error{std::string("sha256_test: sizing message map: ") + std::strerror(-err)};
  if (int err = sha256_test__load(r->skel_))
    return Error{std::string("sha256_test: load failed: ") + std::strerror(-err) + "\n" +
                 log.tail(20)};

  void* p = mmap(nullptr, r->cap_, PROT_READ | PROT_WRITE, MAP_SHARED,
                 bpf_map__fd(r->skel_->maps.msg), 0);
  if (p == MAP_FAILED)
    return Error{std::string("sha256_test: mmap of message map: ") + std::strerror(errno)};
  r->buf_ = static_cast<std::uint8_t*>(p);
  return r;
}

BpfSha256Runner::~BpfSha256Runner() {
  if (buf_) munmap(buf_, cap_);
  sha256_test__destroy(skel_);
}

int BpfSha256Runner::prog_fd() const { return bpf_program__fd(skel_->progs.sha256_test); }

Result<Sha256> BpfSha256Runner::hash(std::span<const std::uint8_t> data) {
  if (data.size() > cap_)
    return Error{"message of " + std::to_string(data.size()) + " bytes exceeds runner capacity " +
                 std::to_string(cap_)};
  if (!data.empty()) std::memcpy(buf_, data.data(), data.size());
  return hash_in_place(data.size());
}

Result<Sha256> BpfSha256Runner::hash_in_place(size_t len) {
  mg_sha_test_args args{};
  args.len = len;
  // Syscall programs take no ctx_out: the kernel copies the context back over ctx_in.
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
  int err = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.sha256_test), &opts);
  if (err) return Error{std::string("sha256_test: test_run failed: ") + std::strerror(-err)};
  if (args.ret != 0)
    return Error{"BPF sha256 returned " + std::to_string(args.ret) + " (" +
                 std::strerror(static_cast<int>(-args.ret)) + ")"};
  Sha256 out{};
  std::memcpy(out.data(), args.digest, out.size());
  return out;
}

}  // namespace modgate
