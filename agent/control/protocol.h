// SPDX-License-Identifier: Apache-2.0
// The control socket's wire format (docs/control.md): one JSON object per line each way.
// Requests are parsed strictly (unknown commands, fields or types are errors) because the socket
// is a way into a root process next to the kernel's security boundary.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "policy/result.h"

namespace modgate::control {

inline constexpr const char* kDefaultSocket = "/run/modgate/modgate.sock";
// A policy is at most 16 MiB; JSON escaping can at worst multiply it by six.
inline constexpr std::size_t kMaxRequestBytes = 100u << 20;

struct Request {
  enum class Cmd { kStatus, kApply, kDisarm } cmd = Cmd::kStatus;
  // apply only
  std::string file;  // the name errors are reported against (FILE:LINE:COL)
  std::string content;
  bool force = false;
};

Result<Request> parse_request(std::string_view line);
std::string serialize_request(const Request& r);

// Client side: connects, sends one request, returns the response line. Errors say whether the
// agent is not running (so callers can fall back) or refused.
struct ClientError {
  bool not_running = false;
  std::string message;
};
struct Response {
  std::string line;
};
Result<Response> call(const std::string& socket_path, const Request& r, int timeout_s,
                      ClientError* err);

}  // namespace modgate::control
