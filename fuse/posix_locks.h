// POSIX record locks (fcntl F_SETLK, F_SETLKW, F_GETLK) of one file, kept
// per owner the way POSIX defines them (IEEE Std 1003.1, fcntl()), and the
// SMB2 byte-range locks (MS-SMB2 3.2.4.19) that hold them on the server.
//
// POSIX and SMB differ: a POSIX lock belongs to a process (the FUSE lock
// owner), replaces any lock of the same owner on its range (so a read lock
// becomes a write lock in place, and back), may be cut in two by an
// unlock, and all of a process's locks on a file go when it closes any
// descriptor of it. An SMB lock belongs to an open, is never changed in
// place, and is unlocked only by naming exactly its range; an exclusive
// lock conflicts with every other overlapping lock, the open's own too.
//
// So the owners' locks are kept here, conflicts between owners of this
// mount are decided here, and each owner's locks are covered on the server
// by SMB locks on that owner's handle: never less (a lock is reported held
// only when the server holds it too), sometimes more (an SMB lock stays
// while any part of it is still locked, so an unlock of part of a range or
// a downgrade keeps the whole range locked against other clients until the
// rest goes). Only an upgrade has to let go of a shared SMB lock before it
// takes the exclusive one; Plan says what to take back if that fails.
//
// Pure data, no I/O; not thread-safe (the caller holds its lock).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace smbgate::fuse {

// Offsets are those of off_t: locks end at kLockEnd at most, so the range
// above it stays free for flock() (kFlockOffset).
inline constexpr std::uint64_t kLockEnd = std::uint64_t{1} << 63;
// flock() locks are whole-file locks apart from fcntl ones (as on a local
// Linux filesystem): on the server they are one byte at this offset, which
// no POSIX lock can reach.
inline constexpr std::uint64_t kFlockOffset = kLockEnd;

struct LockRange {
  std::uint64_t start = 0;
  std::uint64_t end = 0;  // exclusive
  bool exclusive = false;
  friend bool operator==(const LockRange&, const LockRange&) = default;
};

// One owner's lock on part of the file.
struct HeldLock {
  std::uint64_t owner = 0;
  std::uint32_t pid = 0;  // of the process that took it, for F_GETLK
  LockRange range;
  friend bool operator==(const HeldLock&, const HeldLock&) = default;
};

// The server operations of one lock request, in this order:
// `release_first` (SMB unlocks that must come before: the owner's shared
// locks under an exclusive request, since an exclusive SMB lock conflicts
// with the open's own), then `take` (new SMB locks: the parts of the range
// not covered already). If a `take` is refused, the ones taken are
// released and `release_first` taken back, and the request fails;
// `release_first` is empty unless the request is an upgrade.
struct LockPlan {
  std::vector<LockRange> release_first;
  std::vector<LockRange> take;
};

class FileLocks {
 public:
  // The lock of another owner that conflicts with `owner` locking `r`
  // (any overlap where either is exclusive); nullopt if none.
  std::optional<HeldLock> Conflict(std::uint64_t owner, const LockRange& r) const;

  // Plans `owner` locking `r` given the SMB locks it holds (`server`).
  // Call Conflict first.
  static LockPlan PlanLock(const LockRange& r, const std::vector<LockRange>& server);

  // Sets `r` in `owner`'s locks (POSIX: it replaces whatever the owner had
  // there, so this is also the upgrade and the downgrade), or clears it.
  void Apply(std::uint64_t owner, std::uint32_t pid, const LockRange& r, bool unlock);
  // Forgets every lock of `owner` (its process closed the file).
  void ReleaseOwner(std::uint64_t owner);

  // Of `server` (the owner's SMB locks), those no part of which the owner
  // still has locked: to release now.
  std::vector<LockRange> Unneeded(std::uint64_t owner, const std::vector<LockRange>& server) const;

  // `owner`'s locks, sorted by start, adjacent ones of one kind merged.
  std::vector<HeldLock> Held(std::uint64_t owner) const;
  bool empty() const { return locks_.empty(); }

 private:
  std::vector<HeldLock> locks_;  // every owner's, no overlap within one owner
};

// Whether two ranges overlap.
inline bool Overlaps(const LockRange& a, const LockRange& b) { return a.start < b.end && b.start < a.end; }

}  // namespace smbgate::fuse
