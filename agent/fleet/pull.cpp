// SPDX-License-Identifier: Apache-2.0

#include "agent/fleet/pull.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <random>
#include <span>
#include <system_error>
#include <utility>

namespace modgate::fleet {

namespace detail {

// stop() runs on the daemon's thread while the puller's thread sits in curl_multi_poll; the
// wakeup makes the transfer end at once instead of at curl's next progress tick (up to 1 s).
class Canceller {
 public:
  // False when cancel() came first: the caller must not start.
  bool attach(CURLM* multi) {
    std::lock_guard lock(mu_);
    if (cancelled_) return false;
    multi_ = multi;
    return true;
  }
  // Before the multi handle is freed, so cancel() never wakes a dangling one.
  void detach() {
    std::lock_guard lock(mu_);
    multi_ = nullptr;
  }
  void cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (multi_ != nullptr) curl_multi_wakeup(multi_);
  }
  bool cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
  }

 private:
  mutable std::mutex mu_;
  CURLM* multi_ = nullptr;
  bool cancelled_ = false;
};

}  // namespace detail

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::size_t kMaxQueued = 8;
constexpr std::size_t kMaxEtagBytes = 256;
constexpr seconds kMaxInitialDelay{5};

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The cause of a config problem, or nothing.
std::optional<std::string> config_problem(const PullConfig& c) {
  if (c.url.empty()) return "no URL given";
  CURLU* u = curl_url();
  if (u == nullptr) return "out of memory";
  std::optional<std::string> problem;
  CURLUcode uc = curl_url_set(u, CURLUPART_URL, c.url.c_str(), 0);
  char* scheme = nullptr;
  char* host = nullptr;
  if (uc != CURLUE_OK) {
    problem = std::string("not a valid URL (") + curl_url_strerror(uc) + ")";
  } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             std::string_view(scheme) != "https") {
    problem = "only https:// URLs are accepted";
  } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || *host == '\0') {
    problem = "the URL has no host";
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  if (problem) return problem;

  if (!c.ca_file.empty()) {
    int fd = ::open(c.ca_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "CA file " + c.ca_file + ": " + std::strerror(errno);
    struct stat st {};
    bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    ::close(fd);
    if (!regular) return "CA file " + c.ca_file + ": not a regular file";
  }
  if (c.interval < seconds{1}) return "the interval must be at least 1 s";
  if (!(c.jitter >= 0.0 && c.jitter <= 0.5)) return "jitter must be between 0 and 0.5";
  if (c.max_bytes == 0) return "the size limit must be at least 1 byte";
  if (c.connect_timeout < seconds{1}) return "the connect timeout must be at least 1 s";
  if (c.total_timeout < c.connect_timeout)
    return "the total timeout must be at least the connect timeout";
  if (c.low_speed_bytes > 0 && c.low_speed_time < seconds{1})
    return "the low-speed time must be at least 1 s";
  if (c.max_backoff < seconds{1}) return "the maximum backoff must be at least 1 s";
  return std::nullopt;
}

struct Transfer {
  std::string body;
  std::uint64_t max_bytes = 0;
  bool too_large = false;
  detail::Canceller* cancel = nullptr;
};

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->body.size() + n > t->max_bytes) {
    t->too_large = true;
    return CURL_WRITEFUNC_ERROR;
  }
  t->body.append(data, n);
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->cancel != nullptr && t->cancel->cancelled() ? 1 : 0;
}

// An ETag goes back to the server verbatim in If-None-Match; keep only what is safe to send.
std::string usable_etag(std::string_view v) {
  if (v.empty() || v.size() > kMaxEtagBytes) return "";
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "";
  }
  return std::string(v);
}

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::string timeout_cause(const PullConfig& c, CURL* h, const char* errbuf) {
  if (std::strstr(errbuf, "too slow") != nullptr) {
    return "stalled: under " + std::to_string(c.low_speed_bytes) + " bytes/s for " +
           std::to_string(c.low_speed_time.count()) + " s";
  }
  curl_off_t tls_done = 0;
  curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &tls_done);
  if (tls_done == 0) {
    return "timed out after " + std::to_string(c.connect_timeout.count()) +
           " s (connect and TLS handshake)";
  }
  return "timed out after " + std::to_string(c.total_timeout.count()) + " s";
}

