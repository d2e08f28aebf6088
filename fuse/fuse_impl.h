// FuseFs::Impl: the state of one mount, shared by its FUSE handlers. The
// handlers live by topic: attributes.cc (lookups, getattr, setattr,
// readlink), files.cc (open files, reads and writes, locks),
// directories.cc (listings, and creating, removing and renaming entries),
// leases.cc (leases and their breaks) and fuse_session.cc (the session:
// mount, the loop, shutdown). Only fuse/*.cc include this header.
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif

#include <fuse3/fuse_lowlevel.h>
#include <semaphore.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "auth/crypto.h"
#include "fuse/dir_cache.h"
#include "fuse/dir_stream.h"
#include "fuse/errno_map.h"
#include "fuse/fuse_fs.h"
#include "fuse/handle_table.h"
#include "fuse/inode_table.h"
#include "fuse/lock_manager.h"
#include "fuse/mfsymlink.h"
#include "fuse/path_limits.h"
#include "fuse/stat_translation.h"
#include "fuse/write_behind.h"
#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"

namespace smbgate::fuse {

// The lease of one file (MS-SMB2 2.2.13.2.8): every open of the node
// carries the same key (LeaseKeyFor), so this mount's opens share one
// lease and never break each other; the server grants it per open and
// takes it back (a break) when another client opens or changes the file.
struct Lease {
  std::uint32_t state = 0;  // SMB2_LEASE_* held now
  int opens = 0;            // open handles that hold it
};

struct FuseFs::Impl {
  using FileAttributes = smb2::FileAttributes;
  using Handle = smb2::Handle;
  using Clock = std::chrono::steady_clock;

  std::shared_ptr<smb2::RemoteFs> fs;
  std::shared_ptr<LockManager> locks;  // fcntl and flock locks
  FsOptions opts;
  InodeTable inodes;
  DirCache dircache;
  // Directories being listed again to answer lookups, with the lookups
  // waiting for that listing.
  std::mutex refresh_mu;
  std::unordered_map<std::uint64_t, std::vector<std::function<void()>>> refreshing;
  fuse_session* se = nullptr;
  std::string mountpoint;
  bool is_mounted = false;
  bool signals_installed = false;
  // Stop signals and Exit() post this; Run's kicker thread then wakes the
  // loop's main thread until the loop has ended (see Run).
  sem_t stop_sem;
  std::atomic<bool> loop_ended{false};

  // Leases by node, and the node of each lease key.
  std::mutex lease_mu;
  std::unordered_map<std::uint64_t, Lease> leases;
  // The first half of every lease key of this mount, drawn at mount; the
  // second half is the node id (never reused), so concurrent first opens
  // of a file carry one key without any table.
  std::array<std::uint8_t, 8> lease_salt{};

  // Kernel cache invalidations for lease breaks, run on a thread of their
  // own (never the I/O thread: dropping pages may need FUSE requests
  // answered), each followed by the break's acknowledgement.
  std::mutex inval_mu;
  std::condition_variable inval_cv;
  std::deque<std::pair<std::uint64_t, std::function<void()>>> inval_queue;
  bool inval_stop = false;
  std::thread inval_thread;

  HandleTable handles;

  // Set by the INIT handler.
  std::mutex init_mu;
  std::condition_variable init_cv;
  bool initialized = false;

  // Requests whose reply is still to come; Shutdown waits for them.
  std::mutex flight_mu;
  // The requests an interrupt may answer (see OnInterrupt).
  struct Op;
  std::mutex interrupt_mu;
  std::unordered_map<fuse_req_t, std::weak_ptr<Op>> interruptible;
  std::condition_variable flight_cv;
  int in_flight = 0;
  // Of those, blocking locks (F_SETLKW, flock without LOCK_NB) waiting on
  // the server for another client: they end only when that client lets
  // go, or when their handle is closed (Shutdown does that).
  int lock_waiters = 0;

