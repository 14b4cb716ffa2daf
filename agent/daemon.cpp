#include "agent/daemon.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/bpf/enforcer.h"
#include "agent/bpf/libbpf_log.h"
#include "agent/control/protocol.h"
#include "agent/events.h"
#include "policy/policy.h"

namespace modgate {
namespace {

using nlohmann::ordered_json;

// The ABI header's stat indices are int arithmetic (it is C shared with the BPF side); named here
// as the size_t indices they are into the stats array.
constexpr std::size_t kStatRingbufLost = static_cast<std::size_t>(MG_STAT_RINGBUF_LOST);
constexpr std::size_t kStatHashFailed = static_cast<std::size_t>(MG_STAT_HASH_FAILED);

std::string errstr(int e) { return std::strerror(e); }

std::string utc_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string kernel_release() {
  utsname u{};
  uname(&u);
  return u.release;
}

std::string dirname_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<Ok> mkdir_p(const std::string& dir, mode_t mode) {
  if (dir.empty() || dir == "/" || dir == ".") return Ok{};
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return Ok{};
  if (auto r = mkdir_p(dirname_of(dir), mode); !r) return r;
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return Error{"cannot create " + dir + ": " + errstr(errno)};
  return Ok{};
}

// Writes a file so that readers see the old content or the new, never a part.
Result<Ok> write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error{"cannot write " + tmp + ": " + errstr(errno)};
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Error{"cannot write " + tmp + ": " + errstr(e)};
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return Error{"cannot write " + tmp + ": " + errstr(errno)};
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Error{"cannot rename " + tmp + ": " + errstr(errno)};
  return Ok{};
}

class Daemon {
 public:
  explicit Daemon(const DaemonOptions& o) : o_(o) {}
  int run();

 private:
  struct ApplyResult {
    bool ok = false;
    bool changed = false;
    std::string message;
    std::string errors;  // FILE:LINE:COL lines, newline-separated, when the file is invalid
  };

  int fail(const std::string& msg) {
    std::cerr << "modgate run: " << msg << std::endl;
    return 1;
  }
  ApplyResult apply(const std::string& text, const std::string& file, bool force,
                    const std::string& source);
  // What status reports as last_apply and the policy_apply event say, for every outcome.
  void record_apply(const std::string& result, const std::string& source, const std::string& file,
                    bool forced, const std::string& message, std::uint64_t version = 0,
                    const std::string& digest = {});
  Result<Ok> setup_socket();
  // Clients are served without blocking the loop: a slow or stalled one costs nothing but its
  // slot until its deadline, while events keep flowing.
  struct Client {
    std::string buf;
    std::chrono::steady_clock::time_point deadline;
  };
  void accept_clients();
  void read_client(int fd);
  void finish_client(int fd, const ordered_json& reply);
  ordered_json handle_request(const std::string& req);
  int next_client_timeout_ms() const;
  void expire_clients();
  ordered_json status() const;
  void reload_file(const std::string& source);
  void print_counters() const;

