// SPDX-License-Identifier: Apache-2.0
// `modgate audit` over a fake root whose files the input supplies: /proc/modules, modules.dep,
// modules.builtin, a modprobe.d file, the kernel's taint, a module's taint and one module file
// (lib/modules/fuzz/kernel/m.ko, and .xz, .zst, .gz), as NUL-separated parts in that order. Every
// report must render as text and as JSON that parses back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "policy/audit.h"

namespace fs = std::filesystem;

namespace {

// Made once per process and removed at exit. Never destroyed: the exit handler still needs it
// after static destructors may have run.
const fs::path& fake_root() {
  static const fs::path* root = [] {
    std::string tmpl = (fs::temp_directory_path() / "modgate-fuzz-audit.XXXXXX").string();
    FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    auto* r = new fs::path(tmpl);
    for (const char* d :
         {"proc/sys/kernel", "lib/modules/fuzz/kernel", "etc/modprobe.d", "sys/module/m"})
      fs::create_directories(*r / d);
    std::ofstream(*r / "proc/sys/kernel/osrelease") << "fuzz\n";
    return r;
  }();
  static const bool cleanup = std::atexit([] {
                                std::error_code ec;
                                fs::remove_all(*root, ec);
                              }) == 0;
  (void)cleanup;
  return *root;
}

void put(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modgate::policy;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() < 6) {
    auto nul = in.find('\0');
    parts.push_back(in.substr(0, nul));
    in = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  }
  const fs::path& root = fake_root();
  put(root / "proc/modules", parts[0]);
  put(root / "lib/modules/fuzz/modules.dep", parts[1]);
  put(root / "lib/modules/fuzz/modules.builtin", parts[2]);
  put(root / "etc/modprobe.d/fuzz.conf", parts[3]);
  put(root / "proc/sys/kernel/tainted", parts[4]);
  put(root / "sys/module/m/taint", parts[5]);
  // Under each name modules.dep may give it, so a dep line picks the decompression.
  for (const char* name : {"m.ko", "m.ko.xz", "m.ko.zst", "m.ko.gz"})
    put(root / "lib/modules/fuzz/kernel" / name, in);

  AuditOptions o;
  o.root = root.string();
  o.now = 1767225600;  // fixed, so a run does not depend on the clock
  auto r = run_audit(o);
  if (!r) return 0;
  (void)audit_text(*r);
  auto j = nlohmann::json::parse(audit_json(*r), nullptr, false);
  FUZZ_CHECK(!j.is_discarded());
  return 0;
}
