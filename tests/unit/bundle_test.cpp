// SPDX-License-Identifier: Apache-2.0
// Signed bundles (policy/bundle.h, docs/fleet.md): round trip, every refusal reason, trust stores,
// key files. Keys are made here with the library's own keygen.
#include "policy/bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "policy_test_util.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using ::modgate::policy::testing::hash_hex;
using ::modgate::policy::testing::TempDir;
using ::modgate::policy::testing::write_file;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

const std::string kPolicy =
    "version: 7\nmode: enforce\nmodules:\n  - name: ext4\n    sha256: " + hash_hex(1) +
    "\n  - name: vfat\n    sha256: " + hash_hex(2) + "\n";

mode_t file_mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class Bundle : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(t_.path() / "trust");
    make_key("signer", true);
    make_key("other", false);  // a key pair whose public half is not trusted
    auto trust = load_trust_dir(t_ / "trust");
    ASSERT_TRUE(trust.ok()) << trust.error().message;
    trust_ = std::move(*trust);
    auto k = load_private_key(t_ / "signer.private.pem");
    ASSERT_TRUE(k.ok()) << k.error().message;
    signer_ = std::move(*k);
    auto o = load_private_key(t_ / "other.private.pem");
    ASSERT_TRUE(o.ok()) << o.error().message;
    other_ = std::move(*o);
  }

  void make_key(const std::string& name, bool trusted) {
    auto k = generate_key();
    ASSERT_TRUE(k.ok()) << k.error().message;
    std::string pub = trusted ? t_ / ("trust/" + name + ".pem") : t_ / (name + ".public.pem");
    auto w = write_key_pair(*k, t_ / (name + ".private.pem"), pub);
    ASSERT_TRUE(w.ok()) << w.error().message;
  }

  std::string sign(std::string_view text = kPolicy, std::int64_t created = kNow - 60) {
    auto b = sign_bundle(text, "p.yaml", signer_, created);
    EXPECT_TRUE(b.ok()) << b.error().message;
    return b.ok() ? *b : std::string();
  }

  VerifyResult verify(std::string_view bytes, std::int64_t skew = kDefaultMaxFutureSkew) {
    return verify_bundle(bytes, "b.bundle", trust_, kNow, skew);
  }

  // The reason verify gives, or "ok".
  std::string outcome(std::string_view bytes) {
    auto v = verify(bytes);
    return v ? "ok" : std::string(refusal_name(v.error().reason));
  }

  TempDir t_;
  TrustStore trust_;
  Key signer_, other_;
};

// Header line `n` (0-based) of a bundle replaced by `line`.
std::string with_line(std::string b, int n, const std::string& line) {
  std::size_t start = 0;
  for (int i = 0; i < n; i++) start = b.find('\n', start) + 1;
  std::size_t end = b.find('\n', start);
  return b.replace(start, end - start, line);
}

TEST_F(Bundle, SignThenVerifyGivesBackTheExactPolicyAndItsFields) {
  std::string b = sign();
  ASSERT_TRUE(looks_like_bundle(b));
  auto v = verify(b);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->policy_text, kPolicy);
  auto p = parse_policy(kPolicy, "p.yaml");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(v->policy.digest, p->digest);
  EXPECT_EQ(v->header.digest, p->digest);
  EXPECT_EQ(v->version(), 7u);
  EXPECT_EQ(v->policy.version, 7u);
  EXPECT_EQ(v->created(), kNow - 60);
  EXPECT_EQ(v->key_id(), signer_.id());
  EXPECT_EQ(v->key_file, t_ / "trust/signer.pem");
  EXPECT_EQ(v->policy.modules.size(), 2u);
}

