#include "fuse/lock_manager.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "fuse/errno_map.h"

namespace smbgate::fuse {
namespace {

using LT = smb2::RemoteFs::LockType;

// The server's "someone else holds it" (STATUS_LOCK_NOT_GRANTED,
// STATUS_FILE_LOCK_CONFLICT).
bool IsConflict(const std::error_code& ec) {
  const int e = ErrnoFor(ec);
  return e == EAGAIN || e == EACCES;
}

int ErrnoOf(const std::error_code& ec) { return IsConflict(ec) ? EAGAIN : ErrnoFor(ec); }

LockRange FlockRange(bool exclusive) { return {kFlockOffset, kFlockOffset + 1, exclusive}; }

}  // namespace

void LockManager::Answer(const std::shared_ptr<std::atomic<int>>& state, const Done& done, int err) {
  int s = state->load();
  while (s != kAnswered) {
    if (state->compare_exchange_weak(s, kAnswered)) return done(err);
  }
}

std::vector<LockRange> LockManager::Ranges(const std::vector<Smb>& smb) {
  std::vector<LockRange> out;
  for (const Smb& s : smb) out.push_back(s.range);
  return out;
}

void LockManager::Serialize(std::uint64_t ino, Job job) {
  auto self = shared_from_this();
  auto run = [self, ino, job] { job([self, ino](bool changed) { self->Finish(ino, changed); }); };
  {
    std::lock_guard<std::mutex> l(mu_);
    Inode& in = inodes_[ino];
    if (in.busy) {
      in.queue.push_back(std::move(run));
      return;
    }
    in.busy = true;
  }
  run();
}

void LockManager::Finish(std::uint64_t ino, bool changed) {
  std::function<void()> next;
  std::vector<Pending> wake;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) return;
    Inode& in = it->second;
    if (changed) wake.swap(in.blocked);
    if (!in.queue.empty()) {
      next = std::move(in.queue.front());
      in.queue.pop_front();
    } else {
      in.busy = false;
      // Kept while a write lease (and its kept locks) lasts: the flag would
      // be lost with the entry.
      if (in.posix.empty() && in.smb.empty() && in.flocks.empty() && in.blocked.empty() && wake.empty() &&
          !in.write_leased && in.cached.empty() && in.on_server.empty()) {
        inodes_.erase(it);
      }
    }
  }
  // Woken requests go to the back of the queue and look again.
  for (Pending& p : wake) {
    int s = kWaiting;
    if (p.state->compare_exchange_strong(s, kRunning)) p.retry();
  }
  if (next) next();
}

void LockManager::Block(Inode& in, std::shared_ptr<std::atomic<int>> state, Done done, std::function<void()> retry) {
  state->store(kWaiting);
  in.blocked.push_back({std::move(state), std::move(done), std::move(retry)});
}