  const DaemonOptions& o_;
  std::unique_ptr<Enforcer> enf_;
  std::optional<policy::Policy> policy_;  // the policy in force, when we know its text
  std::unique_ptr<std::ofstream> events_file_;
  std::unique_ptr<EventWriter> writer_;
  std::string policy_path_;  // the file SIGHUP and the watch re-read
  int listen_fd_ = -1;
  int ep_ = -1;
  std::map<int, Client> clients_;
  int lock_fd_ = -1;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  ordered_json last_apply_ = nullptr;
  bool disarm_requested_ = false;
};

Daemon::ApplyResult Daemon::apply(const std::string& text, const std::string& file, bool force,
                                  const std::string& source) {
  ApplyResult res;
  auto refuse = [&](std::string msg, std::string errors = {}) {
    res.message = std::move(msg);
    res.errors = std::move(errors);
    record_apply("refused", source, file, force, res.message);
    return res;
  };
  auto p = policy::parse_policy(text, file);
  if (!p)
    return refuse("the policy in " + file + " is invalid; the policy in force is unchanged",
                  p.error().message);
  const std::string release = kernel_release();
  if (!policy::kernel_matches(*p, release) && !force)
    return refuse(file + " is for other kernels (kernels: does not match " + release +
                  "); the policy in force is unchanged");
  auto in_force = enf_->policy_in_force();
  if (!in_force) return refuse(in_force.error().message);
  if (*in_force) {
    const auto& cfg = (*in_force)->config;
    if (std::memcmp(cfg.policy_digest, p->digest.data(), p->digest.size()) == 0) {
      res.ok = true;
      res.message = "policy version " + std::to_string(p->version) + " is already in force";
      if (!policy_) policy_ = std::move(*p);
      return res;
    }
    if (p->version <= cfg.policy_version && !force)
      return refuse("version " + std::to_string(p->version) + " of " + file +
                    " is not greater than version " + std::to_string(cfg.policy_version) +
                    " in force; raise it (or --force to roll back deliberately)");
  }
  auto compiled = policy::compile(*p);
  if (!compiled) return refuse(compiled.error().message);
  if (auto r = enf_->install(*compiled); !r) return refuse(r.error().message);

  res.ok = res.changed = true;
  // The digest travels in its own field; the message stays short enough for a terminal line.
  res.message = "policy version " + std::to_string(p->version) + " in force: mode " +
                std::string(policy::mode_name(p->mode)) + ", " +
                std::to_string(compiled->allow.size()) + " hashes allowlisted" +
                (force ? " (forced)" : "");
  record_apply("ok", source, file, force, res.message, p->version, to_hex(p->digest));
  if (force)
    std::cerr << "modgate: FORCED apply from " << source << ": " << res.message << std::endl;
  policy_ = std::move(*p);
  if (writer_) writer_->set_policy(&*policy_);
  // Kept so that an agent that adopts this policy after a restart can name its modules.
  if (!o_.state_dir.empty()) {
    if (auto r = mkdir_p(o_.state_dir, 0700);
        !r || !write_atomically(o_.state_dir + "/applied.yaml", text))
      std::cerr << "modgate: warning: cannot save the applied policy under " << o_.state_dir
                << std::endl;
  }
  return res;
}

void Daemon::record_apply(const std::string& result, const std::string& source,
                          const std::string& file, bool forced, const std::string& message,
                          std::uint64_t version, const std::string& digest) {
  last_apply_ = ordered_json{{"result", result}, {"time", utc_now()}, {"source", source},
                             {"file", file},     {"forced", forced},  {"message", message}};
  if (writer_) writer_->write_apply(result, source, file, version, digest, forced, message);
}

void Daemon::reload_file(const std::string& source) {
  auto text = policy::read_policy_text(policy_path_);
  if (!text) {
    record_apply("refused", source, policy_path_, false, text.error().message);
    std::cerr << "modgate: " << source << ": " << text.error().message << std::endl;
    return;
  }
  auto r = apply(*text, policy_path_, false, source);
  if (!r.errors.empty()) std::cerr << r.errors << std::endl;
  if (r.changed || !r.ok) std::cerr << "modgate: " << source << ": " << r.message << std::endl;
}

Result<Ok> Daemon::setup_socket() {
  const std::string dir = dirname_of(o_.socket_path);
  if (auto r = mkdir_p(dir, 0700); !r) return r;
  // One agent per socket: the lock is held for the process's life and released by the kernel
  // however it ends, so a stale lock cannot block a restart.
  const std::string lock = o_.socket_path + ".lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return Error{"cannot open " + lock + ": " + errstr(errno)};
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return Error{"another modgate agent is running (it holds " + lock + ")"};

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (o_.socket_path.size() >= sizeof(addr.sun_path))
    return Error{"socket path too long: " + o_.socket_path};
  std::memcpy(addr.sun_path, o_.socket_path.c_str(), o_.socket_path.size() + 1);
  ::unlink(o_.socket_path.c_str());  // stale: we hold the lock, so no agent owns it
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return Error{"socket: " + errstr(errno)};
  // Created 0600 from the start (umask), not chmod-ed after: no instant where others could
  // connect.
  mode_t old = ::umask(0177);
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc != 0) return Error{"cannot bind " + o_.socket_path + ": " + errstr(errno)};
  if (::listen(listen_fd_, 16) != 0) return Error{"listen: " + errstr(errno)};
  return Ok{};
}

