// SPDX-License-Identifier: Apache-2.0
// A real HTTPS server for tests: Debian's nginx on loopback, with a CA and certificates made by
// the openssl CLI in a temporary directory. For the pull tests here and for the daemon's own
// pull tests: every failure a pull must survive has an address on it.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace modgate::test {

// Runs argv (found through PATH) with OPENSSL_CONF=/dev/null added to the environment, stdout
// and stderr appended to log_file. Returns the exit status, or -1 if it did not exit normally.
int run_command(const std::vector<std::string>& argv, const std::string& log_file);

// Certificates for 127.0.0.1, all EC P-256, valid for two days from now.
struct TestPki {
  std::string ca;                               // the test CA
  std::string other_ca;                         // an unrelated CA
  std::string server_cert, server_key;          // by ca, for IP:127.0.0.1 and DNS:localhost
  std::string wrong_name_cert, wrong_name_key;  // by ca, for DNS:wrong.example only
  std::string other_cert, other_key;            // by other_ca, for IP:127.0.0.1
};
// Writes the PKI into dir; throws std::runtime_error with openssl's output on failure.
TestPki make_test_pki(const std::string& dir);

// A socket that listens and never accepts: the kernel completes each TCP handshake from the
// backlog, so a client connects and then waits forever for a TLS or HTTP answer.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  int port() const { return port_; }
  // True once a client's connection waits in the backlog (polls up to timeout_ms).
  bool connection_pending(int timeout_ms) const;

 private:
  int fd_ = -1;
  int port_ = 0;
};

// nginx, one process (master_process off), killed in the destructor and, through
// PR_SET_PDEATHSIG, when the test process dies. Serves www() on several ports:
//   url(p)            https, certificate by pki().ca for 127.0.0.1
//     /status/500       always 500
//     /chunked/P        www()/P with no Content-Length and no ETag (chunked)
//     /hang/P           proxied to a SilentListener: TLS works, the response never comes
//     /redirect-https/P 302 to url(P);  /redirect-http/P 302 to http://127.0.0.1:<plain>/P
//   wrong_name_url(p) https, certificate by pki().ca for wrong.example only
//   other_ca_url(p)   https, certificate by pki().other_ca
//   plain_url(p)      https:// URL of a plain-HTTP port (a TLS client meets HTTP/1.1 400)
// access_log(): one line per request: "URI STATUS If-None-Match User-Agent".
class HttpsServer {
 public:
  HttpsServer();  // throws std::runtime_error with nginx's output when it cannot start
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  std::string url(std::string_view path) const;
  std::string wrong_name_url(std::string_view path) const;
  std::string other_ca_url(std::string_view path) const;
  std::string plain_url(std::string_view path) const;
  const std::string& www() const { return www_; }
  const std::string& dir() const { return dir_; }
  const TestPki& pki() const { return pki_; }
  std::string access_log() const;
  // The log once it holds at least n lines for uri ("/b"), or after 5 s: nginx writes a request's
  // line after it has sent the response, so a client that just got its answer can be ahead of it.
  std::string access_log_for(std::string_view uri, std::size_t n) const;
  const SilentListener& hang_listener() const { return hang_; }
  // Writes www()/name atomically (rename), so nginx never serves half a file.
  void put(const std::string& name, std::string_view content) const;

 private:
  bool try_start(std::string& why);
  void kill_nginx();

  std::string dir_, www_;
  TestPki pki_;
  SilentListener hang_;
  pid_t pid_ = -1;
  int tls_port_ = 0, wrong_port_ = 0, other_port_ = 0, plain_port_ = 0;
};

}  // namespace modgate::test
