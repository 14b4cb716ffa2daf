// SPDX-License-Identifier: Apache-2.0
// What a kernel module says about itself: the .modinfo section (through libelf) and the signature
// appended by scripts/sign-file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "policy/result.h"

namespace modgate::policy {

struct ModInfo {
  std::optional<std::string> name, version, vermagic;
};

// Reads name=, version= and vermagic= from the ELF image's .modinfo section. Fails when the image
// is not a relocatable ELF file with a .modinfo section: then it is not a module.
Result<ModInfo> read_modinfo(std::span<const std::uint8_t> elf_image);

// The signer of an appended module signature ("~Module signature appended~\n" trailer): the
// issuer's CN of the PKCS#7/CMS signer, or "skid:<hex>" when the signer is named by subject key
// identifier. nullopt when the module is unsigned; an error when the trailer is present but the
// signature cannot be parsed.
Result<std::optional<std::string>> module_signer(std::span<const std::uint8_t> image);

// Everything an audit wants from the appended signature's first (the kernel only uses the first)
// PKCS#7 signer.
struct ModuleSignature {
  std::string signer;                 // as module_signer() names it
  std::optional<std::string> issuer;  // RFC 2253 issuer name, when named by issuer and serial
  std::optional<std::string> serial;  // lowercase hex of the serial number, likewise
  std::optional<std::string> skid;    // lowercase hex subject key identifier, when named so
  // What modinfo(8) prints as sig_key: the serial, or the SKID when there is no serial.
  std::string key_id;
  std::string hash_algorithm;  // lowercase OpenSSL short name: "sha256", "sha1", "sha512"
  std::size_t length = 0;      // bytes of PKCS#7 data
};

// nullopt when the image has no signature trailer; an error, naming what is wrong, when the
// trailer is there but truncated, inconsistent or not parseable PKCS#7.
Result<std::optional<ModuleSignature>> module_signature(std::span<const std::uint8_t> image);

// A signing certificate, named the way ModuleSignature names its signer so the two compare.
struct Certificate {
  std::string subject, issuer;  // RFC 2253
  std::string serial;           // lowercase hex, as ModuleSignature::serial
  std::optional<std::string> skid;
  std::int64_t not_before = 0, not_after = 0;  // seconds since the epoch
};

// One X.509 certificate, PEM or DER.
Result<Certificate> parse_certificate(std::span<const std::uint8_t> bytes);

// True when `cert` is the one the signature names: by issuer and serial, or by SKID.
bool signed_by(const ModuleSignature& sig, const Certificate& cert);

}  // namespace modgate::policy