void LockManager::RunSteps(std::uint64_t ino, std::vector<Step> steps, std::size_t i, bool wait,
                           std::function<void(std::size_t, std::error_code)> done) {
  if (i == steps.size()) return done(i, {});
  const Step st = steps[i];
  auto self = shared_from_this();
  // Under a write lease no other client has the file open, so none can
  // hold or want a lock on it: locks are kept here (an upgrade is then
  // atomic) and go to the server when the lease is broken, before the
  // break is acknowledged (FlushCached). A cached lock is released here.
  // A lock that would meet a kept one (two open files of this mount, as
  // flock() takes them) is for the server to decide, with its waiting: the
  // kept locks go there first, and the file's locks stay there until the
  // next grant of a write lease.
  bool local = false;
  std::vector<Step> flush;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = inodes_.find(ino);
    if (it != inodes_.end()) {
      Inode& in = it->second;
      auto c = std::find_if(in.cached.begin(), in.cached.end(),
                            [&](const Step& x) { return x.handle == st.handle && x.range == st.range; });
      if (st.unlock && c != in.cached.end()) {
        in.cached.erase(c);
        local = true;
      } else if (!st.unlock && in.write_leased) {
        // Locks on the server already (taken before the lease, or after a
        // meeting): the server decides from then on.
        const bool meets = !in.on_server.empty() ||
                           std::any_of(in.cached.begin(), in.cached.end(), [&](const Step& x) {
                             return Overlaps(x.range, st.range) && (x.range.exclusive || st.range.exclusive);
                           });
        if (!meets) {
          in.cached.push_back(st);
          local = true;
        } else {
          in.write_leased = false;
          flush.swap(in.cached);
        }
      }
    }
  }
  if (local) return RunSteps(ino, std::move(steps), i + 1, wait, std::move(done));
  if (!flush.empty()) {
    return RunSteps(ino, std::move(flush), 0, false,
                    [self, ino, steps = std::move(steps), i, wait, done = std::move(done)](std::size_t,
                                                                                          std::error_code) mutable {
                      self->RunSteps(ino, std::move(steps), i, wait, std::move(done));
                    });
  }
  fs_->Lock(st.handle, st.range.start, st.range.end - st.range.start,
            st.unlock ? LT::kUnlock : st.range.exclusive ? LT::kExclusive : LT::kShared, wait && !st.unlock,
            [self, ino, steps = std::move(steps), i, wait, done](Result<void> r) mutable {
              {
                std::lock_guard<std::mutex> l(self->mu_);
                Inode& in = self->inodes_[ino];
                const Step& s = steps[i];
                if (s.unlock) {
                  auto x = std::find_if(in.on_server.begin(), in.on_server.end(),
                                        [&](const Step& o) { return o.handle == s.handle && o.range == s.range; });
                  if (x != in.on_server.end()) in.on_server.erase(x);
                } else if (r) {
                  in.on_server.push_back(s);
                }
              }
              // An unlock that finds nothing (the server dropped it with a
              // lost connection) has done its job.
              if (!r && !steps[i].unlock) return done(i, r.error());
              self->RunSteps(ino, std::move(steps), i + 1, wait, std::move(done));
            });
}

LockManager::Cancel LockManager::CancelFor(std::shared_ptr<std::atomic<int>> state, Done done) {
  return [state, done] {
    int s = kWaiting;
    if (!state->compare_exchange_strong(s, kAnswered)) return false;
    done(EINTR);
    return true;
  };
}

LockManager::Cancel LockManager::SetLock(const Request& q, const LockRange& r, bool unlock, bool wait, Done done) {
  auto state = std::make_shared<std::atomic<int>>(kRunning);
  auto self = shared_from_this();
  Serialize(q.ino, [self, q, r, unlock, wait, done, state](Next next) {
    self->RunSetLock(q, r, unlock, wait, done, state, std::move(next));
  });
  return CancelFor(state, done);
}

