// SPDX-License-Identifier: Apache-2.0
// Throughput of the BPF SHA-256 (bpf/lib/sha256.h, on this kernel's verifier and JIT through
// test_run) against OpenSSL's SHA-256 on the same bytes, for docs/performance.md.
//
// OpenSSL is measured twice: as it runs by default (SHA extensions, AVX2), and held to its plain
// x86-64 code. BPF has no SIMD, so the scalar figure is the fair ceiling. OPENSSL_ia32cap is read
// once, when libcrypto initialises, so the scalar figures come from a re-execution of this program
// with the variable set; its digests are checked against the parent's so both hashed the same
// bytes.
//
// --sizes and --sample-bytes shrink the run for slow machines (bench/vm_sha256.sh runs it under
// QEMU TCG on every kernel of the VM matrix); --raw prints key=value lines for such scripts.
#include <bpf/bpf.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "policy/sha256.h"
#include "tests/bpf/sha256_runner.h"

extern char** environ;

namespace modgate {
namespace {

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;
constexpr std::array<std::size_t, 5> kDefaultSizes = {4 * kKiB, 64 * kKiB, 1 * kMiB, 16 * kMiB,
                                                      64 * kMiB};
// The largest --sizes accepts: the message map and the child's buffer are both this big.
constexpr std::size_t kSizeLimit = 1024 * kMiB;
// Small sizes are hashed many times per sample so that one sample is long enough to time.
constexpr std::size_t kDefaultSampleBytes = 16 * kMiB;

// Which code sha256_block_data_order (crypto/sha/asm/sha512-x86_64.pl) runs is chosen from these
// bits, in this order: SHA extensions (word 2 bit 29: CPUID.7.EBX.SHA), AVX2+BMI1+BMI2 (word 2 bits
// 5, 3, 8), AVX (word 1 bit 60), SSSE3 (word 1 bit 41), else the integer code. The AVX2 path does
// not look at the AVX bit, so AVX2 is masked too.
constexpr char kScalarIa32cap[] = "~0x1000020000000000:~0x20000020";
constexpr char kChildFlag[] = "--openssl-child";

struct Measurement {
  double mbps = 0;
  Sha256 digest{};
};

// Deterministic content so the re-executed child regenerates exactly the parent's bytes.
void fill(std::uint8_t* p, std::size_t n) {
  std::uint64_t x = 0x6d6f64676174652dULL;
  for (std::size_t i = 0; i < n; i += 8) {
    // splitmix64
    x += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::memcpy(p + i, &z, std::min<std::size_t>(8, n - i));
  }
}

// The median of `repeat` samples, or with --best the fastest (steadier on a machine shared with
// other work); the first call is a warm-up (page faults, JIT'd code, caches).
bool g_best = false;
// At least this many bytes per sample (--sample-bytes).
std::size_t g_sample_bytes = kDefaultSampleBytes;
// The message sizes, ascending and distinct (--sizes).
std::vector<std::size_t> g_sizes(kDefaultSizes.begin(), kDefaultSizes.end());

Measurement measure(std::size_t len, int repeat, const std::function<Sha256()>& hash_once) {
  Measurement m;
  m.digest = hash_once();
  const std::size_t calls = std::max<std::size_t>(1, g_sample_bytes / len);
  std::vector<double> mbps;
  for (int r = 0; r < repeat; r++) {
    auto t0 = std::chrono::steady_clock::now();
    for (std::size_t c = 0; c < calls; c++) {
      if (hash_once() != m.digest) throw std::runtime_error("digest changed between runs");
    }
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    mbps.push_back(static_cast<double>(len * calls) / dt.count() / 1e6);
  }
  std::sort(mbps.begin(), mbps.end());
  m.mbps = g_best ? mbps.back() : mbps[mbps.size() / 2];
  return m;
}

class OpensslSha256 {
 public:
  OpensslSha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    if (!md_ || !ctx_) throw std::runtime_error("OpenSSL: cannot set up SHA-256");
  }
  ~OpensslSha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  OpensslSha256(const OpensslSha256&) = delete;
  OpensslSha256& operator=(const OpensslSha256&) = delete;

