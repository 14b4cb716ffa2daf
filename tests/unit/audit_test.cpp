// SPDX-License-Identifier: Apache-2.0
// modgate audit on a fake /proc, /sys, modprobe.d and module tree under a temporary root, with
// modules signed in the test by a throwaway key (openssl cms, as scripts/sign-file lays it out).
#include "policy/audit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "audit_test_util.h"
#include "policy/modinfo.h"
#include "policy/policy.h"
#include "policy/preloaded.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using ::modgate::policy::testing::data_path;
using ::modgate::policy::testing::read_bytes;
using ::modgate::policy::testing::Signer;
using ::modgate::policy::testing::strip;
using ::modgate::policy::testing::TempDir;
using ::modgate::policy::testing::write_file;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kRelease[] = "6.1.0-test-amd64";

class FakeRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = root_.path() / "lib/modules" / kRelease;
    fs::create_directories(dir_ / "kernel/fs");
    fs::create_directories(root_.path() / "proc/sys/kernel");
    fs::create_directories(root_.path() / "etc/modprobe.d");
    write_file(root_.path() / "proc/sys/kernel/osrelease", std::string(kRelease) + "\n");
    write_file(root_.path() / "proc/sys/kernel/tainted", "0\n");
    Signer signer(root_.path());
    auto plain = strip(read_bytes(data_path("modules/fake_signed.ko")));
    write_file(root_.path() / "plain.ko", std::string(plain.begin(), plain.end()));
    signer.sign(root_.path() / "plain.ko", dir_ / "kernel/fs/good256.ko", "sha256");
    signer.sign(root_.path() / "plain.ko", dir_ / "kernel/fs/old1.ko", "sha1");
    signer.sign(root_.path() / "plain.ko", dir_ / "kernel/fs/bykeyid.ko", "sha256", true);
    fs::copy_file(root_.path() / "plain.ko", dir_ / "kernel/fs/bare.ko");
    // The signature's DER cut short in the middle, info and magic intact: a damaged trailer.
    auto good = read_bytes((dir_ / "kernel/fs/good256.ko").string());
    std::string cut(good.begin(), good.end());
    cut.erase(plain.size() + 40, 64);
    write_file(dir_ / "kernel/fs/cut.ko", cut);
    fs::copy_file(data_path("modules/fake_signed.ko.xz"), dir_ / "kernel/fs/packed.ko.xz");
    fs::copy_file(root_.path() / "plain.ko", dir_ / "kernel/fs/cramfs.ko");
    fs::copy_file(root_.path() / "plain.ko", dir_ / "kernel/fs/udf.ko");
    write_file(
        dir_ / "modules.dep",
        "kernel/fs/good256.ko:\nkernel/fs/old1.ko:\nkernel/fs/bare.ko:\nkernel/fs/bykeyid.ko:\n"
        "kernel/fs/cut.ko:\nkernel/fs/packed.ko.xz:\nkernel/fs/cramfs.ko:\n"
        "kernel/fs/udf.ko:\n");
    write_file(dir_ / "modules.builtin",
               "kernel/fs/ext4/ext4.ko\nkernel/fs/squashfs/squashfs.ko\n");
    write_file(root_.path() / "etc/modprobe.d/cis.conf",
               "# CIS\ninstall udf /bin/false\nblacklist udf\ninstall cramfs /bin/true\n");
  }

  void loaded(const std::string& proc_modules) {
    write_file(root_.path() / "proc/modules", proc_modules);
  }
  void module_taint(const std::string& name, const std::string& letters) {
    fs::create_directories(root_.path() / "sys/module" / name);
    write_file(root_.path() / "sys/module" / name / "taint", letters + "\n");
  }

  Result<AuditReport> audit(const Policy* p = nullptr) {
    AuditOptions o;
    o.root = root_.path().string();
    o.policy = p;
    return run_audit(o);
  }

  const AuditModule* find(const AuditReport& r, const std::string& name) {
    for (const auto& m : r.modules)
      if (m.name == name) return &m;
    return nullptr;
  }

  TempDir root_;
  fs::path dir_;
};

std::string line(const std::string& name) { return name + " 16384 0 - Live 0xffffffffc0000000\n"; }