  double Timeout() const { return opts.actimeo; }

  // ---- bookkeeping for every operation ---------------------------------
  // One Op per FUSE request: counts it in flight, measures it, and makes
  // sure exactly one reply is sent.
  struct Op {
    Impl* impl;
    fuse_req_t req;
    const char* name;
    Clock::time_point start = Clock::now();
    // Answered already: by its own path, or with EINTR by an interrupt.
    std::atomic<bool> replied{false};
    // Ends a waiting lock request early (FUSE_INTERRUPT); set once.
    std::mutex cancel_mu;
    std::function<bool()> cancel;

    Op(Impl* i, fuse_req_t r, const char* n) : impl(i), req(r), name(n) {
      std::lock_guard<std::mutex> l(impl->flight_mu);
      ++impl->in_flight;
    }
    Op(const Op&) = delete;
    // Touches the Impl only if the request was never answered: a callback
    // may drop the last reference after the mount is gone (its answer
    // counted, Shutdown no longer waits for it).
    ~Op() {
      // A path that forgot to reply would hang the caller forever: answer
      // EIO rather than leave the kernel waiting.
      if (!replied) Done(EIO, [this] { fuse_reply_err(req, EIO); });
    }
    template <class F>
    void Done(int err, F&& reply) {
      (void)Answer(err, std::forward<F>(reply));
    }
    // Done that says whether this call answered (false: answered before).
    template <class F>
    bool Answer(int err, F&& reply) {
      // An interrupt may have answered first; the request is gone then.
      if (replied.exchange(true)) return false;
      {
        // Before the reply: libfuse may hand the same pointer to the next
        // request once this one is answered.
        std::lock_guard<std::mutex> l(impl->interrupt_mu);
        impl->interruptible.erase(req);
      }
      reply();
      if (impl->opts.on_operation) {
        impl->opts.on_operation(name, err, std::chrono::duration<double>(Clock::now() - start).count());
      }
      std::lock_guard<std::mutex> l(impl->flight_mu);
      --impl->in_flight;
      impl->flight_cv.notify_all();
      return true;
    }
    void Err(int err) {
      Done(err, [&] { fuse_reply_err(req, err); });
    }
    void Err(const std::error_code& ec) { Err(ErrnoFor(ec)); }
  };
  using OpPtr = std::shared_ptr<Op>;
  OpPtr Begin(fuse_req_t req, const char* name) {
    auto op = std::make_shared<Op>(this, req, name);
    {
      std::lock_guard<std::mutex> l(interrupt_mu);
      interruptible[req] = op;
    }
    fuse_req_interrupt_func(req, &Impl::OnInterrupt, this);
    return op;
  }

  // FUSE_INTERRUPT (the calling process got a signal): a request that waits
  // for a lost server is answered EINTR now (mount option `hard` with the
  // `intr` behaviour of NFS); the work itself may still complete later.
  static void OnInterrupt(fuse_req_t req, void* data) {
    auto* self = static_cast<Impl*>(data);
    OpPtr op;
    {
      std::lock_guard<std::mutex> l(self->interrupt_mu);
      auto it = self->interruptible.find(req);
      if (it != self->interruptible.end()) op = it->second.lock();
    }
    if (!op) return;
    std::function<bool()> cancel;
    {
      std::lock_guard<std::mutex> l(op->cancel_mu);
      cancel = op->cancel;
    }
    // A lock request waiting for another holder: POSIX says a signal ends
    // F_SETLKW (and flock) with EINTR.
    if (cancel && cancel()) return;
    if (self->opts.waiting_for_server && self->opts.waiting_for_server()) op->Err(EINTR);
  }

  // ---- attributes ------------------------------------------------------
  struct stat ToStat(std::uint64_t ino, const FileAttributes& a, bool symlink = false) const {
    return fuse::ToStat(opts, ino, a, symlink);
  }

  Clock::time_point Expiry() const {
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(Timeout()));
  }