TEST_F(Bundle, LayoutIsTheDocumentedOne) {
  std::string b = sign();
  auto p = parse_policy(kPolicy, "p.yaml");
  ASSERT_TRUE(p.ok());
  std::string expect_head = "modgate-bundle 1\nkey-id " + signer_.id() + "\ncreated " +
                            std::to_string(kNow - 60) + "\nversion 7\npolicy-sha256 " +
                            to_hex(p->digest) + "\npolicy-size " + std::to_string(kPolicy.size()) +
                            "\nsignature ";
  ASSERT_THAT(b, StartsWith(expect_head));
  std::size_t sig_end = b.find('\n', expect_head.size());
  EXPECT_TRUE(std::regex_match(b.substr(expect_head.size(), sig_end - expect_head.size()),
                               std::regex("[0-9a-f]{128}")));
  EXPECT_EQ(b.substr(sig_end), "\n\n" + kPolicy);
  EXPECT_TRUE(std::regex_match(signer_.id(), std::regex("[0-9a-f]{16}")));
}

TEST_F(Bundle, SigningIsDeterministic) {
  EXPECT_EQ(sign(kPolicy, 1000), sign(kPolicy, 1000));
  EXPECT_NE(sign(kPolicy, 1000), sign(kPolicy, 1001));
}

TEST_F(Bundle, KeyIdIsSha256OfTheRawPublicKey) {
  std::array<std::uint8_t, 32> raw{};
  std::size_t len = raw.size();
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(signer_.pkey(), raw.data(), &len), 1);
  EXPECT_EQ(signer_.id(), to_hex(sha256(raw)).substr(0, 16));
  EXPECT_EQ(key_id(raw), signer_.id());
  EXPECT_NE(signer_.id(), other_.id());
}

TEST_F(Bundle, SignRefusesAnInvalidPolicyWithItsPositions) {
  auto b = sign_bundle("version: 1\nmode: strict\n", "bad.yaml", signer_, kNow);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "bad.yaml:2:7: 'mode' must be 'enforce' or 'dry-run', got 'strict'");
}

TEST_F(Bundle, SignNeedsAPrivateKeyAndATimeAfterTheEpoch) {
  auto pub = load_public_key(t_ / "trust/signer.pem");
  ASSERT_TRUE(pub.ok());
  EXPECT_FALSE(sign_bundle(kPolicy, "p.yaml", *pub, kNow).ok());
  EXPECT_FALSE(sign_bundle(kPolicy, "p.yaml", signer_, -1).ok());
}

// Every single-bit change anywhere in the bundle is refused, whatever field it lands in.
TEST_F(Bundle, NoSingleBitFlipIsAccepted) {
  std::string b = sign();
  std::set<std::string> reasons;
  for (std::size_t i = 0; i < b.size(); i++) {
    for (int bit : {0x01, 0x20}) {
      std::string m = b;
      m[i] = static_cast<char>(m[i] ^ static_cast<char>(bit));
      auto v = verify(m);
      ASSERT_FALSE(v.ok()) << "flip of bit " << bit << " at byte " << i << " accepted";
      reasons.insert(std::string(refusal_name(v.error().reason)));
    }
  }
  // Flips in the signature and the policy are caught by the signature; flips that break the
  // syntax before that, as malformed; flips in the key id, as an unknown key.
  EXPECT_EQ(reasons, (std::set<std::string>{"bad_signature", "malformed", "unknown_key"}));
}

TEST_F(Bundle, TamperedPolicyByteIsABadSignature) {
  std::string b = sign();
  std::size_t pos = b.find("name: vfat");
  ASSERT_NE(pos, std::string::npos);
  b[pos + 6] = 'x';  // "xfat": same length, still a valid policy
  auto v = verify(b);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().reason, BundleRefusal::kBadSignature);
  EXPECT_THAT(v.error().message,
              StartsWith("b.bundle: the signature does not verify with key " + signer_.id()));
}

