// SPDX-License-Identifier: Apache-2.0
// Signed policy bundles (docs/fleet.md, "Signed bundles"): a policy's exact bytes with its digest,
// version, creation time and the id of the Ed25519 key that signed all of them. A fleet host given
// a trust store accepts a policy only in this form.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "policy/policy.h"
#include "policy/result.h"
#include "policy/sha256.h"

namespace modgate::policy {

// The first line of every bundle of this format; looks_like_bundle() checks only its prefix
// "modgate-bundle " so that a later format is refused as a bundle, never parsed as YAML.
inline constexpr std::string_view kBundleMagic = "modgate-bundle 1\n";
// Prepended to the signed bytes (docs/fleet.md, "What is signed"), so that no signature this key
// makes for any other purpose can pass for a bundle's. Ends in a NUL byte.
inline constexpr std::string_view kBundleSignatureContext{"modgate-bundle-signature-v1\0", 28};
// The header is about 340 bytes; whatever precedes the policy must fit in this.
inline constexpr std::size_t kMaxBundleHeaderBytes = 1024;
inline constexpr std::uint64_t kMaxBundleBytes = kMaxPolicyBytes + kMaxBundleHeaderBytes;
// How far a bundle's creation time may lie ahead of the verifying host's clock.
inline constexpr std::int64_t kDefaultMaxFutureSkew = 300;
// Key files are a few hundred bytes; this bounds what a stray file in a trust directory costs.
inline constexpr std::uint64_t kMaxKeyFileBytes = 64ull * 1024;
// A trust directory with more .pem files than this is refused rather than loaded.
inline constexpr std::size_t kMaxTrustKeys = 1024;

// An Ed25519 key: the public half, or both halves. Movable, not copyable.
class Key {
 public:
  Key();
  ~Key();
  Key(Key&&) noexcept;
  Key& operator=(Key&&) noexcept;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  // First 16 hex digits (lowercase) of SHA-256 of the 32-byte raw public key.
  const std::string& id() const { return id_; }
  bool has_private() const { return has_private_; }
  EVP_PKEY* pkey() const { return pkey_.get(); }
  // "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo), what a trust directory holds.
  std::string public_pem() const;

  // Takes ownership of an Ed25519 EVP_PKEY; refuses any other key type.
  static Result<Key> from_pkey(EVP_PKEY* pkey, bool has_private);

 private:
  struct Free {
    void operator()(EVP_PKEY* p) const;
  };
  std::unique_ptr<EVP_PKEY, Free> pkey_;
  std::string id_;
  bool has_private_ = false;
};

std::string key_id(std::span<const std::uint8_t, 32> raw_public_key);

Result<Key> generate_key();
// PEM (PKCS#8 "PRIVATE KEY", unencrypted, as `modgate keygen` and `openssl genpkey -algorithm
// ed25519` write it). Refused when readable by group or others, like ssh does: a signing key
// anyone on the machine can read is no longer the signer's.
Result<Key> load_private_key(const std::string& path);
// PEM "PUBLIC KEY" (as `modgate keygen` and `openssl pkey -pubout` write it); exactly one.
Result<Key> load_public_key(const std::string& path);

// Creates both files with O_EXCL (never overwrites, never follows a symlink): the private key
// mode 0600 from its creation, the public key 0644, whatever the umask. On any failure neither
// file is left behind.
Result<Ok> write_key_pair(const Key& key, const std::string& private_path,
                          const std::string& public_path);

// The public keys a host accepts bundles from, by key id.
struct TrustStore {
  struct Entry {
    Key key;
    std::string file;  // where it was loaded from, for messages and status
  };
  std::map<std::string, Entry, std::less<>> keys;
  std::string source;  // the directory or file loaded

