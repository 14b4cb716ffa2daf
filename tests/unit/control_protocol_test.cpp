// SPDX-License-Identifier: Apache-2.0
// The control socket's request parser: strict, because it is a way into a root process.
#include <gtest/gtest.h>

#include <string>

#include "agent/control/protocol.h"

namespace modgate::control {
namespace {

TEST(ControlProtocol, ParsesEachCommand) {
  auto s = parse_request(R"({"cmd":"status"})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->cmd, Request::Cmd::kStatus);

  auto d = parse_request(R"({"cmd":"disarm"})");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->cmd, Request::Cmd::kDisarm);

  auto a = parse_request(
      R"({"cmd":"apply","file":"/etc/p.yaml","content":"version: 1\n","force":true})");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->cmd, Request::Cmd::kApply);
  EXPECT_EQ(a->file, "/etc/p.yaml");
  EXPECT_EQ(a->content, "version: 1\n");
  EXPECT_TRUE(a->force);
}

TEST(ControlProtocol, RoundTripsThroughSerialize) {
  Request r;
  r.cmd = Request::Cmd::kApply;
  r.file = "p.yaml";
  r.content = std::string("mode: enforce\n\"quoted\"\t\\", 22);
  std::string line = serialize_request(r);
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  auto back = parse_request(line);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->content, r.content);
  EXPECT_FALSE(back->force);
}

struct Bad {
  const char* line;
  const char* expect;
};

class ControlProtocolBad : public ::testing::TestWithParam<Bad> {};

TEST_P(ControlProtocolBad, RejectsWithAClearMessage) {
  auto r = parse_request(GetParam().line);
  ASSERT_FALSE(r.ok()) << GetParam().line;
  EXPECT_NE(r.error().message.find(GetParam().expect), std::string::npos)
      << "message: " << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ControlProtocolBad,
    ::testing::Values(Bad{"", "not JSON"}, Bad{"{", "not JSON"}, Bad{"\xff\xfe", "not JSON"},
                      Bad{"[1,2]", "not a JSON object"}, Bad{"{}", "no \"cmd\""},
                      Bad{R"({"cmd":7})", "no \"cmd\""},
                      Bad{R"({"cmd":"reboot"})", "unknown command \"reboot\""},
                      Bad{R"({"cmd":"status","x":1})", "unknown field \"x\""},
                      Bad{R"({"cmd":"apply","content":"v"})", "\"file\" must be"},
                      Bad{R"({"cmd":"apply","file":"","content":"v"})", "\"file\" must be"},
                      Bad{R"({"cmd":"apply","file":"f"})", "\"content\" must be"},
                      Bad{R"({"cmd":"apply","file":"f","content":1})", "\"content\" must be"},
                      Bad{R"({"cmd":"apply","file":"f","content":"","force":"yes"})",
                          "\"force\" must be"},
                      Bad{R"({"cmd":"disarm","force":true})", "unknown field \"force\""}));

TEST(ControlProtocol, DeepNestingIsRejectedNotCrashed) {
  std::string deep(100000, '[');
  auto r = parse_request(deep);
  EXPECT_FALSE(r.ok());
}

TEST(ControlProtocol, ClientReportsAnAbsentAgent) {
  ClientError err;
  Request r;
  auto resp = call(::testing::TempDir() + "/no-agent.sock", r, 1, &err);
  ASSERT_FALSE(resp.ok());
  EXPECT_TRUE(err.not_running);
  EXPECT_NE(resp.error().message.find("no modgate agent is running"), std::string::npos);
}

}  // namespace
}  // namespace modgate::control
