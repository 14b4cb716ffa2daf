// SPDX-License-Identifier: Apache-2.0
// `modgate keygen` and `modgate policy sign|verify`: making and checking signed policy bundles
// (docs/fleet.md). The library does the work (policy/bundle.h); this file is options and output.
#include "policy/bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/cli/commands.h"
#include "agent/util/atomic_file.h"
#include "policy/rollout.h"

namespace modgate::cli {
namespace {

struct BundleOptions {
  std::string keygen_prefix, keygen_private, keygen_public;
  std::string sign_key, sign_policy, sign_output;
  std::int64_t sign_created = 0;
  bool sign_created_given = false;
  std::string verify_pubkey, verify_trust, verify_bundle, verify_output;
  bool verify_json = false;
  std::chrono::seconds verify_skew{policy::kDefaultMaxFutureSkew};
  std::string verify_machine_id = std::string(policy::kDefaultMachineIdPath);
};

int run_keygen(const BundleOptions& o) {
  const std::string me = "modgate keygen: ";
  bool prefix = !o.keygen_prefix.empty();
  bool pair = !o.keygen_private.empty() || !o.keygen_public.empty();
  if (prefix == pair || (pair && (o.keygen_private.empty() || o.keygen_public.empty()))) {
    std::cerr << me << "give either -o PREFIX or both --private FILE and --public FILE\n";
    return kExitUsage;
  }
  std::string priv = prefix ? o.keygen_prefix + ".private.pem" : o.keygen_private;
  std::string pub = prefix ? o.keygen_prefix + ".public.pem" : o.keygen_public;
  auto key = policy::generate_key();
  if (!key) {
    std::cerr << me << key.error().message << "\n";
    return kExitFailure;
  }
  if (auto w = policy::write_key_pair(*key, priv, pub); !w) {
    std::cerr << me << w.error().message << "\n";
    return kExitFailure;
  }
  std::cout << "key id " << key->id() << "\n"
            << "private key: " << priv << " (mode 0600; keep it with the signer, off the hosts)\n"
            << "public key:  " << pub << " (copy it into each host's trust directory)\n";
  return kExitOk;
}

int run_sign(const BundleOptions& o) {
  const std::string me = "modgate policy sign: ";
  std::int64_t created = 0;
  if (o.sign_created_given) {
    created = o.sign_created;
  } else if (const char* sde = std::getenv("SOURCE_DATE_EPOCH"); sde && *sde) {
    // The reproducible-builds convention: a CI pipeline gets the same bundle for the same input.
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(sde, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0) {
      std::cerr << me << "SOURCE_DATE_EPOCH='" << sde
                << "' is not UTC seconds; unset it or give --created\n";
      return kExitUsage;
    }
    created = v;
  } else {
    created = static_cast<std::int64_t>(std::time(nullptr));
  }
  if (created < 0) {
    std::cerr << me << "--created " << created << " is negative; give UTC seconds\n";
    return kExitUsage;
  }
  auto key = policy::load_private_key(o.sign_key);
  if (!key) {
    std::cerr << me << key.error().message << "\n";
    return kExitFailure;
  }
  auto text = policy::read_policy_text(o.sign_policy);
  if (!text) {
    std::cerr << me << text.error().message << "\n";
    return kExitFailure;
  }
  if (policy::looks_like_bundle(*text)) {
    std::cerr << me << o.sign_policy << ": is already a signed bundle; sign the policy file\n";
    return kExitFailure;
  }
  auto bundle = policy::sign_bundle(*text, o.sign_policy, *key, created);
  if (!bundle) {
    // Policy problems are FILE:LINE:COL lines, printed as `policy check` prints them.
    std::cerr << bundle.error().message << "\n" << me << "not signed\n";
    return kExitFailure;
  }
  bool to_stdout = o.sign_output.empty() || o.sign_output == "-";
  if (to_stdout) {
    std::cout << *bundle;
  } else if (auto w = write_output_file(o.sign_output, *bundle, 0644); !w) {
    std::cerr << me << w.error().message << "\n";
    return kExitFailure;
  }
  auto p = policy::parse_policy(*text, o.sign_policy);  // valid: sign_bundle checked it
  for (const auto& w : p->warnings) std::cerr << w << "\n";
  (to_stdout ? std::cerr : std::cout)
      << (to_stdout ? std::string("<stdout>") : o.sign_output) << ": policy version " << p->version
      << ", digest " << to_hex(p->digest) << ", key id " << key->id() << ", created " << created
      << " (" << policy::utc_time_string(created) << ")\n";
  return kExitOk;
}

int run_verify(const BundleOptions& o) {
  const std::string me = "modgate policy verify: ";
  if (o.verify_pubkey.empty() == o.verify_trust.empty()) {
    std::cerr << me << "give exactly one of --pubkey FILE and --trust DIR\n";
    return kExitUsage;
  }
  auto trust = o.verify_trust.empty() ? policy::load_trust_file(o.verify_pubkey)
                                      : policy::load_trust_dir(o.verify_trust);
  if (!trust) {
    std::cerr << trust.error().message << "\n" << me << "no trust store, nothing verified\n";
    return kExitFailure;
  }
  auto bytes = policy::read_bundle_file(o.verify_bundle);
  if (!bytes) {
    std::cerr << me << bytes.error().message << "\n";
    return kExitFailure;
  }
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto v = policy::verify_bundle(*bytes, o.verify_bundle, *trust, now, o.verify_skew.count());
  using Json = nlohmann::ordered_json;
  if (!v) {
    const auto& e = v.error();
    if (o.verify_json) {
      Json j{{"file", o.verify_bundle},
             {"ok", false},
             {"refusal", policy::refusal_name(e.reason)},
             {"message", e.message}};
      std::cout << j.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    } else {
      std::cerr << me << "refused (" << policy::refusal_name(e.reason) << "): " << e.message
                << "\n";
    }
    return kExitFailure;
  }
  if (o.verify_output == "-") {
    std::cout << v->policy_text;
    return kExitOk;
  }
  if (!o.verify_output.empty()) {
    if (auto w = write_output_file(o.verify_output, v->policy_text, 0644); !w) {
      std::cerr << me << w.error().message << "\n";
      return kExitFailure;
    }
  }
  const auto& p = v->policy;
  // Which cohort this host is in, for an operator asking "will this machine enforce it?".
  std::optional<policy::EffectiveMode> eff;
  std::string cohort_error;
  if (p.rollout) {
    if (auto id = policy::read_machine_id(o.verify_machine_id))
      eff = policy::effective_mode(p, *id);
    else
      cohort_error = id.error().message;
  }
  if (o.verify_json) {
    Json j{{"file", o.verify_bundle},
           {"ok", true},
           {"key_id", v->key_id()},
           {"key_file", v->key_file},
           {"version", v->version()},
           {"digest", to_hex(v->header.digest)},
           {"created", v->created()},
           {"created_utc", policy::utc_time_string(v->created())},
           {"policy_bytes", v->policy_text.size()},
           {"mode", policy::mode_name(p.mode)}};
    if (p.rollout)
      j["rollout"] = {{"enforce_percent", policy::percent_string(p.rollout->enforce_basis_points)},
                      {"salt", p.rollout->salt}};
    else
      j["rollout"] = nullptr;
    if (eff)
      j["this_host"] = {{"bucket", eff->bucket},
                        {"machine_id_file", o.verify_machine_id},
                        {"mode", policy::mode_name(eff->mode)}};
    else if (p.rollout)
      j["this_host"] = {{"error", cohort_error}};
    std::cout << j.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    std::cout << o.verify_bundle << ": verified\n"
              << "key id:   " << v->key_id() << " (" << v->key_file << ")\n"
              << "version:  " << v->version() << "\n"
              << "digest:   " << to_hex(v->header.digest) << "\n"
              << "created:  " << v->created() << " (" << policy::utc_time_string(v->created())
              << ")\n"
              << "mode:     " << policy::mode_name(p.mode);
    if (p.rollout)
      std::cout << ", staged: enforce on "
                << policy::percent_string(p.rollout->enforce_basis_points) << "% of hosts (salt '"
                << p.rollout->salt << "')";
    std::cout << "\n";
    if (eff)
      std::cout << "this host: bucket " << eff->bucket << " of " << policy::kCohortBuckets << " ("
                << o.verify_machine_id << "): runs it in " << policy::mode_name(eff->mode) << "\n";
    else if (p.rollout)
      std::cout << "this host: cohort unknown: " << cohort_error << "\n";
  }
  return kExitOk;
}

}  // namespace

Runner register_keygen(CLI::App& app) {
  auto o = std::make_shared<BundleOptions>();
  auto* kg =
      app.add_subcommand("keygen", "Generate an Ed25519 key pair for signing policy bundles");
  kg->add_option("-o,--output", o->keygen_prefix,
                 "Write PREFIX.private.pem (mode 0600) and PREFIX.public.pem (0644)");
  kg->add_option("--private", o->keygen_private, "Private key file to create (with --public)");
  kg->add_option("--public", o->keygen_public, "Public key file to create (with --private)");
  kg->footer(
      "Existing files are never overwritten (exit 1). The key id printed is the first 16 hex\n"
      "digits of SHA-256 of the raw public key (docs/fleet.md, 'Keys'). The private key signs\n"
      "bundles (modgate policy sign --key); the public key goes into every host's trust\n"
      "directory (modgate run --trust DIR).\n"
      "Exit status: 0 written, 1 not written, 2 bad command line.\n\n"
      "Examples:\n  modgate keygen -o /secure/fleet-2026\n"
      "  modgate keygen --private signer.pem --public /etc/modgate/trust/signer.pem");
  return [o]() { return run_keygen(*o); };
}

std::function<std::optional<int>()> register_policy_bundle(CLI::App& grp) {
  auto o = std::make_shared<BundleOptions>();
  auto* sign = grp.add_subcommand(
      "sign", "Validate a policy and sign it into a bundle (policy bytes, digest, version, time)");
  sign->add_option("--key", o->sign_key, "Ed25519 private key (PEM, mode 0600; modgate keygen)")
      ->required();
  sign->add_option("POLICY", o->sign_policy, "Policy file to sign")->required();
  sign->add_option("-o,--output", o->sign_output, "Write the bundle here (default: stdout)");
  auto* created =
      sign->add_option("--created", o->sign_created,
                       "Creation time in UTC seconds (default: $SOURCE_DATE_EPOCH, else now)");
  sign->footer(
      "The policy is checked first, exactly as 'modgate policy check' does; an invalid one is\n"
      "not signed. The same policy, key and --created give the same bundle byte for byte.\n"
      "Format: docs/fleet.md, 'Signed bundles'.\n"
      "Exit status: 0 signed, 1 invalid policy or unusable key, 2 bad command line.\n\n"
      "Example:\n  modgate policy sign --key fleet.private.pem policy.yaml -o policy.bundle");

  auto* verify = grp.add_subcommand(
      "verify", "Check a bundle's signature and policy as an agent would; print what it holds");
  verify->add_option("--pubkey", o->verify_pubkey, "Trust this one public key (PEM)");
  verify->add_option("--trust", o->verify_trust,
                     "Trust the public keys in this directory (*.pem), as modgate run --trust");
  verify->add_option("BUNDLE", o->verify_bundle, "Bundle file")->required();
  verify->add_flag("--json", o->verify_json,
                   "Print one JSON object (key_id, version, digest, created, ...; or refusal)");
  verify->add_option("-o,--output", o->verify_output,
                     "Also write the verified policy's exact bytes to this file ('-': only them, "
                     "to stdout)");
  add_duration_option(verify, "--max-future-skew", o->verify_skew,
                      "How far 'created' may lie ahead of this clock", std::chrono::seconds{0})
      ->default_str("5m");
  verify->add_option("--machine-id", o->verify_machine_id,
                     "For a staged policy, show the cohort of the host with this machine-id file "
                     "(default /etc/machine-id)");
  verify->footer(
      "Checks size and format, key id, signature, creation time, then the policy, its digest\n"
      "and version (docs/fleet.md, 'Verification'). A refusal names its reason: malformed,\n"
      "unknown_key, bad_signature, from_future, invalid_policy, digest_mismatch, "
      "version_mismatch.\n"
      "For a policy with 'rollout', the last line says whether this host (--machine-id)\n"
      "would enforce it or run it in dry-run (docs/fleet.md, 'Rollout cohorts').\n"
      "Exit status: 0 verified, 1 refused or unreadable, 2 bad command line.\n\n"
      "Examples:\n  modgate policy verify --pubkey fleet.public.pem policy.bundle\n"
      "  modgate policy verify --trust /etc/modgate/trust --json policy.bundle\n"
      "  modgate policy verify --trust /etc/modgate/trust policy.bundle -o - | less");

  return [o, sign, verify, created]() -> std::optional<int> {
    o->sign_created_given = created->count() > 0;
    if (sign->parsed()) return run_sign(*o);
    if (verify->parsed()) return run_verify(*o);
    return std::nullopt;
  };
}

}  // namespace modgate::cli
