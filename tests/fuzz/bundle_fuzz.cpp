// SPDX-License-Identifier: Apache-2.0
// Signed bundles (policy/bundle.h): parser and verifier, on two paths per input.
//
// 1. The input as a bundle, verified against a trust store holding one fixed key: size limit,
//    header syntax, key lookup and the signature check. Whatever it accepts must re-encode to
//    exactly the input (one spelling per bundle) and describe its own policy.
// 2. The input's tail as the policy of a bundle that this key signs, with header fields taken from
//    the input's first bytes: reaches everything after the signature (creation time, the YAML
//    parser on signed bytes, digest and version checks). Such a bundle can only be refused for
//    what the signed content says, never as malformed or badly signed.
//
// tests/fuzz/corpus/bundle: valid.bundle is signed with the fixed key below, unknown-key.bundle
// with another, signed-policy.bin is 17 header bytes and a policy for path 2. The key as PEM, to
// sign more seeds with `modgate policy sign`:
//   { printf '\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20';
//     printf 'modgate-bundle-fuzz-key-32-bytes'; } | openssl pkey -inform DER -out fuzz.pem
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "policy/bundle.h"

namespace {

using namespace modgate;
using namespace modgate::policy;

constexpr std::int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

// The fuzz key's 32-byte Ed25519 seed; its key id is 5fd6ab683761c8c4.
constexpr char kSeed[] = "modgate-bundle-fuzz-key-32-bytes";
static_assert(sizeof(kSeed) == 33);

struct Fixture {
  Key key;
  TrustStore trust;
  Fixture() {
    EVP_PKEY* pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                reinterpret_cast<const unsigned char*>(kSeed), 32);
    auto k = Key::from_pkey(pk, true);
    FUZZ_CHECK(k.ok());
    key = std::move(*k);
    // The trust store holds the same key, public half only, as a host's would.
    EVP_PKEY* pub_raw = nullptr;
    unsigned char raw[32];
    std::size_t len = sizeof(raw);
    FUZZ_CHECK(EVP_PKEY_get_raw_public_key(key.pkey(), raw, &len) == 1);
    pub_raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw, len);
    auto pub = Key::from_pkey(pub_raw, false);
    FUZZ_CHECK(pub.ok());
    std::string id = pub->id();
    trust.source = "fuzz-trust";
    trust.keys.emplace(id, TrustStore::Entry{std::move(*pub), "fuzz.pem"});
  }
};

std::uint64_t le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

void check_refusal(const BundleError& e) {
  FUZZ_CHECK(e.message.rfind("fuzz.bundle", 0) == 0);
  // The header is reported exactly when it parsed, which malformed bundles never do.
  FUZZ_CHECK(e.header.has_value() == (e.reason != BundleRefusal::kMalformed));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture f;
  std::string_view in(reinterpret_cast<const char*>(data), size);

  // Path 1: the input is the bundle.
  auto v = verify_bundle(in, "fuzz.bundle", f.trust, kNow);
  if (v) {
    FUZZ_CHECK(detail::encode_bundle(v->header, v->policy_text, f.key) == in);
    FUZZ_CHECK(v->policy.digest == v->header.digest);
    FUZZ_CHECK(v->policy.version == v->header.version);
    FUZZ_CHECK(v->header.created <= kNow + kDefaultMaxFutureSkew);
    FUZZ_CHECK(looks_like_bundle(in));
  } else {
    check_refusal(v.error());
    if (!looks_like_bundle(in)) FUZZ_CHECK(v.error().reason == BundleRefusal::kMalformed);
  }

  // Path 2: the input's tail, signed.
  if (size < 17) return 0;
  std::uint8_t flags = data[0];
  BundleHeader h;
  h.key_id = f.key.id();
  // Mostly near the present, sometimes anywhere a header can say.
  std::uint64_t c = le64(data + 1);
  h.created = flags & 1 ? static_cast<std::int64_t>(c >> 1)
                        : kNow - 3600 + static_cast<std::int64_t>(c % 7200);
  std::string_view policy = in.substr(17);
  auto parsed = parse_policy(policy, "fuzz.bundle(policy)");
  // Mostly the true digest and version, so that the checks after them are reached too.
  if (parsed && !(flags & 2)) {
    h.digest = parsed->digest;
    h.version = flags & 4 ? le64(data + 9) : parsed->version;
  } else {
    h.version = le64(data + 9);
    std::memcpy(h.digest.data(), data + 1, 16);
  }
  std::string bundle = detail::encode_bundle(h, policy, f.key);
  auto s = verify_bundle(bundle, "fuzz.bundle", f.trust, kNow);
  bool future = h.created > kNow + kDefaultMaxFutureSkew;
  if (s) {
    FUZZ_CHECK(!future && parsed.ok());
    FUZZ_CHECK(s->policy_text == policy);
    FUZZ_CHECK(s->policy.digest == h.digest && s->version() == h.version);
    FUZZ_CHECK(s->key_id() == f.key.id());
    FUZZ_CHECK(s->key_file == "fuzz.pem");
  } else {
    const auto& e = s.error();
    check_refusal(e);
    switch (e.reason) {
      case BundleRefusal::kFromFuture:
        FUZZ_CHECK(future);
        break;
      case BundleRefusal::kInvalidPolicy:
        FUZZ_CHECK(!future && !parsed.ok());
        break;
      case BundleRefusal::kDigestMismatch:
        FUZZ_CHECK(!future && parsed.ok() && parsed->digest != h.digest);
        break;
      case BundleRefusal::kVersionMismatch:
        FUZZ_CHECK(!future && parsed.ok() && parsed->version != h.version);
        break;
      default:
        // Only possible when the policy is too large for a bundle, which the input size rules out.
        FUZZ_CHECK(policy.size() > kMaxPolicyBytes);
    }
  }
  return 0;
}
