// FileLocks: POSIX record-lock semantics per owner, and the SMB locks that
// hold them (never fewer than the owner's locks need).
#include "fuse/posix_locks.h"

#include <gtest/gtest.h>

namespace smbgate::fuse {
namespace {

constexpr std::uint64_t kA = 1;  // two processes (FUSE lock owners)
constexpr std::uint64_t kB = 2;

LockRange R(std::uint64_t s, std::uint64_t e) { return {s, e, false}; }
LockRange W(std::uint64_t s, std::uint64_t e) { return {s, e, true}; }

std::vector<LockRange> Ranges(const std::vector<HeldLock>& held) {
  std::vector<LockRange> out;
  for (const auto& h : held) out.push_back(h.range);
  return out;
}

// Every point of every held lock lies in a server lock strong enough.
bool Covered(const std::vector<HeldLock>& held, const std::vector<LockRange>& server) {
  for (const auto& h : held) {
    for (std::uint64_t p = h.range.start; p < h.range.end; ++p) {
      bool ok = false;
      for (const auto& s : server) ok |= s.start <= p && p < s.end && (s.exclusive || !h.range.exclusive);
      if (!ok) return false;
    }
  }
  return true;
}

// Runs one request the way the FUSE layer does, the server granting
// everything; returns the owner's SMB locks afterwards.
std::vector<LockRange> Lock(FileLocks& t, std::uint64_t owner, const LockRange& r, std::vector<LockRange> server) {
  const LockPlan p = FileLocks::PlanLock(r, server);
  for (const auto& x : p.release_first) std::erase(server, x);
  for (const auto& x : p.take) server.push_back(x);
  t.Apply(owner, static_cast<std::uint32_t>(owner * 100), r, false);
  for (const auto& x : t.Unneeded(owner, server)) std::erase(server, x);
  return server;
}

std::vector<LockRange> Unlock(FileLocks& t, std::uint64_t owner, const LockRange& r, std::vector<LockRange> server) {
  t.Apply(owner, 0, r, true);
  for (const auto& x : t.Unneeded(owner, server)) std::erase(server, x);
  return server;
}

TEST(FileLocksTest, OwnersConflictOnlyWhereOneIsExclusive) {
  FileLocks t;
  Lock(t, kA, R(0, 10), {});
  EXPECT_FALSE(t.Conflict(kB, R(5, 20)));
  auto c = t.Conflict(kB, W(5, 20));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->owner, kA);
  EXPECT_EQ(c->pid, 100u);  // F_GETLK can say who
  EXPECT_EQ(c->range, R(0, 10));
  EXPECT_FALSE(t.Conflict(kA, W(0, 10)));  // an owner never conflicts with itself
  EXPECT_FALSE(t.Conflict(kB, W(10, 20)));  // adjacent is not overlapping
}

TEST(FileLocksTest, UpgradeReleasesTheSharedSmbLockFirstAndCoversItWhole) {
  FileLocks t;
  auto server = Lock(t, kA, R(0, 10), {});
  EXPECT_EQ(server, std::vector<LockRange>{R(0, 10)});
  const LockPlan p = FileLocks::PlanLock(W(4, 6), server);
  EXPECT_EQ(p.release_first, std::vector<LockRange>{R(0, 10)});
  EXPECT_EQ(p.take, std::vector<LockRange>{W(0, 10)});
  server = Lock(t, kA, W(4, 6), server);
  EXPECT_EQ(Ranges(t.Held(kA)), (std::vector<LockRange>{R(0, 4), W(4, 6), R(6, 10)}));
  EXPECT_TRUE(Covered(t.Held(kA), server));
  EXPECT_TRUE(t.Conflict(kB, R(5, 6)));
  EXPECT_FALSE(t.Conflict(kB, R(0, 4)));
}

TEST(FileLocksTest, UpgradeSpanGrowsOverEverySharedLockItMeets) {
  std::vector<LockRange> server = {R(0, 10), R(8, 30), R(40, 50), W(60, 70)};
  const LockPlan p = FileLocks::PlanLock(W(5, 9), server);
  EXPECT_EQ(p.release_first, (std::vector<LockRange>{R(0, 10), R(8, 30)}));
  EXPECT_EQ(p.take, std::vector<LockRange>{W(0, 30)});
}

TEST(FileLocksTest, ExclusiveNextToOwnExclusiveTakesOnlyTheNewPart) {
  const LockPlan p = FileLocks::PlanLock(W(5, 20), {W(0, 10)});
  EXPECT_TRUE(p.release_first.empty());
  EXPECT_EQ(p.take, std::vector<LockRange>{W(10, 20)});
}

TEST(FileLocksTest, DowngradeKeepsTheExclusiveSmbLock) {
  FileLocks t;
  auto server = Lock(t, kA, W(0, 10), {});
  const LockPlan p = FileLocks::PlanLock(R(0, 10), server);
  EXPECT_TRUE(p.release_first.empty());
  EXPECT_TRUE(p.take.empty());  // covered: never a moment without the lock
  server = Lock(t, kA, R(0, 10), server);
  EXPECT_EQ(Ranges(t.Held(kA)), std::vector<LockRange>{R(0, 10)});
  EXPECT_EQ(server, std::vector<LockRange>{W(0, 10)});
  // Locally it is a read lock now: another process may read-lock it.
  EXPECT_FALSE(t.Conflict(kB, R(0, 10)));
  EXPECT_TRUE(t.Conflict(kB, W(0, 10)));
}

TEST(FileLocksTest, UnlockOfAMiddleSplitsAndKeepsTheSmbLockUntilAllIsGone) {
  FileLocks t;
  auto server = Lock(t, kA, W(0, 100), {});
  server = Unlock(t, kA, R(40, 60), server);
  EXPECT_EQ(Ranges(t.Held(kA)), (std::vector<LockRange>{W(0, 40), W(60, 100)}));
  EXPECT_EQ(server, std::vector<LockRange>{W(0, 100)});
  EXPECT_FALSE(t.Conflict(kB, W(40, 60)));
  server = Unlock(t, kA, R(0, 40), server);
  EXPECT_EQ(server, std::vector<LockRange>{W(0, 100)});
  server = Unlock(t, kA, R(60, 100), server);
  EXPECT_TRUE(server.empty());
  EXPECT_TRUE(t.empty());
}

TEST(FileLocksTest, UnlockOfARangeOnlyPartlyHeld) {
  FileLocks t;
  auto server = Lock(t, kA, R(10, 20), {});
  server = Unlock(t, kA, R(15, 500), server);
  EXPECT_EQ(Ranges(t.Held(kA)), std::vector<LockRange>{R(10, 15)});
  server = Unlock(t, kA, R(0, 5), server);  // nothing there: no error, no change
  EXPECT_EQ(Ranges(t.Held(kA)), std::vector<LockRange>{R(10, 15)});
  EXPECT_EQ(server, std::vector<LockRange>{R(10, 20)});
}

TEST(FileLocksTest, AdjacentLocksOfOneKindMerge) {
  FileLocks t;
  auto server = Lock(t, kA, R(0, 10), {});
  server = Lock(t, kA, R(10, 20), server);
  server = Lock(t, kA, W(20, 30), server);
  EXPECT_EQ(Ranges(t.Held(kA)), (std::vector<LockRange>{R(0, 20), W(20, 30)}));
  // The SMB locks are not merged (that would need an unlock first).
  EXPECT_EQ(server, (std::vector<LockRange>{R(0, 10), R(10, 20), W(20, 30)}));
  EXPECT_TRUE(Covered(t.Held(kA), server));
}

TEST(FileLocksTest, ReleaseOwnerDropsOnlyThatOwnersLocks) {
  FileLocks t;
  auto a = Lock(t, kA, R(0, 10), {});
  auto b = Lock(t, kB, R(5, 15), {});
  t.ReleaseOwner(kA);
  EXPECT_TRUE(t.Held(kA).empty());
  EXPECT_EQ(t.Unneeded(kA, a), a);  // all of A's SMB locks go
  EXPECT_EQ(Ranges(t.Held(kB)), std::vector<LockRange>{R(5, 15)});
  EXPECT_TRUE(t.Unneeded(kB, b).empty());
}

TEST(FileLocksTest, SharedRequestTakesOnlyWhatNoSmbLockCovers) {
  const LockPlan p = FileLocks::PlanLock(R(0, 100), {W(10, 20), R(50, 60)});
  EXPECT_TRUE(p.release_first.empty());
  EXPECT_EQ(p.take, (std::vector<LockRange>{R(0, 10), R(20, 50), R(60, 100)}));
}

TEST(FileLocksTest, FlockByteIsOutsideEveryPosixRange) {
  // A lock to end of file (l_len 0) ends at kLockEnd, below the flock byte.
  EXPECT_FALSE(Overlaps(W(0, kLockEnd), W(kFlockOffset, kFlockOffset + 1)));
}

}  // namespace
}  // namespace smbgate::fuse