TEST_F(Bundle, TamperedHeaderFieldsAreBadSignatures) {
  std::string b = sign();
  auto p = parse_policy("version: 8\nmode: enforce\nallow_empty: true\n", "x");
  ASSERT_TRUE(p.ok());
  for (const auto& m :
       {with_line(b, 2, "created " + std::to_string(kNow - 59)), with_line(b, 3, "version 8"),
        with_line(b, 4, "policy-sha256 " + to_hex(p->digest))}) {
    auto v = verify(m);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().reason, BundleRefusal::kBadSignature) << v.error().message;
  }
  // Raising the version in the header and in the policy alike does not help either.
  std::string both = with_line(b, 3, "version 8");
  both.replace(both.find("version: 7"), 10, "version: 8");
  EXPECT_EQ(outcome(both), "bad_signature");
}

TEST_F(Bundle, HeaderAndPolicyOfTwoSignedBundlesCannotBeSpliced) {
  std::string a = sign(kPolicy);
  std::string other =
      "version: 7\nmode: dry-run\nmodules:\n  - name: ext4\n    sha256: " + hash_hex(9) +
      "\n  - name: vfat\n    sha256: " + hash_hex(2) + "\n";
  ASSERT_EQ(other.size(), kPolicy.size());
  std::string b = sign(other);
  ASSERT_EQ(outcome(b), "ok");
  std::string spliced = a.substr(0, a.size() - kPolicy.size()) + other;
  EXPECT_EQ(outcome(spliced), "bad_signature");
}

TEST_F(Bundle, SignatureByAnUntrustedKeyIsAnUnknownKey) {
  auto b = sign_bundle(kPolicy, "p.yaml", other_, kNow);
  ASSERT_TRUE(b.ok());
  auto v = verify(*b);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().reason, BundleRefusal::kUnknownKey);
  EXPECT_EQ(v.error().message, "b.bundle: signed by key " + other_.id() +
                                   ", which is not in the trust store " + (t_ / "trust") +
                                   " (it holds " + signer_.id() + ")");
  ASSERT_TRUE(v.error().header.has_value());
  EXPECT_EQ(v.error().header->key_id, other_.id());
  EXPECT_EQ(v.error().header->version, 7u);
}

TEST_F(Bundle, UntrustedSignatureUnderATrustedKeyIdIsABadSignature) {
  auto b = sign_bundle(kPolicy, "p.yaml", other_, kNow);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(outcome(with_line(*b, 1, "key-id " + signer_.id())), "bad_signature");
}

TEST_F(Bundle, EveryTruncationIsRefusedAndCutsInThePolicyAreNamed) {
  std::string b = sign();
  std::size_t policy_start = b.size() - kPolicy.size();
  for (std::size_t n = 0; n < b.size(); n++) {
    auto v = verify(std::string_view(b).substr(0, n));
    ASSERT_FALSE(v.ok()) << n;
    EXPECT_EQ(v.error().reason, BundleRefusal::kMalformed) << n;
    if (n >= policy_start) {
      EXPECT_EQ(v.error().message, "b.bundle: truncated: the header announces " +
                                       std::to_string(kPolicy.size()) + " bytes of policy and " +
                                       std::to_string(n - policy_start) + " follow");
    }
  }
  EXPECT_EQ(verify("").error().message,
            "b.bundle: not a modgate bundle (it does not start with 'modgate-bundle 1')");
}

TEST_F(Bundle, GarbageAndPlainPoliciesAreMalformed) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200; i++) {
    std::string g(static_cast<std::size_t>(rng() % 2000), '\0');
    for (auto& c : g) c = static_cast<char>(rng());
    if (i % 2) g = "modgate-bundle 1\n" + g;
    EXPECT_EQ(outcome(g), "malformed");
  }
  EXPECT_EQ(outcome(kPolicy), "malformed");
  EXPECT_FALSE(looks_like_bundle(kPolicy));
}

