// LockManager: the FUSE layer's POSIX record locks (fcntl) and BSD locks
// (flock), per inode, carried out on the server as SMB2 byte-range locks
// (FileLocks in posix_locks.h decides what to take and release).
//
// - Conflicts between processes of this mount are decided locally (an SMB
//   server cannot tell two processes behind one client apart); conflicts
//   with other clients by the server.
// - Requests on one inode run one at a time, in order; a request that must
//   wait (F_SETLKW, flock without LOCK_NB) holds no FUSE thread and blocks
//   nobody: it waits in a queue for a local holder, or as a blocking SMB
//   lock on the server for a remote one.
// - flock() locks are whole-file locks per open file description, apart
//   from fcntl locks as on a local Linux filesystem (one byte past every
//   POSIX offset on the server, kFlockOffset).
//
// Thread-safety: every member may be called from any thread; callbacks run
// on RemoteFs completion threads or the caller's, never under a lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "fuse/posix_locks.h"
#include "smb2/client/remote_fs.h"

namespace smbgate::fuse {

class LockManager : public std::enable_shared_from_this<LockManager> {
 public:
  explicit LockManager(std::shared_ptr<smb2::RemoteFs> fs) : fs_(std::move(fs)) {}

  // `err` is 0 or an errno: EAGAIN (held by another, no wait), EINTR
  // (interrupted while waiting), ENOLCK (an upgrade refused by the server
  // after the shared lock was given up, and the shared lock could not be
  // taken back: the process no longer holds it), or the server's error.
  using Done = std::function<void(int err)>;
  // Cancels a waiting request (it then ends with EINTR); false if it is not
  // waiting (it will end by itself).
  using Cancel = std::function<bool()>;

  struct Request {
    std::uint64_t ino = 0;
    std::uint64_t fh = 0;          // the open the request came through
    smb2::Handle handle;           // its server handle
    std::uint64_t owner = 0;       // FUSE lock owner (the process)
    std::uint32_t pid = 0;
  };

  // fcntl F_SETLK / F_SETLKW: lock `r` (or unlock it). Returns how to
  // cancel it while it waits.
  Cancel SetLock(const Request& q, const LockRange& r, bool unlock, bool wait, Done done);
  // fcntl F_GETLK: the lock that keeps `owner` from locking `r`: another
  // process's of this mount (with its pid), or a remote one (pid 0, the
  // range asked: SMB does not say which); nullopt when it could be taken.
  void GetLock(const Request& q, const LockRange& r, std::function<void(int err, std::optional<HeldLock>)> done);
  // flock(): LOCK_SH (`exclusive` false), LOCK_EX, or LOCK_UN (`unlock`),
  // for the open file description `q.fh`.
  Cancel Flock(const Request& q, bool exclusive, bool unlock, bool wait, Done done);
  // close() by `owner` of any descriptor of the inode: POSIX releases all
  // of its record locks on the file.
  void ReleaseOwner(std::uint64_t ino, std::uint64_t owner, Done done);
  // The open `fh` is being closed: its flock goes, and the server drops
  // whatever SMB locks were on it (forgotten here).
  void ForgetOpen(std::uint64_t ino, std::uint64_t fh);

  // Ends every request waiting for a local holder with EINTR (shutdown;
  // the ones waiting on the server end when their handles close).
  void CancelAll();

  // The file holds a write lease (MS-SMB2 2.2.13.2.8): no other client has
  // it open, so locks are kept here, as kernel cifs does, and an upgrade of
  // a range is atomic. With `leased` false (a break, the last close) the
  // locks kept go to the server first, in their turn among the inode's
  // requests; `then` runs after (the break's acknowledgement).
  void SetWriteLeased(std::uint64_t ino, bool leased, std::function<void()> then = {});
  // Locks kept here for `ino` (tests).
  std::size_t cached_locks(std::uint64_t ino);
  // No lock, waiter or request of any kind for `ino`: a handle of it may
  // stay open after its close (deferred close) without keeping a lock.
  bool Idle(std::uint64_t ino);

 private:
  struct Smb {
    std::uint64_t fh;
    smb2::Handle handle;
    LockRange range;
  };
  struct Step {
    smb2::Handle handle;
    LockRange range;
    bool unlock;
  };
  // A request's progress, for Cancel: waiting, then answered exactly once.
  enum State : int { kRunning, kWaiting, kAnswered };
  struct Pending {
    std::shared_ptr<std::atomic<int>> state;
    Done done;
    std::function<void()> retry;  // submits the request again
  };
  struct Inode {
    FileLocks posix;
    std::unordered_map<std::uint64_t, std::vector<Smb>> smb;  // by owner
    std::unordered_map<std::uint64_t, bool> flocks;             // by fh: exclusive?
    std::unordered_map<std::uint64_t, smb2::Handle> flock_handles;
    bool busy = false;
    std::deque<std::function<void()>> queue;  // requests waiting their turn
    // Under a write lease: locks kept here instead of on the server.
    bool write_leased = false;
    std::vector<Step> cached;
    std::vector<Step> on_server;  // locks the server holds for this inode
    std::vector<Pending> blocked;             // waiting for a local holder
  };
  using Next = std::function<void(bool changed)>;
  using Job = std::function<void(Next next)>;

  // Runs `job` when the inode is free; `next(changed)` frees it and, when
  // the locks changed, wakes the requests blocked on a local holder.
  void Serialize(std::uint64_t ino, Job job);
  void Finish(std::uint64_t ino, bool changed);
  void RunSetLock(const Request& q, const LockRange& r, bool unlock, bool wait, Done done,
                  std::shared_ptr<std::atomic<int>> state, Next next);
  void RunFlock(const Request& q, bool exclusive, bool unlock, bool wait, Done done,
                std::shared_ptr<std::atomic<int>> state, Next next);
  // Parks a request until a local holder lets go (called with mu_ held).
  void Block(Inode& in, std::shared_ptr<std::atomic<int>> state, Done done, std::function<void()> retry);
  // The SMB steps in order, stopping at the first failure: `done` gets the
  // number that succeeded and the failure (none when all did).
  void RunSteps(std::uint64_t ino, std::vector<Step> steps, std::size_t i, bool wait,
                std::function<void(std::size_t ok, std::error_code)> done);
  static std::vector<LockRange> Ranges(const std::vector<Smb>& smb);
  // A waiting request's Cancel: EINTR, unless it was answered already.
  static Cancel CancelFor(std::shared_ptr<std::atomic<int>> state, Done done);
  // Answers once (the first of the request and a Cancel wins).
  static void Answer(const std::shared_ptr<std::atomic<int>>& state, const Done& done, int err);

  std::shared_ptr<smb2::RemoteFs> fs_;
  std::mutex mu_;
  std::unordered_map<std::uint64_t, Inode> inodes_;
};

}  // namespace smbgate::fuse