void LockManager::RunSetLock(const Request& q, const LockRange& r, bool unlock, bool wait, Done done,
                             std::shared_ptr<std::atomic<int>> state, Next next) {
  if (state->load() == kAnswered) return next(false);  // cancelled while queued
  auto self = shared_from_this();
  std::vector<Step> steps;
  LockPlan plan;
  // Set under the lock, acted on after it: an answer, and freeing the inode.
  int answer = -1;
  bool finished = false;
  bool changed = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    Inode& in = inodes_[q.ino];
    auto& mine = in.smb[q.owner];
    if (unlock) {
      in.posix.Apply(q.owner, q.pid, r, true);
      for (const LockRange& x : in.posix.Unneeded(q.owner, Ranges(mine))) {
        auto it = std::find_if(mine.begin(), mine.end(), [&](const Smb& s) { return s.range == x; });
        steps.push_back({it->handle, x, true});
        mine.erase(it);
      }
      if (mine.empty()) in.smb.erase(q.owner);
    } else {
      if (in.posix.Conflict(q.owner, r)) {
        if (mine.empty()) in.smb.erase(q.owner);
        finished = true;
        if (!wait) {
          answer = EAGAIN;
        } else {
          Block(in, state, done, [self, q, r, wait, done, state] {
            self->Serialize(q.ino, [self, q, r, wait, done, state](Next n) {
              self->RunSetLock(q, r, false, wait, done, state, std::move(n));
            });
          });
        }
      } else {
        plan = FileLocks::PlanLock(r, Ranges(mine));
        for (const LockRange& x : plan.release_first) {
          auto it = std::find_if(mine.begin(), mine.end(), [&](const Smb& s) { return s.range == x; });
          steps.push_back({it->handle, x, true});
        }
        for (const LockRange& t : plan.take) steps.push_back({q.handle, t, false});
        if (steps.empty()) {  // covered already (a downgrade, a lock inside a lock)
          in.posix.Apply(q.owner, q.pid, r, false);
          finished = changed = true;
          answer = 0;
        }
        if (mine.empty()) in.smb.erase(q.owner);
      }
    }
  }
  if (finished) {
    if (answer >= 0) Answer(state, done, answer);
    return next(changed);
  }
  if (unlock) {
    return RunSteps(q.ino, std::move(steps), 0, false, [state, done, next](std::size_t, std::error_code) {
      Answer(state, done, 0);
      next(true);
    });
  }
  const std::size_t released = plan.release_first.size();
  RunSteps(q.ino, steps, 0, false, [self, q, r, wait, done, state, next, steps, plan, released](std::size_t ok,
                                                                                           std::error_code ec) {
    if (!ec) {
      std::vector<Step> extra;
      {
        std::lock_guard<std::mutex> l(self->mu_);
        Inode& in = self->inodes_[q.ino];
        auto& mine = in.smb[q.owner];
        for (const LockRange& x : plan.release_first) {
          auto it = std::find_if(mine.begin(), mine.end(), [&](const Smb& s) { return s.range == x; });
          if (it != mine.end()) mine.erase(it);
        }
        for (const LockRange& t : plan.take) mine.push_back({q.fh, q.handle, t});
        in.posix.Apply(q.owner, q.pid, r, false);
        for (const LockRange& x : in.posix.Unneeded(q.owner, Ranges(mine))) {
          auto it = std::find_if(mine.begin(), mine.end(), [&](const Smb& s) { return s.range == x; });
          extra.push_back({it->handle, x, true});
          mine.erase(it);
        }
      }
      return self->RunSteps(q.ino, std::move(extra), 0, false, [state, done, next](std::size_t, std::error_code) {
        Answer(state, done, 0);
        next(true);
      });
    }
    // Refused (or failed): give back what was taken, take back what was
    // released for it (the shared locks of an upgrade).
    std::vector<Step> undo;
    for (std::size_t k = released; k < ok; ++k) undo.push_back({steps[k].handle, steps[k].range, true});
    for (std::size_t k = 0; k < released; ++k) undo.push_back({steps[k].handle, steps[k].range, false});
    self->RunSteps(q.ino, undo, 0, false, [self, q, r, wait, done, state, next, ec, undo, released, plan](std::size_t ok2,
                                                                                                  std::error_code) {
      const std::size_t unlocks = undo.size() - released;
      if (ok2 < undo.size() && ok2 >= unlocks) {
        // A shared lock of the upgrade could not be taken back: another
        // client took the range in between. The process no longer holds
        // it; say so rather than report a lock the server does not hold.
        {
          std::lock_guard<std::mutex> l(self->mu_);
          Inode& in = self->inodes_[q.ino];
          auto& mine = in.smb[q.owner];
          // The first retake that failed and the ones after it (not tried).
          for (std::size_t k = ok2 - unlocks; k < released; ++k) {
            const LockRange lost = plan.release_first[k];
            auto it = std::find_if(mine.begin(), mine.end(), [&](const Smb& s) { return s.range == lost; });
            if (it != mine.end()) mine.erase(it);
            in.posix.Apply(q.owner, q.pid, lost, true);
          }
          if (mine.empty()) in.smb.erase(q.owner);
        }
        Answer(state, done, ENOLCK);
        return next(true);
      }
      if (!IsConflict(ec) || !wait) {
        Answer(state, done, ErrnoOf(ec));
        return next(false);
      }
      // Held by another client, and the caller waits. A plain lock waits
      // on the server (a blocking SMB lock, holding nothing here); an
      // upgrade cannot (its own shared lock would block it), so it looks
      // again a little later.
      state->store(kWaiting);
      next(false);
      if (released == 0) {
        std::vector<Step> takes;
        for (const LockRange& t : plan.take) takes.push_back({q.handle, t, false});
        self->RunSteps(q.ino, takes, 0, true, [self, q, r, wait, done, state, takes](std::size_t ok3, std::error_code e3) {
          // Granted (or failed): give the server locks back and run the
          // request again in its turn; it finds the range free now.
          std::vector<Step> back;
          for (std::size_t k = 0; k < ok3; ++k) back.push_back({takes[k].handle, takes[k].range, true});
          self->RunSteps(q.ino, back, 0, false, [self, q, r, wait, done, state, e3](std::size_t, std::error_code) {
            int s = kWaiting;
            if (!state->compare_exchange_strong(s, kRunning)) return;  // cancelled meanwhile
            if (e3 && !IsConflict(e3)) return Answer(state, done, ErrnoOf(e3));
            self->Serialize(q.ino, [self, q, r, wait, done, state](Next n) {
              self->RunSetLock(q, r, false, wait, done, state, std::move(n));
            });
          });
        });
        return;
      }
      std::thread([self, q, r, wait, done, state] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        int s = kWaiting;
        if (!state->compare_exchange_strong(s, kRunning)) return;
        self->Serialize(q.ino, [self, q, r, wait, done, state](Next n) {
          self->RunSetLock(q, r, false, wait, done, state, std::move(n));
        });
      }).detach();
    });
  });
}

