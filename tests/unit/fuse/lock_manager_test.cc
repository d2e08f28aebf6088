// LockManager against a fake server (a RemoteFs that keeps byte-range locks
// per handle with SMB's rules, and can be told to refuse): local conflicts
// between processes, waits that hold nothing and end on an unlock or a
// signal, the upgrade's way back when the server refuses, flock apart from
// fcntl, and the release of a process's locks at close.
#include "fuse/lock_manager.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <mutex>
#include <set>

#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"

namespace smbgate::fuse {
namespace {

using smb2::Handle;
using LT = smb2::RemoteFs::LockType;
template <class T>
using Callback = smb2::Callback<T>;

// Byte-range locks as an SMB server keeps them: per handle; an exclusive
// lock conflicts with every overlapping lock (the handle's own too), a
// shared one with other handles' exclusive ones; unlock names an exact
// range. `foreign` are locks of another client.
class FakeFs final : public smb2::RemoteFs {
 public:
  struct Held {
    std::uint64_t handle, start, end;
    bool exclusive;
  };
  std::mutex mu;
  std::vector<Held> locks;
  std::vector<std::string> log;
  int refuse_next_retake = 0;  // refuse the next N shared locks (an upgrade's retake)
  std::vector<std::pair<Held, Callback<void>>> waiting;

  void Lock(Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait, Callback<void> cb) override {
    std::unique_lock<std::mutex> l(mu);
    const Held want{h.persistent, offset, offset + length, type == LockType::kExclusive};
    log.push_back(std::string(type == LockType::kUnlock ? "U" : want.exclusive ? "X" : "S") + std::to_string(offset) +
                  "+" + std::to_string(length));
    if (type == LockType::kUnlock) {
      auto it = std::find_if(locks.begin(), locks.end(), [&](const Held& x) {
        return x.handle == want.handle && x.start == want.start && x.end == want.end;
      });
      if (it == locks.end()) {
        l.unlock();
        return cb(smb2::MakeNtStatusError(smb2::status::kRangeNotLocked));
      }
      locks.erase(it);
      // A waiting lock may be granted now.
      std::vector<std::pair<Held, Callback<void>>> grant;
      for (auto w = waiting.begin(); w != waiting.end();) {
        if (!Conflicts(w->first)) {
          locks.push_back(w->first);
          grant.push_back(std::move(*w));
          w = waiting.erase(w);
        } else {
          ++w;
        }
      }
      l.unlock();
      cb({});
      for (auto& g : grant) g.second({});
      return;
    }
    if (!want.exclusive && refuse_next_retake > 0) {
      --refuse_next_retake;
      l.unlock();
      return cb(smb2::MakeNtStatusError(smb2::status::kLockNotGranted));
    }
    if (Conflicts(want)) {
      if (wait) {
        waiting.push_back({want, std::move(cb)});
        return;
      }
      l.unlock();
      return cb(smb2::MakeNtStatusError(smb2::status::kLockNotGranted));
    }
    locks.push_back(want);
    l.unlock();
    cb({});
  }
  bool Conflicts(const Held& w) const {
    for (const auto& x : locks) {
      if (x.start < w.end && w.start < x.end && (x.exclusive || w.exclusive) && (x.handle != w.handle || w.exclusive)) {
        return true;
      }
    }
    return false;
  }
  std::size_t Count() {
    std::lock_guard<std::mutex> l(mu);
    return locks.size();
  }

