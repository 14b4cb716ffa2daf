// SPDX-License-Identifier: Apache-2.0

#include "policy/modinfo.h"

#include <gelf.h>
#include <libelf.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string_view>

#include "policy/sha256.h"

namespace modgate::policy {
namespace {

// include/linux/module_signature.h
constexpr std::string_view kSigMagic = "~Module signature appended~\n";
constexpr std::size_t kSigInfoLen = 12;  // struct module_signature
constexpr std::uint8_t kPkeyIdPkcs7 = 2;

void init_libelf() {
  static std::once_flag once;
  std::call_once(once, [] { elf_version(EV_CURRENT); });
}

struct ElfCloser {
  void operator()(Elf* e) const { elf_end(e); }
};

}  // namespace

Result<ModInfo> read_modinfo(std::span<const std::uint8_t> image) {
  init_libelf();
  // libelf only reads through this pointer for an ELF_C_READ descriptor made by elf_memory.
  std::unique_ptr<Elf, ElfCloser> elf(
      elf_memory(reinterpret_cast<char*>(const_cast<std::uint8_t*>(image.data())), image.size()));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) return Error{"is not an ELF file"};
  GElf_Ehdr eh;
  if (!gelf_getehdr(elf.get(), &eh)) return Error{std::string("bad ELF header: ") + elf_errmsg(-1)};
  if (eh.e_type != ET_REL) return Error{"is an ELF file but not a relocatable object (a module)"};
  std::size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf.get(), &shstrndx) != 0)
    return Error{std::string("bad ELF section table: ") + elf_errmsg(-1)};

  for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn; scn = elf_nextscn(elf.get(), scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) return Error{std::string("bad ELF section: ") + elf_errmsg(-1)};
    const char* name = elf_strptr(elf.get(), shstrndx, sh.sh_name);
    if (!name || std::strcmp(name, ".modinfo") != 0) continue;
    if (sh.sh_type == SHT_NOBITS) return Error{".modinfo section has no contents"};
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data || !data->d_buf) return Error{std::string("unreadable .modinfo: ") + elf_errmsg(-1)};
    std::string_view info(static_cast<const char*>(data->d_buf), data->d_size);
    ModInfo mi;
    // NUL-separated key=value strings, possibly with NUL padding between them.
    while (!info.empty()) {
      auto end = info.find('\0');
      std::string_view kv = info.substr(0, end);
      info = end == std::string_view::npos ? std::string_view() : info.substr(end + 1);
      auto eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      auto key = kv.substr(0, eq);
      std::string value(kv.substr(eq + 1));
      // The first occurrence wins, as modinfo(8) and the kernel's get_modinfo() read it.
      if (key == "name" && !mi.name) mi.name = value;
      if (key == "version" && !mi.version) mi.version = value;
      if (key == "vermagic" && !mi.vermagic) mi.vermagic = value;
    }
    return mi;
  }
  return Error{"has no .modinfo section; not a kernel module"};
}

namespace {

std::string asn1_hex(const ASN1_STRING* s) {
  return to_hex({ASN1_STRING_get0_data(s), static_cast<std::size_t>(ASN1_STRING_length(s))});
}

Result<std::string> name_rfc2253(X509_NAME* name) {
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  if (out && X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253) >= 0) {
    char* p = nullptr;
    long len = BIO_get_mem_data(out.get(), &p);
    if (len > 0) return std::string(p, static_cast<std::size_t>(len));
  }
  return Error{"module signature's issuer name is unreadable"};
}

std::optional<std::string> common_name(X509_NAME* name) {
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return std::nullopt;
  ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, cn);
  if (n < 0) return std::nullopt;
  std::string s(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return s;
}

}  // namespace

