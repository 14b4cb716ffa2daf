// SPDX-License-Identifier: Apache-2.0

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "policy/decompress.h"
#include "policy/read_file.h"
#include "policy/sha256.h"

namespace modgate::cli {
namespace {

struct HashOptions {
  std::vector<std::string> files;
  bool payload = false;
};

// Standard input, whole, at most `limit` bytes: the payload needs every byte before it can
// decompress. A plain hash streams instead (hash_stdin).
Result<std::string> read_stdin(std::uint64_t limit) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{std::string("-: cannot read standard input: ") + std::strerror(errno)};
    if (n == 0) return out;
    if (out.size() + static_cast<std::size_t>(n) > limit)
      return Error{"-: standard input is larger than the " + std::to_string(limit >> 20) +
                   " MiB a module may be"};
    out.append(buf, static_cast<std::size_t>(n));
  }
}

Result<Sha256> hash_stdin() {
  Sha256Stream s;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{std::string("-: cannot read standard input: ") + std::strerror(errno)};
    if (n == 0) return s.finish();
    s.update({buf, static_cast<std::size_t>(n)});
  }
}

// What the kernel hashes after it decompressed the file (the payload call on 7.x, and what
// modprobe loads when it decompresses in userspace); a file that is not compressed is its own
// payload.
Result<Sha256> payload_hash(const std::string& file) {
  auto bytes = file == "-" ? read_stdin(policy::kMaxModuleBytes)
                           : policy::read_regular_file(file, policy::kMaxModuleBytes, "a module");
  if (!bytes) return bytes.error();
  std::span<const std::uint8_t> data(reinterpret_cast<const std::uint8_t*>(bytes->data()),
                                     bytes->size());
  const auto c = policy::compression_from_magic(data);
  if (c == policy::Compression::kNone) return sha256(data);
  auto out = policy::decompress(data, c);
  if (!out) return Error{file + ": " + out.error().message};
  return sha256(*out);
}

}  // namespace

Runner register_hash(CLI::App& app) {
  auto o = std::make_shared<HashOptions>();
  auto* cmd = app.add_subcommand(
      "hash",
      "Print the SHA-256 of each file in sha256sum's layout (the digest an allowlist holds)");
  cmd->add_option("FILE", o->files, "Files to hash (a module as it lies on disk); - is stdin")
      ->required();
  cmd->add_flag("--payload", o->payload,
                "Hash what a compressed module (.ko.xz, .ko.zst, .ko.gz, by its magic bytes) "
                "decompresses to, the payload the kernel judges after decompressing it; a file "
                "that is not compressed is its own payload");
  cmd->footer(
      "The digest is of the bytes as they are: for a .ko.xz that is the compressed file, which is\n"
      "what finit_module with in-kernel decompression hashes. policy init lists both hashes of a\n"
      "compressed module; --payload prints the second.\n"
      "Exit status: 0 when every file was hashed; 1 when one could not be read or decompressed\n"
      "(the others are still printed).\n\n"
      "Examples:\n  modgate hash /lib/modules/$(uname -r)/kernel/fs/cramfs/cramfs.ko\n"
      "  modgate hash --payload /lib/modules/$(uname -r)/kernel/fs/minix/minix.ko.xz\n"
      "  xz -dc minix.ko.xz | modgate hash -");
  return [o] {
    int rc = kExitOk;
    for (const auto& f : o->files) {
      auto h = o->payload ? payload_hash(f) : f == "-" ? hash_stdin() : sha256_file(f);
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