TEST_F(Bundle, OversizedBundleIsRefusedBeforeParsing) {
  std::string b = sign();
  b.resize(kMaxBundleBytes + 1, 'x');
  auto v = verify(b);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().reason, BundleRefusal::kMalformed);
  EXPECT_EQ(v.error().message, "b.bundle: " + std::to_string(kMaxBundleBytes + 1) +
                                   " bytes is larger than the " + std::to_string(kMaxBundleBytes) +
                                   " bytes a bundle may be (a 16 MiB policy and its header)");
  EXPECT_FALSE(v.error().header.has_value());
}

TEST_F(Bundle, EveryFieldHasExactlyOneSpelling) {
  std::string b = sign();
  std::string sig_line = b.substr(0, b.find("\n\n"));
  sig_line = sig_line.substr(sig_line.rfind('\n') + 1);
  std::string upper_sig = sig_line;
  for (auto& c : upper_sig) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  upper_sig.replace(0, 9, "signature");
  for (const auto& m : {
           with_line(b, 1, "key-id " + std::string(16, 'A')),
           with_line(b, 1, "key-id  " + signer_.id()),
           with_line(b, 2, "created 0" + std::to_string(kNow - 60)),
           with_line(b, 2, "created +" + std::to_string(kNow - 60)),
           with_line(b, 2, "created -5"),
           with_line(b, 2, "created 9223372036854775808"),  // INT64_MAX + 1
           with_line(b, 3, "version 07"),
           with_line(b, 3, "version 18446744073709551616"),  // UINT64_MAX + 1
           with_line(b, 3, "Version 7"),
           with_line(b, 4, "policy-sha256 " + std::string(64, 'G')),
           with_line(b, 5, "policy-size " + std::to_string(kMaxPolicyBytes + 1)),
           with_line(b, 6, upper_sig),
           with_line(b, 7, " "),
       }) {
    auto v = verify(m);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().reason, BundleRefusal::kMalformed) << v.error().message;
    EXPECT_THAT(v.error().message, HasSubstr("b.bundle: line ")) << v.error().message;
  }
}

TEST_F(Bundle, TrailingBytesAndCrlfAreMalformed) {
  std::string b = sign();
  EXPECT_EQ(verify(b + "\n").error().message, "b.bundle: 1 bytes follow the policy's " +
                                                  std::to_string(kPolicy.size()) +
                                                  "; a bundle ends where its policy does");
  std::string crlf;
  for (char c : b) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  auto v = verify(crlf);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().reason, BundleRefusal::kMalformed);
  EXPECT_THAT(v.error().message, HasSubstr("CRLF line endings"));
}

TEST_F(Bundle, AnotherFormatVersionIsRecognisedAndRefused) {
  std::string b = "modgate-bundle 2\nwhatever\n";
  EXPECT_TRUE(looks_like_bundle(b));
  auto v = verify(b);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().reason, BundleRefusal::kMalformed);
  EXPECT_EQ(
      v.error().message,
      "b.bundle: bundle format '2' is not one this modgate reads (it reads 'modgate-bundle 1')");
}

TEST_F(Bundle, CreatedInTheFutureBeyondTheToleranceIsRefused) {
  EXPECT_EQ(outcome(sign(kPolicy, kNow + kDefaultMaxFutureSkew)), "ok");
  EXPECT_EQ(outcome(sign(kPolicy, kNow - 86400L * 365)), "ok");
  auto v = verify(sign(kPolicy, kNow + kDefaultMaxFutureSkew + 1));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().reason, BundleRefusal::kFromFuture);
  EXPECT_EQ(v.error().message,
            "b.bundle: created 2026-01-01T00:05:01Z, 301 s ahead of this host's clock "
            "(2026-01-01T00:00:00Z; at most 300 s are tolerated); check the signer's and this "
            "host's clocks");
  EXPECT_TRUE(verify(sign(kPolicy, kNow + 3600), 3600).ok());
  // The largest time the format allows does not overflow the comparison.
  auto far = detail::encode_bundle(BundleHeader{signer_.id(),
                                                std::numeric_limits<std::int64_t>::max(),
                                                7,
                                                parse_policy(kPolicy, "p")->digest,
                                                0,
                                                {}},
                                   kPolicy, signer_);
  EXPECT_EQ(outcome(far), "from_future");
}