ordered_json Daemon::status() const {
  ordered_json s;
  auto in_force = enf_->policy_in_force();
  ordered_json pol = nullptr;
  if (in_force && *in_force) {
    const auto& kp = **in_force;
    pol = ordered_json{{"mode", kp.config.mode == MG_MODE_ENFORCE ? "enforce" : "dry-run"},
                       {"version", kp.config.policy_version},
                       {"digest", to_hex(kp.config.policy_digest)},
                       {"entries", kp.allowlist_entries()},
                       {"autoload_allow", kp.config.n_autoload_allow},
                       {"autoload_deny", kp.config.n_autoload_deny},
                       {"log_allowed", (kp.config.flags & MG_CFG_LOG_ALLOWED) != 0},
                       {"allow_forced", (kp.config.flags & MG_CFG_ALLOW_FORCED) != 0},
                       {"names_known", policy_.has_value()}};
  }
  s["policy"] = pol;
  ordered_json counters = ordered_json::object();
  std::uint64_t lost = 0, hash_failed = 0;
  if (auto st = enf_->stats(); st) {
    for (std::uint32_t hook = 1; hook < MG_HOOK_COUNT; hook++) {
      ordered_json h;
      for (std::uint32_t v = 0; v < MG_VERDICT_COUNT; v++)
        h[verdict_name(v)] = (*st)[hook * MG_VERDICT_COUNT + v];
      counters[hook_name(hook)] = h;
    }
    lost = (*st)[kStatRingbufLost];
    hash_failed = (*st)[kStatHashFailed];
  }
  s["counters"] = counters;
  s["events_lost"] = lost;
  s["hash_failures"] = hash_failed;
  s["last_apply"] = last_apply_;
  const std::string own = o_.pin_dir + "/" + object_tag();
  struct stat st {};
  s["agent"] = ordered_json{
      {"pid", ::getpid()},
      {"uptime_s",
       std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
           .count()},
      {"kernel_release", kernel_release()},
      {"object", object_tag()},
      {"adopted", enf_->adopted()},
      {"pinned", ::stat((own + "/policy").c_str(), &st) == 0},
      {"pin_dir", o_.pin_dir},
      {"socket", o_.socket_path},
      {"policy_file", policy_path_.empty() ? ordered_json(nullptr) : ordered_json(policy_path_)},
      {"watch_dir", o_.watch_dir.empty() ? ordered_json(nullptr) : ordered_json(o_.watch_dir)}};
  return s;
}

constexpr std::size_t kMaxClients = 32;
constexpr auto kClientTimeout = std::chrono::seconds(5);

void Daemon::accept_clients() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    ucred cred{};
    socklen_t len = sizeof(cred);
    clients_[fd] = Client{{}, std::chrono::steady_clock::now() + kClientTimeout};
    // The socket is 0600 already; the peer check also covers a descriptor passed to a non-root
    // process.
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
      finish_client(
          fd, {{"ok", false}, {"error", "permission denied: the control socket is for root only"}});
      continue;
    }
    if (clients_.size() > kMaxClients) {
      finish_client(fd, {{"ok", false}, {"error", "busy: too many clients, retry"}});
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) finish_client(fd, {{"ok", false}});
  }
}

void Daemon::read_client(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  std::string& buf = it->second.buf;
  char chunk[65536];
  bool eof = false;
  for (;;) {
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;  // EAGAIN: wait for more
    if (n == 0) {
      eof = true;
      break;
    }
    buf.append(chunk, static_cast<size_t>(n));
    if (buf.size() > control::kMaxRequestBytes) {
      finish_client(fd, {{"ok", false}, {"error", "request too large"}});
      return;
    }
    if (buf.find('\n') != std::string::npos) break;
  }
  if (buf.find('\n') != std::string::npos || eof) finish_client(fd, handle_request(buf));
}

void Daemon::finish_client(int fd, const ordered_json& reply) {
  // The reply is small; a short blocking send is enough, bounded by a timeout.
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string line = reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  for (size_t off = 0; off < line.size();) {
    ssize_t n = ::send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  clients_.erase(fd);
}

int Daemon::next_client_timeout_ms() const {
  int ms = 250;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [fd, c] : clients_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count();
    ms = static_cast<int>(std::clamp<long long>(left, 0, ms));
  }
  return ms;
}

void Daemon::expire_clients() {
  auto now = std::chrono::steady_clock::now();
  std::vector<int> late;
  for (const auto& [fd, c] : clients_)
    if (c.deadline <= now) late.push_back(fd);
  for (int fd : late)
    finish_client(fd, {{"ok", false}, {"error", "malformed request: no complete line received"}});
}

