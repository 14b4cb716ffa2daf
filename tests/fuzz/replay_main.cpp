// SPDX-License-Identifier: Apache-2.0
// Runs a fuzz target's entry point over files, without libFuzzer: how the regression inputs
// (tests/fuzz/regressions/TARGET) and the seed corpus replay in every build, the normal one
// included, as CTest cases fuzz.replay.TARGET. A crash, sanitizer report or FUZZ_CHECK failure
// fails the run.
//
//   fuzz_TARGET_replay [--if-exists] PATH...
//
// Each PATH is a file or a directory of files (not recursive). PATHs after --if-exists may be
// missing (a target without regression inputs yet); a missing PATH before it is an error.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fs = std::filesystem;

namespace {

bool replay(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", file.c_str());
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Named before running, so the input that crashes is the last one printed.
  std::fprintf(stderr, "replay %s (%zu bytes)\n", file.c_str(), bytes.size());
  // A copy of exactly the input's size: ASan then catches a read one byte past it.
  std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH...  (files, or directories of files)\n", argv[0]);
    return 2;
  }
  std::size_t count = 0;
  bool optional = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--if-exists") {
      optional = true;
      continue;
    }
    fs::path p = argv[i];
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        if (!replay(f)) return 1;
        ++count;
      }
    } else if (fs::exists(p, ec)) {
      if (!replay(p)) return 1;
      ++count;
    } else if (!optional) {
      std::fprintf(stderr, "%s: no such file or directory\n", p.c_str());
      return 1;
    }
  }
  // Zero inputs means a wrong path, not a pass.
  if (count == 0) {
    std::fprintf(stderr, "no inputs replayed\n");
    return 1;
  }
  std::printf("%zu inputs replayed without a finding\n", count);
  return 0;
}