  // The rest is not used by LockManager.
  void Open(std::string, smb2::OpenParams, Callback<smb2::OpenResult> cb) override { cb(std::error_code(ENOSYS, std::generic_category())); }
  void Close(Handle, Callback<void> cb) override { cb({}); }
  void Read(Handle, std::uint64_t, std::uint32_t, Callback<smb2::ReadResult> cb) override { cb(std::error_code(ENOSYS, std::generic_category())); }
  void Write(Handle, std::uint64_t, std::shared_ptr<const Bytes>, Callback<std::uint32_t> cb) override { cb(std::error_code(ENOSYS, std::generic_category())); }
  void Flush(Handle, Callback<void> cb) override { cb({}); }
  void GetAttributes(Handle, Callback<smb2::FileAttributes> cb) override { cb(std::error_code(ENOSYS, std::generic_category())); }
  void Stat(std::string, Callback<smb2::FileAttributes> cb) override { cb(std::error_code(ENOSYS, std::generic_category())); }
  void ReadDirectory(std::string, Callback<std::vector<smb2::DirectoryEntry>> cb) override { cb(std::error_code(ENOSYS, std::generic_category())); }
  void MakeDirectory(std::string, Callback<smb2::FileAttributes> cb) override { cb(std::error_code(ENOSYS, std::generic_category())); }
  void RemoveDirectory(std::string, Callback<void> cb) override { cb({}); }
  void Unlink(std::string, Callback<void> cb) override { cb({}); }
  void Rename(std::string, std::string, bool, Callback<void> cb) override { cb({}); }
  void Truncate(Handle, std::uint64_t, Callback<void> cb) override { cb({}); }
  void SetInfo(Handle, smb2::SetAttributes, Callback<void> cb) override { cb({}); }
  void HardLink(std::string, std::string, Callback<void> cb) override { cb({}); }
  void StatFs(Callback<smb2::FsStats> cb) override { cb(smb2::FsStats{}); }
  std::uint32_t max_io_size() const override { return 65536; }
};

LockManager::Request Q(std::uint64_t owner, std::uint64_t fh) {
  LockManager::Request q;
  q.ino = 7;
  q.fh = fh;
  q.handle = Handle{fh, 0};
  q.owner = owner;
  q.pid = static_cast<std::uint32_t>(owner * 10);
  return q;
}
LockRange R(std::uint64_t s, std::uint64_t e) { return {s, e, false}; }
LockRange W(std::uint64_t s, std::uint64_t e) { return {s, e, true}; }

// The errno a request ended with (it must end within 2 s).
int Sync(std::function<void(LockManager::Done)> start) {
  std::promise<int> p;
  auto f = p.get_future();
  start([&p](int err) { p.set_value(err); });
  if (f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return -1;
  return f.get();
}

struct Fixture {
  std::shared_ptr<FakeFs> fs = std::make_shared<FakeFs>();
  std::shared_ptr<LockManager> m = std::make_shared<LockManager>(fs);
  int Set(std::uint64_t owner, LockRange r, bool unlock = false) {
    return Sync([&](auto done) { m->SetLock(Q(owner, owner), r, unlock, false, done); });
  }
};

TEST(LockManagerTest, ProcessesOfOneMountConflictLocally) {
  Fixture f;
  EXPECT_EQ(f.Set(1, W(0, 100)), 0);
  EXPECT_EQ(f.Set(2, R(50, 60)), EAGAIN);  // decided here: no SMB request
  EXPECT_EQ(f.fs->log, std::vector<std::string>{"X0+100"});
  EXPECT_EQ(f.Set(2, W(100, 200)), 0);
}

TEST(LockManagerTest, ReadLockUpgradedInPlace) {
  Fixture f;
  EXPECT_EQ(f.Set(1, R(0, 10)), 0);
  EXPECT_EQ(f.Set(1, W(0, 10)), 0);  // what SQLite does: SHARED to RESERVED/EXCLUSIVE
  EXPECT_EQ(f.fs->log, (std::vector<std::string>{"S0+10", "U0+10", "X0+10"}));
  EXPECT_EQ(f.Set(2, R(0, 1)), EAGAIN);
}

TEST(LockManagerTest, RefusedUpgradeKeepsTheReadLock) {
  Fixture f;
  EXPECT_EQ(f.Set(1, R(0, 10)), 0);
  {
    std::lock_guard<std::mutex> l(f.fs->mu);
    f.fs->locks.push_back({99, 5, 6, false});  // another client reads byte 5
  }
  EXPECT_EQ(f.Set(1, W(0, 10)), EAGAIN);
  // The shared lock was given back and taken again.
  EXPECT_EQ(f.fs->log, (std::vector<std::string>{"S0+10", "U0+10", "X0+10", "S0+10"}));
  EXPECT_EQ(f.Set(2, W(0, 1)), EAGAIN);  // still held
}

TEST(LockManagerTest, UpgradeWhoseReadLockCannotBeTakenBackSaysSo) {
  Fixture f;
  EXPECT_EQ(f.Set(1, R(0, 10)), 0);
  {
    std::lock_guard<std::mutex> l(f.fs->mu);
    f.fs->locks.push_back({99, 5, 6, false});
    f.fs->refuse_next_retake = 1;  // another client took it in the gap
  }
  EXPECT_EQ(f.Set(1, W(0, 10)), ENOLCK);
  EXPECT_EQ(f.Set(2, W(0, 5)), 0);  // nothing is reported held any more
}

TEST(LockManagerTest, WaitEndsWhenTheLocalHolderUnlocks) {
  Fixture f;
  EXPECT_EQ(f.Set(1, W(0, 10)), 0);
  std::promise<int> p;
  auto got = p.get_future();
  f.m->SetLock(Q(2, 2), W(5, 6), false, true, [&p](int err) { p.set_value(err); });
  EXPECT_EQ(got.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  EXPECT_EQ(f.Set(1, W(0, 10), true), 0);
  ASSERT_EQ(got.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(got.get(), 0);
  EXPECT_EQ(f.Set(1, R(5, 6)), EAGAIN);
}

TEST(LockManagerTest, SignalEndsAWaitWithEintr) {
  Fixture f;
  EXPECT_EQ(f.Set(1, W(0, 10)), 0);
  std::promise<int> p;
  auto got = p.get_future();
  auto cancel = f.m->SetLock(Q(2, 2), W(5, 6), false, true, [&p](int err) { p.set_value(err); });
  EXPECT_TRUE(cancel());
  ASSERT_EQ(got.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(got.get(), EINTR);
  EXPECT_EQ(f.Set(1, W(0, 10), true), 0);  // the cancelled request takes nothing later
  EXPECT_EQ(f.fs->Count(), 0u);
}

TEST(LockManagerTest, WaitForAnotherClientIsABlockingSmbLock) {
  Fixture f;
  {
    std::lock_guard<std::mutex> l(f.fs->mu);
    f.fs->locks.push_back({99, 0, 10, true});
  }
  std::promise<int> p;
  auto got = p.get_future();
  f.m->SetLock(Q(1, 1), W(0, 10), false, true, [&p](int err) { p.set_value(err); });
  EXPECT_EQ(got.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  // Meanwhile the inode is not blocked for others.
  EXPECT_EQ(f.Set(2, W(20, 30)), 0);
  f.fs->Lock(Handle{99, 0}, 0, 10, LT::kUnlock, false, [](Result<void>) {});
  ASSERT_EQ(got.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(got.get(), 0);
  EXPECT_EQ(f.Set(2, R(0, 1)), EAGAIN);
}

TEST(LockManagerTest, CloseReleasesEveryLockOfTheProcess) {
  Fixture f;
  EXPECT_EQ(f.Set(1, W(0, 10)), 0);
  EXPECT_EQ(f.Set(1, R(20, 30)), 0);
  EXPECT_EQ(f.Set(2, R(25, 26)), 0);
  EXPECT_EQ(Sync([&](auto done) { f.m->ReleaseOwner(7, 1, done); }), 0);
  EXPECT_EQ(f.fs->Count(), 1u);  // process 2's
  EXPECT_EQ(f.Set(3, W(0, 10)), 0);
}

TEST(LockManagerTest, FlockIsApartFromFcntlLocks) {
  Fixture f;
  EXPECT_EQ(f.Set(1, W(0, kLockEnd)), 0);  // fcntl, whole file
  // flock on another open file description of the same process: no conflict.
  EXPECT_EQ(Sync([&](auto done) { f.m->Flock(Q(1, 5), true, false, false, done); }), 0);
  EXPECT_EQ(Sync([&](auto done) { f.m->Flock(Q(2, 6), false, false, false, done); }), EAGAIN);
  EXPECT_EQ(Sync([&](auto done) { f.m->Flock(Q(1, 5), false, true, false, done); }), 0);
  EXPECT_EQ(Sync([&](auto done) { f.m->Flock(Q(2, 6), false, false, false, done); }), 0);
}

TEST(LockManagerTest, GetLockNamesALocalHolder) {
  Fixture f;
  EXPECT_EQ(f.Set(1, W(10, 20)), 0);
  std::promise<std::optional<HeldLock>> p;
  f.m->GetLock(Q(2, 2), R(15, 16), [&p](int, std::optional<HeldLock> h) { p.set_value(h); });
  auto h = p.get_future().get();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->pid, 10u);
  EXPECT_EQ(h->range, W(10, 20));
}

}  // namespace
}  // namespace smbgate::fuse