Result<std::optional<ModuleSignature>> module_signature(std::span<const std::uint8_t> image) {
  if (image.size() < kSigMagic.size() || std::memcmp(image.data() + image.size() - kSigMagic.size(),
                                                     kSigMagic.data(), kSigMagic.size()) != 0)
    return std::optional<ModuleSignature>();
  std::size_t rest = image.size() - kSigMagic.size();
  if (rest < kSigInfoLen) return Error{"module signature trailer is truncated"};
  const std::uint8_t* info = image.data() + rest - kSigInfoLen;
  std::uint32_t sig_len = static_cast<std::uint32_t>(info[8]) << 24 |
                          static_cast<std::uint32_t>(info[9]) << 16 |
                          static_cast<std::uint32_t>(info[10]) << 8 | info[11];
  rest -= kSigInfoLen;
  if (info[2] != kPkeyIdPkcs7)
    return Error{"module signature has id type " + std::to_string(info[2]) + ", not PKCS#7"};
  if (sig_len == 0 || sig_len > rest)
    return Error{"module signature length " + std::to_string(sig_len) + " exceeds the file"};
  const std::uint8_t* sig = image.data() + rest - sig_len;

  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(sig, static_cast<int>(sig_len)),
                                                BIO_free);
  if (!bio) return Error{"out of memory reading the module signature"};
  std::unique_ptr<CMS_ContentInfo, decltype(&CMS_ContentInfo_free)> cms(
      d2i_CMS_bio(bio.get(), nullptr), CMS_ContentInfo_free);
  if (!cms) return Error{"module signature is not valid PKCS#7/CMS"};
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
  if (!infos || sk_CMS_SignerInfo_num(infos) < 1) return Error{"module signature has no signer"};
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);
  ASN1_OCTET_STRING* keyid = nullptr;
  X509_NAME* issuer = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &serial) != 1)
    return Error{"module signature names no signer"};

  ModuleSignature out;
  out.length = sig_len;
  X509_ALGOR* digest = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest, nullptr);
  if (digest) {
    const ASN1_OBJECT* obj = nullptr;
    X509_ALGOR_get0(&obj, nullptr, nullptr, digest);
    const char* sn = obj ? OBJ_nid2sn(OBJ_obj2nid(obj)) : nullptr;
    if (sn && OBJ_obj2nid(obj) != NID_undef) {
      out.hash_algorithm = sn;
      for (auto& ch : out.hash_algorithm)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
  }
  if (out.hash_algorithm.empty()) return Error{"module signature names no known digest algorithm"};

  if (issuer) {
    auto rfc = name_rfc2253(issuer);
    if (!rfc) return rfc.error();
    out.issuer = *rfc;
    // Without a CN, the whole issuer name in OpenSSL's one-line RFC 2253 form.
    out.signer = common_name(issuer).value_or(*rfc);
    if (serial) out.serial = asn1_hex(serial);
    out.key_id = out.serial.value_or("");
    return std::optional<ModuleSignature>(std::move(out));
  }
  if (keyid) {
    out.skid = asn1_hex(keyid);
    out.signer = "skid:" + *out.skid;
    out.key_id = *out.skid;
    return std::optional<ModuleSignature>(std::move(out));
  }
  return Error{"module signature names no signer"};
}

Result<std::optional<std::string>> module_signer(std::span<const std::uint8_t> image) {
  auto s = module_signature(image);
  if (!s) return s.error();
  if (!s->has_value()) return std::optional<std::string>();
  return std::optional<std::string>((*s)->signer);
}

namespace {

Result<std::int64_t> epoch_seconds(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
    return Error{"certificate has an unreadable validity time"};
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

Result<Certificate> parse_certificate(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > (1u << 20)) return Error{"is larger than 1 MiB; not a certificate"};
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())), BIO_free);
  if (!bio) return Error{"out of memory reading a certificate"};
  std::unique_ptr<X509, decltype(&X509_free)> x(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!x) {
    const unsigned char* p = bytes.data();
    x.reset(d2i_X509(nullptr, &p, static_cast<long>(bytes.size())));
  }
  ERR_clear_error();
  if (!x) return Error{"is not an X.509 certificate (PEM or DER)"};
  Certificate c;
  auto subject = name_rfc2253(X509_get_subject_name(x.get()));
  auto issuer = name_rfc2253(X509_get_issuer_name(x.get()));
  if (!subject || !issuer) return Error{"certificate has an unreadable name"};
  c.subject = *subject;
  c.issuer = *issuer;
  c.serial = asn1_hex(X509_get0_serialNumber(x.get()));
  if (const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(x.get())) c.skid = asn1_hex(skid);
  auto nb = epoch_seconds(X509_get0_notBefore(x.get()));
  auto na = epoch_seconds(X509_get0_notAfter(x.get()));
  if (!nb) return nb.error();
  if (!na) return na.error();
  c.not_before = *nb;
  c.not_after = *na;
  return c;
}

bool signed_by(const ModuleSignature& sig, const Certificate& cert) {
  if (sig.issuer && sig.serial && *sig.issuer == cert.issuer && *sig.serial == cert.serial)
    return true;
  return sig.skid && cert.skid && *sig.skid == *cert.skid;
}

}  // namespace modgate::policy
