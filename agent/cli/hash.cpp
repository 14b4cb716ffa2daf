// SPDX-License-Identifier: Apache-2.0

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "policy/sha256.h"

namespace modgate::cli {

Runner register_hash(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand(
      "hash",
      "Print the SHA-256 of each file in sha256sum's layout (the digest an allowlist holds)");
  cmd->add_option("FILE", *files, "Files to hash (a module as it lies on disk)")->required();
  cmd->footer(
      "The digest is of the bytes as they are: for a .ko.xz that is the compressed file, which is\n"
      "what finit_module with in-kernel decompression hashes.\n\n"
      "Example:\n  modgate hash /lib/modules/$(uname -r)/kernel/fs/cramfs/cramfs.ko");
  return [files] {
    int rc = kExitOk;
    for (const auto& f : *files) {
      auto h = sha256_file(f);
      if (!h) {
        std::cerr << "modgate hash: " << h.error().message << "\n";
        rc = kExitFailure;
        continue;
      }
      std::cout << to_hex(*h) << "  " << f << "\n";
    }
    return rc;
  };
}

}  // namespace modgate::cli