PullResult fetch(const PullConfig& c, const std::string& etag, detail::Canceller* cancel) {
  init_curl_once();
  PullResult r;
  const std::string shown = redact_url(c.url);
  auto fail = [&](PullError e, const std::string& cause) {
    r.kind = PullKind::kError;
    r.error = e;
    r.body.clear();
    r.etag.clear();
    r.message = shown + ": " + one_line(cause);
    r.time = std::chrono::system_clock::now();
    return r;
  };
  if (auto problem = config_problem(c)) return fail(PullError::kConfig, *problem);

  std::unique_ptr<CURL, CurlEasyDeleter> easy(curl_easy_init());
  if (!easy) return fail(PullError::kTransfer, "cannot create a curl handle");
  CURL* h = easy.get();
  Transfer t;
  t.max_bytes = c.max_bytes;
  t.cancel = cancel;
  char errbuf[CURL_ERROR_SIZE] = {};
  std::unique_ptr<curl_slist, CurlSlistDeleter> headers;
  // An ETag that could not have come from a response (a line break would add headers of its
  // own) makes the request unconditional instead.
  const bool conditional = !usable_etag(etag).empty();
  if (conditional) {
    headers.reset(curl_slist_append(nullptr, ("If-None-Match: " + etag).c_str()));
    if (!headers) return fail(PullError::kTransfer, "out of memory");
  }
  static const std::string user_agent = std::string("modgate/") + MODGATE_VERSION;

  CURLcode set = CURLE_OK;
  auto opt = [&](CURLoption o, auto v) {
    if (set == CURLE_OK) set = curl_easy_setopt(h, o, v);
  };
  opt(CURLOPT_URL, c.url.c_str());
  opt(CURLOPT_PROTOCOLS_STR, "https");
  opt(CURLOPT_REDIR_PROTOCOLS_STR, "https");
  opt(CURLOPT_FOLLOWLOCATION, 1L);
  opt(CURLOPT_MAXREDIRS, 3L);
  opt(CURLOPT_SSL_VERIFYPEER, 1L);
  opt(CURLOPT_SSL_VERIFYHOST, 2L);
  opt(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!c.ca_file.empty()) {
    opt(CURLOPT_CAINFO, c.ca_file.c_str());
    // Only the given CAs: without this the build's CA directory would be trusted as well.
    opt(CURLOPT_CAPATH, static_cast<const char*>(nullptr));
  }
  opt(CURLOPT_NOSIGNAL, 1L);  // threads and SIGALRM-based DNS timeouts do not mix
  opt(CURLOPT_CONNECTTIMEOUT, static_cast<long>(c.connect_timeout.count()));
  opt(CURLOPT_TIMEOUT, static_cast<long>(c.total_timeout.count()));
  opt(CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(c.low_speed_bytes));
  opt(CURLOPT_LOW_SPEED_TIME, static_cast<long>(c.low_speed_time.count()));
  opt(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(c.max_bytes));
  opt(CURLOPT_USERAGENT, user_agent.c_str());
  opt(CURLOPT_ERRORBUFFER, errbuf);
  opt(CURLOPT_WRITEFUNCTION, on_write);
  opt(CURLOPT_WRITEDATA, &t);
  opt(CURLOPT_NOPROGRESS, 0L);
  opt(CURLOPT_XFERINFOFUNCTION, on_progress);
  opt(CURLOPT_XFERINFODATA, &t);
  if (headers) opt(CURLOPT_HTTPHEADER, headers.get());
  if (set != CURLE_OK)
    return fail(PullError::kConfig, std::string("libcurl: ") + curl_easy_strerror(set));

  // The multi interface only so that stop() can interrupt the wait (Canceller).
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return fail(PullError::kTransfer, "cannot create a curl multi handle");
  curl_multi_add_handle(multi, h);
  CURLcode rc = CURLE_OK;
  bool cancelled = false;
  bool done = false;
  CURLMcode mc = CURLM_OK;
  if (cancel != nullptr && !cancel->attach(multi)) {
    cancelled = true;
  } else {
    while (true) {
      int running = 0;
      mc = curl_multi_perform(multi, &running);
      if (mc != CURLM_OK || running == 0) break;
      if (cancel != nullptr && cancel->cancelled()) {
        cancelled = true;
        break;
      }
      // curl shortens the wait to its own next timeout, so the limits stay exact.
      mc = curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
      if (mc != CURLM_OK) break;
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE) {
        rc = msg->data.result;
        done = true;
      }
    }
  }
  if (cancel != nullptr) {
    cancel->detach();
    if (cancel->cancelled()) cancelled = true;
  }
  curl_multi_remove_handle(multi, h);
  curl_multi_cleanup(multi);

  if (cancelled) return fail(PullError::kCancelled, "cancelled");
  if (mc != CURLM_OK) return fail(PullError::kTransfer, curl_multi_strerror(mc));
  if (!done) return fail(PullError::kTransfer, "transfer ended without a result");

  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  r.http_status = status;
  const std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OK:
      break;
    case CURLE_FILESIZE_EXCEEDED:
      return fail(PullError::kTooLarge,
                  "response larger than " + std::to_string(c.max_bytes) + " bytes");
    case CURLE_WRITE_ERROR:
      if (t.too_large) {
        return fail(PullError::kTooLarge,
                    "response larger than " + std::to_string(c.max_bytes) + " bytes");
      }
      return fail(PullError::kTransfer, detail);
    case CURLE_OPERATION_TIMEDOUT:
      return fail(PullError::kTimeout, timeout_cause(c, h, errbuf));
    case CURLE_PEER_FAILED_VERIFICATION:
      return fail(PullError::kTlsVerify, "TLS certificate verify failed: " + detail);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return fail(PullError::kTls, "TLS handshake failed: " + detail);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return fail(PullError::kConnect, "cannot connect: " + detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
      // Reached only through a redirect: the URL itself was checked above.
      return fail(PullError::kTransfer,
                  "redirected to a URL that is not https:// (" + detail + ")");
    case CURLE_TOO_MANY_REDIRECTS:
      return fail(PullError::kTransfer, "more than 3 redirects");
    case CURLE_ABORTED_BY_CALLBACK:
      return fail(PullError::kCancelled, "cancelled");
    default:
      return fail(PullError::kTransfer, detail);
  }

  if (status == 304 && conditional) {
    r.kind = PullKind::kNotModified;
    r.etag = etag;
  } else if (status == 200) {
    r.kind = PullKind::kNew;
    r.body = std::move(t.body);
    curl_header* hdr = nullptr;
    if (curl_easy_header(h, "ETag", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK) {
      r.etag = usable_etag(hdr->value);
    }
  } else {
    return fail(PullError::kHttpStatus,
                "HTTP " + std::to_string(status) + (status / 100 == 2 ? " (expected 200)" : ""));
  }
  r.time = std::chrono::system_clock::now();
  return r;
}

}  // namespace

