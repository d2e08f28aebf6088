// The GoogleTest fixture of the end-to-end tests: the shared SMB 3.1.1 smbd,
// a credentials file for it, and a directory of the share private to the
// test (t-SUITE-NAME), which the test mounts as //HOST:PORT/share/t-SUITE-NAME
// and checks against on the server's disk.
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/e2e_util.h"
#include "tests/integration/smbd_fixture.h"

// `expr` fails with -1 and errno `e`.
#define EXPECT_ERRNO(expr, e)                                                                         \
  do {                                                                                                \
    errno = 0;                                                                                        \
    const long smbgate_rc_ = static_cast<long>(expr);                                                 \
    const int smbgate_errno_ = errno;                                                                 \
    EXPECT_EQ(smbgate_rc_, -1) << #expr;                                                              \
    EXPECT_EQ(smbgate_errno_, (e)) << #expr << ": got " << std::strerror(smbgate_errno_) << ", want " \
                                   << std::strerror(e);                                               \
  } while (0)

// `expr` succeeds (returns >= 0); the message names errno otherwise.
#define ASSERT_SYS(expr) ASSERT_GE(static_cast<long>(expr), 0) << #expr << ": " << std::strerror(errno)
#define EXPECT_SYS(expr) EXPECT_GE(static_cast<long>(expr), 0) << #expr << ": " << std::strerror(errno)

namespace smbgate::test::e2e {

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMBGATE_REQUIRE_SMBD();
    std::string err;
    server_ = SharedSmbdServer(ServerDialect(), &err);
    ASSERT_NE(server_, nullptr) << err;
    creds_ = server_->CredentialsFile(&err).string();
    ASSERT_FALSE(creds_.empty()) << err;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    name_ = std::string("t-") + info->test_suite_name() + "-" + info->name();
    for (char& c : name_) {
      if (c == '/') c = '_';
    }
    std::error_code ec;
    std::filesystem::remove_all(server_dir(), ec);
    ASSERT_TRUE(std::filesystem::create_directory(server_dir(), ec)) << ec.message();
  }

  void TearDown() override {
    if (server_ == nullptr || name_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(server_dir(), ec);
  }

  virtual Dialect ServerDialect() const { return Dialect::kSmb3_11; }

  // The test's directory on the server's disk, and a path in it.
  std::filesystem::path server_dir() const { return server_->share_dir() / name_; }
  std::string S(const std::string& rel) const { return (server_dir() / rel).string(); }

  MountParams Params(std::vector<std::string> options = {}) const {
    MountParams p;
    p.target = server_->Target() + "/" + name_;
    p.credentials = creds_;
    p.options = std::move(options);
    return p;
  }

  // Mounts the test's directory; null (and a recorded failure) on error.
  std::unique_ptr<Mount> MountTestDir(std::vector<std::string> options = {}) {
    return StartMount(Params(std::move(options)));
  }
  std::unique_ptr<Mount> StartMount(const MountParams& p) {
    std::string err;
    auto m = Mount::Start(p, &err);
    if (!m) ADD_FAILURE() << "mount " << p.target << " failed: " << err;
    return m;
  }

  // SIGTERM; expects exit status 0 and the mount gone.
  void StopClean(Mount& m) {
    const std::string mp = m.path();
    const int rc = m.Stop();
    EXPECT_EQ(rc, 0) << "smbgate did not exit cleanly; log:\n" << m.Log();
    EXPECT_FALSE(IsMountPoint(mp)) << "the mount is still there after the daemon exited";
  }

  SmbdServer* server_ = nullptr;
  std::string creds_;
  std::string name_;
};

}  // namespace smbgate::test::e2e

namespace smbgate::test::e2e {

// Compares file contents without printing megabytes on a mismatch: sizes
// and the first differing offset with a little context.
inline ::testing::AssertionResult SameBytes(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  std::size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  auto show = [i](const std::string& s) {
    std::string out;
    for (std::size_t k = i; k < s.size() && k < i + 16; ++k) {
      char b[8];
      std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(s[k]));
      out += b;
    }
    return out.empty() ? std::string("(end)") : out;
  };
  return ::testing::AssertionFailure() << "got " << got.size() << " bytes, want " << want.size()
                                       << "; first difference at offset " << i << ": got " << show(got) << ", want "
                                       << show(want);
}

}  // namespace smbgate::test::e2e
