#include "fuse/inode_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace smbgate::fuse {
namespace {

TEST(InodeTableTest, LookupGivesStableIdsAndPaths) {
  InodeTable t;
  EXPECT_EQ(t.Path(InodeTable::kRoot), "");
  const auto a = t.Lookup(InodeTable::kRoot, "a");
  const auto b = t.Lookup(a, "b");
  EXPECT_NE(a, b);
  EXPECT_EQ(t.Lookup(InodeTable::kRoot, "a"), a);  // same node, count 2
  EXPECT_EQ(t.Path(b), "a/b");
  EXPECT_EQ(t.ChildPath(b, "c"), "a/b/c");
  EXPECT_EQ(t.Lookup(12345, "x"), 0u);  // unknown parent
}

TEST(InodeTableTest, ForgetFreesAtZero) {
  InodeTable t;
  const auto a = t.Lookup(InodeTable::kRoot, "a");
  t.Lookup(InodeTable::kRoot, "a");
  EXPECT_EQ(t.size(), 2u);
  t.Forget(a, 1);
  EXPECT_TRUE(t.Path(a));
  t.Forget(a, 1);
  EXPECT_FALSE(t.Path(a));
  EXPECT_EQ(t.size(), 1u);
  // A new lookup gets a new id, never a reused one.
  EXPECT_NE(t.Lookup(InodeTable::kRoot, "a"), a);
  t.Forget(InodeTable::kRoot, 100);  // the root is never freed
  EXPECT_EQ(t.Path(InodeTable::kRoot), "");
}

TEST(InodeTableTest, RenameMovesSubtreeAndDetachesTarget) {
  InodeTable t;
  const auto d = t.Lookup(InodeTable::kRoot, "d");
  const auto f = t.Lookup(d, "f");
  const auto e = t.Lookup(InodeTable::kRoot, "e");
  const auto victim = t.Lookup(e, "d2");
  t.Rename(InodeTable::kRoot, "d", e, "d2");
  EXPECT_EQ(t.Path(d), "e/d2");
  EXPECT_EQ(t.Path(f), "e/d2/f");
  EXPECT_FALSE(t.Path(victim));  // replaced: still known, no path
  EXPECT_EQ(t.Lookup(e, "d2"), d);
}

TEST(InodeTableTest, RemoveDetachesButKeepsTheNode) {
  InodeTable t;
  const auto f = t.Lookup(InodeTable::kRoot, "f");
  t.Remove(InodeTable::kRoot, "f");
  EXPECT_FALSE(t.Path(f));
  EXPECT_EQ(t.size(), 2u);
  const auto g = t.Lookup(InodeTable::kRoot, "f");  // a new file of that name
  EXPECT_NE(f, g);
  t.Forget(f, 1);
  EXPECT_EQ(t.Path(g), "f");
}

TEST(InodeTableTest, AttributeCacheExpires) {
  InodeTable t;
  const auto f = t.Lookup(InodeTable::kRoot, "f");
  smb2::FileAttributes a;
  a.end_of_file = 42;
  t.SetAttributes(f, a, InodeTable::Clock::now() + std::chrono::hours(1));
  ASSERT_TRUE(t.CachedAttributes(f));
  EXPECT_EQ(t.CachedAttributes(f)->end_of_file, 42u);
  t.InvalidateAttributes(f);
  EXPECT_FALSE(t.CachedAttributes(f));
  t.SetAttributes(f, a, InodeTable::Clock::now() - std::chrono::seconds(1));
  EXPECT_FALSE(t.CachedAttributes(f));
}

TEST(InodeTableTest, DosAttributesOutliveOwnWritesNotOtherChanges) {
  InodeTable t;
  const auto f = t.Lookup(InodeTable::kRoot, "f");
  smb2::FileAttributes a;
  a.file_attributes = smb2::kAttributeReadonly;
  t.SetAttributes(f, a, InodeTable::Clock::now() + std::chrono::hours(1), true);
  ASSERT_TRUE(t.Fresh(f));
  EXPECT_TRUE(t.Fresh(f)->symlink);
  t.InvalidateAttributes(f, true);  // a write of this mount
  EXPECT_FALSE(t.Fresh(f));
  ASSERT_TRUE(t.DosAttributes(f));
  EXPECT_EQ(*t.DosAttributes(f), smb2::kAttributeReadonly);
  t.InvalidateAttributes(f);  // a lease break, a failed setattr
  EXPECT_FALSE(t.DosAttributes(f));
  t.SetAttributes(f, a, InodeTable::Clock::now() - std::chrono::seconds(1));
  EXPECT_FALSE(t.DosAttributes(f));
}

TEST(InodeTableTest, ModifiedMovesTimesForwardOnly) {
  InodeTable t;
  const auto d = t.Lookup(InodeTable::kRoot, "d");
  smb2::FileAttributes a;
  a.last_write_time = 100;
  a.change_time = 300;
  t.SetAttributes(d, a, InodeTable::Clock::now() + std::chrono::hours(1));
  t.Modified(d, 200);
  EXPECT_EQ(t.Fresh(d)->attrs.last_write_time, 200u);
  EXPECT_EQ(t.Fresh(d)->attrs.change_time, 300u);
  ASSERT_TRUE(t.Parent(d));
  EXPECT_EQ(t.Parent(d)->first, InodeTable::kRoot);
  EXPECT_EQ(t.Parent(d)->second, "d");
  EXPECT_FALSE(t.Parent(InodeTable::kRoot));
}

TEST(InodeTableTest, OwnedAttributesFollowThisMountsWritesAndOutliveListings) {
  InodeTable t;
  t.SetOwnedTimeout(std::chrono::seconds(5));
  const auto f = t.Lookup(InodeTable::kRoot, "f");
  smb2::FileAttributes a;
  a.end_of_file = 10;
  a.last_write_time = 100;
  a.change_time = 100;
  a.file_attributes = smb2::kAttributeReadonly;
  t.Own(f, a, t.WriteCount(f));
  ASSERT_TRUE(t.Owned(f));
  t.Wrote(f, 5000, 200);  // grows the file
  t.Wrote(f, 20, 150);    // inside it: the size stays, times never go back
  auto c = t.Fresh(f);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->owned);
  EXPECT_EQ(c->attrs.end_of_file, 5000u);
  EXPECT_EQ(c->attrs.allocation_size, 8192u);
  EXPECT_EQ(c->attrs.last_write_time, 200u);
  EXPECT_EQ(c->attrs.change_time, 200u);
  // Given to the kernel for the owned timeout at most.
  EXPECT_LE(c->expiry, InodeTable::Clock::now() + std::chrono::seconds(5));
  // A listing or a query answered before the writes landed changes nothing.
  smb2::FileAttributes listed = a;
  t.SetAttributes(f, listed, InodeTable::Clock::now() + std::chrono::hours(1));
  EXPECT_EQ(t.Fresh(f)->attrs.end_of_file, 5000u);
  // The lease goes: nothing cached, the DOS attributes kept.
  t.Disown(f, true);
  EXPECT_FALSE(t.Owned(f));
  EXPECT_FALSE(t.Fresh(f));
  EXPECT_EQ(t.DosAttributes(f), smb2::kAttributeReadonly);
}