TEST_F(Bundle, SignedDigestThatIsNotThePolicysIsADigestMismatch) {
  auto p = parse_policy(kPolicy, "p");
  ASSERT_TRUE(p.ok());
  BundleHeader h{signer_.id(), kNow, 7, p->digest, 0, {}};
  h.digest[0] ^= 1;
  auto v = verify(detail::encode_bundle(h, kPolicy, signer_));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().reason, BundleRefusal::kDigestMismatch);
  EXPECT_THAT(v.error().message,
              HasSubstr("is not the digest of the signed policy (" + to_hex(p->digest) + ")"));
}

TEST_F(Bundle, SignedVersionThatIsNotThePolicysIsAVersionMismatch) {
  auto p = parse_policy(kPolicy, "p");
  ASSERT_TRUE(p.ok());
  auto v =
      verify(detail::encode_bundle({signer_.id(), kNow, 99, p->digest, 0, {}}, kPolicy, signer_));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().reason, BundleRefusal::kVersionMismatch);
  EXPECT_EQ(v.error().message,
            "b.bundle: the signed version 99 is not the signed policy's version 7");
}

TEST_F(Bundle, ValidlySignedInvalidPolicyIsRefusedWithItsPositions) {
  // What a newer modgate's policy looks like to this one: a key it does not know.
  std::string text = "version: 1\nmode: enforce\nallow_empty: true\nfuture_key: 1\n";
  auto v = verify(detail::encode_bundle({signer_.id(), kNow, 1, {}, 0, {}}, text, signer_));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().reason, BundleRefusal::kInvalidPolicy);
  EXPECT_THAT(v.error().message, HasSubstr("\nb.bundle(policy):4:1: unknown key 'future_key'"));
}

TEST_F(Bundle, RefusalNamesAreDistinctMetricLabelValues) {
  std::set<std::string> names;
  for (auto r :
       {BundleRefusal::kMalformed, BundleRefusal::kUnknownKey, BundleRefusal::kBadSignature,
        BundleRefusal::kFromFuture, BundleRefusal::kInvalidPolicy, BundleRefusal::kDigestMismatch,
        BundleRefusal::kVersionMismatch}) {
    std::string n(refusal_name(r));
    EXPECT_TRUE(std::regex_match(n, std::regex("[a-z][a-z_]*"))) << n;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), 7u);
}

// docs/fleet.md's example bundle and key are real: the bundle verifies with the key.
TEST(BundleDocs, ExampleVerifies) {
  std::ifstream in(std::string(MODGATE_SOURCE_DIR) + "/docs/fleet.md");
  ASSERT_TRUE(in) << "docs/fleet.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  auto block = [&](const std::string& start) {
    std::size_t pos = doc.find("```\n" + start);
    EXPECT_NE(pos, std::string::npos) << start;
    if (pos == std::string::npos) return std::string();
    pos += 4;
    return doc.substr(pos, doc.find("```", pos) - pos);
  };
  TempDir t;
  write_file(t.path() / "k.pem", block("-----BEGIN PUBLIC KEY-----"));
  auto trust = load_trust_file(t / "k.pem");
  ASSERT_TRUE(trust.ok()) << trust.error().message;
  auto v = verify_bundle(block("modgate-bundle 1\n"), "docs", *trust, kNow);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->key_id(), "8f573ed92b4848dc");
  EXPECT_EQ(v->version(), 3u);
  EXPECT_EQ(v->policy_text.size(), 175u);
  EXPECT_EQ(v->created(), kNow);
}

// --- trust stores -------------------------------------------------------------------------