std::string redact_url(std::string_view url) {
  std::string out;
  std::string_view rest = url;
  if (auto p = rest.find("://"); p != std::string_view::npos) {
    out.append(rest.substr(0, p + 3));
    rest.remove_prefix(p + 3);
    auto end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end);
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
      authority.remove_prefix(at + 1);
    }
    out.append(authority);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  auto q = rest.find_first_of("?#");
  out.append(rest.substr(0, q));
  if (q != std::string_view::npos && rest[q] == '?') out.append("?...");
  return one_line(out);
}

std::string_view to_string(PullKind kind) {
  switch (kind) {
    case PullKind::kNew:
      return "new";
    case PullKind::kNotModified:
      return "not-modified";
    case PullKind::kError:
      return "error";
  }
  return "?";
}

std::string_view to_string(PullError error) {
  switch (error) {
    case PullError::kNone:
      return "none";
    case PullError::kConfig:
      return "config";
    case PullError::kConnect:
      return "connect";
    case PullError::kTimeout:
      return "timeout";
    case PullError::kTls:
      return "tls";
    case PullError::kTlsVerify:
      return "tls-verify";
    case PullError::kHttpStatus:
      return "http-status";
    case PullError::kTooLarge:
      return "too-large";
    case PullError::kCancelled:
      return "cancelled";
    case PullError::kTransfer:
      return "transfer";
  }
  return "?";
}

Result<Ok> check_config(const PullConfig& config) {
  if (auto problem = config_problem(config)) {
    return Error{(config.url.empty() ? std::string("--pull") : redact_url(config.url)) + ": " +
                 *problem};
  }
  return Ok{};
}

PullResult fetch_once(const PullConfig& config, const std::string& etag) {
  return fetch(config, etag, nullptr);
}

milliseconds initial_delay(const PullConfig& config, double random01) {
  const double r = std::clamp(random01, 0.0, 1.0);
  const auto span = std::min<milliseconds>(config.interval, kMaxInitialDelay);
  return milliseconds{static_cast<milliseconds::rep>(r * static_cast<double>(span.count()))};
}

milliseconds next_delay(const PullConfig& config, unsigned consecutive_failures, double random01) {
  const double interval_ms = static_cast<double>(milliseconds{config.interval}.count());
  double base = interval_ms;
  if (consecutive_failures > 0) {
    const double cap =
        std::max(interval_ms, static_cast<double>(milliseconds{config.max_backoff}.count()));
    // 2^64 is far past any cap; the exponent limit only keeps the double finite.
    base = std::min(cap,
                    std::ldexp(interval_ms, static_cast<int>(std::min(consecutive_failures, 64u))));
  }
  const double j = std::clamp(config.jitter, 0.0, 1.0);
  const double r = std::clamp(random01, 0.0, 1.0);
  const double delay = base * (1.0 + j * (2.0 * r - 1.0));
  return milliseconds{std::max<milliseconds::rep>(1, std::llround(delay))};
}

