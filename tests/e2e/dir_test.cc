// A directory of 10,000 entries through the mount: listed completely (every
// name once, none extra) and every entry stat'ed, checked against the
// server's directory.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace smbgate::test::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class BigDir : public E2eTest {};

TEST_F(BigDir, TenThousandEntriesListedAndStated) {
  SetTestBudget(std::chrono::seconds(180));
  constexpr int kEntries = 10'000;
  constexpr int kThroughMount = 100;
  ASSERT_SYS(::mkdir(S("big").c_str(), 0755));
  // Most are made on the server side (fast); sizes vary so a stat shows
  // which file it saw. A few are directories.
  std::map<std::string, off_t> want;
  for (int i = 0; i < kEntries - kThroughMount; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "entry-%05d-%s", i, i % 3 ? "with a longer name to fill buffers" : "x");
    if (i % 500 == 0) {
      ASSERT_SYS(::mkdir(S(std::string("big/") + name).c_str(), 0755));
      want[name] = -1;
    } else {
      ASSERT_TRUE(WriteFile(S(std::string("big/") + name), std::string(static_cast<std::size_t>(i % 13), 'e')));
      want[name] = i % 13;
    }
  }
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  for (int i = 0; i < kThroughMount; ++i) {
    const std::string name = "mount-made-" + std::to_string(i);
    ASSERT_TRUE(WriteFile(*m / ("big/" + name), std::string(static_cast<std::size_t>(i % 7), 'm'))) << name;
    want[name] = i % 7;
  }
  ASSERT_EQ(want.size(), static_cast<std::size_t>(kEntries));

  // List it twice: right away, and after the entry cache expired.
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE("listing pass " + std::to_string(pass));
    if (pass == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    const auto t0 = Clock::now();
    DIR* d = ::opendir((*m / "big").c_str());
    ASSERT_NE(d, nullptr) << std::strerror(errno);
    std::map<std::string, int> seen;
    int dots = 0;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n == "." || n == "..") {
        ++dots;
        continue;
      }
      ++seen[n];
      const bool is_dir = want.count(n) && want[n] < 0;
      EXPECT_EQ(e->d_type, is_dir ? DT_DIR : DT_REG) << n;
    }
    EXPECT_EQ(errno, 0) << "readdir: " << std::strerror(errno);
    ::closedir(d);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_EQ(dots, 2);
    EXPECT_EQ(seen.size(), want.size());
    int dup = 0, missing = 0, extra = 0;
    for (const auto& [n, c] : seen) {
      if (c != 1) ++dup;
      if (!want.count(n)) ++extra;
    }
    for (const auto& [n, size] : want) {
      if (!seen.count(n)) ++missing;
    }
    EXPECT_EQ(dup, 0) << "names listed more than once";
    EXPECT_EQ(missing, 0) << "names not listed";
    EXPECT_EQ(extra, 0) << "names listed that do not exist";
    std::printf("[ e2e figures ] readdir of %d entries: %.2f s\n", kEntries, secs);
  }

  // stat(2) of each through the mount (lookups: the entry cache expired).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto t0 = Clock::now();
  const int dfd = ::open((*m / "big").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_SYS(dfd);
  int bad = 0;
  for (const auto& [n, size] : want) {
    struct stat st;
    if (::fstatat(dfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (++bad < 5) ADD_FAILURE() << "stat " << n << ": " << std::strerror(errno);
      continue;
    }
    const bool ok = size < 0 ? S_ISDIR(st.st_mode) : (S_ISREG(st.st_mode) && st.st_size == size);
    if (!ok && ++bad < 5)
      ADD_FAILURE() << n << ": mode " << std::oct << st.st_mode << std::dec << " size " << st.st_size;
  }
  ::close(dfd);
  EXPECT_EQ(bad, 0);
  std::printf("[ e2e figures ] stat of %d entries: %.2f s\n", kEntries,
              std::chrono::duration<double>(Clock::now() - t0).count());

  // Removing through the mount removes on the server (a sample: 10,000
  // removals would take most of the binary's time budget).
  int removed = 0;
  for (auto it = want.begin(); it != want.end() && removed < 300; std::advance(it, 1), ++removed) {
    const std::string p = *m / ("big/" + it->first);
    EXPECT_SYS(it->second < 0 ? ::rmdir(p.c_str()) : ::unlink(p.c_str())) << it->first;
    EXPECT_FALSE(fs::exists(S("big/" + it->first))) << it->first;
  }
  std::size_t left = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(S("big"))) ++left;
  EXPECT_EQ(left, want.size() - 300);
  StopClean(*m);
}

// A directory read only partly keeps its listing open on the server (the
// pages still to come). Renaming the directory above it still works (a
// server refuses to rename a directory with opens below it: the listing
// gives its handle back first), and reading on lists every name once, from
// the directory's new path.
TEST_F(BigDir, AHalfReadListingLetsItsParentBeRenamed) {
  SetTestBudget(std::chrono::seconds(120));
  // Names of 200 bytes: about 2,000 to a 1 MiB round, so 6,000 take more
  // than the first page (two rounds).
  constexpr int kEntries = 6000;
  ASSERT_SYS(::mkdir(S("outer").c_str(), 0755));
  ASSERT_SYS(::mkdir(S("outer/inner").c_str(), 0755));
  std::set<std::string> want;
  for (int i = 0; i < kEntries; ++i) {
    char number[16];
    std::snprintf(number, sizeof number, "%05d-", i);
    const std::string name = number + std::string(194, 'n');
    ASSERT_TRUE(WriteFile(S("outer/inner/" + name), ""));
    want.insert(name);
  }
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  DIR* d = ::opendir((*m / "outer/inner").c_str());
  ASSERT_NE(d, nullptr) << std::strerror(errno);
  std::map<std::string, int> seen;
  for (int i = 0; i < 50; ++i) {
    dirent* e = ::readdir(d);
    ASSERT_NE(e, nullptr);
    ++seen[e->d_name];
  }
  ASSERT_SYS(::rename((*m / "outer").c_str(), (*m / "moved").c_str()));
  EXPECT_TRUE(fs::exists(S("moved/inner")));
  errno = 0;
  while (dirent* e = ::readdir(d)) ++seen[e->d_name];
  EXPECT_EQ(errno, 0) << "readdir: " << std::strerror(errno);
  ::closedir(d);
  seen.erase(".");
  seen.erase("..");
  int twice = 0, extra = 0;
  for (const auto& [n, c] : seen) {
    twice += c != 1;
    extra += !want.count(n);
  }
  EXPECT_EQ(seen.size(), want.size());
  EXPECT_EQ(twice, 0) << "names listed more than once";
  EXPECT_EQ(extra, 0) << "names listed that do not exist";
  StopClean(*m);
}

}  // namespace
}  // namespace smbgate::test::e2e
