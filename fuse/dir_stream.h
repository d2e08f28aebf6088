// DirStream: one open directory's listing, read from the server a page at
// a time (RemoteFs::OpenListing, then ListMore) and served to readdir by
// position, so a directory of a million entries never sits in memory
// whole: the stream keeps the page last read and the one before it.
//
// Positions count the entries the filter keeps, from 0. A read behind the
// pages at hand starts the listing again (SMB2_RESTART_SCANS, or a new
// open once the listing ended and its handle was closed) and reads forward
// to the position; a listing whose handle fails (a reconnect replaced the
// connection) or was given back (Park: a server refuses to rename or
// remove a directory with opens below it) is opened again the same way, by
// the directory's path at that time. As for readdir(3), entries added or
// removed while a listing is read again may be seen or not. A pass of more
// than 2^24 entries is refused as a broken server's.
//
// The first complete pass, when it holds at most `complete_max` entries,
// is handed to `on_complete` (the directory cache takes it).
//
// Thread-safety: every member may be called from any thread. Reads are
// served one at a time, in the order they came; `use` and the callbacks run
// on the caller's thread or on the RemoteFs's, never under a lock of the
// stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "smb2/client/remote_fs.h"

namespace smbgate::fuse {

class DirStream : public std::enable_shared_from_this<DirStream> {
 public:
  // Whether an entry is listed; may act on the ones it drops.
  using Filter = std::function<bool(const smb2::DirectoryEntry&)>;
  // The directory's path now (it may have been renamed), or none if it is
  // gone.
  using PathFn = std::function<std::optional<std::string>()>;
  using Complete = std::function<void(const std::vector<smb2::DirectoryEntry>&)>;
  // Entries from the position asked on (at least one, unless the listing
  // ends before it: then none).
  using Use = std::function<void(Result<std::span<const smb2::DirectoryEntry>>)>;

  DirStream(std::shared_ptr<smb2::RemoteFs> fs, PathFn path, Filter keep, std::size_t complete_max,
            Complete on_complete);
  // Closes the directory on the server if it is still open.
  ~DirStream();
  DirStream(const DirStream&) = delete;
  DirStream& operator=(const DirStream&) = delete;

  // Calls `use` once with the entries from `position` on, reading pages as
  // needed. The span is valid only during the call.
  void Read(std::uint64_t position, Use use);

  // Closes the directory on the server now, unless a read is under way;
  // the next read past the pages at hand opens it again. Then `done`.
  void Park(std::function<void()> done);

 private:
  struct Pending {
    std::uint64_t position;
    Use use;
  };
  // Serves queued reads until one needs a page (then it goes on when the
  // page comes) or none is left.
  void Pump();
  // Asks for the next page (or the first again, with `restart`; by a new
  // open if there is no handle).
  void Fetch(bool restart);
  // `fresh`: the page starts a pass (a new open or a restart).
  void Took(Result<smb2::DirectoryPage> page, bool fresh);
  // Closes the directory on the server if open, then `done`.
  void CloseHandle(std::function<void()> done = nullptr);

  const std::shared_ptr<smb2::RemoteFs> fs_;
  const PathFn path_;
  const Filter keep_;
  const std::size_t complete_max_;
  const Complete on_complete_;

  std::mutex mu_;
  std::deque<Pending> queue_;  // under mu_
  bool busy_ = false;          // under mu_: a Pump (or its fetch) runs

  // Owned by the running Pump (busy_), so without a lock.
  std::optional<smb2::Handle> handle_;  // open on the server
  bool end_ = false;                    // the pass read everything
  std::vector<smb2::DirectoryEntry> prev_, cur_;
  std::uint64_t cur_start_ = 0;     // position of cur_[0]; prev_ ends there
  bool took_ = false;               // an answer came: a later pass is not the first
  bool retried_ = false;            // the front read already opened again once
  std::uint64_t pass_entries_ = 0;  // from the server since the pass began
  // The first pass, gathered while it fits in complete_max_.
  bool collecting_ = true;
  std::vector<smb2::DirectoryEntry> complete_;
};

}  // namespace smbgate::fuse