Result<std::unique_ptr<Puller>> Puller::create(PullConfig config) {
  if (auto ok = check_config(config); !ok) return ok.error();
  init_curl_once();
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return Error{std::string("eventfd: ") + std::strerror(errno)};
  return std::unique_ptr<Puller>(new Puller(std::move(config), efd));
}

Puller::Puller(PullConfig config, int efd)
    : config_(std::move(config)), efd_(efd), cancel_(std::make_unique<detail::Canceller>()) {}

Puller::~Puller() {
  stop();
  ::close(efd_);
}

Result<Ok> Puller::start() {
  if (thread_.joinable()) return Error{"the puller is already running"};
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Error{"the puller was stopped"};
  }
  // The thread inherits this mask: every process signal then reaches the daemon's signalfd.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return Error{std::string("cannot start the pull thread: ") + e.what()};
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return Ok{};
}

void Puller::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  cancel_->cancel();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  stats_.next_poll_time = {};
}

void Puller::refetch() {
  {
    std::lock_guard lock(mu_);
    refetch_ = true;
  }
  cv_.notify_all();
}

std::vector<PullResult> Puller::take() {
  std::lock_guard lock(mu_);
  std::uint64_t n = 0;
  // Under the lock, as record() writes it: a count read here always matches the queue taken.
  [[maybe_unused]] ssize_t got = ::read(efd_, &n, sizeof(n));
  std::vector<PullResult> out(std::make_move_iterator(queue_.begin()),
                              std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

PullStats Puller::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::chrono::milliseconds Puller::record(PullResult result, double random01) {
  std::lock_guard lock(mu_);
  if (result.kind == PullKind::kError) {
    stats_.failures_total++;
    stats_.consecutive_failures++;
    stats_.last_failure_time = result.time;
    stats_.last_error = result.message;
  } else {
    stats_.consecutive_failures = 0;
    stats_.last_success_time = result.time;
  }
  stats_.last_http_status = result.http_status;
  if (result.kind == PullKind::kNew) {
    // A server without ETag (or with one per request) would otherwise hand the daemon the same
    // bundle every interval, and the daemon would refuse it as not newer every time.
    const Sha256 digest = sha256(
        std::span(reinterpret_cast<const std::uint8_t*>(result.body.data()), result.body.size()));
    stats_.last_etag = result.etag;
    if (last_digest_ && *last_digest_ == digest) {
      result.kind = PullKind::kNotModified;
      result.body.clear();
    }
    last_digest_ = digest;
  }
  if (queue_.size() >= kMaxQueued) {
    // The daemon is not taking results. Dropping a kNew must not lose the bundle for good: with
    // its ETag forgotten, the next poll downloads it again.
    if (queue_.front().kind == PullKind::kNew) {
      stats_.last_etag.clear();
      last_digest_.reset();
    }
    queue_.pop_front();
  }
  queue_.push_back(std::move(result));
  // With the stats, under the same lock: whoever sees this result sees its next poll time.
  const auto delay = next_delay(config_, stats_.consecutive_failures, random01);
  stats_.next_poll_time = std::chrono::system_clock::now() +
                          std::chrono::duration_cast<std::chrono::system_clock::duration>(delay);
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t put = ::write(efd_, &one, sizeof(one));
  return delay;
}

void Puller::run() {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  auto delay = initial_delay(config_, uniform(rng));
  {
    std::lock_guard lock(mu_);
    stats_.next_poll_time = std::chrono::system_clock::now() +
                            std::chrono::duration_cast<std::chrono::system_clock::duration>(delay);
  }
  while (true) {
    std::string etag;
    {
      std::unique_lock lock(mu_);
      const auto deadline = std::chrono::steady_clock::now() + delay;
      cv_.wait_until(lock, deadline, [this] { return stopping_ || refetch_; });
      if (stopping_) return;
      if (refetch_) {
        refetch_ = false;
        stats_.last_etag.clear();
        last_digest_.reset();
      }
      etag = stats_.last_etag;
      stats_.attempts++;
    }
    PullResult result = fetch(config_, etag, cancel_.get());
    if (result.error == PullError::kCancelled) return;  // only stop() cancels
    delay = record(std::move(result), uniform(rng));
  }
}

}  // namespace modgate::fleet