  // Seconds left until `expiry` (a reply's cache timeout).
  static double Remaining(Clock::time_point expiry) {
    return std::max(0.0, std::chrono::duration<double>(expiry - Clock::now()).count());
  }

  // This mount added, removed or renamed an entry of directory `dir`. The
  // kernel drops its copy of the directory's attributes to see the new
  // modification time (and asks for them on the next path walk); the
  // cached copy answers with the time moved to now, as the server did, so
  // that a program comparing it (rsync setting directory times) sees the
  // change, and the server's own value comes when the copy expires.
  void DirChanged(std::uint64_t dir) { inodes.Modified(dir, NowFiletime()); }

  // The entry `ino` has in its directory's cached listing changed (a write,
  // a setattr): its listed attributes are stale now.
  void TouchListing(std::uint64_t ino);

  // Reads a possible mfsymlink; `cb(target or nullopt)`.
  void ReadSymlink(const std::string& path, std::function<void(std::optional<std::string>)> cb);

  bool MaybeSymlink(const FileAttributes& a) const { return !a.is_directory() && a.end_of_file == kMfSymlinkSize; }

  // Stats `path` for node `ino` and caches the result; `cb(attrs, symlink)`.
  void StatPath(std::uint64_t ino, const std::string& path,
                std::function<void(Result<FileAttributes>, bool symlink)> cb);

  fuse_entry_param Entry(std::uint64_t ino, const FileAttributes& a, bool symlink) const {
    return Entry(ino, a, symlink, Timeout());
  }

  fuse_entry_param Entry(std::uint64_t ino, const FileAttributes& a, bool symlink, double timeout) const {
    fuse_entry_param e{};
    e.ino = ino;
    e.generation = 1;
    e.attr = ToStat(ino, a, symlink);
    e.attr_timeout = timeout;
    e.entry_timeout = timeout;
    return e;
  }

  // "No such name", cached by the kernel for `timeout` seconds (a negative
  // entry: FUSE takes ino 0 with an entry timeout for one).
  static void ReplyNegative(const OpPtr& op, double timeout) {
    fuse_entry_param e{};
    e.entry_timeout = timeout;
    op->Done(ENOENT, [&] { fuse_reply_entry(op->req, &e); });
  }

  // ---- leases ------------------------------------------------------------
  // The lease key of node `ino`, and the node of a key of this mount (0 for
  // another key).
  smb2::LeaseKey LeaseKeyFor(std::uint64_t ino) const;
  std::uint64_t LeaseNode(const smb2::LeaseKey& key) const;

  // An open of `ino` with `key` was granted `state`. Whether the kernel may
  // keep its page cache of the file: only if this mount held a read lease
  // without a break since it filled that cache (another open holds one).
  bool Granted(std::uint64_t ino, std::uint32_t state, bool* counted);

  // A handle counted in its node's lease closed; with the last one the
  // server forgets the lease.
  void LeaseClosed(std::uint64_t ino);

  // A lease break (or, after a reconnect, every lease lost): what was
  // cached under the part taken back goes, then the server is told.
  void OnLeaseBreak(const smb2::LeaseKey& key, std::uint32_t new_state, std::function<void()> ack);

  // The rest of a break once locks kept under write caching are on the
  // server: read caching, then the acknowledgement.
  void AfterWriteCaching(std::uint64_t ino, std::uint32_t new_state, std::function<void()> ack);
  void InvalidateLoop();

  void StopInvalidations();

  // ---- attributes this mount owns (InodeTable::Own) ----------------------
  // The point from which attributes the server is asked for now may become
  // owned: the file's write count, when none of this mount's writes to it is
  // on its way (else nullopt: the answer may lack them), under cache=strict
  // (the other modes send writes without counting them in flight).
  std::optional<std::uint64_t> OwnableFrom(std::uint64_t ino);
  // Attributes of `ino` from the server (a create, open, query or setattr
  // reply) asked for at `from`: owned while this mount holds the file's
  // write lease and has it open for writing, else cached for actimeo.
  // `time_set`: a setattr set the modification time (InodeTable::Own).
  void Learned(std::uint64_t ino, const FileAttributes& a, std::optional<std::uint64_t> from, bool time_set = false);

