// SPDX-License-Identifier: Apache-2.0
// `modgate audit`: what the kernel has loaded, where each module's file is, its hashes, its
// signature, its taint, whether the policy lists it, and the CIS modules that should not be there
// (docs/audit.md). Every path is read under a root prefix so tests run on a fake /proc and /sys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/modinfo.h"
#include "policy/policy.h"
#include "policy/preloaded.h"
#include "policy/result.h"

namespace modgate::policy {

struct AuditOptions {
  std::string root =
      "/";  // prefix for /proc, /sys, /etc|/lib|/usr/lib|/run/modprobe.d, /lib/modules
  // The module tree; default ROOT/lib/modules/RELEASE, RELEASE from ROOT/proc/sys/kernel/osrelease.
  std::optional<std::string> modules_dir;
  const Policy* policy = nullptr;  // when set, each module is checked against its allowlist
  // X.509 signing certificates (PEM or DER files) to report on and match against signatures.
  std::optional<std::string> certs_dir;
  std::int64_t now = 0;  // seconds since the epoch for certificate validity; 0: the clock
  // The agent's record of the modules loaded before enforcement began (policy/preloaded.h),
  // reported when it belongs to this boot; unset: not read.
  std::optional<std::string> preloaded_file;
};

struct AuditModule {
  std::string name;  // as /proc/modules spells it (underscores)
  bool builtin = false;
  std::string state;                  // /proc/modules: Live, Loading, Unloading; "" for builtins
  std::optional<std::string> file;    // absolute path of the module file found for it
  std::optional<std::string> sha256;  // of the file as on disk
  std::optional<std::string> payload_sha256;  // of the decompressed bytes, for .ko.xz etc.
  std::optional<bool> listed;                 // set only when a policy was given
  std::optional<ModuleSignature> signature;
  std::optional<std::string> signature_error;  // trailer present but unparseable
  std::optional<std::string> file_error;       // no file found, or it could not be read
  std::string taint;                           // letters from /sys/module/NAME/taint
  bool cis = false;                            // on the CIS list of modules to disable
  std::vector<std::string> findings;           // kinds, see docs/audit.md
};

struct TaintFlag {
  char letter;
  int bit;
  std::string_view meaning;
};

struct CisStatus {
  std::string name, section, title;
  bool loaded = false, builtin = false, loadable = false;
  bool install_disabled = false;  // "install NAME /bin/false|/bin/true" in modprobe.d
  bool blacklisted = false;
  std::vector<std::string> findings;
};

struct CertStatus {
  std::string file;
  std::optional<std::string> error;     // not a certificate
  std::string subject, issuer, serial;  // RFC 2253 names, lowercase hex serial
  std::optional<std::string> skid;
  std::int64_t not_before = 0, not_after = 0;  // seconds since the epoch
  bool expired = false, expiring = false;      // expiring: within kCertWarnDays
  std::vector<std::string> modules;            // loaded modules whose signer is this certificate
};

inline constexpr int kCertWarnDays = 90;

struct AuditFinding {
  std::string subject;  // module name, or "kernel"
  std::string kind;     // e.g. "unsigned", "sha1-signature", "not-listed" (docs/audit.md)
  std::string message;
};

struct AuditReport {
  std::string release;
  std::string modules_dir;
  std::uint64_t kernel_taint = 0;
  std::vector<TaintFlag> kernel_taint_flags;
  std::vector<AuditModule> modules;  // loaded, sorted by name, then builtins sorted by name
  std::vector<CisStatus> cis;
  std::vector<CertStatus> certs;  // with certs_dir, sorted by file
  std::vector<AuditFinding> findings;
  std::vector<std::string> warnings;         // inputs that were missing or partly unreadable
  std::optional<PreloadedRecord> preloaded;  // with preloaded_file, when it is for this boot
};

// The kernel's taint bits (kernel/panic.c taint_flags) decoded into set flags.
std::vector<TaintFlag> decode_taint(std::uint64_t mask);

// Fails only when the loaded-module list itself cannot be read; anything else missing or
// malformed becomes a warning or a finding.
Result<AuditReport> run_audit(const AuditOptions& options);

std::string audit_text(const AuditReport& r);
std::string audit_json(const AuditReport& r);

}  // namespace modgate::policy