void LockManager::GetLock(const Request& q, const LockRange& r,
                          std::function<void(int, std::optional<HeldLock>)> done) {
  std::optional<HeldLock> local;
  bool ours = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = inodes_.find(q.ino);
    if (it != inodes_.end()) {
      local = it->second.posix.Conflict(q.owner, r);
      // Where this mount holds SMB locks itself, a probe would meet them:
      // the local answer is the one to give.
      for (const auto& [owner, held] : it->second.smb) {
        for (const Smb& x : held) ours |= Overlaps(x.range, r);
      }
    }
  }
  if (local || ours) return done(0, local);
  // SMB cannot test a lock: take it and give it back, as cifs does.
  auto fs = fs_;
  fs_->Lock(q.handle, r.start, r.end - r.start, r.exclusive ? LT::kExclusive : LT::kShared, false,
            [fs, q, r, done](Result<void> res) {
              if (res) {
                return fs->Lock(q.handle, r.start, r.end - r.start, LT::kUnlock, false,
                                [done](Result<void>) { done(0, std::nullopt); });
              }
              if (!IsConflict(res.error())) return done(ErrnoFor(res.error()), std::nullopt);
              // Another client holds it; SMB does not say who or where.
              done(0, HeldLock{0, 0, r});
            });
}

LockManager::Cancel LockManager::Flock(const Request& q, bool exclusive, bool unlock, bool wait, Done done) {
  auto state = std::make_shared<std::atomic<int>>(kRunning);
  auto self = shared_from_this();
  Serialize(q.ino, [self, q, exclusive, unlock, wait, done, state](Next next) {
    self->RunFlock(q, exclusive, unlock, wait, done, state, std::move(next));
  });
  return CancelFor(state, done);
}