class Trust : public ::testing::Test {
 protected:
  // A fresh key pair; returns its id.
  std::string key_pair(const std::string& priv, const std::string& pub) {
    auto k = generate_key();
    EXPECT_TRUE(k.ok());
    auto w = write_key_pair(*k, t_ / priv, t_ / pub);
    EXPECT_TRUE(w.ok()) << w.error().message;
    return k->id();
  }
  TempDir t_;
};

TEST_F(Trust, LoadsEveryPemAndIgnoresOtherNames) {
  fs::create_directory(t_.path() / "d");
  std::string a = key_pair("a.key", "d/a.pem");
  std::string b = key_pair("b.key", "d/b.pem");
  write_file(t_.path() / "d/README", "not a key");
  write_file(t_.path() / "d/a.pem~", "editor backup");
  write_file(t_.path() / "d/.hidden.pem", "not read");
  auto s = load_trust_dir(t_ / "d");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->keys.size(), 2u);
  ASSERT_NE(s->find(a), nullptr);
  EXPECT_EQ(s->find(a)->file, t_ / "d/a.pem");
  ASSERT_NE(s->find(b), nullptr);
  EXPECT_EQ(s->find("0000000000000000"), nullptr);
  EXPECT_EQ(s->source, t_ / "d");
}

// A Kubernetes ConfigMap or Secret volume: the visible names are symlinks through "..data" into a
// timestamped directory, which is swapped atomically on update.
TEST_F(Trust, ReadsAKubernetesVolumeLayout) {
  fs::create_directories(t_.path() / "vol/..2026_01_01_00_00_00.123");
  std::string id = key_pair("k.key", "vol/..2026_01_01_00_00_00.123/fleet.pem");
  fs::create_directory_symlink("..2026_01_01_00_00_00.123", t_.path() / "vol/..data");
  fs::create_symlink("..data/fleet.pem", t_.path() / "vol/fleet.pem");
  auto s = load_trust_dir(t_ / "vol");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->keys.size(), 1u);
  EXPECT_NE(s->find(id), nullptr);
}

TEST_F(Trust, AnyBadPemFailsTheWholeLoadWithEveryProblemNamed) {
  fs::create_directory(t_.path() / "d");
  key_pair("good.key", "d/good.pem");
  key_pair("d/leaked.pem", "pub-of-leaked.pem");  // a private key dropped into the directory
  write_file(t_.path() / "d/garbage.pem", "hello\n");
  auto s = load_trust_dir(t_ / "d");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            t_ / "d/garbage.pem" +
                ": is not PEM (no '-----BEGIN' line); expected an Ed25519 '-----BEGIN PUBLIC "
                "KEY-----'\n" +
                t_ / "d/leaked.pem" +
                ": holds a private key; a trust store takes public keys only "
                "(PREFIX.public.pem from modgate keygen), and the private key belongs with the "
                "signer, not here");
}

TEST_F(Trust, NonEd25519KeysAreRefusedByType) {
  fs::create_directory(t_.path() / "d");
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new_file((t_ / "d/ec.pem").c_str(), "w");
  ASSERT_EQ(PEM_write_bio_PUBKEY(bio, ec), 1);
  BIO_free(bio);
  EVP_PKEY_free(ec);
  auto s = load_trust_dir(t_ / "d");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            t_ / "d/ec.pem" +
                ": holds a EC key; modgate bundles are signed with Ed25519 keys (modgate keygen)");
}

TEST_F(Trust, DuplicateKeyIdsAndTwoKeysInOneFileAreRefused) {
  fs::create_directory(t_.path() / "d");
  std::string id = key_pair("k.key", "d/a.pem");
  fs::copy_file(t_.path() / "d/a.pem", t_.path() / "d/b.pem");
  auto s = load_trust_dir(t_ / "d");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, t_ / "d/b.pem" + ": key id " + id + " is also the key in " +
                                   t_ / "d/a.pem" + "; keep one copy");

  fs::create_directory(t_.path() / "e");
  key_pair("k2.key", "e/one.pem");
  key_pair("k3.key", "two.pem");
  auto one = testing::read_bytes(t_ / "e/one.pem");
  auto two = testing::read_bytes(t_ / "two.pem");
  one.insert(one.end(), two.begin(), two.end());
  write_file(t_.path() / "e/one.pem", std::string(one.begin(), one.end()));
  auto e = load_trust_dir(t_ / "e");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.error().message, HasSubstr("holds 2 PEM blocks; a key file holds exactly one"));
}

