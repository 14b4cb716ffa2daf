// SPDX-License-Identifier: Apache-2.0

#include "policy/installed.h"

#include <algorithm>
#include <filesystem>

namespace modgate::policy {

Result<std::vector<std::string>> installed_kernels_not_covered(const Policy& policy,
                                                               const std::string& modules_dir,
                                                               std::string_view running) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(modules_dir, ec), end;
  if (ec) return Error{modules_dir + ": " + ec.message()};
  std::vector<std::string> out;
  for (; it != end; it.increment(ec)) {
    const std::string release = it->path().filename().string();
    std::error_code fec;
    if (release == running || !fs::is_regular_file(it->path() / "modules.dep", fec)) continue;
    if (!kernel_matches(policy, release)) out.push_back(release);
  }
  if (ec) return Error{modules_dir + ": " + ec.message()};
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace modgate::policy
