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

}  // namespace modgate::policy
