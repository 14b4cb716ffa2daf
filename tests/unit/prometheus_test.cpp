// SPDX-License-Identifier: Apache-2.0
// The Prometheus exposition of the agent's status: the format's rules (names, HELP/TYPE, label
// escaping, counters ending in _total), the values taken from the status, and Prometheus's own
// linter (promtool check metrics) over the result.
#include "agent/report/prometheus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace modgate::report {
namespace {

using nlohmann::ordered_json;
using ::testing::HasSubstr;
using ::testing::Not;

ordered_json full_status() {
  return ordered_json::parse(R"({
    "policy": {"mode": "dry-run", "configured_mode": "enforce", "version": 42,
               "digest": "ab12", "entries": 4023,
               "rollout": {"enforce_percent": 12.5, "salt": "wave-2", "bucket": 4711,
                           "in_cohort": false}},
    "counters": {"kernel_post_read_file": {"allow": 10, "deny": 2, "would-deny": 0},
                 "kernel_module_request": {"allow": 1, "deny": 0, "would-deny": 3}},
    "decisions_by_kind": {"module": {"allow": 9, "deny": 1, "would-deny": 0},
                          "firmware": {"allow": 1, "deny": 1, "would-deny": 0}},
    "events_lost": 7, "hash_failures": 1,
    "apply": {"last_success_unix": 1790000000, "last_failure_unix": 1790000100,
              "failures_total": 3, "refusals": {"bad_signature": 2, "rollback": 1}},
    "trust": {"keys": ["0123456789abcdef"], "high_water_version": 42},
    "pull": {"url": "https://example/b", "attempts": 9, "failures_total": 4,
             "consecutive_failures": 2, "last_success_unix": 1790000000,
             "last_failure_unix": 1790000200, "last_error": "x"},
    "kernels": {"modules_dir": "/lib/modules", "not_covered": ["6.12.95+deb12-amd64"]},
    "ftrace_enabled": true,
    "tamper_attempts": {"signal": 2, "rlimit": 1, "sigio": 0},
    "agent": {"pid": 1, "start_unix": 1789999000}
  })");
}

struct Sample {
  std::string name, labels;
  double value;
};

// A strict reader of the text format (0.0.4) as far as the renderer uses it; any deviation
// fails the test with the offending line.
struct Parsed {
  std::map<std::string, std::string> type, help;
  std::vector<Sample> samples;
};

void parse_into(const std::string& text, Parsed& p) {
  static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex label_re(R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)\")");
  std::istringstream in(text);
  std::string line, family;
  std::set<std::string> series, finished;
  while (std::getline(in, line)) {
    SCOPED_TRACE(line);
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::istringstream l(line.substr(7));
      std::string name, rest;
      l >> name;
      std::getline(l, rest);
      EXPECT_TRUE(std::regex_match(name, name_re));
      auto& slot = line[2] == 'H' ? p.help : p.type;
      EXPECT_EQ(slot.count(name), 0u) << "second " << line.substr(2, 4) << " for " << name;
      EXPECT_EQ(finished.count(name), 0u) << name << " is split in two groups";
      slot[name] = rest.empty() ? rest : rest.substr(1);
      if (family != name && !family.empty()) finished.insert(family);
      family = name;
      continue;
    }
    ASSERT_FALSE(line.empty()) << "empty line";
    ASSERT_NE(line[0], '#');
    auto brace = line.find('{');
    auto space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos);
    Sample s;
    s.name = line.substr(0, std::min(brace, space));
    if (brace != std::string::npos) {
      auto close = line.rfind('}');
      ASSERT_NE(close, std::string::npos);
      s.labels = line.substr(brace + 1, close - brace - 1);
      std::string rest = s.labels;
      std::set<std::string> names;
      std::smatch m;
      while (!rest.empty()) {
        ASSERT_TRUE(std::regex_search(rest, m, label_re) && m.position(0) == 0) << rest;
        EXPECT_EQ(m[1].str().rfind("__", 0), std::string::npos) << "reserved label " << m[1];
        EXPECT_TRUE(names.insert(m[1]).second) << "label twice: " << m[1];
        rest = rest.substr(static_cast<std::size_t>(m.length(0)));
        if (!rest.empty()) {
          ASSERT_EQ(rest[0], ',');
          rest = rest.substr(1);
        }
      }
    }
    EXPECT_TRUE(std::regex_match(s.name, name_re));
    EXPECT_EQ(s.name, family) << "sample outside its family's HELP/TYPE block";
    EXPECT_TRUE(series.insert(s.name + "{" + s.labels + "}").second) << "duplicate series";
    s.value = std::stod(line.substr(space + 1));
    p.samples.push_back(s);
  }
}

