// SPDX-License-Identifier: Apache-2.0
// Signed bundles: format, Ed25519 signing and verification through OpenSSL 3's EVP interface, key
// files and trust stores. docs/fleet.md specifies the format byte for byte; the parser below is
// strict so that every bundle has exactly one spelling, and nothing but the fixed-size header is
// read before the signature has verified.
#include "policy/bundle.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <vector>

#include "policy/read_file.h"

namespace modgate::policy {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// OpenSSL queues errors per thread; a failure we report in our own words must not leave entries
// behind for the next, unrelated call to find.
struct ErrClear {
  ~ErrClear() { ERR_clear_error(); }
};

std::string mode_string(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

// A line of a header for a message: printable, and short.
std::string shown(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

// Decimal with one spelling: digits only, no sign, no leading zeros.
std::optional<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (n > (max - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

// Lowercase hex of exactly out.size() bytes.
bool parse_hex(std::string_view s, std::span<std::uint8_t> out) {
  if (s.size() != out.size() * 2) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < out.size(); i++) {
    int hi = nib(s[2 * i]), lo = nib(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Lines 1 to 6 of the header: everything signed apart from the policy bytes.
std::string signed_header(const BundleHeader& h) {
  std::string s(kBundleMagic);
  s += "key-id " + h.key_id + "\n";
  s += "created " + std::to_string(h.created) + "\n";
  s += "version " + std::to_string(h.version) + "\n";
  s += "policy-sha256 " + to_hex(h.digest) + "\n";
  s += "policy-size " + std::to_string(h.policy_size) + "\n";
  return s;
}

std::string signed_message(std::string_view header6, std::string_view policy) {
  std::string m;
  m.reserve(kBundleSignatureContext.size() + header6.size() + policy.size());
  m += kBundleSignatureContext;
  m += header6;
  m += policy;
  return m;
}

struct Parsed {
  BundleHeader header;
  std::string_view header6;  // the signed header lines, as in the bundle
  std::string_view policy;
};

// Header syntax and exact policy length; `err` receives the reason on failure.
std::optional<Parsed> parse_bundle(std::string_view b, const std::string& source,
                                   std::string& err) {
  if (!looks_like_bundle(b)) {
    err = source + ": not a modgate bundle (it does not start with 'modgate-bundle 1')";
    return std::nullopt;
  }
  std::size_t pos = 0;
  int lineno = 0;
  auto next_line = [&](std::string_view& line) -> bool {
    lineno++;
    std::size_t nl = b.find('\n', pos);
    if (nl >= kMaxBundleHeaderBytes) {  // npos too
      err = nl == std::string_view::npos && b.size() < kMaxBundleHeaderBytes
                ? source + ": truncated in the header (line " + std::to_string(lineno) + ")"
                : source + ": the header does not end within its first " +
                      std::to_string(kMaxBundleHeaderBytes) + " bytes";
      return false;
    }
    line = b.substr(pos, nl - pos);
    pos = nl + 1;
    return true;
  };
  const std::string crlf =
      " (the file has CRLF line endings; a bundle must be copied byte for byte)";
  auto bad = [&](std::string_view line, std::string_view expected) {
    err = source + ": line " + std::to_string(lineno) + ": expected " + std::string(expected) +
          ", got " + shown(line);
    if (!line.empty() && line.back() == '\r') err += crlf;
    return std::nullopt;
  };
  // `name value`, the value checked by the caller.
  auto field = [&](std::string_view line, std::string_view name, std::string_view& value) -> bool {
    if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
        line[name.size()] != ' ')
      return false;
    value = line.substr(name.size() + 1);
    return true;
  };

  Parsed p;
  std::string_view line, v;
  if (!next_line(line)) return std::nullopt;
  if (line != kBundleMagic.substr(0, kBundleMagic.size() - 1)) {
    err = source + ": bundle format " + shown(line.substr(std::min<std::size_t>(15, line.size()))) +
          " is not one this modgate reads (it reads 'modgate-bundle 1')";
    if (!line.empty() && line.back() == '\r') err += crlf;
    return std::nullopt;
  }
  if (!next_line(line)) return std::nullopt;
  if (!field(line, "key-id", v) || v.size() != 16 || !is_lower_hex(v))
    return bad(line, "'key-id' and 16 lowercase hex digits");
  p.header.key_id = std::string(v);
  if (!next_line(line)) return std::nullopt;
  std::optional<std::uint64_t> n;
  if (!field(line, "created", v) ||
      !(n = parse_decimal(v, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))))
    return bad(line, "'created' and UTC seconds (a decimal integer without leading zeros)");
  p.header.created = static_cast<std::int64_t>(*n);
  if (!next_line(line)) return std::nullopt;
  if (!field(line, "version", v) ||
      !(n = parse_decimal(v, std::numeric_limits<std::uint64_t>::max())))
    return bad(line, "'version' and a decimal integer without leading zeros");
  p.header.version = *n;
  if (!next_line(line)) return std::nullopt;
  if (!field(line, "policy-sha256", v) || !parse_hex(v, p.header.digest))
    return bad(line, "'policy-sha256' and 64 lowercase hex digits");
  if (!next_line(line)) return std::nullopt;
  if (!field(line, "policy-size", v) || !(n = parse_decimal(v, kMaxPolicyBytes)))
    return bad(line,
               "'policy-size' and a byte count of at most " + std::to_string(kMaxPolicyBytes));
  p.header.policy_size = *n;
  p.header6 = b.substr(0, pos);
  if (!next_line(line)) return std::nullopt;
  if (!field(line, "signature", v) || !parse_hex(v, p.header.signature))
    return bad(line, "'signature' and 128 lowercase hex digits");
  if (!next_line(line)) return std::nullopt;
  if (!line.empty()) return bad(line, "an empty line before the policy");

  std::uint64_t rest = b.size() - pos;
  if (rest < p.header.policy_size) {
    err = source + ": truncated: the header announces " + std::to_string(p.header.policy_size) +
          " bytes of policy and " + std::to_string(rest) + " follow";
    return std::nullopt;
  }
  if (rest > p.header.policy_size) {
    err = source + ": " + std::to_string(rest - p.header.policy_size) +
          " bytes follow the policy's " + std::to_string(p.header.policy_size) +
          "; a bundle ends where its policy does";
    return std::nullopt;
  }
  p.policy = b.substr(pos);
  return p;
}

std::string type_name(EVP_PKEY* k) {
  const char* n = EVP_PKEY_get0_type_name(k);
  return n ? n : "unknown";
}

// PEM text holding exactly one block.
int pem_blocks(std::string_view text) {
  int n = 0;
  for (std::size_t p = 0; (p = text.find("-----BEGIN ", p)) != std::string_view::npos; p++) n++;
  return n;
}

int no_passphrase(char*, int, int, void*) { return -1; }

Result<Key> parse_public_pem(std::string_view text, const std::string& path) {
  ErrClear clear;
  if (text.find("PRIVATE KEY-----") != std::string_view::npos)
    return Error{path +
                 ": holds a private key; a trust store takes public keys only (PREFIX.public.pem "
                 "from modgate keygen), and the private key belongs with the signer, not here"};
  if (pem_blocks(text) != 1)
    return Error{path + ": " +
                 (pem_blocks(text) == 0 ? std::string("is not PEM (no '-----BEGIN' line)")
                                        : "holds " + std::to_string(pem_blocks(text)) +
                                              " PEM blocks; a key file holds exactly one") +
                 "; expected an Ed25519 '-----BEGIN PUBLIC KEY-----'"};
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return Error{path + ": out of memory"};
  EVP_PKEY* k = PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr);
  if (!k)
    return Error{path +
                 ": is not a PEM public key; expected an Ed25519 '-----BEGIN PUBLIC "
                 "KEY-----' (modgate keygen or openssl pkey -pubout)"};
  auto key = Key::from_pkey(k, false);
  if (!key) return Error{path + ": " + key.error().message};
  return key;
}

Result<Ok> write_new_file(const std::string& path, mode_t mode, const char* data, std::size_t len,
                          bool& created) {
  // O_EXCL with O_CREAT also refuses a symlink at `path`, dangling or not: the key lands exactly
  // where asked or nowhere. The mode given to open() can only lose bits to the umask, so the
  // private key is never more readable than 0600; fchmod then sets exactly `mode`.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    int err = errno;
    return Error{
        path + ": " + std::strerror(err) +
        (err == EEXIST ? " (keygen never overwrites a key; remove it or pick another name)" : "")};
  }
  created = true;
  auto fail = [&](const char* what) {
    int err = errno;
    ::close(fd);
    return Error{path + ": " + what + ": " + std::strerror(err)};
  };
  if (::fchmod(fd, mode) != 0) return fail("chmod failed");
  std::size_t done = 0;
  while (done < len) {
    ssize_t n = ::write(fd, data + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write failed");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync failed");
  if (::close(fd) != 0) return Error{path + ": close failed: " + std::strerror(errno)};
  return Ok{};
}

}  // namespace

void Key::Free::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
Key::Key() = default;
Key::~Key() = default;
Key::Key(Key&&) noexcept = default;
Key& Key::operator=(Key&&) noexcept = default;

std::string key_id(std::span<const std::uint8_t, 32> raw) {
  Sha256 h = sha256(raw);
  return to_hex(std::span<const std::uint8_t>(h.data(), 8));
}

Result<Key> Key::from_pkey(EVP_PKEY* pkey, bool has_private) {
  Key k;
  k.pkey_.reset(pkey);
  if (!pkey) return Error{"no key"};
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519)
    return Error{"holds a " + type_name(pkey) +
                 " key; modgate bundles are signed with Ed25519 keys (modgate keygen)"};
  std::array<std::uint8_t, 32> raw{};
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey, raw.data(), &len) != 1 || len != raw.size()) {
    ERR_clear_error();
    return Error{"cannot read the Ed25519 public key"};
  }
  k.id_ = key_id(raw);
  k.has_private_ = has_private;
  return k;
}

