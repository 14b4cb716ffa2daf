// SPDX-License-Identifier: Apache-2.0

#include "tests/fleet/https_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace modgate::test {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

// Spawns argv with stdout/stderr on log_file. The child dies with this thread (PDEATHSIG), so
// a crashing test leaves no server behind.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_file) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "OPENSSL_CONF=", 13) != 0) env_strings.emplace_back(*e);
  }
  // openssl reads no configuration: the same commands then work in the VM, which has none.
  env_strings.emplace_back("OPENSSL_CONF=/dev/null");
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) throw std::runtime_error("cannot open " + log_file + ": " + std::strerror(errno));
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  ::close(log);
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error(std::string("cannot find a free port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

std::string make_temp_dir() {
  std::string templ = (fs::temp_directory_path() / "modgate-https.XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  return templ;
}

}  // namespace

int run_command(const std::vector<std::string>& argv, const std::string& log_file) {
  return wait_status(spawn(argv, log_file));
}

TestPki make_test_pki(const std::string& dir) {
  const std::string log = dir + "/openssl.log";
  auto run = [&](const std::vector<std::string>& argv) {
    if (run_command(argv, log) != 0) {
      std::string cmd;
      for (const auto& a : argv) cmd += a + " ";
      throw std::runtime_error("failed: " + cmd + "\n" + slurp(log));
    }
  };
  const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                           "-nodes"};
  auto make_ca = [&](const std::string& name, const std::string& cn) {
    std::vector<std::string> argv = {"openssl", "req", "-x509"};
    argv.insert(argv.end(), ec_key.begin(), ec_key.end());
    argv.insert(argv.end(),
                {"-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".pem", "-days",
                 "2", "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
    run(argv);
    return dir + "/" + name + ".pem";
  };
  int serial = 1;
  auto make_leaf = [&](const std::string& name, const std::string& ca, const std::string& san) {
    const std::string base = dir + "/" + name;
    std::vector<std::string> argv = {"openssl", "req"};
    argv.insert(argv.end(), ec_key.begin(), ec_key.end());
    argv.insert(argv.end(),
                {"-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=modgate test"});
    run(argv);
    write_file(base + ".ext", "subjectAltName=" + san +
                                  "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    const std::string ca_key = ca.substr(0, ca.size() - 4) + ".key";
    run({"openssl", "x509", "-req", "-in", base + ".csr", "-CA", ca, "-CAkey", ca_key,
         "-set_serial", std::to_string(serial++), "-days", "2", "-extfile", base + ".ext", "-out",
         base + ".pem"});
    return std::make_pair(base + ".pem", base + ".key");
  };
  TestPki p;
  p.ca = make_ca("ca", "modgate test CA");
  p.other_ca = make_ca("other-ca", "modgate other CA");
  std::tie(p.server_cert, p.server_key) = make_leaf("server", p.ca, "IP:127.0.0.1,DNS:localhost");
  std::tie(p.wrong_name_cert, p.wrong_name_key) =
      make_leaf("wrong-name", p.ca, "DNS:wrong.example");
  std::tie(p.other_cert, p.other_key) = make_leaf("other", p.other_ca, "IP:127.0.0.1");
  return p;
}

SilentListener::SilentListener() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::listen(fd_, 64) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error(std::string("silent listener: ") + std::strerror(errno));
  }
  port_ = ntohs(a.sin_port);
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) ::close(fd_);
}

bool SilentListener::connection_pending(int timeout_ms) const {
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

HttpsServer::HttpsServer() {
  dir_ = make_temp_dir();
  www_ = dir_ + "/www";
  fs::create_directories(www_);
  fs::create_directories(dir_ + "/tmp");
  try {
    pki_ = make_test_pki(dir_);
    std::string why;
    // A port found free may be taken before nginx binds it; new ports, a few times.
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (try_start(why)) return;
    }
    throw std::runtime_error("nginx did not start:\n" + why);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

HttpsServer::~HttpsServer() {
  kill_nginx();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void HttpsServer::kill_nginx() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_status(pid_);
  pid_ = -1;
}

bool HttpsServer::try_start(std::string& why) {
  tls_port_ = free_port();
  wrong_port_ = free_port();
  other_port_ = free_port();
  plain_port_ = free_port();
  const std::string tls = std::to_string(tls_port_);
  auto server = [&](int port, const std::string& cert, const std::string& key) {
    std::string s = "  server {\n    listen 127.0.0.1:" + std::to_string(port);
    if (!cert.empty())
      s += " ssl;\n    ssl_certificate " + cert + ";\n    ssl_certificate_key " + key;
    s += ";\n    root " + www_ + ";\n";
    s += "    location = /status/500 { return 500; }\n";
    s += "    location /chunked/ { alias " + www_ +
         "/; sub_filter_types *; sub_filter_once off; sub_filter 'no-such-text' 'x'; }\n";
    s += "    location /hang/ { proxy_pass http://127.0.0.1:" + std::to_string(hang_.port()) +
         "; proxy_read_timeout 1h; proxy_connect_timeout 1h; }\n";
    s += "    location /redirect-https/ { rewrite ^/redirect-https/(.*)$ https://127.0.0.1:" + tls +
         "/$1 redirect; }\n";
    s += "    location /redirect-http/ { rewrite ^/redirect-http/(.*)$ http://127.0.0.1:" +
         std::to_string(plain_port_) + "/$1 redirect; }\n";
    s += "  }\n";
    return s;
  };
  // master_process off: one process to kill, and no user switch (the files stay root's).
  std::string conf = "daemon off;\nmaster_process off;\npid " + dir_ +
                     "/nginx.pid;\nerror_log stderr notice;\n"
                     "events { worker_connections 128; }\n"
                     "http {\n"
                     "  log_format modgate escape=none '$request_uri $status "
                     "\"$http_if_none_match\" \"$http_user_agent\"';\n"
                     "  access_log " +
                     dir_ +
                     "/access.log modgate;\n"
                     "  default_type application/octet-stream;\n"
                     "  client_body_temp_path " +
                     dir_ +
                     "/tmp/body;\n"
                     "  proxy_temp_path " +
                     dir_ +
                     "/tmp/proxy;\n"
                     "  fastcgi_temp_path " +
                     dir_ +
                     "/tmp/fastcgi;\n"
                     "  uwsgi_temp_path " +
                     dir_ +
                     "/tmp/uwsgi;\n"
                     "  scgi_temp_path " +
                     dir_ + "/tmp/scgi;\n" + server(tls_port_, pki_.server_cert, pki_.server_key) +
                     server(wrong_port_, pki_.wrong_name_cert, pki_.wrong_name_key) +
                     server(other_port_, pki_.other_cert, pki_.other_key) +
                     server(plain_port_, "", "") + "}\n";
  write_file(dir_ + "/nginx.conf", conf);
  const std::string log = dir_ + "/nginx.log";
  pid_ = spawn({"nginx", "-p", dir_ + "/", "-e", "stderr", "-c", dir_ + "/nginx.conf"}, log);
  for (int i = 0; i < 200; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      why = slurp(log);
      return false;
    }
    if (can_connect(tls_port_) && can_connect(wrong_port_) && can_connect(other_port_) &&
        can_connect(plain_port_)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill_nginx();
  why = "no listening ports after 10 s\n" + slurp(log);
  return false;
}

std::string HttpsServer::url(std::string_view path) const {
  return "https://127.0.0.1:" + std::to_string(tls_port_) + "/" + std::string(path);
}
std::string HttpsServer::wrong_name_url(std::string_view path) const {
  return "https://127.0.0.1:" + std::to_string(wrong_port_) + "/" + std::string(path);
}
std::string HttpsServer::other_ca_url(std::string_view path) const {
  return "https://127.0.0.1:" + std::to_string(other_port_) + "/" + std::string(path);
}
std::string HttpsServer::plain_url(std::string_view path) const {
  return "https://127.0.0.1:" + std::to_string(plain_port_) + "/" + std::string(path);
}

std::string HttpsServer::access_log() const { return slurp(dir_ + "/access.log"); }

std::string HttpsServer::access_log_for(std::string_view uri, std::size_t n) const {
  const std::string prefix = std::string(uri) + " ";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    std::string log = access_log();
    std::size_t lines = 0;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(prefix, 0) == 0) lines++;
    if (lines >= n || std::chrono::steady_clock::now() >= deadline) return log;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void HttpsServer::put(const std::string& name, std::string_view content) const {
  // nginx's ETag is mtime and size: two versions of one size written in the same second would
  // share it. Each put gets its own mtime, one second after the last.
  static std::int64_t last_mtime = 0;
  const std::string path = www_ + "/" + name;
  const std::string tmp = path + ".tmp";
  write_file(tmp, content);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  last_mtime = std::max<std::int64_t>(now, last_mtime + 1);
  timespec times[2] = {{last_mtime, 0}, {last_mtime, 0}};
  if (::utimensat(AT_FDCWD, tmp.c_str(), times, 0) != 0 ||
      ::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot publish " + path + ": " + std::strerror(errno));
  }
}

}  // namespace modgate::test