Parsed parse_exposition(const std::string& text) {
  Parsed p;
  parse_into(text, p);
  return p;
}

double value_of(const Parsed& p, const std::string& name, const std::string& labels = "") {
  for (const auto& s : p.samples)
    if (s.name == name && s.labels == labels) return s.value;
  ADD_FAILURE() << "no sample " << name << "{" << labels << "}";
  return -1;
}

TEST(Prometheus, FollowsTheFormatAndNamingRules) {
  Parsed p = parse_exposition(render_prometheus(full_status()));
  ASSERT_FALSE(p.samples.empty());
  for (const auto& [name, type] : p.type) {
    SCOPED_TRACE(name);
    EXPECT_EQ(name.rfind("modgate_", 0), 0u);
    EXPECT_TRUE(p.help.count(name) && !p.help[name].empty());
    EXPECT_THAT((std::set<std::string>{"counter", "gauge"}), ::testing::Contains(type));
    bool total = name.size() > 6 && name.substr(name.size() - 6) == "_total";
    EXPECT_EQ(type == "counter", total) << "counters, and only counters, end in _total";
    // Base units only: time in seconds, never ms or minutes.
    EXPECT_THAT(name, Not(HasSubstr("_milliseconds")));
    EXPECT_THAT(name, Not(HasSubstr("_minutes")));
    if (name.find("timestamp") != std::string::npos) {
      EXPECT_THAT(name, ::testing::EndsWith("_timestamp_seconds"));
    }
  }
}

TEST(Prometheus, ValuesComeFromTheStatus) {
  Parsed p = parse_exposition(render_prometheus(full_status()));
  EXPECT_EQ(value_of(p, "modgate_policy_version"), 42);
  EXPECT_EQ(value_of(p, "modgate_policy_info",
                     R"(version="42",digest="ab12",mode="dry-run",configured_mode="enforce")"),
            1);
  EXPECT_EQ(value_of(p, "modgate_enforcing"), 0);
  EXPECT_EQ(value_of(p, "modgate_rollout_enforce_ratio"), 0.125);
  EXPECT_EQ(value_of(p, "modgate_rollout_cohort_position"), 4711);
  EXPECT_EQ(
      value_of(p, "modgate_decisions_total", R"(hook="kernel_post_read_file",verdict="deny")"), 2);
  EXPECT_EQ(value_of(p, "modgate_decisions_total",
                     R"(hook="kernel_module_request",verdict="would-deny")"),
            3);
  EXPECT_EQ(value_of(p, "modgate_load_decisions_total", R"(kind="firmware",verdict="deny")"), 1);
  EXPECT_EQ(value_of(p, "modgate_load_decisions_total", R"(kind="module",verdict="allow")"), 9);
  EXPECT_EQ(value_of(p, "modgate_events_lost_total"), 7);
  EXPECT_EQ(value_of(p, "modgate_tamper_attempts_total", R"(operation="signal")"), 2);
  EXPECT_EQ(value_of(p, "modgate_tamper_attempts_total", R"(operation="rlimit")"), 1);
  EXPECT_EQ(value_of(p, "modgate_tamper_attempts_total", R"(operation="sigio")"), 0);
  EXPECT_EQ(value_of(p, "modgate_policy_refusals_total", R"(reason="bad_signature")"), 2);
  EXPECT_EQ(value_of(p, "modgate_pull_failures_total"), 4);
  EXPECT_EQ(value_of(p, "modgate_pull_last_failure_timestamp_seconds"), 1790000200);
  EXPECT_EQ(value_of(p, "modgate_trust_high_water_version"), 42);
  EXPECT_EQ(value_of(p, "modgate_agent_start_timestamp_seconds"), 1789999000);
}

TEST(Prometheus, EnforcingFollowsTheEffectiveMode) {
  auto s = full_status();
  s["policy"]["mode"] = "enforce";
  EXPECT_EQ(value_of(parse_exposition(render_prometheus(s)), "modgate_enforcing"), 1);
}

