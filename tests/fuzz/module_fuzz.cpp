// SPDX-License-Identifier: Apache-2.0
// A module file as modgate reads one (policy init, audit, event naming): optional xz/zstd/gzip
// decompression by magic, then the ELF .modinfo through libelf and the appended signature trailer
// with its PKCS#7 through OpenSSL. The same bytes also go to the X.509 reader audit --certs uses.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "policy/decompress.h"
#include "policy/modinfo.h"

namespace {

void read_module(std::span<const std::uint8_t> bytes) {
  using namespace modgate::policy;
  auto info = read_modinfo(bytes);
  if (!info) FUZZ_CHECK(!info.error().message.empty());
  auto sig = module_signature(bytes);
  if (sig && sig->has_value()) {
    FUZZ_CHECK(!(*sig)->signer.empty());
    FUZZ_CHECK((*sig)->length > 0 && (*sig)->length <= bytes.size());
    auto signer = module_signer(bytes);
    FUZZ_CHECK(signer && signer->has_value() && **signer == (*sig)->signer);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modgate::policy;
  std::span<const std::uint8_t> in(data, size);
  read_module(in);

  // The real ceiling (kMaxModuleBytes, 512 MiB) is above libFuzzer's memory limit; a smaller one
  // exercises the same check without every large expansion being reported as out-of-memory.
  constexpr std::size_t kMaxOut = 8u << 20;
  Compression c = compression_from_magic(in);
  if (c != Compression::kNone) {
    auto out = decompress(in, c, kMaxOut);
    if (out) {
      FUZZ_CHECK(out->size() <= kMaxOut);
      read_module(*out);
    }
  }

  auto cert = parse_certificate(in);
  if (cert) {
    ModuleSignature sig;
    sig.issuer = cert->issuer;
    sig.serial = cert->serial;
    FUZZ_CHECK(signed_by(sig, *cert));
  }
  return 0;
}