void LockManager::RunFlock(const Request& q, bool exclusive, bool unlock, bool wait, Done done,
                           std::shared_ptr<std::atomic<int>> state, Next next) {
  if (state->load() == kAnswered) return next(false);
  auto self = shared_from_this();
  std::vector<Step> release;
  int answer = -1;       // set under the lock, given after it
  bool blocked = false;  // parked until a local holder lets go
  {
    std::lock_guard<std::mutex> l(mu_);
    Inode& in = inodes_[q.ino];
    auto held = in.flocks.find(q.fh);
    if (held != in.flocks.end() && !unlock && held->second == exclusive) {
      answer = 0;  // held already
    } else if (held != in.flocks.end()) {
      // An unlock, or a conversion: flock(2) converts by letting go first
      // (not atomically, on Linux too).
      release.push_back({in.flock_handles[q.fh], FlockRange(held->second), true});
      in.flocks.erase(held);
      in.flock_handles.erase(q.fh);
    }
    if (answer < 0 && !unlock) {
      bool conflict = false;
      for (const auto& [fh, ex] : in.flocks) conflict |= fh != q.fh && (ex || exclusive);
      if (conflict && !wait) {
        answer = EAGAIN;
      } else if (conflict) {
        blocked = true;
        Block(in, state, done, [self, q, exclusive, wait, done, state] {
          self->Serialize(q.ino, [self, q, exclusive, wait, done, state](Next n) {
            self->RunFlock(q, exclusive, false, wait, done, state, std::move(n));
          });
        });
      }
    }
  }
  if (answer == 0 && release.empty()) {
    Answer(state, done, 0);
    return next(false);
  }
  if (answer >= 0 || blocked) {
    if (answer >= 0) Answer(state, done, answer);
    return RunSteps(q.ino, release, 0, false, [next, release](std::size_t, std::error_code) { next(!release.empty()); });
  }
  RunSteps(q.ino, release, 0, false, [self, q, exclusive, unlock, wait, done, state, next, release](std::size_t,
                                                                                            std::error_code) {
    if (unlock) {
      Answer(state, done, 0);
      return next(true);
    }
    // Waits on the server for another client (flock's whole-file byte).
    self->fs_->Lock(q.handle, kFlockOffset, 1, exclusive ? LT::kExclusive : LT::kShared, false,
                    [self, q, exclusive, wait, done, state, next, release](Result<void> r) {
                      if (r) {
                        {
                          std::lock_guard<std::mutex> l(self->mu_);
                          Inode& in = self->inodes_[q.ino];
                          in.flocks[q.fh] = exclusive;
                          in.flock_handles[q.fh] = q.handle;
                        }
                        Answer(state, done, 0);
                        return next(true);
                      }
                      if (!IsConflict(r.error()) || !wait) {
                        Answer(state, done, ErrnoOf(r.error()));
                        return next(!release.empty());
                      }
                      state->store(kWaiting);
                      next(!release.empty());
                      self->fs_->Lock(q.handle, kFlockOffset, 1, exclusive ? LT::kExclusive : LT::kShared, true,
                                      [self, q, exclusive, done, state](Result<void> w) {
                                        int s = kWaiting;
                                        if (!state->compare_exchange_strong(s, kRunning)) {
                                          // Cancelled: give the granted lock back.
                                          if (w) self->fs_->Lock(q.handle, kFlockOffset, 1, LT::kUnlock, false,
                                                                 [](Result<void>) {});
                                          return;
                                        }
                                        if (!w) return Answer(state, done, ErrnoOf(w.error()));
                                        self->Serialize(q.ino, [self, q, exclusive, done, state](Next n) {
                                          {
                                            std::lock_guard<std::mutex> l(self->mu_);
                                            Inode& in = self->inodes_[q.ino];
                                            in.flocks[q.fh] = exclusive;
                                            in.flock_handles[q.fh] = q.handle;
                                          }
                                          Answer(state, done, 0);
                                          n(true);
                                        });
                                      });
                    });
  });
}

