#include "src/credentials_watcher.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <fstream>
#include <thread>

namespace smbgate {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "smbgate-watch-XXXXXX").string();
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void Write(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::trunc) << s;
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
}

// The kubelet's Secret volume: ..<timestamp>/ with the keys, ..data ->
// that directory, and one symlink per key through ..data.
void WriteVersion(const fs::path& dir, const std::string& version, const std::string& password) {
  fs::create_directory(dir / version);
  Write(dir / version / "username", "alice");
  Write(dir / version / "password", password);
}

void Swap(const fs::path& dir, const std::string& version) {
  fs::create_symlink(version, dir / "..data_tmp");
  fs::rename(dir / "..data_tmp", dir / "..data");  // atomic, as the kubelet does
}

bool WaitFor(const std::atomic<int>& n, int want, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (n.load() < want && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
  return n.load() >= want;
}

TEST(CredentialsWatcherTest, SeesTheKubeletSwapOnce) {
  TempDir d;
  WriteVersion(d.path(), "..v1", "first");
  fs::create_symlink("..v1", d.path() / "..data");
  fs::create_symlink("..data/username", d.path() / "username");
  fs::create_symlink("..data/password", d.path() / "password");
  std::atomic<int> rotations{0};
  std::string user;
  // A long poll: only inotify can be this quick.
  CredentialsWatcher w(d.path().string(), 60s, [&](const std::string& u, const std::string&) {
    user = u;
    ++rotations;
  });
  std::string err;
  ASSERT_TRUE(w.Start(&err)) << err;
  EXPECT_TRUE(w.using_inotify());
  WriteVersion(d.path(), "..v2", "second");  // written, not yet live
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(rotations.load(), 0);
  Swap(d.path(), "..v2");
  fs::remove_all(d.path() / "..v1");
  ASSERT_TRUE(WaitFor(rotations, 1, 3s));
  EXPECT_EQ(user, "alice");
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(rotations.load(), 1);  // the clean-up is no second rotation
  w.Stop();
}

// A mount.cifs-style file holding `first`, watched with a short poll.
struct FileWatch {
  TempDir d;
  fs::path f = d.path() / "cred";
  std::atomic<int> rotations{0};
  std::unique_ptr<CredentialsWatcher> w;

  explicit FileWatch(const std::string& first) {
    Write(f, first);
    w = std::make_unique<CredentialsWatcher>(f.string(), 100ms,
                                             [this](const std::string&, const std::string&) { ++rotations; });
  }
};

TEST(CredentialsWatcherTest, SameContentIsNoRotation) {
  FileWatch fw("username=alice\npassword=same\n");
  std::string err;
  ASSERT_TRUE(fw.w->Start(&err)) << err;
  Write(fw.f, "username=alice\npassword=same\n");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(fw.rotations.load(), 0);
  Write(fw.f, "username=alice\npassword=changed\n");
  EXPECT_TRUE(WaitFor(fw.rotations, 1, 3s));
}

TEST(CredentialsWatcherTest, AHalfWrittenFileIsIgnoredUntilItLoads) {
  FileWatch fw("username=alice\npassword=one\n");
  std::string err;
  ASSERT_TRUE(fw.w->Start(&err)) << err;
  Write(fw.f, "username=alice\n");  // no password yet: does not load
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(fw.rotations.load(), 0);
  Write(fw.f, "username=alice\npassword=two\n");
  EXPECT_TRUE(WaitFor(fw.rotations, 1, 3s));
}

TEST(CredentialsWatcherTest, FileRewrittenInPlaceIsSeenOnce) {
  FileWatch fw("username=alice\npassword=one\n");
  std::string err;
  ASSERT_TRUE(fw.w->Start(&err)) << err;
  Write(fw.f, "username=alice\npassword=two\n");
  EXPECT_TRUE(WaitFor(fw.rotations, 1, 3s));
  // Already reported: checking again finds nothing new.
  EXPECT_FALSE(fw.w->CheckNow());
}

TEST(CredentialsWatcherTest, FingerprintSeparatesFields) {
  Credentials a{"ab", "c", SecretString("p")};
  Credentials b{"a", "bc", SecretString("p")};
  Credentials c{"ab", "c", SecretString("p")};
  EXPECT_NE(Fingerprint(a), Fingerprint(b));
  EXPECT_EQ(Fingerprint(a), Fingerprint(c));
}

TEST(CredentialsWatcherTest, StartFailsOnMissingPath) {
  CredentialsWatcher w("/nonexistent/smbgate/cred", 100ms, nullptr);
  std::string err;
  EXPECT_FALSE(w.Start(&err));
  EXPECT_FALSE(err.empty());
}

}  // namespace
}  // namespace smbgate