  // The fetched method and context are reused, so 4 KiB measures hashing, not provider lookup.
  Sha256 operator()(const std::uint8_t* p, std::size_t n) {
    Sha256 out{};
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(ctx_, md_, nullptr) != 1 || EVP_DigestUpdate(ctx_, p, n) != 1 ||
        EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size())
      throw std::runtime_error("OpenSSL: SHA-256 failed");
    return out;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

std::map<std::size_t, Measurement> measure_openssl(const std::uint8_t* buf, int repeat) {
  OpensslSha256 sha;
  std::map<std::size_t, Measurement> out;
  for (std::size_t len : g_sizes) out[len] = measure(len, repeat, [&] { return sha(buf, len); });
  return out;
}

// Child mode: one line per size, "<bytes> <MB/s> <hex digest>".
int run_child(int repeat) {
  std::vector<std::uint8_t> buf(g_sizes.back());
  fill(buf.data(), buf.size());
  for (const auto& [len, m] : measure_openssl(buf.data(), repeat))
    std::printf("%zu %.3f %s\n", len, m.mbps, to_hex(m.digest).c_str());
  return 0;
}

std::map<std::size_t, Measurement> spawn_scalar_child(const std::string& ia32cap, int repeat) {
  std::vector<std::string> env_store;
  for (char** e = environ; *e; e++) {
    if (std::string_view(*e).starts_with("OPENSSL_ia32cap=")) continue;
    env_store.emplace_back(*e);
  }
  env_store.push_back("OPENSSL_ia32cap=" + ia32cap);
  std::vector<char*> envp;
  envp.reserve(env_store.size() + 1);
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::string self = "/proc/self/exe", flag = kChildFlag, rep = std::to_string(repeat);
  std::string stat = g_best ? "best" : "median", sample = std::to_string(g_sample_bytes);
  std::string sizes;
  for (std::size_t len : g_sizes) sizes += (sizes.empty() ? "" : ",") + std::to_string(len);
  std::vector<char*> argv = {self.data(),   flag.data(),  rep.data(), stat.data(),
                             sample.data(), sizes.data(), nullptr};

  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  pid_t pid = 0;
  int err = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (err != 0) {
    close(fds[0]);
    throw std::runtime_error(std::string("spawning the scalar child: ") + std::strerror(err));
  }
  std::string text;
  char chunk[4096];
  for (ssize_t n; (n = read(fds[0], chunk, sizeof(chunk))) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the scalar OpenSSL child failed");

  std::map<std::size_t, Measurement> out;
  std::istringstream in(text);
  std::size_t len = 0;
  double mbps = 0;
  std::string hex;
  while (in >> len >> mbps >> hex) {
    auto d = sha256_from_hex(hex);
    if (!d) throw std::runtime_error("scalar child: " + d.error().message);
    out[len] = {mbps, *d};
  }
  if (out.size() != g_sizes.size()) throw std::runtime_error("scalar child: incomplete output");
  return out;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("model name")) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown";
}

std::string size_name(std::size_t len) {
  if (len % kMiB == 0) return std::to_string(len / kMiB) + " MiB";
  if (len % kKiB == 0) return std::to_string(len / kKiB) + " KiB";
  return std::to_string(len) + " B";
}

// A repeat count; 0 (refused by the caller) when not a positive decimal number.
int parse_count(std::string_view s) {
  int n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return ec == std::errc() && end == s.data() + s.size() && n > 0 ? n : 0;
}

// A byte count, decimal with an optional binary suffix (K or KiB, M or MiB), from 1 to kSizeLimit;
// 0 when not.
std::size_t parse_bytes(std::string_view s) {
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || n == 0) return 0;
  std::string_view unit(end, static_cast<std::size_t>(s.data() + s.size() - end));
  std::size_t scale = 1;
  if (unit == "K" || unit == "KiB") {
    scale = kKiB;
  } else if (unit == "M" || unit == "MiB") {
    scale = kMiB;
  } else if (!unit.empty()) {
    return 0;
  }
  return n <= kSizeLimit / scale ? n * scale : 0;
}

// A comma-separated list of byte counts, sorted and without duplicates; empty when one is bad.
std::vector<std::size_t> parse_sizes(std::string_view s) {
  std::vector<std::size_t> out;
  while (true) {
    auto comma = s.find(',');
    std::size_t n = parse_bytes(s.substr(0, comma));
    if (n == 0) return {};
    out.push_back(n);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// What the kernel reports about the loaded program: the verifier's processed-instruction count
// (bpf_prog_info.verified_insns, 0 before 5.16), the translated length in instructions and the
// JIT image in bytes (0 when the JIT is off).
struct ProgInfo {
  std::uint32_t verified_insns = 0, xlated_insns = 0, jited_bytes = 0;
};

ProgInfo prog_info(int fd) {
  bpf_prog_info info{};
  std::uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    throw std::runtime_error(std::string("BPF_OBJ_GET_INFO_BY_FD: ") + std::strerror(errno));
  return {info.verified_insns, info.xlated_prog_len / 8, info.jited_prog_len};
}

int usage(const char* argv0, int status) {
  std::fprintf(
      status ? stderr : stdout,
      "usage: %s [--repeat N] [--best] [--ia32cap VALUE] [--sizes LIST]\n"
      "       [--sample-bytes N] [--raw]\n"
      "  --repeat N        samples per size, after one warm-up hash (default 7)\n"
      "  --best            report the fastest sample, not the median\n"
      "  --ia32cap VALUE   OPENSSL_ia32cap for the scalar run (default %s)\n"
      "  --sizes LIST      message sizes, comma-separated, each a byte count with an\n"
      "                    optional K or M suffix, up to 1024M (default 4K,64K,1M,16M,64M)\n"
      "  --sample-bytes N  hash each size repeatedly until a sample covers N bytes\n"
      "                    (suffix K or M as above; default 16M)\n"
      "  --raw             key=value lines instead of the table, for scripts:\n"
      "                    one \"prog ...\" line, then one \"size=BYTES ...\" line per size\n"
      "Exit status: 0, or 1 if the digests differ or a hash fails, 2 on bad usage.\n",
      argv0, kScalarIa32cap);
  return status;
}

int run(int argc, char** argv) {
  int repeat = 7;
  std::string ia32cap = kScalarIa32cap;
  bool raw = false;
  if (argc == 6 && std::string_view(argv[1]) == kChildFlag) {
    g_best = std::string_view(argv[3]) == "best";
    g_sample_bytes = parse_bytes(argv[4]);
    g_sizes = parse_sizes(argv[5]);
    if (g_sample_bytes == 0 || g_sizes.empty()) return 2;
    return run_child(parse_count(argv[2]));
  }
  for (int i = 1; i < argc; i++) {
    std::string_view a = argv[i];
    if (a == "--repeat" && i + 1 < argc) {
      repeat = parse_count(argv[++i]);
    } else if (a == "--best") {
      g_best = true;
    } else if (a == "--ia32cap" && i + 1 < argc) {
      ia32cap = argv[++i];
    } else if (a == "--sizes" && i + 1 < argc) {
      g_sizes = parse_sizes(argv[++i]);
      if (g_sizes.empty()) return usage(argv[0], 2);
    } else if (a == "--sample-bytes" && i + 1 < argc) {
      g_sample_bytes = parse_bytes(argv[++i]);
      if (g_sample_bytes == 0) return usage(argv[0], 2);
    } else if (a == "--raw") {
      raw = true;
    } else if (a == "--help" || a == "-h") {
      return usage(argv[0], 0);
    } else {
      return usage(argv[0], 2);
    }
  }
  if (repeat < 1) return usage(argv[0], 2);
  if (std::getenv("OPENSSL_ia32cap")) {
    std::fprintf(stderr, "OPENSSL_ia32cap is set; unset it so the default column is the default\n");
    return 2;
  }

  auto runner = BpfSha256Runner::open(g_sizes.back());
  if (!runner) {
    std::fprintf(stderr, "%s\n", runner.error().message.c_str());
    return 1;
  }
  std::uint8_t* buf = (*runner)->buffer();
  fill(buf, g_sizes.back());
  const ProgInfo prog = prog_info((*runner)->prog_fd());

  std::map<std::size_t, Measurement> bpf;
  for (std::size_t len : g_sizes) {
    bpf[len] = measure(len, repeat, [&] {
      auto h = (*runner)->hash_in_place(len);
      if (!h) throw std::runtime_error(h.error().message);
      return *h;
    });
  }
  auto dflt = measure_openssl(buf, repeat);
  auto scalar = spawn_scalar_child(ia32cap, repeat);

  bool ok = true;
  for (std::size_t len : g_sizes) {
    if (bpf[len].digest != dflt[len].digest || scalar[len].digest != dflt[len].digest) {
      std::fprintf(stderr, "digest mismatch at %s: BPF %s, OpenSSL %s, scalar OpenSSL %s\n",
                   size_name(len).c_str(), to_hex(bpf[len].digest).c_str(),
                   to_hex(dflt[len].digest).c_str(), to_hex(scalar[len].digest).c_str());
      ok = false;
    }
  }

  if (raw) {
    std::printf("prog verified_insns=%u xlated_insns=%u jited_bytes=%u\n", prog.verified_insns,
                prog.xlated_insns, prog.jited_bytes);
    for (std::size_t len : g_sizes) {
      std::printf("size=%zu bpf_mbps=%.3f default_mbps=%.3f scalar_mbps=%.3f digest=%s match=%d\n",
                  len, bpf[len].mbps, dflt[len].mbps, scalar[len].mbps,
                  to_hex(dflt[len].digest).c_str(),
                  bpf[len].digest == dflt[len].digest && scalar[len].digest == dflt[len].digest);
    }
    return ok ? 0 : 1;
  }

  utsname u{};
  uname(&u);
  std::printf("CPU: %s (%ld online)\n", cpu_model().c_str(), sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("Kernel: %s %s\n", u.release, u.machine);
  std::printf("OpenSSL: %s\n", OpenSSL_version(OPENSSL_VERSION));
  std::printf("Scalar OpenSSL: OPENSSL_ia32cap=%s\n", ia32cap.c_str());
  std::printf(
      "BPF program: verifier processed %u instructions; %u instructions, JIT image %u bytes\n",
      prog.verified_insns, prog.xlated_insns, prog.jited_bytes);
  std::printf("%s of %d samples per size; MB/s = 10^6 bytes/s; digests: %s\n\n",
              g_best ? "Best" : "Median", repeat,
              ok ? "BPF = OpenSSL = scalar OpenSSL at every size" : "MISMATCH");
  std::printf(
      "| Size | BPF MB/s | OpenSSL default MB/s | OpenSSL scalar MB/s | BPF / default | "
      "BPF / scalar |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|\n");
  bool target = true, target_measured = false;
  for (std::size_t len : g_sizes) {
    double vs_default = bpf[len].mbps / dflt[len].mbps,
           vs_scalar = bpf[len].mbps / scalar[len].mbps;
    std::printf("| %s | %.0f | %.0f | %.0f | %.0f %% | %.0f %% |\n", size_name(len).c_str(),
                bpf[len].mbps, dflt[len].mbps, scalar[len].mbps, 100 * vs_default, 100 * vs_scalar);
    if (len >= kMiB) {
      target_measured = true;
      if (vs_scalar < 0.5) target = false;
    }
  }
  // At 1 MiB if measured, else at the largest size.
  const std::size_t at = dflt.contains(kMiB) ? kMiB : g_sizes.back();
  double masked_speedup = dflt[at].mbps / scalar[at].mbps;
  std::printf("\nOpenSSL default / scalar at %s: %.2fx%s\n", size_name(at).c_str(), masked_speedup,
              masked_speedup < 1.3 ? " (the mask may not have taken effect on this CPU)" : "");
  std::printf("Target, BPF >= 50 %% of scalar OpenSSL from 1 MiB up: %s\n",
              !target_measured ? "not measured (no size of 1 MiB or more)"
              : target         ? "met"
                               : "NOT met");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace modgate

int main(int argc, char** argv) {
  try {
    return modgate::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bpf_sha256_bench: %s\n", e.what());
    return 1;
  }
}