TEST_F(FakeRoot, SignatureDetailsOfSha256AndSha1Signers) {
  loaded(line("good256") + line("old1"));
  auto r = audit();
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto* good = find(*r, "good256");
  ASSERT_NE(good, nullptr);
  ASSERT_TRUE(good->signature.has_value());
  EXPECT_EQ(good->signature->signer, "modgate audit key");
  EXPECT_EQ(good->signature->hash_algorithm, "sha256");
  EXPECT_THAT(good->signature->issuer.value_or(""), HasSubstr("CN=modgate audit key"));
  EXPECT_FALSE(good->signature->key_id.empty());
  EXPECT_EQ(good->signature->key_id, good->signature->serial.value_or(""));
  EXPECT_TRUE(good->findings.empty());
  const auto* old = find(*r, "old1");
  ASSERT_NE(old, nullptr);
  ASSERT_TRUE(old->signature.has_value());
  EXPECT_EQ(old->signature->hash_algorithm, "sha1");
  EXPECT_THAT(old->findings, ElementsAre("weak-signature-hash"));
}

TEST_F(FakeRoot, StrippedModuleIsUnsignedAndTruncatedTrailerIsBadSignature) {
  loaded(line("bare") + line("cut"));
  auto r = audit();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(find(*r, "bare")->findings, ElementsAre("unsigned"));
  const auto* cut = find(*r, "cut");
  EXPECT_THAT(cut->findings, ElementsAre("bad-signature"));
  EXPECT_THAT(cut->signature_error.value_or(""), HasSubstr("PKCS#7"));
}

TEST(AuditSignature, TrailerTooShortForItsHeaderIsAnError) {
  std::string t = "\x01\x02~Module signature appended~\n";
  auto s = module_signature({reinterpret_cast<const std::uint8_t*>(t.data()), t.size()});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("truncated"));
}

TEST_F(FakeRoot, CompressedModuleHasBothHashesAndItsSignatureFromThePayload) {
  loaded(line("packed"));
  auto r = audit();
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto* m = find(*r, "packed");
  ASSERT_TRUE(m->sha256 && m->payload_sha256);
  EXPECT_EQ(*m->sha256, to_hex(sha256(read_bytes(data_path("modules/fake_signed.ko.xz")))));
  EXPECT_EQ(*m->payload_sha256, to_hex(sha256(read_bytes(data_path("modules/fake_signed.ko")))));
  ASSERT_TRUE(m->signature.has_value());
  EXPECT_EQ(m->signature->signer, "modgate test signing key");
}

