// SPDX-License-Identifier: Apache-2.0

#include "agent/control/protocol.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

namespace modgate::control {

using nlohmann::json;

Result<Request> parse_request(std::string_view line) {
  if (line.size() > kMaxRequestBytes) return Error{"request too large"};
  json j = json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded()) return Error{"malformed request: not JSON"};
  if (!j.is_object()) return Error{"malformed request: not a JSON object"};
  auto cmd = j.find("cmd");
  if (cmd == j.end() || !cmd->is_string()) return Error{"malformed request: no \"cmd\" string"};
  Request r;
  const std::string c = cmd->get<std::string>();
  std::vector<std::string_view> allowed;
  if (c == "status") {
    r.cmd = Request::Cmd::kStatus;
    allowed = {"cmd"};
  } else if (c == "disarm") {
    r.cmd = Request::Cmd::kDisarm;
    allowed = {"cmd"};
  } else if (c == "apply") {
    r.cmd = Request::Cmd::kApply;
    allowed = {"cmd", "file", "content", "force"};
    auto file = j.find("file"), content = j.find("content"), force = j.find("force");
    if (file == j.end() || !file->is_string() || file->get_ref<const std::string&>().empty())
      return Error{"malformed apply request: \"file\" must be a non-empty string"};
    if (content == j.end() || !content->is_string())
      return Error{"malformed apply request: \"content\" must be a string"};
    if (force != j.end() && !force->is_boolean())
      return Error{"malformed apply request: \"force\" must be true or false"};
    r.file = file->get<std::string>();
    r.content = content->get<std::string>();
    r.force = force != j.end() && force->get<bool>();
  } else {
    return Error{"unknown command \"" + c + "\" (status, apply, disarm)"};
  }
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (std::string_view a : allowed) ok |= key == a;
    if (!ok) return Error{"malformed " + c + " request: unknown field \"" + key + "\""};
  }
  return r;
}

std::string serialize_request(const Request& r) {
  json j;
  switch (r.cmd) {
    case Request::Cmd::kStatus:
      j["cmd"] = "status";
      break;
    case Request::Cmd::kDisarm:
      j["cmd"] = "disarm";
      break;
    case Request::Cmd::kApply:
      j["cmd"] = "apply";
      j["file"] = r.file;
      j["content"] = r.content;
      j["force"] = r.force;
      break;
  }
  // Policy bytes that are not UTF-8 are sent with replacement characters; the agent then reports
  // the file as invalid instead of the client failing to encode it.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<Response> call(const std::string& socket_path, const Request& r, int timeout_s,
                      ClientError* err) {
  auto fail = [&](bool not_running, std::string msg) -> Result<Response> {
    if (err) *err = {not_running, msg};
    return Error{std::move(msg)};
  };
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(false, std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    ::close(fd);
    return fail(false, "socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    ::close(fd);
    bool absent = e == ENOENT || e == ECONNREFUSED;
    return fail(absent, absent
                            ? "no modgate agent is running (nothing listens on " + socket_path + ")"
                            : "cannot connect to " + socket_path + ": " + std::strerror(e));
  }
  const std::string req = serialize_request(r);
  for (size_t off = 0; off < req.size();) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return fail(false, std::string("sending the request failed: ") + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return fail(false, e == EAGAIN
                             ? "the agent did not answer within " + std::to_string(timeout_s) + " s"
                             : std::string("reading the answer failed: ") + std::strerror(e));
    }
    if (n == 0) break;
    resp.append(buf, static_cast<size_t>(n));
    if (resp.find('\n') != std::string::npos) break;
  }
  ::close(fd);
  if (resp.empty()) return fail(false, "the agent closed the connection without answering");
  resp.erase(resp.find('\n') == std::string::npos ? resp.size() : resp.find('\n'));
  return Response{resp};
}

}  // namespace modgate::control
