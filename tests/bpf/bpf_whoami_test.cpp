// SPDX-License-Identifier: Apache-2.0
// agent/bpf/whoami.h on the host kernel: the identity the agent records for tamper protection is
// the kernel's, also from inside a pid namespace, where getpid() answers 1.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/bpf/whoami.h"

namespace modgate {
namespace {

// Field 22 of /proc/self/stat: start time in clock ticks, as the kernel counts it outside a time
// namespace.
std::uint64_t proc_start_ticks() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream rest(line.substr(line.rfind(')') + 1));
  std::string field;
  for (int i = 3; i <= 22; i++) rest >> field;
  return std::stoull(field);
}

TEST(Whoami, ReportsThisProcessAsTheKernelCountsIt) {
  auto me = kernel_identity();
  ASSERT_TRUE(me) << me.error().message;
  const auto tick_ns = 1'000'000'000ull / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
  EXPECT_EQ(me->start_boottime_ns / tick_ns, proc_start_ticks());
  EXPECT_GT(me->tgid, 0u);
}

TEST(Whoami, InsideAPidNamespaceReportsTheGlobalTgidNotGetpid) {
  auto parent = kernel_identity();
  ASSERT_TRUE(parent) << parent.error().message;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  // A child forked after unshare(CLONE_NEWPID) is pid 1 of a new namespace, as a pod's agent is.
  pid_t child = -1;
  {
    // The namespace is the test's only: the parent keeps its own for its own later children.
    ASSERT_EQ(::unshare(CLONE_NEWPID), 0) << "unshare(CLONE_NEWPID) needs root";
    child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      struct {
        std::int32_t getpid;
        std::uint32_t tgid;
      } out{static_cast<std::int32_t>(::getpid()), 0};
      if (auto id = kernel_identity()) out.tgid = id->tgid;
      ssize_t n = ::write(fds[1], &out, sizeof(out));
      ::_exit(n == static_cast<ssize_t>(sizeof(out)) ? 0 : 1);
    }
  }
  struct {
    std::int32_t getpid;
    std::uint32_t tgid;
  } got{};
  ASSERT_EQ(::read(fds[0], &got, sizeof(got)), static_cast<ssize_t>(sizeof(got)));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(got.getpid, 1);
  EXPECT_NE(got.tgid, 0u) << "the child could not run the program";
  EXPECT_NE(got.tgid, 1u) << "whoami answered in the child's pid namespace";
  EXPECT_NE(got.tgid, parent->tgid);
  // Where this test itself runs in the initial pid namespace, fork's answer is the global pid.
  if (parent->tgid == static_cast<std::uint32_t>(::getpid())) {
    EXPECT_EQ(got.tgid, static_cast<std::uint32_t>(child));
  }
}

}  // namespace
}  // namespace modgate