std::string Key::public_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1)
    throw std::runtime_error("OpenSSL: cannot write a public key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

Result<Key> generate_key() {
  ErrClear clear;
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!k) return Error{"OpenSSL could not generate an Ed25519 key"};
  return Key::from_pkey(k, true);
}

Result<Key> load_private_key(const std::string& path) {
  ErrClear clear;
  struct stat st {};
  auto text = read_regular_file(path, kMaxKeyFileBytes, "a key file", &st);
  if (!text) return text.error();
  if ((st.st_mode & 077) != 0)
    return Error{path + ": private key with mode " + mode_string(st.st_mode) +
                 " is open to group or others; run chmod 600 " + path +
                 " (and consider it leaked if others could read it)"};
  if (text->find("ENCRYPTED PRIVATE KEY") != std::string::npos)
    return Error{path +
                 ": is encrypted; modgate signs with an unencrypted key (mode 0600, or held in a "
                 "secrets store and written out for signing)"};
  if (text->find("-----BEGIN PUBLIC KEY") != std::string::npos)
    return Error{path +
                 ": holds a public key; signing needs the private key (PREFIX.private.pem "
                 "from modgate keygen)"};
  if (pem_blocks(*text) != 1)
    return Error{path + ": " +
                 (pem_blocks(*text) == 0 ? std::string("is not PEM (no '-----BEGIN' line)")
                                         : "holds " + std::to_string(pem_blocks(*text)) +
                                               " PEM blocks; a key file holds exactly one") +
                 "; expected an Ed25519 '-----BEGIN PRIVATE KEY-----'"};
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  if (!bio) return Error{path + ": out of memory"};
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  OPENSSL_cleanse(text->data(), text->size());
  if (!k)
    return Error{path +
                 ": is not a PEM private key; expected an Ed25519 '-----BEGIN PRIVATE "
                 "KEY-----' (modgate keygen or openssl genpkey -algorithm ed25519)"};
  auto key = Key::from_pkey(k, true);
  if (!key) return Error{path + ": " + key.error().message};
  return key;
}