TEST(InodeTableTest, AnswerOlderThanAWriteIsNotOwned) {
  InodeTable t;
  const auto f = t.Lookup(InodeTable::kRoot, "f");
  smb2::FileAttributes a;
  a.end_of_file = 10;
  t.SetAttributes(f, a, InodeTable::Clock::now() + std::chrono::hours(1));
  const std::uint64_t asked = t.WriteCount(f);
  t.Writing(f);  // while the query was on its way
  EXPECT_FALSE(t.Fresh(f)) << "a write drops attributes that are not owned";
  t.Own(f, a, asked);
  EXPECT_FALSE(t.Owned(f));
  EXPECT_FALSE(t.Fresh(f));
  // Asked again after the write: owned.
  a.end_of_file = 50;
  t.Own(f, a, t.WriteCount(f));
  EXPECT_TRUE(t.Owned(f));
  // A change this mount cannot follow (a server-side copy) ends it and
  // moves the count, so an answer asked before it is not owned either.
  const std::uint64_t before_copy = t.WriteCount(f);
  t.Changed(f);
  EXPECT_FALSE(t.Owned(f));
  t.Own(f, a, before_copy);
  EXPECT_FALSE(t.Owned(f));
}

TEST(InodeTableTest, TimeSetExplicitlyHoldsAgainstWritesUntilClosed) {
  InodeTable t;
  const auto f = t.Lookup(InodeTable::kRoot, "f");
  smb2::FileAttributes a;
  a.last_write_time = 1000;
  t.Own(f, a, t.WriteCount(f), true);  // futimens
  t.Wrote(f, 10, 5000);
  EXPECT_EQ(t.Fresh(f)->attrs.last_write_time, 1000u);
  EXPECT_EQ(t.Fresh(f)->attrs.change_time, 5000u);
  EXPECT_EQ(t.Fresh(f)->attrs.end_of_file, 10u);
  // Owned again (a later query) before the close: still held.
  a = t.Fresh(f)->attrs;
  t.Own(f, a, t.WriteCount(f));
  t.Wrote(f, 20, 6000);
  EXPECT_EQ(t.Fresh(f)->attrs.last_write_time, 1000u);
  // Every handle closed: writes of a new open move the time again.
  t.Closed(f);
  EXPECT_FALSE(t.Owned(f));
  t.Own(f, a, t.WriteCount(f));
  t.Wrote(f, 30, 7000);
  EXPECT_EQ(t.Fresh(f)->attrs.last_write_time, 7000u);
}