  // ---- deferred close (mount option closetimeo) -------------------------
  // A file opened for reading and closed while its lease lets this client
  // cache the open itself (SMB2_LEASE_HANDLE_CACHING, MS-SMB2 2.2.13.2.8)
  // keeps its SMB handle for opts.close_timeout: another read open of the
  // file in that time takes it back with no round trip. The handle is closed when
  // the time is up, when the lease loses H (another client wants the file),
  // before this mount removes or renames anything (a server keeps a file
  // with an open handle, and refuses to rename a directory holding one),
  // and at shutdown.
  struct Parked {
    OpenFile file;
    Clock::time_point until;
  };
  std::mutex park_mu;
  std::condition_variable park_cv;
  std::unordered_map<std::uint64_t, std::vector<Parked>> parked;  // by node
  std::size_t parked_count = 0;
  bool park_stop = false;
  std::thread park_thread;
  // At most this many handles wait at once (untar of a big tree).
  static constexpr std::size_t kMaxParked = 128;
  // Keeps `f` open instead of closing it, when its lease allows; false
  // when it must be closed now.
  bool Park(const OpenFile& f);
  // A parked handle of `ino` with this access, taken back.
  std::optional<OpenFile> Unpark(std::uint64_t ino, bool writable);
  // Takes the parked handles of `ino` (0: all, or only `expired_at` or
  // earlier when that is set).
  std::vector<OpenFile> TakeParked(std::uint64_t ino, std::optional<Clock::time_point> expired_at = std::nullopt);
  // Closes `files` on the server (their lease counts end), then `then`.
  void CloseParked(std::vector<OpenFile> files, std::function<void()> then);
  // Closes every parked handle, then runs `then` (at once when none).
  void ClosingParked(std::function<void()> then);
  // Gives back the server handles of the listings open in any of `paths`
  // or below them (DirStream::Park), then runs `then`.
  void ClosingListings(std::vector<std::string> paths, std::function<void()> then);
  // Rename's server part, after ClosingParked.
  void RenameNow(const std::string& from, const std::string& to, bool replace,
                 std::function<void(Result<void>)> finish);
  void ParkLoop();
  void StopParking();

  // ---- write-behind (cache=strict under a write lease) -------------------
  // Writes of a file this mount holds a write lease on (no other client
  // has it open: the server breaks the lease before anyone else may open
  // it) are answered once taken and sent behind the application, several
  // in flight (WriteBehind). Their data reaches the server before anything
  // that could see it otherwise: a read, a stat, a setattr or truncating
  // open, a lock, a server-side copy, fsync, close, the break of the
  // lease, unmount. Without the lease each write waits for the server.
  std::mutex behind_mu;
  std::unordered_multimap<std::uint64_t, std::shared_ptr<WriteBehind>> behind;  // by node
  // Bytes taken and not yet on the server, over the whole mount; past
  // kBehindLimit writes wait for the server again.
  std::shared_ptr<std::atomic<std::size_t>> behind_total = std::make_shared<std::atomic<std::size_t>>(0);
  static constexpr std::size_t kBehindLimit = 4u << 20;
  static constexpr std::size_t kBehindInFlight = 4;
  // A WriteBehind for a writable handle (registered under `ino`), or null
  // when writes go through (cache=none, cache=loose).
  std::shared_ptr<WriteBehind> NewWriteBehind(std::uint64_t ino, Handle h);
  void ForgetWriteBehind(std::uint64_t ino, const std::shared_ptr<WriteBehind>& wb);
  bool HasWritesBehind(std::uint64_t ino);
  // Runs `then` once every write of `ino` taken so far is on the server
  // (at once when there are none). Errors stay for the writers.
  void DrainWrites(std::uint64_t ino, std::function<void()> then);
  // Whether this mount holds a write lease on `ino`.
  bool WriteLeased(std::uint64_t ino);
  // Bytes written since the heap was last given back; after a burst of
  // writes (kTrimAfter) the buffers' memory goes back to the system once
  // nothing is pending (malloc_trim).
  std::atomic<std::size_t> written_since_trim{0};
  static constexpr std::size_t kTrimAfter = 32u << 20;
  void AfterWrites();