TEST(Prometheus, AbsentPartsAreLeftOutNotZeroed) {
  ordered_json s = {{"policy", nullptr}, {"counters", ordered_json::object()}, {"pull", nullptr}};
  std::string text = render_prometheus(s);
  Parsed p = parse_exposition(text);
  EXPECT_EQ(value_of(p, "modgate_policy_present"), 0);
  EXPECT_THAT(text, Not(HasSubstr("modgate_policy_version")));
  EXPECT_THAT(text, Not(HasSubstr("modgate_pull_")));
  EXPECT_THAT(text, Not(HasSubstr("modgate_rollout_")));
}

// What status says of a trust store that could not be read (Admission::unavailable): no mark.
// Indexing the missing mark read past the object and crashed the agent on its first metrics write.
TEST(Prometheus, UnreadableTrustStoreHasNoHighWaterMark) {
  auto s = full_status();
  s["trust"] = {{"dir", "/etc/modgate/trust"}, {"error", "junk.pem: is not PEM"}};
  std::string text = render_prometheus(s);
  Parsed p = parse_exposition(text);
  EXPECT_THAT(text, Not(HasSubstr("modgate_trust_high_water_version")));
  EXPECT_EQ(value_of(p, "modgate_policy_version"), 42);
}

TEST(Prometheus, InstalledKernelsThePolicyDoesNotNameAreCountedAndNamed) {
  Parsed p = parse_exposition(render_prometheus(full_status()));
  EXPECT_EQ(value_of(p, "modgate_kernels_not_covered"), 1);
  EXPECT_EQ(value_of(p, "modgate_kernel_not_covered_info", R"(release="6.12.95+deb12-amd64")"), 1);
  auto s = full_status();
  s["kernels"]["not_covered"] = ordered_json::array();
  std::string text = render_prometheus(s);
  EXPECT_EQ(value_of(parse_exposition(text), "modgate_kernels_not_covered"), 0);
  EXPECT_THAT(text, Not(HasSubstr("modgate_kernel_not_covered_info")));
  // /lib/modules unreadable (a pod without the mount): no claim either way.
  s["kernels"] = {{"modules_dir", "/lib/modules"}, {"error", "No such file or directory"}};
  EXPECT_THAT(render_prometheus(s), Not(HasSubstr("modgate_kernels_not_covered")));
}

TEST(Prometheus, FtraceOffIsAZeroToAlertOn) {
  EXPECT_EQ(value_of(parse_exposition(render_prometheus(full_status())), "modgate_ftrace_enabled"),
            1);
  auto s = full_status();
  s["ftrace_enabled"] = false;
  EXPECT_EQ(value_of(parse_exposition(render_prometheus(s)), "modgate_ftrace_enabled"), 0);
  s["ftrace_enabled"] = nullptr;  // no function tracer in this kernel
  EXPECT_THAT(render_prometheus(s), Not(HasSubstr("modgate_ftrace_enabled")));
}

TEST(Prometheus, LabelValuesAreEscaped) {
  auto s = full_status();
  s["policy"]["digest"] = "a\"b\\c\nd";
  std::string text = render_prometheus(s);
  EXPECT_THAT(text, HasSubstr(R"(digest="a\"b\\c\nd")"));
  parse_exposition(text);
}

TEST(Prometheus, PromtoolAcceptsTheOutput) {
  auto dir = std::filesystem::path(::testing::TempDir()) / "promtool";
  std::filesystem::create_directories(dir);
  auto file = dir / "status.prom";
  std::ofstream(file) << render_prometheus(full_status());
  std::string cmd = std::string(MODGATE_SOURCE_DIR) + "/scripts/tools/promtool check metrics < " +
                    file.string() + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), pipe)) out += buf;
  int rc = ::pclose(pipe);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "");
}

TEST(Prometheus, TextfileIsReplacedWholeAndMustEndInProm) {
  auto dir = std::filesystem::path(::testing::TempDir()) / "textfile";
  std::filesystem::create_directories(dir);
  auto bad = write_textfile((dir / "modgate.txt").string(), "x 1\n");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr(".prom"));
  auto path = (dir / "modgate.prom").string();
  ASSERT_TRUE(write_textfile(path, "first 1\n"));
  ASSERT_TRUE(write_textfile(path, "second 2\n"));
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(all, "second 2\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

}  // namespace
}  // namespace modgate::report