Result<Key> load_public_key(const std::string& path) {
  auto text = read_regular_file(path, kMaxKeyFileBytes, "a key file");
  if (!text) return text.error();
  return parse_public_pem(*text, path);
}

Result<Ok> write_key_pair(const Key& key, const std::string& private_path,
                          const std::string& public_path) {
  ErrClear clear;
  if (!key.has_private()) return Error{"the key has no private half to write"};
  if (private_path == public_path)
    return Error{private_path + ": the private and public key cannot be the same file"};
  // Secure-heap memory when OpenSSL has one; cleansed on free either way (BIO_s_secmem).
  BioPtr priv(BIO_new(BIO_s_secmem()));
  if (!priv ||
      PEM_write_bio_PrivateKey(priv.get(), key.pkey(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Error{"OpenSSL could not encode the private key"};
  char* pdata = nullptr;
  long plen = BIO_get_mem_data(priv.get(), &pdata);
  std::string pub = key.public_pem();

  bool priv_created = false, pub_created = false;
  auto r = write_new_file(private_path, 0600, pdata, static_cast<std::size_t>(plen), priv_created);
  if (r) r = write_new_file(public_path, 0644, pub.data(), pub.size(), pub_created);
  if (!r) {
    // Only what this call created: O_EXCL guarantees those files were ours.
    if (priv_created) ::unlink(private_path.c_str());
    if (pub_created) ::unlink(public_path.c_str());
    return r.error();
  }
  return Ok{};
}

const TrustStore::Entry* TrustStore::find(std::string_view id) const {
  auto it = keys.find(id);
  return it == keys.end() ? nullptr : &it->second;
}

Result<TrustStore> load_trust_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Error{dir + ": " + (ec ? ec.message() : std::string("not a directory")) +
                 " (the trust directory holds the public keys bundles may be signed with)"};
  std::vector<std::string> names;
  fs::directory_iterator it(dir, ec), end;
  if (ec) return Error{dir + ": " + ec.message()};
  for (; it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || name.size() < 5 ||
        name.compare(name.size() - 4, 4, ".pem") != 0)
      continue;
    names.push_back(name);
  }
  if (ec) return Error{dir + ": " + ec.message()};
  std::sort(names.begin(), names.end());
  if (names.size() > kMaxTrustKeys)
    return Error{dir + ": " + std::to_string(names.size()) +
                 " .pem files; a trust directory holds " + "at most " +
                 std::to_string(kMaxTrustKeys)};
  if (names.empty())
    return Error{dir +
                 ": no public keys (*.pem); copy the signer's PREFIX.public.pem (modgate "
                 "keygen) here"};

  TrustStore store;
  store.source = dir;
  std::string problems;
  for (const auto& name : names) {
    std::string path = (fs::path(dir) / name).string();
    auto key = load_public_key(path);
    if (!key) {
      problems += (problems.empty() ? "" : "\n") + key.error().message;
      continue;
    }
    std::string id = key->id();
    if (auto* other = store.find(id)) {
      problems += (problems.empty() ? "" : "\n") + path + ": key id " + id +
                  " is also the key in " + other->file + "; keep one copy";
      continue;
    }
    store.keys.emplace(id, TrustStore::Entry{std::move(*key), path});
  }
  if (!problems.empty()) return Error{problems};
  return store;
}

Result<TrustStore> load_trust_file(const std::string& path) {
  auto key = load_public_key(path);
  if (!key) return key.error();
  TrustStore store;
  store.source = path;
  std::string id = key->id();
  store.keys.emplace(id, TrustStore::Entry{std::move(*key), path});
  return store;
}

bool looks_like_bundle(std::string_view bytes) { return bytes.starts_with("modgate-bundle "); }

std::string_view refusal_name(BundleRefusal r) {
  switch (r) {
    case BundleRefusal::kMalformed:
      return "malformed";
    case BundleRefusal::kUnknownKey:
      return "unknown_key";
    case BundleRefusal::kBadSignature:
      return "bad_signature";
    case BundleRefusal::kFromFuture:
      return "from_future";
    case BundleRefusal::kInvalidPolicy:
      return "invalid_policy";
    case BundleRefusal::kDigestMismatch:
      return "digest_mismatch";
    case BundleRefusal::kVersionMismatch:
      return "version_mismatch";
  }
  return "unknown";
}

std::string utc_time_string(std::int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  char buf[40];
  if (!::gmtime_r(&t, &tm) || std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return std::to_string(seconds) + " s after the epoch";
  return buf;
}

namespace detail {

std::string encode_bundle(const BundleHeader& h, std::string_view policy, const Key& key) {
  ErrClear clear;
  BundleHeader hh = h;
  hh.policy_size = policy.size();
  std::string header6 = signed_header(hh);
  std::string msg = signed_message(header6, policy);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::array<std::uint8_t, 64> sig{};
  std::size_t len = sig.size();
  // Ed25519 hashes the message itself (PureEdDSA): no digest is named, and it signs in one shot.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.pkey()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len,
                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1 ||
      len != sig.size())
    throw std::runtime_error("OpenSSL: Ed25519 signing failed");
  std::string out = header6;
  out += "signature " + to_hex(sig) + "\n\n";
  out += policy;
  return out;
}

}  // namespace detail

Result<std::string> sign_bundle(std::string_view policy_text, const std::string& policy_name,
                                const Key& key, std::int64_t created) {
  if (!key.has_private()) return Error{"signing needs a private key"};
  if (created < 0) return Error{"the creation time " + std::to_string(created) + " is negative"};
  auto p = parse_policy(policy_text, policy_name);
  if (!p) return p.error();
  // What the agent would refuse to load must not be signed either.
  if (auto c = compile(*p); !c) return Error{policy_name + ": " + c.error().message};
  BundleHeader h;
  h.key_id = key.id();
  h.created = created;
  h.version = p->version;
  h.digest = p->digest;
  return detail::encode_bundle(h, policy_text, key);
}

VerifyResult verify_bundle(std::string_view bytes, const std::string& source,
                           const TrustStore& trust, std::int64_t now,
                           std::int64_t max_future_skew) {
  ErrClear clear;
  using R = BundleRefusal;
  if (bytes.size() > kMaxBundleBytes)
    return BundleError{R::kMalformed,
                       source + ": " + std::to_string(bytes.size()) + " bytes is larger than the " +
                           std::to_string(kMaxBundleBytes) +
                           " bytes a bundle may be (a 16 MiB policy and its header)",
                       std::nullopt};
  std::string err;
  auto parsed = parse_bundle(bytes, source, err);
  if (!parsed) return BundleError{R::kMalformed, err, std::nullopt};
  const BundleHeader& h = parsed->header;

  const TrustStore::Entry* entry = trust.find(h.key_id);
  if (!entry) {
    std::string known;
    for (const auto& [id, e] : trust.keys) known += (known.empty() ? "" : ", ") + id;
    return BundleError{R::kUnknownKey,
                       source + ": signed by key " + h.key_id +
                           ", which is not in the trust store " + trust.source + " (it holds " +
                           (known.empty() ? "no keys" : known) + ")",
                       h};
  }

  std::string msg = signed_message(parsed->header6, parsed->policy);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, entry->key.pkey()) != 1)
    throw std::runtime_error("OpenSSL: cannot set up Ed25519 verification");
  int ok = EVP_DigestVerify(ctx.get(), h.signature.data(), h.signature.size(),
                            reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  if (ok != 1)
    return BundleError{R::kBadSignature,
                       source + ": the signature does not verify with key " + h.key_id + " (" +
                           entry->file +
                           "): the bundle was changed after signing, or not signed by this key",
                       h};

  // Anything from here on was signed by a trusted key.
  std::int64_t n = std::max<std::int64_t>(now, 0);
  if (h.created > n && h.created - n > max_future_skew)
    return BundleError{R::kFromFuture,
                       source + ": created " + utc_time_string(h.created) + ", " +
                           std::to_string(h.created - n) + " s ahead of this host's clock (" +
                           utc_time_string(n) + "; at most " + std::to_string(max_future_skew) +
                           " s are tolerated); check the signer's and this host's clocks",
                       h};

  auto p = parse_policy(parsed->policy, source + "(policy)");
  if (p) {
    if (auto c = compile(*p); !c) p = Error{source + "(policy): " + c.error().message};
  }
  if (!p)
    return BundleError{
        R::kInvalidPolicy,
        source + ": the signed policy is not valid for this modgate (was it signed " +
            "by a newer one?); lines count from the policy's first line:\n" + p.error().message,
        h};
  if (p->digest != h.digest)
    return BundleError{R::kDigestMismatch,
                       source + ": the signed policy-sha256 " + to_hex(h.digest) +
                           " is not the digest of the signed policy (" + to_hex(p->digest) +
                           "); the signer computed another canonical form (another modgate "
                           "version?)",
                       h};
  if (p->version != h.version)
    return BundleError{R::kVersionMismatch,
                       source + ": the signed version " + std::to_string(h.version) +
                           " is not the signed policy's version " + std::to_string(p->version),
                       h};
  return VerifiedBundle{std::move(*p), std::string(parsed->policy), h, entry->file};
}

Result<UnverifiedBundle> read_unverified_bundle(std::string_view bytes, const std::string& source) {
  std::string err;
  auto parsed = parse_bundle(bytes, source, err);
  if (!parsed) return Error{err};
  auto policy = parse_policy(parsed->policy, source + " (its policy)");
  if (!policy) return policy.error();
  if (policy->version != parsed->header.version || policy->digest != parsed->header.digest)
    return Error{source + ": the header's version or digest does not describe its policy"};
  return UnverifiedBundle{parsed->header, std::move(*policy)};
}

Result<std::string> read_bundle_file(const std::string& path) {
  return read_regular_file(path, kMaxBundleBytes, "a bundle");
}

}  // namespace modgate::policy
