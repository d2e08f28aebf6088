// Coherence between clients of one share: two smbgate mounts (two daemons,
// two SMB sessions) and smbclient change each other's files. With a lease
// (SMB 3.x), a change by another client breaks it and is seen at once, even
// through a descriptor opened before it and with a long attribute timeout;
// without one, within actimeo. cache=loose (the kernel's writeback cache)
// keeps the kernel's own file sizes and times for files it knows, by
// design: there another client's change is seen when it keeps the size.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace smbgate::test::e2e {
namespace {

using namespace std::chrono_literals;

class Coherence : public E2eTest, public ::testing::WithParamInterface<std::string> {
 protected:
  // Both mounts keep attributes and entries for 60 s: only a lease break can
  // make a change visible within the test's few seconds.
  std::vector<std::string> Options() const { return {"cache=" + GetParam(), "actimeo=60"}; }
  bool loose() const { return GetParam() == "loose"; }

  // pread of the whole file through `fd` until it reads `want` (bounded).
  static std::string ReadUntil(int fd, const std::string& want, std::chrono::milliseconds limit) {
    std::string got;
    const auto end = std::chrono::steady_clock::now() + limit;
    do {
      char buf[256];
      const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
      got = n < 0 ? std::string("(error)") : std::string(buf, static_cast<std::size_t>(n));
      if (got == want) break;
      std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < end);
    return got;
  }
};

TEST_P(Coherence, AnotherMountsWriteIsSeenAtOnceThroughAnOpenDescriptor) {
  auto a = MountTestDir(Options());
  auto b = MountTestDir(Options());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WriteFile(*a / "f", "one"));

  // A reads it (its page cache now holds the file) and keeps it open.
  const int fd = ::open((*a / "f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_SYS(fd);
  EXPECT_EQ(ReadUntil(fd, "one", 0ms), "one");
  struct stat st;
  ASSERT_SYS(::fstat(fd, &st));
  EXPECT_EQ(st.st_size, 3);

  // B rewrites it (longer, but for cache=loose): the server breaks A's
  // lease on the write.
  const std::string two = loose() ? "two" : "two-two";
  ASSERT_TRUE(WriteFile(*b / "f", two));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadUntil(fd, two, 5s), two) << "A still reads its old copy";
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_SYS(::fstat(fd, &st));
  EXPECT_EQ(st.st_size, static_cast<off_t>(two.size()));
  ASSERT_SYS(::stat((*a / "f").c_str(), &st));
  EXPECT_EQ(st.st_size, static_cast<off_t>(two.size()));
  std::printf("[ e2e figures ] cache=%s: another mount's write seen after %.0f ms\n", GetParam().c_str(), ms);
  EXPECT_SYS(::close(fd));

  // And back: A writes, B (which read the file) sees it.
  EXPECT_TRUE(SameBytes(ReadFile(*b / "f"), two));
  const int fdb = ::open((*b / "f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_SYS(fdb);
  EXPECT_EQ(ReadUntil(fdb, two, 0ms), two);
  const std::string three = loose() ? "3-3" : "three";
  ASSERT_TRUE(WriteFile(*a / "f", three));
  EXPECT_EQ(ReadUntil(fdb, three, 5s), three);
  EXPECT_SYS(::close(fdb));
  StopClean(*a);
  StopClean(*b);
}

TEST_P(Coherence, SmbclientsPutIsSeenAtOnceThroughAnOpenDescriptor) {
  auto a = MountTestDir(Options());
  ASSERT_TRUE(a);
  ASSERT_TRUE(WriteFile(*a / "g", "before"));
  const int fd = ::open((*a / "g").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_SYS(fd);
  EXPECT_EQ(ReadUntil(fd, "before", 0ms), "before");

  TempDir local;
  const std::string after = loose() ? "AFTER!" : "after, longer";
  ASSERT_TRUE(WriteFile((local.path() / "g").string(), after));
  const ProcessResult r = RunProcess({"smbclient", "//127.0.0.1/" + server_->share(), "-p",
                                      std::to_string(server_->port()), "-A", creds_, "-m", "SMB3", "-s",
                                      server_->client_config_path().string(), "-c",
                                      "lcd " + local.path().string() + "; cd " + name_ + "; put g"},
                                     "", 60s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadUntil(fd, after, 5s), after);
  EXPECT_SYS(::close(fd));
  StopClean(*a);
}

// Without a lease (nothing open), a change on the server shows once the
// attributes are older than actimeo: 1 s here. (Not with cache=loose for a
// file the kernel knows, see above; a new name shows there too.)
TEST_P(Coherence, WithoutALeaseAChangeShowsWithinActimeo) {
  auto a = MountTestDir({"cache=" + GetParam(), "actimeo=1"});
  ASSERT_TRUE(a);
  ASSERT_SYS(::access(a->path().c_str(), F_OK));
  if (loose()) {
    // Looked up (absent), then made on the server: shows within actimeo.
    EXPECT_NE(::access((*a / "new").c_str(), F_OK), 0);
    ASSERT_TRUE(WriteFile(S("new"), "made there"));
    std::this_thread::sleep_for(1100ms);
    EXPECT_TRUE(SameBytes(ReadFile(*a / "new"), "made there"));
    StopClean(*a);
    return;
  }
  ASSERT_TRUE(WriteFile(*a / "h", "abc"));
  struct stat st;
  ASSERT_SYS(::stat((*a / "h").c_str(), &st));
  EXPECT_EQ(st.st_size, 3);
  ASSERT_TRUE(WriteFile(S("h"), "abcdefgh"));     // on the server's disk
  ASSERT_TRUE(WriteFile(S("new"), "made there"));  // a name A never looked up
  const auto t0 = std::chrono::steady_clock::now();
  bool seen = false;
  while (std::chrono::steady_clock::now() - t0 < 3s) {
    if (::stat((*a / "h").c_str(), &st) == 0 && st.st_size == 8) {
      seen = true;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(seen) << "size still " << st.st_size << " after " << s << " s";
  EXPECT_LE(s, 1.6);
  EXPECT_TRUE(SameBytes(ReadFile(*a / "h"), "abcdefgh"));
  EXPECT_TRUE(SameBytes(ReadFile(*a / "new"), "made there"));
  StopClean(*a);
}

INSTANTIATE_TEST_SUITE_P(Cache, Coherence, ::testing::Values("strict", "none", "loose"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace smbgate::test::e2e