TEST_F(FakeRoot, PolicyListingByFileOrPayloadHash) {
  loaded(line("good256") + line("packed"));
  Policy p;
  ModuleEntry e;
  e.name = "packed";
  e.sha256 = sha256(read_bytes(data_path("modules/fake_signed.ko")));
  p.modules.push_back(e);
  auto r = audit(&p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(find(*r, "packed")->listed, true);
  EXPECT_EQ(find(*r, "good256")->listed, false);
  EXPECT_THAT(find(*r, "good256")->findings, Contains("not-listed"));
}

TEST_F(FakeRoot, TaintPerModuleAndGlobalDecoded) {
  loaded(line("good256") + "bare 16384 0 - Live 0xffffffffc0000000 (OE)\n");
  module_taint("good256", "O");
  write_file(root_.path() / "proc/sys/kernel/tainted", "12800\n");  // O(12) E(13) W(9)
  auto r = audit();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(find(*r, "good256")->taint, "O");
  EXPECT_EQ(find(*r, "bare")->taint, "OE");  // no /sys entry: /proc/modules' flags
  EXPECT_EQ(r->kernel_taint, 12800u);
  std::string letters;
  for (const auto& f : r->kernel_taint_flags) letters += f.letter;
  EXPECT_EQ(letters, "WOE");
  bool kernel_finding = false;
  for (const auto& f : r->findings)
    if (f.subject == "kernel" && f.kind == "kernel-tainted") kernel_finding = true;
  EXPECT_TRUE(kernel_finding);
}

TEST_F(FakeRoot, KernelTaintEOnASignedFileMeansTheLoadedImageWasUnsigned) {
  loaded(line("good256"));
  module_taint("good256", "E");
  auto r = audit();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(find(*r, "good256")->findings, ElementsAre("unsigned", "module-tainted"));
}

TEST_F(FakeRoot, BuiltinsAreFlaggedAndNotJudged) {
  loaded(line("good256"));
  auto r = audit();
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto* ext4 = find(*r, "ext4");
  ASSERT_NE(ext4, nullptr);
  EXPECT_TRUE(ext4->builtin);
  EXPECT_TRUE(ext4->findings.empty());
  EXPECT_FALSE(ext4->file.has_value());
}

TEST_F(FakeRoot, CisModulesLoadedLoadableDisabledBlacklisted) {
  loaded(line("cramfs"));
  auto r = audit();
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto status = [&](const std::string& n) {
    for (const auto& c : r->cis)
      if (c.name == n) return c;
    ADD_FAILURE() << n << " not in the CIS list";
    return CisStatus{};
  };
  auto cramfs = status("cramfs");
  EXPECT_TRUE(cramfs.loaded && cramfs.loadable && cramfs.install_disabled);
  EXPECT_FALSE(cramfs.blacklisted);
  EXPECT_THAT(cramfs.findings, ElementsAre("cis-loaded", "cis-not-blacklisted"));
  EXPECT_TRUE(find(*r, "cramfs")->cis);
  auto udf = status("udf");
  EXPECT_TRUE(udf.loadable && udf.install_disabled && udf.blacklisted && !udf.loaded);
  EXPECT_TRUE(udf.findings.empty());
  auto squashfs = status("squashfs");
  EXPECT_TRUE(squashfs.builtin);
  EXPECT_FALSE(squashfs.loadable);
  auto sctp = status("sctp");
  EXPECT_FALSE(sctp.loaded || sctp.loadable || sctp.builtin);
  EXPECT_TRUE(sctp.findings.empty());
}

TEST_F(FakeRoot, LoadedModuleWithoutFileIsAFinding) {
  loaded(line("ghost"));
  auto r = audit();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(find(*r, "ghost")->findings, ElementsAre("file-missing"));
}

TEST_F(FakeRoot, MalformedInputsAreWarningsNotCrashes) {
  loaded("garbage\n" + line("good256") + "\n\x01\x02\n" + line("../../etc"));
  write_file(root_.path() / "proc/sys/kernel/tainted", "lots\n");
  write_file(dir_ / "modules.dep", "no colon here\n:\nkernel/fs/good256.ko:\n");
  auto r = audit();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(find(*r, "good256"), nullptr);
  EXPECT_EQ(find(*r, "../../etc"), nullptr);
  EXPECT_GE(r->warnings.size(), 3u);
  EXPECT_EQ(r->kernel_taint, 0u);
}

TEST_F(FakeRoot, NoProcModulesIsAnError) {
  auto r = audit();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("proc/modules"));
}

TEST_F(FakeRoot, JsonSchemaFields) {
  loaded(line("good256") + line("bare"));
  auto r = audit();
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto j = nlohmann::json::parse(audit_json(*r));
  EXPECT_EQ(j["schema"], "modgate-audit/1");
  EXPECT_EQ(j["kernel"]["release"], kRelease);
  EXPECT_EQ(j["summary"]["loaded"], 2);
  EXPECT_EQ(j["summary"]["unsigned"], 1);
  EXPECT_EQ(j["summary"]["builtin"], 2);
  EXPECT_EQ(j["modules"][0]["name"], "bare");
  EXPECT_EQ(j["modules"][0]["signature"]["signed"], false);
  EXPECT_EQ(j["modules"][1]["signature"]["signer"], "modgate audit key");
  EXPECT_EQ(j["modules"][1]["signature"]["hash_algorithm"], "sha256");
  EXPECT_TRUE(j["findings"].is_array());
  EXPECT_EQ(j["summary"]["findings"], j["findings"].size());
}