TEST_F(Trust, EmptyMissingAndNonDirectoriesAreRefused) {
  fs::create_directory(t_.path() / "empty");
  write_file(t_.path() / "empty/notes.txt", "x");
  auto e = load_trust_dir(t_ / "empty");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message,
            t_ / "empty" +
                ": no public keys (*.pem); copy the signer's PREFIX.public.pem (modgate keygen) "
                "here");
  EXPECT_THAT(load_trust_dir(t_ / "nope").error().message, StartsWith(t_ / "nope" + ": "));
  fs::create_directory(t_.path() / "d");
  fs::create_directory(t_.path() / "d/dir.pem");
  EXPECT_EQ(load_trust_dir(t_ / "d").error().message, t_ / "d/dir.pem" + ": not a regular file");
}

TEST_F(Trust, SingleFileStore) {
  std::string id = key_pair("k.key", "k.pub");
  auto s = load_trust_file(t_ / "k.pub");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_NE(s->find(id), nullptr);
  EXPECT_FALSE(load_trust_file(t_ / "k.key").ok());
}

// --- key files ----------------------------------------------------------------------------

class KeyFiles : public ::testing::Test {
 protected:
  TempDir t_;
};

TEST_F(KeyFiles, ModesAreExactWhateverTheUmask) {
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}, mode_t{0777}}) {
    mode_t old = ::umask(mask);
    auto k = generate_key();
    ASSERT_TRUE(k.ok());
    std::string priv = t_ / ("k" + std::to_string(mask) + ".private.pem");
    std::string pub = t_ / ("k" + std::to_string(mask) + ".public.pem");
    auto w = write_key_pair(*k, priv, pub);
    ::umask(old);
    ASSERT_TRUE(w.ok()) << w.error().message;
    EXPECT_EQ(file_mode(priv), 0600u) << "umask " << mask;
    EXPECT_EQ(file_mode(pub), 0644u) << "umask " << mask;
    auto back = load_private_key(priv);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->id(), k->id());
    EXPECT_TRUE(back->has_private());
    auto pback = load_public_key(pub);
    ASSERT_TRUE(pback.ok()) << pback.error().message;
    EXPECT_EQ(pback->id(), k->id());
    EXPECT_FALSE(pback->has_private());
  }
}

TEST_F(KeyFiles, NeverOverwritesAndLeavesNothingBehindOnFailure) {
  auto k = generate_key();
  ASSERT_TRUE(k.ok());
  write_file(t_.path() / "old.private.pem", "precious");
  auto w = write_key_pair(*k, t_ / "old.private.pem", t_ / "new.public.pem");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().message, t_ / "old.private.pem" +
                                   ": File exists (keygen never overwrites a key; remove it or "
                                   "pick another name)");
  EXPECT_EQ(testing::read_bytes(t_ / "old.private.pem").size(), 8u);
  EXPECT_FALSE(fs::exists(t_.path() / "new.public.pem"));

  // The public key's name is taken: the private key just written is removed again.
  write_file(t_.path() / "taken.public.pem", "x");
  w = write_key_pair(*k, t_ / "fresh.private.pem", t_ / "taken.public.pem");
  ASSERT_FALSE(w.ok());
  EXPECT_FALSE(fs::exists(t_.path() / "fresh.private.pem"));
  EXPECT_EQ(testing::read_bytes(t_ / "taken.public.pem").size(), 1u);
}