TEST(InodeTableTest, ManyNamesFindTheirNodesThroughRemovesAndRenames) {
  InodeTable t;
  const auto d = t.Lookup(InodeTable::kRoot, "d");
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 20000; ++i) ids.push_back(t.Lookup(d, "file-" + std::to_string(i) + ".dat"));
  // Names longer than a node holds inline, and one in another directory.
  const std::string long_name(200, 'x');
  const auto lng = t.Lookup(d, long_name);
  const auto other = t.Lookup(InodeTable::kRoot, "file-7.dat");
  EXPECT_EQ(t.Path(lng), "d/" + long_name);
  EXPECT_NE(other, ids[7]);
  for (int i = 0; i < 20000; i += 2) t.Remove(d, "file-" + std::to_string(i) + ".dat");
  for (int i = 1; i < 20000; i += 4) {
    t.Rename(d, "file-" + std::to_string(i) + ".dat", InodeTable::kRoot, "moved-" + std::to_string(i));
  }
  for (int i = 0; i < 20000; ++i) {
    const std::string n = "file-" + std::to_string(i) + ".dat";
    if (i % 2 == 0) {
      EXPECT_EQ(t.Child(d, n), 0u) << n;
      EXPECT_FALSE(t.Path(ids[i])) << "removed: no path";
    } else if (i % 4 == 1) {
      EXPECT_EQ(t.Child(d, n), 0u) << n;
      EXPECT_EQ(t.Child(InodeTable::kRoot, "moved-" + std::to_string(i)), ids[i]);
      EXPECT_EQ(t.Path(ids[i]), "moved-" + std::to_string(i));
    } else {
      EXPECT_EQ(t.Child(d, n), ids[i]) << n;
    }
  }
  EXPECT_EQ(t.Child(InodeTable::kRoot, "file-7.dat"), other);
  EXPECT_EQ(t.Child(d, long_name), lng);
  // Renamed onto itself: still there.
  t.Rename(d, long_name, d, long_name);
  EXPECT_EQ(t.Child(d, long_name), lng);
  EXPECT_EQ(t.Path(lng), "d/" + long_name);
}

TEST(InodeTableTest, ForgottenNodesGiveTheirMemoryBackAndIdsStayNew) {
  InodeTable t;
  const auto d = t.Lookup(InodeTable::kRoot, "big");
  std::set<std::uint64_t> seen;
  for (int round = 0; round < 2; ++round) {
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 10000; ++i) {
      const auto id = t.Lookup(d, "e" + std::to_string(i));
      EXPECT_TRUE(seen.insert(id).second) << "id " << id << " given twice";
      ids.push_back(id);
    }
    EXPECT_EQ(t.size(), 10002u);
    for (auto id : ids) t.Forget(id, 1);
    EXPECT_EQ(t.size(), 2u);
    for (auto id : ids) EXPECT_FALSE(t.Path(id));
  }
  EXPECT_EQ(t.Path(d), "big");
}

TEST(InodeTableTest, AttributesAreKeptForABoundedNumberOfNodesOwnedOnesAlways) {
  InodeTable t;
  const auto far = InodeTable::Clock::now() + std::chrono::hours(1);
  const auto owned = t.Lookup(InodeTable::kRoot, "owned");
  smb2::FileAttributes a;
  a.end_of_file = 7;
  t.Own(owned, a, t.WriteCount(owned));
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 100000; ++i) {
    ids.push_back(t.Lookup(InodeTable::kRoot, "n" + std::to_string(i)));
    t.SetAttributes(ids.back(), a, far);
  }
  std::size_t cached = 0;
  for (auto id : ids) cached += t.Fresh(id).has_value();
  EXPECT_LT(cached, 70000u);
  EXPECT_GT(cached, 50000u);
  EXPECT_TRUE(t.Fresh(ids.back())) << "the newest stay";
  ASSERT_TRUE(t.Fresh(owned));
  EXPECT_EQ(t.Fresh(owned)->attrs.end_of_file, 7u);
}

TEST(InodeTableTest, ATimeSetWhileNotOwnedStillHoldsOnceOwned) {
  InodeTable t;
  const auto f = t.Lookup(InodeTable::kRoot, "f");
  t.TimeSet(f);  // a futimens whose answer was not owned (a write raced it)
  smb2::FileAttributes a;
  a.last_write_time = 1000;
  const std::uint64_t asked = t.WriteCount(f);
  t.Own(f, a, asked);
  t.Wrote(f, 10, 5000);
  EXPECT_EQ(t.Fresh(f)->attrs.last_write_time, 1000u);
  // An answer asked for before that Own is older: not owned over it.
  a.last_write_time = 1;
  t.Own(f, a, asked);
  EXPECT_FALSE(t.Owned(f));
}

}  // namespace
}  // namespace smbgate::fuse