void LockManager::ReleaseOwner(std::uint64_t ino, std::uint64_t owner, Done done) {
  bool none;
  {
    // Nothing to do for the many closes of files that were never locked.
    std::lock_guard<std::mutex> l(mu_);
    auto it = inodes_.find(ino);
    none = it == inodes_.end() || (!it->second.smb.count(owner) && it->second.posix.Held(owner).empty());
  }
  if (none) return done(0);
  auto self = shared_from_this();
  Serialize(ino, [self, ino, owner, done](Next next) {
    std::vector<Step> steps;
    {
      std::lock_guard<std::mutex> l(self->mu_);
      Inode& in = self->inodes_[ino];
      in.posix.ReleaseOwner(owner);
      auto it = in.smb.find(owner);
      if (it != in.smb.end()) {
        for (const Smb& s : it->second) steps.push_back({s.handle, s.range, true});
        in.smb.erase(it);
      }
    }
    self->RunSteps(ino, std::move(steps), 0, false, [done, next](std::size_t, std::error_code) {
      done(0);
      next(true);
    });
  });
}

void LockManager::SetWriteLeased(std::uint64_t ino, bool leased, std::function<void()> then) {
  if (leased) {
    std::lock_guard<std::mutex> l(mu_);
    inodes_[ino].write_leased = true;
  }
  if (leased) {
    if (then) then();
    return;
  }
  auto self = shared_from_this();
  Serialize(ino, [self, ino, then](Next next) {
    std::vector<Step> push;
    {
      std::lock_guard<std::mutex> l(self->mu_);
      auto it = self->inodes_.find(ino);
      if (it != self->inodes_.end()) {
        it->second.write_leased = false;
        push.swap(it->second.cached);
      }
    }
    if (push.empty()) {
      if (then) then();
      return next(false);
    }
    // Nobody else can hold these ranges yet: the other client waits for
    // the acknowledgement.
    self->RunSteps(ino, std::move(push), 0, false, [then, next](std::size_t, std::error_code) {
      if (then) then();
      next(false);
    });
  });
}

std::size_t LockManager::cached_locks(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? 0 : it->second.cached.size();
}

bool LockManager::Idle(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return true;
  const Inode& in = it->second;
  return !in.busy && in.posix.empty() && in.smb.empty() && in.flocks.empty() && in.blocked.empty() &&
         in.cached.empty() && in.on_server.empty();
}

void LockManager::ForgetOpen(std::uint64_t ino, std::uint64_t fh) {
  auto self = shared_from_this();
  Serialize(ino, [self, ino, fh](Next next) {
    bool changed = false;
    {
      std::lock_guard<std::mutex> l(self->mu_);
      Inode& in = self->inodes_[ino];
      changed |= in.flocks.erase(fh) > 0;
      // Kept locks of the handle go with it, as the server's would.
      auto gone = [&](const smb2::Handle& h) {
        std::erase_if(in.cached, [&](const Step& c) { return c.handle == h; });
        std::erase_if(in.on_server, [&](const Step& c) { return c.handle == h; });
      };
      if (auto fl = in.flock_handles.find(fh); fl != in.flock_handles.end()) gone(fl->second);
      for (const auto& [owner, v] : in.smb) {
        for (const Smb& s : v) {
          if (s.fh == fh) gone(s.handle);
        }
      }
      in.flock_handles.erase(fh);
      for (auto it = in.smb.begin(); it != in.smb.end();) {
        auto& v = it->second;
        const auto before = v.size();
        std::erase_if(v, [fh](const Smb& s) { return s.fh == fh; });
        if (v.size() != before) {
          changed = true;
          // The server dropped these with the handle: the owner's locks
          // they covered are gone (POSIX released them at its close).
          for (const HeldLock& h : in.posix.Held(it->first)) {
            bool covered = false;
            for (const Smb& s : v) covered |= Overlaps(s.range, h.range);
            if (!covered) in.posix.Apply(it->first, 0, h.range, true);
          }
        }
        it = v.empty() ? in.smb.erase(it) : std::next(it);
      }
    }
    next(changed);
  });
}

void LockManager::CancelAll() {
  std::vector<Pending> all;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [ino, in] : inodes_) {
      for (Pending& p : in.blocked) all.push_back(std::move(p));
      in.blocked.clear();
    }
  }
  for (Pending& p : all) {
    int s = kWaiting;
    if (p.state->compare_exchange_strong(s, kAnswered)) p.done(EINTR);
  }
}

}  // namespace smbgate::fuse
