// SPDX-License-Identifier: Apache-2.0
// agent/util/atomic_file.h: what root can plant at PATH.tmp must neither wedge nor redirect the
// agent's writes (docs/threat-model.md), and a command's -o to a device writes into it.
#include "agent/util/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace modgate {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/modgate-atomic-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // A blocked open would hang the test run; the alarm turns it into a failure.
    ::alarm(10);
  }
  void TearDown() override {
    ::alarm(0);
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(AtomicFile, AFifoAtTheTemporaryNameDoesNotBlockTheWrite) {
  const fs::path target = dir_ / "state";
  ASSERT_EQ(::mkfifo((target.string() + ".tmp").c_str(), 0600), 0);
  auto r = write_atomically(target.string(), "mark 7\n", 0600);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(slurp(target), "mark 7\n");
  EXPECT_FALSE(fs::exists(fs::symlink_status(target.string() + ".tmp")));
}

TEST_F(AtomicFile, ASymlinkAtTheTemporaryNameIsNotFollowed) {
  const fs::path target = dir_ / "state";
  const fs::path elsewhere = dir_ / "elsewhere";
  std::ofstream(elsewhere) << "untouched";
  fs::create_symlink(elsewhere, target.string() + ".tmp");
  auto r = write_atomically(target.string(), "new\n", 0600);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(slurp(target), "new\n");
  EXPECT_EQ(slurp(elsewhere), "untouched");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(target)));
}

TEST_F(AtomicFile, ADirectoryAtTheTemporaryNameIsAnErrorNotAHang) {
  const fs::path target = dir_ / "state";
  fs::create_directory(target.string() + ".tmp");
  auto r = write_atomically(target.string(), "x", 0600);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("state.tmp"), std::string::npos) << r.error().message;
}

TEST_F(AtomicFile, TheModeIsTheOneAskedForWhateverTheUmask) {
  const fs::path target = dir_ / "policy";
  mode_t old = ::umask(077);
  auto r = write_atomically(target.string(), "x", 0644);
  ::umask(old);
  ASSERT_TRUE(r.ok());
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(AtomicFile, OutputToAFifoIsWrittenIntoIt) {
  const fs::path fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  pid_t reader = ::fork();
  ASSERT_GE(reader, 0);
  if (reader == 0) {
    std::string got = slurp(fifo);
    ::_exit(got == "policy text\n" ? 0 : 1);
  }
  auto r = write_output_file(fifo.string(), "policy text\n", 0644);
  ASSERT_TRUE(r.ok()) << r.error().message;
  int status = 0;
  ASSERT_EQ(::waitpid(reader, &status, 0), reader);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the reader got other bytes";
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
}

}  // namespace
}  // namespace modgate