  // ---- operations ------------------------------------------------------
  void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name);

  // Directories of at most this many entries are listed again (one round
  // trip) to answer a lookup in them once their listing has expired: a
  // process creating or removing many files there then waits for one
  // listing per actimeo instead of one request per name.
  static constexpr std::size_t kRelistMax = 4096;

  // Answers a lookup from the directory's cached listing when it can, else
  // from the server (a fresh listing of a small directory, or one CREATE +
  // QUERY_INFO + CLOSE compound for the name).
  void LookupIn(const OpPtr& op, std::uint64_t parent, const std::string& n, const std::string& p, bool may_relist);

  // Lists directory `dir` again for the cache, then runs `then` (also when
  // the listing failed: it falls back to asking for the name). Lookups that
  // arrive meanwhile wait for the same listing.
  void Relist(std::uint64_t dir, std::function<void()> then);

  void Forget(fuse_ino_t ino, std::uint64_t n) { inodes.Forget(ino, n); }
  // After the kernel forgot many nodes: hands the freed heap back to the
  // system (malloc_trim), at most once per 8192 nodes freed, or once half
  // of them went. On a FUSE thread (a trim may take tens of milliseconds).
  void GiveBackMemory();
  // Notes the most nodes held so far (what GiveBackMemory measures from).
  void NotePeakNodes();
  std::atomic<std::size_t> nodes_peak{0};

  void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);

  void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi);
  // The rest of SetAttr, once the file's writes are on the server.
  void SetAttrNow(const OpPtr& op, std::uint64_t ino, std::optional<OpenFile> f, std::optional<std::string> path,
                  smb2::AttributeChange change, int to_set, mode_t mode);

  void Readlink(fuse_req_t req, fuse_ino_t ino);

  // Creates `name` in `parent` and replies with an entry (and, for
  // create(), an open file).
  void CreateFile(fuse_req_t req, const char* opname, fuse_ino_t parent, const char* name, int flags,
                  fuse_file_info* fi);

  // `leased`: this mount held a read lease on the file since the kernel
  // cached its pages (a break would have dropped them): they are good.
  void ApplyCacheFlags(fuse_file_info& fi, std::uint64_t ino, bool leased);

  void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);

  void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi);

  void Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi);

  void Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);

  void Fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi);

  // `hold`: kept until the handle is closed (a release no request asked
  // for counts in flight, so Shutdown waits for it).
  void Release(std::uint64_t fh, OpPtr op, std::shared_ptr<void> hold = {});
  // Release once the file's writes are on the server.
  void ReleaseNow(std::uint64_t fh, const OpenFile& f, OpPtr op, std::shared_ptr<void> hold = {});
  // Answers an open or create with its new handle `fh` (`reply` returns
  // what fuse_reply_open/create did). When the caller is no longer there to
  // get it (an interrupt answered EINTR first, or the kernel dropped the
  // request: -ENOENT) the kernel will never release it: it is released
  // here, counted in flight until its CLOSE is done.
  template <class F>
  void ReplyWithHandle(const OpPtr& op, std::uint64_t fh, F&& reply) {
    // Counted before the answer, so the count never drops to 0 between the
    // answer and the release.
    auto held = std::make_shared<InFlight>(this);
    bool dropped = false;
    if (op->Answer(0, [&] { dropped = reply() == -ENOENT; }) && !dropped) return;
    Release(fh, nullptr, std::move(held));
  }
  // Work no request waits for, counted in flight while it lasts.
  struct InFlight {
    Impl* impl;
    explicit InFlight(Impl* i) : impl(i) {
      std::lock_guard<std::mutex> l(impl->flight_mu);
      ++impl->in_flight;
    }
    InFlight(const InFlight&) = delete;
    ~InFlight() {
      std::lock_guard<std::mutex> l(impl->flight_mu);
      --impl->in_flight;
      impl->flight_cv.notify_all();
    }
  };
  // CLOSEs of written handles still on their way, by node, and what waits
  // for them: a server sets a written file's times at its close (Samba
  // does), which would undo a utimensat that overtook the close.
  std::mutex closing_mu;
  std::unordered_map<std::uint64_t, std::pair<int, std::vector<std::function<void()>>>> closing;
  // Runs `then` once no written handle of `ino` is being closed.
  void AfterCloses(std::uint64_t ino, std::function<void()> then);

  // copy_file_range(2) between two files of the mount: a server-side copy
  // (FSCTL_SRV_COPYCHUNK_WRITE), the data never crossing the network.
  void CopyFileRange(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, fuse_file_info* fi_in, fuse_ino_t ino_out,
                     off_t off_out, fuse_file_info* fi_out, size_t len, int flags);

  void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);

  void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi, bool plus);

  void ReleaseDir(fuse_req_t req, fuse_file_info* fi);

  void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name);

  // Moves `path` out of the way to a hidden name and marks it for deletion
  // there (silly rename); `done` gets the rename's result.
  void SillyRename(const std::string& path, std::function<void(Result<void>)> done);

  void Remove(fuse_req_t req, fuse_ino_t parent, const char* name, bool dir);

  void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
              unsigned int flags);

  void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname);

  void Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name);

  void StatFs(fuse_req_t req);

  // fcntl and flock locks: LockManager (lock_manager.h) keeps POSIX
  // semantics per process and covers them with SMB2 byte-range locks.
  LockManager::Request LockRequest(fuse_req_t req, fuse_ino_t ino, const fuse_file_info* fi, const OpenFile& f) const;

  // Runs a lock request that may wait: counted for shutdown, and
  // cancellable by a signal while it waits.
  template <class Start>
  void WaitingLock(const OpPtr& op, bool wait, Start start) {
    if (wait) {
      std::lock_guard<std::mutex> l(flight_mu);
      ++lock_waiters;
    }
    auto done = [this, op, wait](int err) {
      if (wait) {
        std::lock_guard<std::mutex> l(flight_mu);
        --lock_waiters;
      }
      op->Err(err);
      // The cancel function holds this callback, which holds the op: drop
      // it once answered, or the op never goes (LeakSanitizer, e2e).
      std::lock_guard<std::mutex> l(op->cancel_mu);
      op->cancel = nullptr;
    };
    LockManager::Cancel cancel = start(done);
    std::lock_guard<std::mutex> l(op->cancel_mu);
    if (!op->replied) op->cancel = std::move(cancel);
  }

  void SetLock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, const struct flock* lock, bool wait);

  void Flock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int how);

  // The fcntl range [l_start, l_start + l_len) as offsets (l_len 0: to the
  // end of any file, kLockEnd); the kernel has made l_start absolute.
  static LockRange PosixRange(const struct flock& l) {
    const std::uint64_t start = std::min<std::uint64_t>(static_cast<std::uint64_t>(l.l_start), kLockEnd - 1);
    std::uint64_t end = kLockEnd;
    if (l.l_len > 0) end = std::min<std::uint64_t>(start + static_cast<std::uint64_t>(l.l_len), kLockEnd);
    return {start, end, l.l_type == F_WRLCK};
  }

  void GetLock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock);
};

}  // namespace smbgate::fuse