TEST_F(KeyFiles, DoesNotFollowASymlinkPlantedAtThePath) {
  auto k = generate_key();
  ASSERT_TRUE(k.ok());
  fs::create_symlink(t_.path() / "elsewhere", t_.path() / "k.private.pem");  // dangling
  ASSERT_FALSE(write_key_pair(*k, t_ / "k.private.pem", t_ / "k.public.pem").ok());
  EXPECT_FALSE(fs::exists(t_.path() / "elsewhere"));
  EXPECT_FALSE(fs::exists(t_.path() / "k.public.pem"));
}

TEST_F(KeyFiles, PrivateKeyReadableByOthersIsRefused) {
  auto k = generate_key();
  ASSERT_TRUE(k.ok());
  ASSERT_TRUE(write_key_pair(*k, t_ / "k.private.pem", t_ / "k.public.pem").ok());
  ASSERT_EQ(::chmod((t_ / "k.private.pem").c_str(), 0640), 0);
  auto r = load_private_key(t_ / "k.private.pem");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, t_ / "k.private.pem" +
                                   ": private key with mode 0640 is open to group or others; run "
                                   "chmod 600 " +
                                   t_ / "k.private.pem" +
                                   " (and consider it leaked if others could read it)");
  ASSERT_EQ(::chmod((t_ / "k.private.pem").c_str(), 0400), 0);
  EXPECT_TRUE(load_private_key(t_ / "k.private.pem").ok());
}

TEST_F(KeyFiles, EncryptedAndPublicKeysAreNotSigningKeys) {
  auto k = generate_key();
  ASSERT_TRUE(k.ok());
  BIO* bio = BIO_new_file((t_ / "enc.pem").c_str(), "w");
  ASSERT_EQ(
      PEM_write_bio_PKCS8PrivateKey(bio, k->pkey(), EVP_aes_256_cbc(), "pw", 2, nullptr, nullptr),
      1);
  BIO_free(bio);
  ASSERT_EQ(::chmod((t_ / "enc.pem").c_str(), 0600), 0);
  // Refused without asking for a passphrase on the terminal.
  EXPECT_THAT(load_private_key(t_ / "enc.pem").error().message, HasSubstr(": is encrypted;"));

  ASSERT_TRUE(write_key_pair(*k, t_ / "k.private.pem", t_ / "k.public.pem").ok());
  ASSERT_EQ(::chmod((t_ / "k.public.pem").c_str(), 0600), 0);
  EXPECT_THAT(load_private_key(t_ / "k.public.pem").error().message,
              HasSubstr(": holds a public key; signing needs the private key"));
}

TEST_F(KeyFiles, OversizedAndSpecialFilesAreRefused) {
  write_file(t_.path() / "big.pem", std::string(kMaxKeyFileBytes + 1, 'A'));
  EXPECT_THAT(load_public_key(t_ / "big.pem").error().message,
              HasSubstr("bytes is larger than the 65536 bytes a key file may be"));
  ASSERT_EQ(::mkfifo((t_ / "fifo.pem").c_str(), 0644), 0);
  EXPECT_EQ(load_public_key(t_ / "fifo.pem").error().message,
            t_ / "fifo.pem" + ": not a regular file");
}

TEST(BundleFile, ReadRefusesNonFilesAndOversize) {
  TempDir t;
  EXPECT_EQ(read_bundle_file(t / "nope").error().message,
            t / "nope" + ": No such file or directory");
  EXPECT_EQ(read_bundle_file(t.path().string()).error().message,
            t.path().string() + ": not a regular file");
  {
    std::ofstream out(t / "big", std::ios::binary);
    out.seekp(static_cast<std::streamoff>(kMaxBundleBytes));
    out.put('x');
  }
  EXPECT_THAT(read_bundle_file(t / "big").error().message,
              HasSubstr("bytes is larger than the " + std::to_string(kMaxBundleBytes) +
                        " bytes a bundle may be"));
}

}  // namespace
}  // namespace modgate::policy