class Certs : public FakeRoot {
 protected:
  void SetUp() override {
    FakeRoot::SetUp();
    certs_ = root_.path() / "certs";
    fs::create_directories(certs_);
    fs::copy_file(root_.path() / "cert.pem", certs_ / "a.pem");
    ASSERT_EQ(testing::sh("openssl x509 -in " + (root_.path() / "cert.pem").string() +
                          " -outform DER -out " + (certs_ / "b.der").string()),
              0);
    write_file(certs_ / "c.txt", "not a certificate\n");
    auto c = parse_certificate(read_bytes((certs_ / "a.pem").string()));
    ASSERT_TRUE(c.ok()) << c.error().message;
    cert_ = *c;
    loaded(line("good256") + line("bykeyid") + line("bare"));
  }
  Result<AuditReport> audit_at(std::int64_t now) {
    AuditOptions o;
    o.root = root_.path().string();
    o.certs_dir = certs_.string();
    o.now = now;
    return run_audit(o);
  }
  std::vector<std::string> kinds(const AuditReport& r, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& f : r.findings)
      if (f.subject.rfind(prefix, 0) == 0) out.push_back(f.kind);
    return out;
  }
  fs::path certs_;
  Certificate cert_;
};

TEST_F(Certs, PemAndDerMatchModulesByIssuerSerialAndBySkid) {
  auto r = audit_at(cert_.not_before + 86400);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->certs.size(), 3u);
  for (int i : {0, 1}) {
    EXPECT_FALSE(r->certs[i].error.has_value()) << r->certs[i].file;
    EXPECT_THAT(r->certs[i].subject, HasSubstr("CN=modgate audit key"));
    EXPECT_THAT(r->certs[i].modules, ElementsAre("bykeyid", "good256"));
    EXPECT_FALSE(r->certs[i].expired || r->certs[i].expiring);
  }
  EXPECT_TRUE(r->certs[2].error.has_value());
  EXPECT_TRUE(kinds(*r, "cert:").empty());
  EXPECT_EQ(find(*r, "bykeyid")->signature->skid, cert_.skid);
}

TEST_F(Certs, ExpiringWithin90DaysAndExpiredAreFindings) {
  auto soon = audit_at(cert_.not_after - 30LL * 86400);
  ASSERT_TRUE(soon.ok());
  EXPECT_TRUE(soon->certs[0].expiring);
  EXPECT_THAT(kinds(*soon, "cert:"), ElementsAre("cert-expiring", "cert-expiring"));
  auto later = audit_at(cert_.not_after + 1);
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->certs[0].expired);
  EXPECT_THAT(kinds(*later, "cert:"), ElementsAre("cert-expired", "cert-expired"));
  auto j = nlohmann::json::parse(audit_json(*later));
  EXPECT_EQ(j["certs"][0]["expired"], true);
  EXPECT_EQ(j["certs"][0]["modules"].size(), 2u);
}

TEST(AuditTaint, DecodesKernelBitsIncludingUnknownOnes) {
  auto f = decode_taint(1u | 1u << 13 | 1ull << 40);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].letter, 'P');
  EXPECT_EQ(f[1].letter, 'E');
  EXPECT_EQ(f[2].letter, '?');
  EXPECT_EQ(f[2].bit, 40);
}

TEST(AuditSignature, KeyIdFromSubjectKeyIdentifier) {
  auto s = module_signature(read_bytes(data_path("modules/fake_keyid.ko")));
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->key_id, (*s)->skid.value_or("-"));
  EXPECT_EQ((*s)->signer, "skid:" + (*s)->key_id);
  EXPECT_EQ((*s)->hash_algorithm, "sha256");
}

}  // namespace
}  // namespace modgate::policy

