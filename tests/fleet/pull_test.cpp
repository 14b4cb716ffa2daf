// SPDX-License-Identifier: Apache-2.0
// agent/fleet/pull.h against Debian's nginx on loopback, with a CA made in the test
// (tests/fleet/https_server.h). The schedule's arithmetic is tested as the pure functions it is.
#include "agent/fleet/pull.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fleet/https_server.h"

namespace modgate::fleet {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// ---- The schedule (no server, no sleeping) ----

PullConfig schedule_config() {
  PullConfig c;
  c.url = "https://example.invalid/b";
  c.interval = seconds{60};
  c.jitter = 0.0;
  c.max_backoff = seconds{900};
  return c;
}

TEST(PullSchedule, SuccessWaitsOneInterval) {
  EXPECT_EQ(next_delay(schedule_config(), 0, 0.5), milliseconds{60'000});
  EXPECT_EQ(next_delay(schedule_config(), 0, 0.0), milliseconds{60'000});  // no jitter configured
}

TEST(PullSchedule, FailuresDoubleTheDelayUpToTheCap) {
  const auto c = schedule_config();
  EXPECT_EQ(next_delay(c, 1, 0.5), milliseconds{120'000});
  EXPECT_EQ(next_delay(c, 2, 0.5), milliseconds{240'000});
  EXPECT_EQ(next_delay(c, 3, 0.5), milliseconds{480'000});
  EXPECT_EQ(next_delay(c, 4, 0.5), milliseconds{900'000});  // 960 s capped at 900 s
  EXPECT_EQ(next_delay(c, 64, 0.5), milliseconds{900'000});
  EXPECT_EQ(next_delay(c, UINT_MAX, 0.5), milliseconds{900'000});  // no overflow
}

TEST(PullSchedule, BackoffNeverShorterThanTheInterval) {
  auto c = schedule_config();
  c.interval = seconds{3600};
  c.max_backoff = seconds{900};
  EXPECT_EQ(next_delay(c, 1, 0.5), milliseconds{3'600'000});
  EXPECT_EQ(next_delay(c, 5, 0.5), milliseconds{3'600'000});
}

TEST(PullSchedule, JitterScalesWithinBounds) {
  auto c = schedule_config();
  c.jitter = 0.2;
  EXPECT_EQ(next_delay(c, 0, 0.0), milliseconds{48'000});
  EXPECT_EQ(next_delay(c, 0, 0.5), milliseconds{60'000});
  EXPECT_EQ(next_delay(c, 0, 0.75), milliseconds{66'000});
  EXPECT_EQ(next_delay(c, 0, 1.0), milliseconds{72'000});
  EXPECT_EQ(next_delay(c, 2, 0.0), milliseconds{192'000});     // 240 s * 0.8
  EXPECT_EQ(next_delay(c, 10, 1.0), milliseconds{1'080'000});  // cap 900 s * 1.2
  // Out-of-range random input is clamped, never a negative or runaway delay.
  EXPECT_EQ(next_delay(c, 0, -3.0), milliseconds{48'000});
  EXPECT_EQ(next_delay(c, 0, 7.0), milliseconds{72'000});
}

TEST(PullSchedule, JitterSpreadsAFleet) {
  auto c = schedule_config();
  c.jitter = 0.2;
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::set<long long> seen;
  milliseconds::rep lo = LLONG_MAX, hi = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto d = next_delay(c, 0, u(rng)).count();
    seen.insert(d);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GE(lo, 48'000);
  EXPECT_LE(hi, 72'000);
  EXPECT_LT(lo, 49'000);  // the whole band is used, not a few points of it
  EXPECT_GT(hi, 71'000);
  EXPECT_GT(seen.size(), 900u);
}

TEST(PullSchedule, FirstPollComesWithinSeconds) {
  auto c = schedule_config();
  EXPECT_EQ(initial_delay(c, 0.0), milliseconds{0});
  EXPECT_EQ(initial_delay(c, 0.5), milliseconds{2'500});  // min(60 s, 5 s) / 2
  c.interval = seconds{2};
  EXPECT_EQ(initial_delay(c, 0.5), milliseconds{1'000});
  EXPECT_EQ(initial_delay(c, 9.0), milliseconds{2'000});
}

// ---- Configuration and URLs ----

TEST(PullConfigCheck, OnlyHttpsUrls) {
  PullConfig c;
  for (const char* url : {"http://127.0.0.1/b", "ftp://127.0.0.1/b", "file:///etc/passwd",
                          "HTTP://127.0.0.1/b", "gopher://x/"}) {
    c.url = url;
    auto r = check_config(c);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().message, redact_url(url) + ": only https:// URLs are accepted");
  }
  c.url = "127.0.0.1/b";
  EXPECT_THAT(check_config(c).error().message, HasSubstr("not a valid URL"));
  c.url = "";
  EXPECT_EQ(check_config(c).error().message, "--pull: no URL given");
  c.url = "HTTPS://127.0.0.1/b";  // schemes are case-insensitive
  EXPECT_TRUE(check_config(c).ok());
}

TEST(PullConfigCheck, LimitsAndCaFile) {
  PullConfig c;
  c.url = "https://127.0.0.1/b";
  EXPECT_TRUE(check_config(c).ok());
  auto bad = [&](auto change, const char* want) {
    PullConfig x = c;
    change(x);
    auto r = check_config(x);
    ASSERT_FALSE(r.ok()) << want;
    EXPECT_THAT(r.error().message, HasSubstr(want));
  };
  bad([](PullConfig& x) { x.interval = seconds{0}; }, "interval must be at least 1 s");
  bad([](PullConfig& x) { x.jitter = 0.7; }, "jitter must be between 0 and 0.5");
  bad([](PullConfig& x) { x.jitter = -0.1; }, "jitter must be between 0 and 0.5");
  bad([](PullConfig& x) { x.max_bytes = 0; }, "size limit");
  bad([](PullConfig& x) { x.connect_timeout = seconds{0}; }, "connect timeout");
  bad([](PullConfig& x) { x.total_timeout = seconds{5}; }, "total timeout");
  bad([](PullConfig& x) { x.max_backoff = seconds{0}; }, "maximum backoff");
  bad([](PullConfig& x) { x.ca_file = "/nonexistent/ca.pem"; },
      "https://127.0.0.1/b: CA file /nonexistent/ca.pem: No such file or directory");
  bad([](PullConfig& x) { x.ca_file = "/"; }, "CA file /: not a regular file");
}

TEST(PullConfigCheck, RedactsCredentialsAndQuery) {
  EXPECT_EQ(redact_url("https://user:secret@host:8443/p/b?X-Sig=abc#f"),
            "https://host:8443/p/b?...");
  EXPECT_EQ(redact_url("https://host/p"), "https://host/p");
  EXPECT_EQ(redact_url("https://a@b@host?q"), "https://host?...");
  EXPECT_EQ(redact_url("https://host/a\nb"), "https://host/a b");
}

// ---- fetch_once against nginx ----

class PullServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      server_ = new test::HttpsServer();
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << setup_error_; }

  PullConfig config(const std::string& url) const {
    PullConfig c;
    c.url = url;
    c.ca_file = server_->pki().ca;
    c.connect_timeout = seconds{5};
    c.total_timeout = seconds{20};
    return c;
  }

  static test::HttpsServer* server_;
  static std::string setup_error_;
};
test::HttpsServer* PullServerTest::server_ = nullptr;
std::string PullServerTest::setup_error_;

TEST_F(PullServerTest, NewBundleThenNotModified) {
  server_->put("b", "bundle v1\n");
  auto r = fetch_once(config(server_->url("b")), "");
  ASSERT_EQ(r.kind, PullKind::kNew) << r.message;
  EXPECT_EQ(r.error, PullError::kNone);
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.body, "bundle v1\n");
  EXPECT_THAT(r.etag, StartsWith("\""));

  auto again = fetch_once(config(server_->url("b")), r.etag);
  ASSERT_EQ(again.kind, PullKind::kNotModified) << again.message;
  EXPECT_EQ(again.http_status, 304);
  EXPECT_EQ(again.body, "");
  EXPECT_EQ(again.etag, r.etag);
  // What nginx saw: the conditional request, and who made it.
  EXPECT_THAT(server_->access_log_for("/b", 2),
              HasSubstr("/b 304 \"" + r.etag + "\" \"modgate/" MODGATE_VERSION "\""));
}

TEST_F(PullServerTest, EtagWithALineBreakIsNotSent) {
  server_->put("inject", "x");
  auto first = fetch_once(config(server_->url("inject")), "");
  ASSERT_EQ(first.kind, PullKind::kNew) << first.message;
  // Sent as is, the first line alone would match and give a 304; the request is unconditional.
  auto r = fetch_once(config(server_->url("inject")), first.etag + "\r\nX-Injected: 1");
  EXPECT_EQ(r.kind, PullKind::kNew) << r.message;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_THAT(server_->access_log_for("/inject", 2), Not(HasSubstr("/inject 304")));
}

TEST_F(PullServerTest, ChangedBundleIsNewAgain) {
  server_->put("c", "version 1");
  auto first = fetch_once(config(server_->url("c")), "");
  ASSERT_EQ(first.kind, PullKind::kNew) << first.message;
  server_->put("c", "version 2");
  auto second = fetch_once(config(server_->url("c")), first.etag);
  ASSERT_EQ(second.kind, PullKind::kNew) << second.message;
  EXPECT_EQ(second.body, "version 2");
  EXPECT_NE(second.etag, first.etag);
}

TEST_F(PullServerTest, NotFound) {
  auto r = fetch_once(config(server_->url("missing")), "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kHttpStatus);
  EXPECT_EQ(r.http_status, 404);
  EXPECT_EQ(r.message, server_->url("missing") + ": HTTP 404");
  EXPECT_EQ(r.body, "");
}

TEST_F(PullServerTest, ServerError) {
  auto r = fetch_once(config(server_->url("status/500")), "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kHttpStatus);
  EXPECT_EQ(r.http_status, 500);
  EXPECT_EQ(r.message, server_->url("status/500") + ": HTTP 500");
}

TEST_F(PullServerTest, ServerThatNeverAnswersTheHandshake) {
  test::SilentListener silent;
  const std::string url = "https://127.0.0.1:" + std::to_string(silent.port()) + "/b";
  auto c = config(url);
  c.connect_timeout = seconds{1};
  c.total_timeout = seconds{3};
  auto r = fetch_once(c, "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kTimeout) << r.message;
  EXPECT_EQ(r.message, url + ": timed out after 1 s (connect and TLS handshake)");
  EXPECT_TRUE(silent.connection_pending(0)) << "the client never reached the listener";
}

TEST_F(PullServerTest, ServerThatNeverSendsTheResponse) {
  // TLS with nginx works; nginx then waits on an upstream that never answers.
  auto c = config(server_->url("hang/b"));
  c.low_speed_bytes = 1;
  c.low_speed_time = seconds{2};
  auto r = fetch_once(c, "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kTimeout) << r.message;
  EXPECT_EQ(r.message, server_->url("hang/b") + ": stalled: under 1 bytes/s for 2 s");

  c.low_speed_bytes = 0;  // no stall limit: the total limit ends it
  c.connect_timeout = seconds{1};
  c.total_timeout = seconds{2};
  r = fetch_once(c, "");
  EXPECT_EQ(r.error, PullError::kTimeout) << r.message;
  EXPECT_EQ(r.message, server_->url("hang/b") + ": timed out after 2 s");
}

long max_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

void put_sparse(const std::string& path, std::uintmax_t size) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).close();
  std::filesystem::resize_file(path, size);
}

TEST_F(PullServerTest, HundredMebibytesRefusedFromContentLength) {
  put_sparse(server_->www() + "/big", 100ull << 20);
  auto r = fetch_once(config(server_->url("big")), "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kTooLarge);
  EXPECT_EQ(r.message, server_->url("big") + ": response larger than 33554432 bytes");
  EXPECT_EQ(r.body, "");
  EXPECT_LT(max_rss_mib(), 100);
}

TEST_F(PullServerTest, HundredMebibytesRefusedWithoutContentLength) {
  // Chunked: the size is known only by counting, so the write callback must stop it.
  put_sparse(server_->www() + "/big", 100ull << 20);
  auto c = config(server_->url("chunked/big"));
  c.max_bytes = 1 << 20;
  auto r = fetch_once(c, "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kTooLarge) << r.message;
  EXPECT_EQ(r.message, server_->url("chunked/big") + ": response larger than 1048576 bytes");
  EXPECT_EQ(r.body, "");
  EXPECT_LT(max_rss_mib(), 100);
}

TEST_F(PullServerTest, PlainHttpOnTheTlsPort) {
  auto r = fetch_once(config(server_->plain_url("b")), "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kTls) << r.message;
  EXPECT_THAT(r.message, StartsWith(server_->plain_url("b") + ": TLS handshake failed: "));
}

// Accepts connections and answers each with random bytes.
class RandomBytesServer {
 public:
  RandomBytesServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("random-bytes server");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      std::mt19937 rng(7);
      while (true) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        std::string junk(16384, '\0');
        for (auto& ch : junk) ch = static_cast<char>(rng());
        [[maybe_unused]] auto n = ::send(c, junk.data(), junk.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~RandomBytesServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(PullServerTest, RandomBytesOnTheTlsPort) {
  RandomBytesServer junk;
  const std::string url = "https://127.0.0.1:" + std::to_string(junk.port()) + "/b";
  auto r = fetch_once(config(url), "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kTls) << r.message;
}

TEST_F(PullServerTest, CertificateFromAnotherCaRefused) {
  server_->put("b", "x");
  auto r = fetch_once(config(server_->other_ca_url("b")), "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kTlsVerify) << r.message;
  EXPECT_THAT(r.message,
              StartsWith(server_->other_ca_url("b") + ": TLS certificate verify failed: "));
}

TEST_F(PullServerTest, CertificateForAnotherHostRefused) {
  server_->put("b", "x");
  auto r = fetch_once(config(server_->wrong_name_url("b")), "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kTlsVerify) << r.message;
}

TEST_F(PullServerTest, SystemCasDoNotTrustTheTestCa) {
  server_->put("b", "x");
  auto c = config(server_->url("b"));
  c.ca_file.clear();
  auto r = fetch_once(c, "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kTlsVerify) << r.message;
}

TEST_F(PullServerTest, CustomCaAccepted) {
  server_->put("b", "from the other CA's server");
  auto c = config(server_->other_ca_url("b"));
  c.ca_file = server_->pki().other_ca;
  auto r = fetch_once(c, "");
  ASSERT_EQ(r.kind, PullKind::kNew) << r.message;
  EXPECT_EQ(r.body, "from the other CA's server");
  // Trusting the other CA only: the test CA's server is now the stranger.
  r = fetch_once(config(server_->url("b")), "");
  EXPECT_EQ(r.kind, PullKind::kNew) << r.message;
  c.url = server_->url("b");
  r = fetch_once(c, "");
  EXPECT_EQ(r.error, PullError::kTlsVerify) << r.message;
}

TEST_F(PullServerTest, HttpUrlRefusedWithoutARequest) {
  server_->put("never-fetched", "x");
  std::string url = server_->plain_url("never-fetched");
  url.replace(0, 5, "http");
  auto r = fetch_once(config(url), "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kConfig);
  EXPECT_EQ(r.message, url + ": only https:// URLs are accepted");
  EXPECT_THAT(server_->access_log(), Not(HasSubstr("/never-fetched")));
}

TEST_F(PullServerTest, MissingCaFile) {
  auto c = config(server_->url("b"));
  c.ca_file = server_->dir() + "/no-such-ca.pem";
  auto r = fetch_once(c, "");
  EXPECT_EQ(r.error, PullError::kConfig);
  EXPECT_EQ(r.message,
            server_->url("b") + ": CA file " + c.ca_file + ": No such file or directory");
}

TEST_F(PullServerTest, RedirectToHttpsFollowed) {
  server_->put("moved", "after a redirect");
  auto r = fetch_once(config(server_->url("redirect-https/moved")), "");
  ASSERT_EQ(r.kind, PullKind::kNew) << r.message;
  EXPECT_EQ(r.body, "after a redirect");
}

TEST_F(PullServerTest, RedirectToHttpRefused) {
  server_->put("downgraded", "x");
  auto r = fetch_once(config(server_->url("redirect-http/downgraded")), "");
  EXPECT_EQ(r.kind, PullKind::kError);
  EXPECT_EQ(r.error, PullError::kTransfer) << r.message;
  EXPECT_THAT(r.message, HasSubstr("redirected to a URL that is not https://"));
  EXPECT_THAT(server_->access_log(), Not(HasSubstr("\n/downgraded ")));
}

TEST_F(PullServerTest, ErrorsNeverShowCredentials) {
  std::string url = server_->url("missing?X-Amz-Signature=topsecret");
  url.replace(8, 0, "user:hunter2@");
  auto r = fetch_once(config(url), "");
  EXPECT_EQ(r.http_status, 404);
  EXPECT_THAT(r.message, Not(HasSubstr("topsecret")));
  EXPECT_THAT(r.message, Not(HasSubstr("hunter2")));
  EXPECT_EQ(r.message, server_->url("missing") + "?...: HTTP 404");
}

// ---- Puller: the thread, its schedule and its hand-over ----

// Waits (poll on notify_fd, up to 60 s) until `count` results have been taken.
std::vector<PullResult> wait_results(Puller& p, size_t count) {
  std::vector<PullResult> all;
  for (int i = 0; i < 600 && all.size() < count; ++i) {
    pollfd fd{p.notify_fd(), POLLIN, 0};
    if (::poll(&fd, 1, 100) == 1) {
      for (auto& r : p.take()) all.push_back(std::move(r));
    }
  }
  return all;
}

std::string kinds(const std::vector<PullResult>& rs) {
  std::string s;
  for (const auto& r : rs) s += std::string(to_string(r.kind)) + "(" + r.message + ") ";
  return s;
}

class PullerTest : public PullServerTest {
 protected:
  PullConfig fast(const std::string& url) const {
    auto c = config(url);
    c.interval = seconds{1};
    c.jitter = 0.0;
    c.max_backoff = seconds{2};
    return c;
  }
  std::unique_ptr<Puller> make(const PullConfig& c) {
    auto p = Puller::create(c);
    if (!p.ok()) ADD_FAILURE() << p.error().message;
    return p.ok() ? std::move(p.value()) : nullptr;
  }
};

TEST_F(PullerTest, UnchangedFileIsNewOnceThenNotModified) {
  server_->put("steady", "steady bundle");
  auto p = make(fast(server_->url("steady")));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->start().ok());
  auto rs = wait_results(*p, 2);
  p->stop();
  ASSERT_GE(rs.size(), 2u) << kinds(rs);
  EXPECT_EQ(rs[0].kind, PullKind::kNew) << rs[0].message;
  EXPECT_EQ(rs[0].body, "steady bundle");
  EXPECT_EQ(rs[1].kind, PullKind::kNotModified) << rs[1].message;
  EXPECT_EQ(rs[1].http_status, 304);
  for (size_t i = 2; i < rs.size(); ++i) EXPECT_EQ(rs[i].kind, PullKind::kNotModified);
  auto s = p->stats();
  EXPECT_GE(s.attempts, rs.size());  // one more if stop() cancelled a poll
  EXPECT_EQ(s.failures_total, 0u);
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_EQ(s.last_etag, rs[0].etag);
  EXPECT_EQ(s.last_http_status, 304);
  EXPECT_NE(s.last_success_time, std::chrono::system_clock::time_point{});
  EXPECT_EQ(s.last_failure_time, std::chrono::system_clock::time_point{});
}

TEST_F(PullerTest, ServerWithoutEtagStillDeliversABundleOnce) {
  server_->put("noetag", "bundle without etag");
  auto p = make(fast(server_->url("chunked/noetag")));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->start().ok());
  auto rs = wait_results(*p, 2);
  p->stop();
  ASSERT_GE(rs.size(), 2u) << kinds(rs);
  EXPECT_EQ(rs[0].kind, PullKind::kNew);
  EXPECT_EQ(rs[0].etag, "");
  EXPECT_EQ(rs[0].body, "bundle without etag");
  EXPECT_EQ(rs[1].kind, PullKind::kNotModified);
  EXPECT_EQ(rs[1].http_status, 200);
  EXPECT_EQ(rs[1].body, "");
}

TEST_F(PullerTest, FailuresBackOffThenRecover) {
  auto p = make(fast(server_->url("late")));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->start().ok());
  auto rs = wait_results(*p, 2);
  ASSERT_EQ(rs.size(), 2u) << kinds(rs);
  for (const auto& r : rs) {
    EXPECT_EQ(r.kind, PullKind::kError);
    EXPECT_EQ(r.http_status, 404);
  }
  auto s = p->stats();
  EXPECT_EQ(s.consecutive_failures, 2u);
  EXPECT_EQ(s.failures_total, 2u);
  EXPECT_EQ(s.last_error, server_->url("late") + ": HTTP 404");
  EXPECT_EQ(s.last_http_status, 404);
  EXPECT_NE(s.last_failure_time, std::chrono::system_clock::time_point{});
  // The next poll is scheduled after the last failure (2 s backoff), not before it.
  EXPECT_GT(s.next_poll_time, s.last_failure_time);

  server_->put("late", "finally there");
  std::vector<PullResult> more;
  for (int i = 0; i < 10 && (more.empty() || more.back().kind != PullKind::kNew); ++i) {
    for (auto& r : wait_results(*p, 1)) more.push_back(std::move(r));
  }
  p->stop();
  ASSERT_FALSE(more.empty());
  EXPECT_EQ(more.back().kind, PullKind::kNew) << kinds(more);
  EXPECT_EQ(more.back().body, "finally there");
  s = p->stats();
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_GE(s.failures_total, 2u);
  EXPECT_EQ(s.last_error, server_->url("late") + ": HTTP 404");          // kept for status
  EXPECT_EQ(s.next_poll_time, std::chrono::system_clock::time_point{});  // stopped
}

TEST_F(PullerTest, RefetchDownloadsTheSameBytesAgain) {
  server_->put("again", "same bytes");
  auto c = fast(server_->url("again"));
  c.interval = seconds{3600};
  auto p = make(c);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->start().ok());
  p->refetch();  // rather than wait up to 5 s for the first poll
  auto first = wait_results(*p, 1);
  ASSERT_EQ(first.size(), 1u) << kinds(first);
  EXPECT_EQ(first[0].kind, PullKind::kNew);
  p->refetch();
  auto second = wait_results(*p, 1);
  p->stop();  // in the middle of an hour's wait
  ASSERT_EQ(second.size(), 1u) << kinds(second);
  EXPECT_EQ(second[0].kind, PullKind::kNew);
  EXPECT_EQ(second[0].body, "same bytes");
  // Both requests went without If-None-Match.
  const std::string log = server_->access_log_for("/again", 2);
  size_t unconditional = 0;
  for (size_t at = 0; (at = log.find("/again 200 \"\" ", at)) != std::string::npos; ++at) {
    ++unconditional;
  }
  EXPECT_EQ(unconditional, 2u) << log;
  EXPECT_THAT(log, Not(HasSubstr("/again 304")));
}

TEST_F(PullerTest, StopInterruptsAHungTransfer) {
  // Limits far above the test's own CTest timeout: only the cancellation can end this in time.
  test::SilentListener silent;
  auto c = fast("https://127.0.0.1:" + std::to_string(silent.port()) + "/b");
  c.connect_timeout = seconds{600};
  c.total_timeout = seconds{1200};
  auto p = make(c);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->start().ok());
  ASSERT_TRUE(silent.connection_pending(30'000)) << "the puller never connected";
  p->stop();
  EXPECT_EQ(p->take().size(), 0u);  // a cancelled transfer is no result
  EXPECT_EQ(p->stats().attempts, 1u);
  EXPECT_EQ(p->stats().failures_total, 0u);
  p->stop();  // idempotent
}

TEST_F(PullerTest, NotifyFdReadableExactlyWhileResultsWait) {
  server_->put("fd", "x");
  auto c = fast(server_->url("fd"));
  c.interval = seconds{3600};
  auto p = make(c);
  ASSERT_TRUE(p);
  pollfd fd{p->notify_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&fd, 1, 0), 0);
  ASSERT_TRUE(p->start().ok());
  p->refetch();
  ASSERT_EQ(::poll(&fd, 1, 30'000), 1);
  EXPECT_EQ(p->take().size(), 1u);
  EXPECT_EQ(::poll(&fd, 1, 0), 0);
  EXPECT_EQ(p->take().size(), 0u);
  p->stop();
}

// SigBlk of every thread of this process, by tid.
std::map<std::string, std::uint64_t> blocked_signals() {
  std::map<std::string, std::uint64_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(e.path() / "status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("SigBlk:", 0) == 0)
        out[e.path().filename()] = std::stoull(line.substr(7), nullptr, 16);
    }
  }
  return out;
}

TEST_F(PullerTest, ThreadBlocksEverySignalForTheDaemonsSignalfd) {
  auto c = fast(server_->url("sig"));
  c.interval = seconds{3600};
  auto p = make(c);
  ASSERT_TRUE(p);
  const auto before = blocked_signals();
  ASSERT_TRUE(p->start().ok());
  const auto after = blocked_signals();
  p->stop();
  int found = 0;
  for (const auto& [tid, mask] : after) {
    if (before.count(tid)) continue;
    ++found;
    for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGCHLD, SIGUSR1, SIGPIPE}) {
      EXPECT_TRUE(mask & (1ull << (sig - 1))) << "signal " << sig << " not blocked in " << tid;
    }
  }
  EXPECT_EQ(found, 1);
  // The caller's own mask is as it was.
  EXPECT_EQ(blocked_signals()[std::to_string(::gettid())], before.at(std::to_string(::gettid())));
}

TEST_F(PullerTest, CreateRefusesABadConfig) {
  auto p = Puller::create(config("http://127.0.0.1/b"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "http://127.0.0.1/b: only https:// URLs are accepted");
}

}  // namespace
}  // namespace modgate::fleet
