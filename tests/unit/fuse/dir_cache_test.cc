#include "fuse/dir_cache.h"

#include <gtest/gtest.h>

namespace smbgate::fuse {
namespace {

using namespace std::chrono_literals;
using Answer = DirCache::Answer;

smb2::DirectoryEntry Entry(std::string name, std::uint64_t size) {
  smb2::DirectoryEntry e;
  e.name = std::move(name);
  e.attrs.end_of_file = size;
  return e;
}

class DirCacheTest : public ::testing::Test {
 protected:
  DirCache::Clock::time_point now = DirCache::Clock::now();
  DirCache::Clock::time_point later = now + 1h;
};

TEST_F(DirCacheTest, ListedNamesArePresentOthersAbsentUntilExpiry) {
  DirCache c;
  c.Fill(7, c.Generation(7), {Entry(".", 0), Entry("..", 0), Entry("a.txt", 3), Entry("Sub", 0)}, later);
  EXPECT_EQ(c.entries(), 2u);  // "." and ".." are not entries
  auto a = c.Find(7, "a.txt", now);
  ASSERT_EQ(a.answer, Answer::kPresent);
  ASSERT_TRUE(a.attrs);
  EXPECT_EQ(a.attrs->end_of_file, 3u);
  EXPECT_EQ(a.expiry, later);
  EXPECT_EQ(c.Find(7, "b.txt", now).answer, Answer::kAbsent);
  EXPECT_EQ(c.Find(7, "b.txt", now).expiry, later);
  // Another directory, and the same one after expiry: nothing known.
  EXPECT_EQ(c.Find(8, "a.txt", now).answer, Answer::kUnknown);
  EXPECT_EQ(c.Find(7, "a.txt", later).answer, Answer::kUnknown);
  EXPECT_EQ(c.Find(7, "b.txt", later + 1s).answer, Answer::kUnknown);
  // An expired listing is still there for HadSmallListing; a fresh one
  // answers by itself.
  EXPECT_FALSE(c.HadSmallListing(7, 2, now));
  EXPECT_TRUE(c.HadSmallListing(7, 2, later));
  EXPECT_FALSE(c.HadSmallListing(7, 1, later));
  EXPECT_FALSE(c.HadSmallListing(8, 100, later));
}

TEST_F(DirCacheTest, CaseAndNonAsciiNamesAreLeftToTheServer) {
  DirCache c;
  c.Fill(1, c.Generation(1), {Entry("Readme.md", 1), Entry("caf\xc3\xa9", 2)}, later);
  // Another case of a listed name: the server would open it.
  EXPECT_EQ(c.Find(1, "README.MD", now).answer, Answer::kUnknown);
  EXPECT_EQ(c.Find(1, "readme.md", now).answer, Answer::kUnknown);
  EXPECT_EQ(c.Find(1, "Readme.md", now).answer, Answer::kPresent);
  // Exact non-ASCII match: present; an unlisted non-ASCII name may fold to a
  // listed one on the server: unknown, never absent.
  EXPECT_EQ(c.Find(1, "caf\xc3\xa9", now).answer, Answer::kPresent);
  EXPECT_EQ(c.Find(1, "CAF\xc3\x89", now).answer, Answer::kUnknown);
  EXPECT_EQ(c.Find(1, "new", now).answer, Answer::kAbsent);
}

TEST_F(DirCacheTest, OwnChangesApplyAtOnce) {
  DirCache c;
  c.Fill(1, c.Generation(1), {Entry("old", 1)}, later);
  smb2::FileAttributes attrs;
  attrs.end_of_file = 9;
  c.Added(1, "new", attrs);
  EXPECT_EQ(c.Find(1, "new", now).answer, Answer::kPresent);
  EXPECT_EQ(c.Find(1, "new", now).attrs->end_of_file, 9u);
  c.Added(1, "noattrs", std::nullopt);
  auto n = c.Find(1, "noattrs", now);
  EXPECT_EQ(n.answer, Answer::kPresent);
  EXPECT_FALSE(n.attrs);
  c.Touched(1, "new");
  EXPECT_EQ(c.Find(1, "new", now).answer, Answer::kPresent);
  EXPECT_FALSE(c.Find(1, "new", now).attrs);
  c.Removed(1, "OLD");  // the server's case-insensitive match
  EXPECT_EQ(c.Find(1, "old", now).answer, Answer::kAbsent);
  EXPECT_EQ(c.entries(), 2u);
  c.Forget(1);
  EXPECT_EQ(c.Find(1, "new", now).answer, Answer::kUnknown);
  EXPECT_EQ(c.entries(), 0u);
  // Changes to a directory without a listing create none.
  c.Added(2, "x", attrs);
  EXPECT_EQ(c.Find(2, "x", now).answer, Answer::kUnknown);
}

TEST_F(DirCacheTest, AListingFetchedAcrossAnOwnChangeIsNotKept) {
  DirCache c;
  const auto g = c.Generation(3);
  c.Added(3, "made-meanwhile", std::nullopt);  // the listing may miss it
  c.Fill(3, g, {Entry("other", 1)}, later);
  EXPECT_EQ(c.Find(3, "made-meanwhile", now).answer, Answer::kUnknown);
  // A listing started after the change is kept.
  c.Fill(3, c.Generation(3), {Entry("other", 1), Entry("made-meanwhile", 1)}, later);
  EXPECT_EQ(c.Find(3, "made-meanwhile", now).answer, Answer::kPresent);
}

TEST_F(DirCacheTest, GenerationsSurviveTheirOwnTrimming) {
  DirCache c;
  const auto g = c.Generation(5);
  c.Removed(5, "x");
  // Many other directories change: old counters are dropped along the way.
  for (std::uint64_t d = 100; d < 100 + 20000; ++d) c.Added(d, "y", std::nullopt);
  c.Fill(5, g, {Entry("x", 1)}, later);
  EXPECT_EQ(c.Find(5, "x", now).answer, Answer::kUnknown);
}

TEST_F(DirCacheTest, StaysWithinItsEntryBudget) {
  DirCache c(10);
  std::vector<smb2::DirectoryEntry> six;
  for (int i = 0; i < 6; ++i) six.push_back(Entry("f" + std::to_string(i), 1));
  c.Fill(1, c.Generation(1), six, later);
  c.Fill(2, c.Generation(2), six, later);  // 12 > 10: the oldest goes
  EXPECT_EQ(c.entries(), 6u);
  EXPECT_EQ(c.Find(1, "f0", now).answer, Answer::kUnknown);
  EXPECT_EQ(c.Find(2, "f0", now).answer, Answer::kPresent);
  std::vector<smb2::DirectoryEntry> big;
  for (int i = 0; i < 11; ++i) big.push_back(Entry("g" + std::to_string(i), 1));
  c.Fill(3, c.Generation(3), big, later);  // larger than the budget: not kept
  EXPECT_EQ(c.Find(3, "g0", now).answer, Answer::kUnknown);
  for (int i = 0; i < 5; ++i) c.Added(2, "h" + std::to_string(i), std::nullopt);
  EXPECT_LE(c.entries(), 10u);
}

}  // namespace
}  // namespace smbgate::fuse