namespace modgate::policy {
namespace {

// The record of modules loaded before enforcement (policy/preloaded.h): made from an audit, read
// back through its JSON, and reported by `modgate audit` only for the boot it belongs to.
class Preloaded : public FakeRoot {
 protected:
  void SetUp() override {
    FakeRoot::SetUp();
    fs::create_directories(root_.path() / "proc/sys/kernel/random");
    write_file(root_.path() / "proc/sys/kernel/random/boot_id", "boot-1\n");
    fs::create_directories(root_.path() / "run/modgate");
    loaded(line("good256") + line("packed") + line("ghost"));
    e_.name = "packed";
    e_.sha256 = sha256(read_bytes(data_path("modules/fake_signed.ko")));
    p_.modules.push_back(e_);
  }
  PreloadedRecord record(const std::string& boot_id) {
    auto r = audit(&p_);
    EXPECT_TRUE(r.ok());
    PreloadedRecord rec = preloaded_from_audit(*r);
    rec.boot_id = boot_id;
    rec.recorded_at = "2026-01-01T00:00:00Z";
    return rec;
  }
  Result<AuditReport> audit_with_record(const std::string& text) {
    fs::path f = root_.path() / "run/modgate" / kPreloadedFileName;
    write_file(f, text);
    AuditOptions o;
    o.root = root_.path().string();
    o.policy = &p_;
    o.preloaded_file = f.string();
    return run_audit(o);
  }
  static std::vector<std::string> kinds(const AuditReport& r, const std::string& subject) {
    std::vector<std::string> k;
    for (const auto& f : r.findings)
      if (f.subject == subject) k.push_back(f.kind);
    return k;
  }
  Policy p_;
  ModuleEntry e_;
};

TEST_F(Preloaded, RecordListsLoadedModulesCheckedAgainstThePolicyAndReadsBack) {
  PreloadedRecord rec = record("boot-1");
  ASSERT_EQ(rec.modules.size(), 3u);  // builtins are not "loaded before"
  std::map<std::string, PreloadedModule> by;
  for (const auto& m : rec.modules) by[m.name] = m;
  EXPECT_EQ(by["packed"].listed, true);
  EXPECT_EQ(by["good256"].listed, false);
  EXPECT_FALSE(by["ghost"].listed.has_value());  // no file: cannot be checked
  EXPECT_THAT(by["ghost"].error.value_or(""), HasSubstr("no file"));
  EXPECT_EQ(rec.not_listed(), 1u);
  EXPECT_EQ(rec.unchecked(), 1u);
  auto back = parse_preloaded(preloaded_json(rec).dump(), "rec.json");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(preloaded_json(*back), preloaded_json(rec));
}

TEST_F(Preloaded, AuditReportsThisBootsRecordAsFindings) {
  auto r = audit_with_record(preloaded_json(record("boot-1")).dump());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->preloaded.has_value());
  EXPECT_THAT(kinds(*r, "good256"), Contains("loaded-before-enforcement"));
  EXPECT_THAT(kinds(*r, "ghost"), Contains("loaded-before-enforcement-unchecked"));
  EXPECT_THAT(kinds(*r, "packed"), ::testing::Not(Contains("loaded-before-enforcement")));
  auto j = nlohmann::json::parse(audit_json(*r));
  EXPECT_EQ(j["loaded_before_enforcement"]["count"], 3);
  EXPECT_EQ(j["loaded_before_enforcement"]["not_listed"], 1);
  EXPECT_THAT(audit_text(*r), HasSubstr("loaded before enforcement began"));
}

TEST_F(Preloaded, ARecordOfAnotherBootOrGarbageIsAWarningNotAFinding) {
  auto stale = audit_with_record(preloaded_json(record("boot-0")).dump());
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->preloaded.has_value());
  EXPECT_THAT(stale->warnings, Contains(HasSubstr("another boot")));
  EXPECT_THAT(kinds(*stale, "good256"), ::testing::Not(Contains("loaded-before-enforcement")));
  for (std::string bad : {"", "[]", "{\"boot_id\":\"boot-1\"}", "{\"modules\":3}", "\xff"}) {
    auto r = audit_with_record(bad);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->preloaded.has_value()) << bad;
    EXPECT_THAT(r->warnings, Contains(HasSubstr("not a loaded-before-enforcement record"))) << bad;
  }
}

TEST_F(Preloaded, NoRecordIsNeitherWarningNorFinding) {
  AuditOptions o;
  o.root = root_.path().string();
  o.preloaded_file = (root_.path() / "run/modgate/none.json").string();
  auto r = run_audit(o);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->preloaded.has_value());
  for (const auto& w : r->warnings) EXPECT_THAT(w, ::testing::Not(HasSubstr("none.json")));
}

}  // namespace
}  // namespace modgate::policy