ordered_json Daemon::handle_request(const std::string& req) {
  auto nl = req.find('\n');
  if (nl == std::string::npos)
    return {{"ok", false}, {"error", "malformed request: no complete line received"}};
  auto r = control::parse_request(std::string_view(req).substr(0, nl));
  if (!r) return {{"ok", false}, {"error", r.error().message}};
  switch (r->cmd) {
    case control::Request::Cmd::kStatus:
      return {{"ok", true}, {"status", status()}};
    case control::Request::Cmd::kApply: {
      auto a = apply(r->content, r->file, r->force, "socket");
      ordered_json j{{"ok", a.ok}, {"changed", a.changed}, {"message", a.message}};
      if (!a.errors.empty()) j["errors"] = a.errors;
      if (a.ok && policy_) j["digest"] = to_hex(policy_->digest);
      if (a.ok && policy_) j["version"] = policy_->version;
      return j;
    }
    case control::Request::Cmd::kDisarm: {
      // Our own references go first, so that removing the pins is what detaches the programs.
      enf_->release();
      disarm_requested_ = true;
      auto removed = Enforcer::unpin_all(o_.pin_dir);
      if (!removed) return {{"ok", false}, {"error", removed.error().message}};
      return {{"ok", true}, {"removed", *removed}};
    }
  }
  return {{"ok", false}, {"error", "unhandled command"}};
}

void Daemon::print_counters() const {
  auto st = enf_->stats();
  if (!st) return;
  std::cerr << "modgate: decisions:";
  bool any = false;
  for (std::uint32_t hook = 1; hook < MG_HOOK_COUNT; hook++) {
    std::string line;
    for (std::uint32_t v = 0; v < MG_VERDICT_COUNT; v++) {
      std::uint64_t n = (*st)[hook * MG_VERDICT_COUNT + v];
      if (n) line += std::string(" ") + verdict_name(v) + "=" + std::to_string(n);
    }
    if (!line.empty()) {
      std::cerr << "\n  " << hook_name(hook) << line;
      any = true;
    }
  }
  std::cerr << (any ? "\n  " : " none; ") << "events lost=" << (*st)[kStatRingbufLost]
            << " hash failures=" << (*st)[kStatHashFailed] << std::endl;
}