  const Entry* find(std::string_view key_id) const;
};

// Every "*.pem" regular file (or symlink to one) directly in `dir`; names starting with '.' and
// everything else are ignored (a Kubernetes ConfigMap or Secret volume adds "..data" entries).
// Any .pem that is unreadable, not exactly one Ed25519 public key, or has the key id of another
// file fails the whole load, as does a directory with no keys: a trust store is never partial.
Result<TrustStore> load_trust_dir(const std::string& dir);
// One PEM public key file (modgate policy verify --pubkey).
Result<TrustStore> load_trust_file(const std::string& path);

// The header fields, as parsed from a bundle. Before verify_bundle accepts the bundle they are
// only claims.
struct BundleHeader {
  std::string key_id;
  std::int64_t created = 0;  // UTC seconds since the epoch
  std::uint64_t version = 0;
  Sha256 digest{};  // the policy's canonical digest (docs/policy.md)
  std::uint64_t policy_size = 0;
  std::array<std::uint8_t, 64> signature{};
};

// True when `bytes` starts like a bundle of any format version ("modgate-bundle "). A policy
// file never does (it would not be a YAML mapping).
bool looks_like_bundle(std::string_view bytes);

// Parses and validates the policy first (and refuses it with the FILE:LINE:COL messages of
// `modgate policy check`, `policy_name` as FILE), then signs. Ed25519 is deterministic: the same
// policy, key and `created` give the same bytes.
Result<std::string> sign_bundle(std::string_view policy_text, const std::string& policy_name,
                                const Key& key, std::int64_t created);

// Why a bundle was refused; stable names for status, events and metric labels (refusal_name).
enum class BundleRefusal {
  kMalformed,        // not a bundle of this format: size, header syntax, truncated, trailing bytes
  kUnknownKey,       // the key id names no key of the trust store
  kBadSignature,     // the signature does not verify with that key
  kFromFuture,       // created more than max_future_skew seconds ahead of this host's clock
  kInvalidPolicy,    // validly signed, but the policy does not parse or validate here
  kDigestMismatch,   // the signed digest is not the canonical digest of the signed policy
  kVersionMismatch,  // the signed version is not the signed policy's `version`
};
// "malformed", "unknown_key", "bad_signature", "from_future", "invalid_policy",
// "digest_mismatch", "version_mismatch".
std::string_view refusal_name(BundleRefusal r);

struct BundleError {
  BundleRefusal reason;
  std::string message;  // names the bundle (`source`); invalid_policy adds FILE:LINE:COL lines
  // The header when it parsed: unauthenticated unless reason is kFromFuture, kInvalidPolicy,
  // kDigestMismatch or kVersionMismatch (checked after the signature).
  std::optional<BundleHeader> header;
};

struct VerifiedBundle {
  Policy policy;            // parsed from policy_text; its digest and version equal the header's
  std::string policy_text;  // the signed bytes, exactly
  BundleHeader header;
  std::string key_file;  // the trust store file of the key that signed it

  std::uint64_t version() const { return header.version; }
  std::int64_t created() const { return header.created; }
  const std::string& key_id() const { return header.key_id; }
};

class [[nodiscard]] VerifyResult {
 public:
  VerifyResult(VerifiedBundle b) : v_(std::move(b)) {}  // NOLINT(google-explicit-constructor)
  VerifyResult(BundleError e) : v_(std::move(e)) {}     // NOLINT(google-explicit-constructor)
  bool ok() const { return std::holds_alternative<VerifiedBundle>(v_); }
  explicit operator bool() const { return ok(); }
  VerifiedBundle& value() & { return std::get<VerifiedBundle>(v_); }
  const VerifiedBundle& value() const& { return std::get<VerifiedBundle>(v_); }
  VerifiedBundle&& value() && { return std::get<VerifiedBundle>(std::move(v_)); }
  VerifiedBundle* operator->() { return &value(); }
  const VerifiedBundle* operator->() const { return &value(); }
  const BundleError& error() const { return std::get<BundleError>(v_); }

 private:
  std::variant<VerifiedBundle, BundleError> v_;
};

// Checks, in this order (docs/fleet.md, "Verification"): size, header syntax and the exact
// length of the policy, key id in `trust`, signature, creation time against `now` (UTC seconds)
// + `max_future_skew`, then parses the policy and compares its digest and version with the
// header. The YAML parser only ever sees bytes whose signature verified. `source` names the bundle
// in messages (a path or URL).
VerifyResult verify_bundle(std::string_view bytes, const std::string& source,
                           const TrustStore& trust, std::int64_t now,
                           std::int64_t max_future_skew = kDefaultMaxFutureSkew);

// A bundle's header and policy bytes, syntax checked but NOT authenticated: for showing what a
// bundle holds (`policy show`, `policy diff`), never for deciding anything. The header's version
// and digest are checked against the policy, so what is shown is at least what the header claims.
struct UnverifiedBundle {
  BundleHeader header;
  Policy policy;
};
Result<UnverifiedBundle> read_unverified_bundle(std::string_view bytes, const std::string& source);

// The bytes of a bundle file: a regular file of at most kMaxBundleBytes.
Result<std::string> read_bundle_file(const std::string& path);

// "2026-01-01T00:00:00Z" for messages and output.
std::string utc_time_string(std::int64_t seconds);

namespace detail {
// Signs exactly these header fields (signature ignored) and policy bytes, without checking that
// they describe each other: for tests and the fuzzer, which need validly signed bad bundles.
// Tools sign with sign_bundle.
std::string encode_bundle(const BundleHeader& header, std::string_view policy_bytes,
                          const Key& key);
}  // namespace detail

}  // namespace modgate::policy
