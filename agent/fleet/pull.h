// SPDX-License-Identifier: Apache-2.0
// HTTPS pull of policy bundles (docs/fleet.md, "HTTPS pull"). fetch_once() is one verified,
// bounded, conditional GET through libcurl; Puller runs it on a schedule in a thread of its own
// and hands the results to the daemon's epoll loop through an eventfd. Nothing here judges the
// body: the daemon verifies and applies it, or refuses it, and the policy in force never depends
// on whether a pull worked.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "policy/result.h"
#include "policy/sha256.h"

namespace modgate::fleet {

namespace detail {
class Canceller;  // lets stop() abort a transfer in progress (pull.cpp)
}

// A policy file may hold 16 MiB of YAML; a bundle may carry it base64-encoded (4/3 of it,
// 21.4 MiB) plus a small envelope. 32 MiB admits the largest legal bundle with room to spare and
// still bounds what a hostile or broken server can make the agent hold in memory.
inline constexpr std::uint64_t kDefaultPullMaxBytes = 32ull << 20;

struct PullConfig {
  std::string url;      // https:// only; userinfo and query are never shown in errors
  std::string ca_file;  // PEM file of the CAs to trust, and only those; empty: the system's CAs
  std::chrono::seconds interval{60};  // between polls while they succeed
  double jitter = 0.2;  // each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]
  std::uint64_t max_bytes = kDefaultPullMaxBytes;  // larger responses are refused, not truncated
  std::chrono::seconds connect_timeout{10};        // TCP connect plus TLS handshake
  std::chrono::seconds total_timeout{300};         // whole request: 32 MiB at ~110 KiB/s still fits
  // A stalled transfer (slower than low_speed_bytes per second for low_speed_time) is abandoned
  // long before total_timeout.
  std::uint32_t low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{30};
  // Failure n (1, 2, ...) waits interval * 2^n, at most max_backoff (or interval if that is
  // longer), then jittered like any delay.
  std::chrono::seconds max_backoff{900};
};

// Ok when the configuration is usable; otherwise one sentence naming the URL and the bad
// setting. The URL must be https://, the CA file (if any) a readable regular file, the limits
// positive.
Result<Ok> check_config(const PullConfig& config);

// "https://user:secret@host/p?sig=x" -> "https://host/p?..." so that errors, status and metrics
// never carry credentials or pre-signed URL signatures.
std::string redact_url(std::string_view url);

enum class PullKind {
  kNew,          // 200: body and etag hold the new content
  kNotModified,  // 304 (or, from Puller, a 200 with the bytes it delivered last)
  kError,
};

enum class PullError {
  kNone,
  kConfig,      // bad URL or scheme, unreadable CA file, invalid limits
  kConnect,     // name resolution or TCP connect failed
  kTimeout,     // connect, stall or total limit reached
  kTls,         // TLS handshake failed (peer does not speak TLS, no common protocol, ...)
  kTlsVerify,   // certificate not trusted, expired, or not for this host
  kHttpStatus,  // a status other than 200 or 304
  kTooLarge,    // body above max_bytes
  kCancelled,   // Puller::stop() during the transfer (never from fetch_once)
  kTransfer,    // anything else curl reports (connection reset, malformed response, ...)
};

std::string_view to_string(PullKind kind);
std::string_view to_string(PullError error);

struct PullResult {
  PullKind kind = PullKind::kError;
  PullError error = PullError::kNone;
  long http_status = 0;  // 0 when no response arrived
  std::string body;      // kNew only
  std::string etag;      // kNew: the response's ETag, quotes included ("" if it sent none)
  std::string message;   // kError: "<redacted url>: <cause>", one line
  std::chrono::system_clock::time_point time;  // when the request ended
};

// One GET of config.url, synchronous. Sends If-None-Match: etag when etag is not empty (and at
// most 256 bytes without control characters, as kept from a response). TLS is
// always verified (peer and host name), TLS 1.2 at least; redirects are followed only to
// https://, at most 3. No proxy settings are forced: libcurl honours https_proxy/no_proxy.
PullResult fetch_once(const PullConfig& config, const std::string& etag);

// The schedule as pure functions of their inputs; random01 is uniform in [0, 1).
// Delay before the first poll: random01 * min(interval, 5 s), so a fleet restarted at once does
// not poll at once either, yet a new agent learns its policy within seconds.
std::chrono::milliseconds initial_delay(const PullConfig& config, double random01);
// Delay after a poll: base = interval when consecutive_failures is 0, else
// min(interval * 2^consecutive_failures, max(max_backoff, interval)); the result is
// base * (1 + jitter * (2 * random01 - 1)).
std::chrono::milliseconds next_delay(const PullConfig& config, unsigned consecutive_failures,
                                     double random01);

struct PullStats {
  std::uint64_t attempts = 0;  // requests started
  std::uint64_t failures_total = 0;
  std::uint32_t consecutive_failures = 0;                     // 0 after any 200 or 304
  std::chrono::system_clock::time_point last_success_time{};  // epoch: never
  std::chrono::system_clock::time_point last_failure_time{};  // epoch: never
  std::string last_error;     // message of the last failure, kept after a later success
  long last_http_status = 0;  // of the last request; 0 if it got no response
  std::string last_etag;      // the ETag sent with the next request
  std::chrono::system_clock::time_point next_poll_time{};  // epoch before start()/after stop()
};

// Polls in a background thread. The daemon adds notify_fd() to its epoll set; when it becomes
// readable, take() returns the results in order. A kNew result's ETag is kept whatever the
// daemon makes of the body, so an unchanged bundle is not downloaded again each interval even
// when it was refused (the refusal stays visible in status); publishing a new bundle changes
// the ETag and so is fetched. refetch() forgets the ETag for when the daemon wants the bytes
// again (SIGHUP, an apply that failed for a local reason).
class Puller {
 public:
  // Validates the configuration (check_config) and creates the eventfd.
  static Result<std::unique_ptr<Puller>> create(PullConfig config);
  ~Puller();  // stop()
  Puller(const Puller&) = delete;
  Puller& operator=(const Puller&) = delete;

  // Starts the thread, with every signal blocked in it so the daemon's signalfd keeps them all.
  Result<Ok> start();
  // Cancels a transfer in progress at once, ends the thread and joins it. Results not yet taken
  // stay available to take(). Idempotent.
  void stop();
  // Poll now, and without If-None-Match: the next 200 is delivered as kNew even if unchanged.
  void refetch();

  // Non-blocking eventfd, readable while results wait; take() drains it.
  int notify_fd() const { return efd_; }
  std::vector<PullResult> take();
  PullStats stats() const;
  const PullConfig& config() const { return config_; }

 private:
  explicit Puller(PullConfig config, int efd);
  void run();
  // Files a result, updates the stats and returns the delay until the next poll.
  std::chrono::milliseconds record(PullResult result, double random01);

  const PullConfig config_;
  const int efd_;
  std::unique_ptr<detail::Canceller> cancel_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool refetch_ = false;
  PullStats stats_;
  std::optional<Sha256> last_digest_;  // of the last body delivered as kNew
  std::deque<PullResult> queue_;
};

}  // namespace modgate::fleet