int Daemon::run() {
  policy_path_ = o_.policy_file;
  if (!o_.watch_dir.empty() && policy_path_.empty()) policy_path_ = o_.watch_dir + "/policy.yaml";

  // Read and check the configured policy before touching the kernel.
  std::optional<std::string> text;
  if (!policy_path_.empty()) {
    auto t = policy::read_policy_text(policy_path_);
    if (!t) return fail(t.error().message);
    auto p = policy::parse_policy(*t, policy_path_);
    if (!p) {
      std::cerr << p.error().message << "\n";
      return fail("policy " + policy_path_ + " is invalid; nothing was loaded.");
    }
    if (auto c = policy::compile(*p); !c) return fail(c.error().message);
    text = std::move(*t);
  }
  if (!text && !Enforcer::pinned_policy_exists(o_.pin_dir))
    return fail(
        "no policy given (--policy FILE or --watch DIR) and none is in force (nothing "
        "pinned in " +
        o_.pin_dir + "); modgate never runs without one.");
  if (auto ok = preflight(); !ok) return fail(ok.error().message);
  if (auto r = setup_socket(); !r) return fail(r.error().message);

  libbpf_set_verbose(o_.verbose);
  auto enf = Enforcer::open(o_.pin_dir);
  if (!enf) return fail(enf.error().message);
  enf_ = std::move(*enf);

  if (!o_.events_file.empty()) {
    events_file_ = std::make_unique<std::ofstream>(o_.events_file, std::ios::app);
    if (!*events_file_) return fail("cannot open events file " + o_.events_file);
  }
  writer_ = std::make_unique<EventWriter>(events_file_ ? *events_file_ : std::cout);

  auto in_force = enf_->policy_in_force();
  if (!in_force) return fail(in_force.error().message);
  if (!*in_force && !text)
    return fail(
        "no policy given (--policy FILE or --watch DIR) and none is in force; modgate "
        "never runs without one.");
  if (text) {
    auto r = apply(*text, policy_path_, false, "startup");
    if (!r.ok) {
      // Nothing enforced yet: refusing to start beats starting open. Something enforced: keep
      // it, and say why the file was not taken.
      if (!*in_force) return fail(r.message);
      std::cerr << "modgate run: " << r.message << std::endl;
    }
  }
  if (!policy_ && !o_.state_dir.empty()) {
    // Adopted state: name modules from the saved copy if it is the policy in force.
    if (auto saved = policy::load_policy_file(o_.state_dir + "/applied.yaml"); saved) {
      auto now = enf_->policy_in_force();
      if (now && *now && std::memcmp((*now)->config.policy_digest, saved->digest.data(), 32) == 0)
        policy_ = std::move(*saved);
    }
  }
  writer_->set_policy(policy_ ? &*policy_ : nullptr);
  if (auto r = enf_->attach_and_pin(); !r) return fail(r.error().message);
  if (auto r = enf_->open_events([&](const mg_event& e) { writer_->write(e); }); !r)
    return fail(r.error().message);

  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  int ifd = -1;
  if (!o_.watch_dir.empty()) {
    ifd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0 || ::inotify_add_watch(ifd, o_.watch_dir.c_str(),
                                       IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                                           IN_MOVED_FROM | IN_ATTRIB) < 0)
      return fail("cannot watch " + o_.watch_dir + ": " + errstr(errno));
  }
  ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  for (int fd : {enf_->events_epoll_fd(), listen_fd_, sfd, ifd}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) return fail("epoll: " + errstr(errno));
  }

  auto kp = enf_->policy_in_force();
  std::cerr << "modgate: ready: "
            << (enf_->adopted() ? "adopted the pinned programs" : "programs attached and pinned")
            << " in " << o_.pin_dir
            << (enf_->replaced() ? " (replacing " + *enf_->replaced() + ")" : std::string())
            << "; policy version "
            << (kp && *kp ? std::to_string((*kp)->config.policy_version) : "?") << " (sha256 "
            << (kp && *kp ? to_hex((*kp)->config.policy_digest) : "?") << "), mode "
            << (kp && *kp && (*kp)->config.mode == MG_MODE_ENFORCE ? "enforce" : "dry-run")
            << "; control socket " << o_.socket_path << std::endl;

  std::uint64_t lost_reported = 0;
  if (auto st = enf_->stats(); st) lost_reported = (*st)[kStatRingbufLost];
  // When the watched directory has been quiet long enough to re-read the policy; max() = idle.
  auto watch_due = std::chrono::steady_clock::time_point::max();
  bool stop = false;
  while (!stop && !disarm_requested_) {
    int timeout = next_client_timeout_ms();
    if (watch_due != std::chrono::steady_clock::time_point::max()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    watch_due - std::chrono::steady_clock::now())
                    .count();
      timeout = static_cast<int>(std::clamp<long long>(ms, 0, timeout));
    }
    epoll_event evs[8];
    int n = ::epoll_wait(ep_, evs, 8, timeout);
    if (n < 0 && errno != EINTR) return fail("epoll_wait: " + errstr(errno));
    for (int i = 0; i < n && !disarm_requested_; i++) {
      int fd = evs[i].data.fd;
      if (fd == enf_->events_epoll_fd()) {
        if (auto r = enf_->consume_events(); !r)
          std::cerr << "modgate: " << r.error().message << "\n";
      } else if (fd == listen_fd_) {
        accept_clients();
      } else if (clients_.count(fd)) {
        read_client(fd);
      } else if (fd == sfd) {
        signalfd_siginfo si{};
        while (::read(sfd, &si, sizeof(si)) == sizeof(si)) {
          if (si.ssi_signo == SIGHUP) {
            if (policy_path_.empty())
              std::cerr << "modgate: SIGHUP ignored: no policy file configured" << std::endl;
            else
              reload_file("sighup");
          } else {
            stop = true;
          }
        }
      } else if (fd == ifd) {
        char buf[4096];
        while (::read(ifd, buf, sizeof(buf)) > 0) {
        }
        // Settle: tools replace files in several steps (write temp, rename; Kubernetes swaps
        // ..data); act once the directory has been quiet for a moment.
        watch_due = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
      }
    }
    if (disarm_requested_) break;
    expire_clients();
    if (std::chrono::steady_clock::now() >= watch_due) {
      watch_due = std::chrono::steady_clock::time_point::max();
      reload_file("watch");
    }
    if (auto st = enf_->stats(); st) {
      std::uint64_t lost = (*st)[kStatRingbufLost];
      if (lost > lost_reported) {
        writer_->write_lost(lost - lost_reported);
        lost_reported = lost;
      }
    }
  }
  ::unlink(o_.socket_path.c_str());
  if (disarm_requested_) {
    std::cerr << "modgate: disarmed: programs detached and unpinned; module loads are no longer "
                 "checked"
              << std::endl;
    return 0;
  }
  (void)enf_->consume_events();
  print_counters();
  std::cerr << "modgate: stopped; enforcement continues (pinned in " << o_.pin_dir
            << "); 'modgate disarm' removes it" << std::endl;
  return 0;
}

}  // namespace

int run_daemon(const DaemonOptions& options) { return Daemon(options).run(); }

}  // namespace modgate
