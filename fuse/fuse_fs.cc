#define FUSE_USE_VERSION 312
#include "fuse/fuse_fs.h"

#include <fuse3/fuse_lowlevel.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <thread>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "auth/crypto.h"
#include "fuse/dir_cache.h"
#include "fuse/errno_map.h"
#include "fuse/inode_table.h"
#include "fuse/lock_manager.h"
#include "fuse/mfsymlink.h"
#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"
#include <future>

namespace smbgate::fuse {
namespace {

using smb2::FileAttributes;
using smb2::Handle;
using Clock = std::chrono::steady_clock;

// MS-DTYP 2.3.3: FILETIME counts 100 ns intervals since 1601-01-01 UTC.
constexpr std::uint64_t kUnixEpochFiletime = 116444736000000000ull;

timespec FiletimeToTimespec(std::uint64_t ft) {
  if (ft < kUnixEpochFiletime) return {0, 0};
  const std::uint64_t d = ft - kUnixEpochFiletime;
  return {static_cast<time_t>(d / 10000000), static_cast<long>((d % 10000000) * 100)};
}

std::uint64_t TimespecToFiletime(const timespec& t) {
  if (t.tv_sec < 0) return kUnixEpochFiletime;  // before 1970: clamp
  return kUnixEpochFiletime + static_cast<std::uint64_t>(t.tv_sec) * 10000000 +
         static_cast<std::uint64_t>(t.tv_nsec) / 100;
}

std::uint64_t NowFiletime() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return TimespecToFiletime(t);
}

// The errno for a failed lookup. A file unlinked while still open stays on
// the server, delete-pending, until its last handle is closed, and Samba
// 4.17 (like Windows) answers an open of its name with
// STATUS_DELETE_PENDING; for POSIX the name is gone already.
int LookupErrno(const std::error_code& ec) {
  if (smb2::IsNtStatus(ec) && smb2::NtStatusOf(ec) == smb2::status::kDeletePending) return ENOENT;
  return ErrnoFor(ec);
}

// "Silly rename" (as NFS and kernel cifs do): a file replaced by a rename
// or unlinked while open is first renamed to a hidden name in its
// directory and marked for deletion there, so its name is free at once and
// the processes that have it open keep reading and writing it until they
// close it. Names with this prefix never show in listings or lookups, and
// leftovers (a crash between the two steps) are deleted when their
// directory is next listed.

// `path`'s directory plus a fresh hidden name.
std::string HiddenSibling(const std::string& path) {
  static std::atomic<std::uint64_t> counter{0};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x%08llx", static_cast<unsigned>(::getpid()),
                static_cast<unsigned long long>(
                    counter.fetch_add(1) ^ static_cast<std::uint64_t>(Clock::now().time_since_epoch().count())));
  const auto slash = path.rfind('/');
  return (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + std::string(kHiddenPrefix) + buf;
}

struct OpenFile {
  Handle handle;
  std::uint64_t ino = 0;
  bool writable = false;
  bool leased = false;  // counted in its node's Lease::opens
};

// The lease of one file (MS-SMB2 2.2.13.2.8): every open of the node
// carries the same key, so this mount's opens share one lease and never
// break each other; the server grants it per open and takes it back (a
// break) when another client opens or changes the file.
struct Lease {
  smb2::LeaseKey key{};
  std::uint32_t state = 0;  // SMB2_LEASE_* held now
  int opens = 0;            // open handles that hold it
};

struct DirSnapshot {
  std::vector<smb2::DirectoryEntry> entries;
};

}  // namespace

struct FuseFs::Impl {
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

  // Leases by node, and the node of each lease key.
  std::mutex lease_mu;
  std::unordered_map<std::uint64_t, Lease> leases;
  std::map<smb2::LeaseKey, std::uint64_t> lease_nodes;

  // Kernel cache invalidations for lease breaks, run on a thread of their
  // own (never the I/O thread: dropping pages may need FUSE requests
  // answered), each followed by the break's acknowledgement.
  std::mutex inval_mu;
  std::condition_variable inval_cv;
  std::deque<std::pair<std::uint64_t, std::function<void()>>> inval_queue;
  bool inval_stop = false;
  std::thread inval_thread;

  std::mutex mu;  // guards files, dirs, next_fh
  std::unordered_map<std::uint64_t, OpenFile> files;
  std::unordered_map<std::uint64_t, std::shared_ptr<DirSnapshot>> dirs;
  std::uint64_t next_fh = 1;

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
    ~Op() {
      {
        std::lock_guard<std::mutex> l(impl->interrupt_mu);
        impl->interruptible.erase(req);
      }
      // A path that forgot to reply would hang the caller forever: answer
      // EIO rather than leave the kernel waiting.
      if (!replied) Done(EIO, [this] { fuse_reply_err(req, EIO); });
    }
    template <class F>
    void Done(int err, F&& reply) {
      // An interrupt may have answered first; the request is gone then.
      if (replied.exchange(true)) return;
      reply();
      if (impl->opts.on_operation) {
        impl->opts.on_operation(name, err, std::chrono::duration<double>(Clock::now() - start).count());
      }
      std::lock_guard<std::mutex> l(impl->flight_mu);
      --impl->in_flight;
      impl->flight_cv.notify_all();
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
    struct stat st{};
    st.st_ino = a.file_id ? a.file_id : ino;
    if (a.is_directory()) {
      st.st_mode = S_IFDIR | (opts.dir_mode & 07777);
      st.st_nlink = 2;
    } else if (symlink) {
      st.st_mode = S_IFLNK | 0777;
      st.st_nlink = 1;
    } else {
      st.st_mode = S_IFREG | (opts.file_mode & 07777);
      st.st_nlink = a.nlink ? a.nlink : 1;
    }
    // Like cifs: the DOS read-only attribute clears every write bit.
    if ((a.file_attributes & smb2::kAttributeReadonly) && !symlink) st.st_mode &= ~0222;
    if (opts.read_only) st.st_mode &= ~0222;
    st.st_uid = opts.uid;
    st.st_gid = opts.gid;
    st.st_size = symlink ? 0 : static_cast<off_t>(a.end_of_file);
    st.st_blksize = 1 << 20;
    st.st_blocks = static_cast<blkcnt_t>((a.allocation_size + 511) / 512);
    st.st_atim = FiletimeToTimespec(a.last_access_time);
    st.st_mtim = FiletimeToTimespec(a.last_write_time);
    st.st_ctim = FiletimeToTimespec(a.change_time);
    return st;
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
  void TouchListing(std::uint64_t ino) {
    if (auto pn = inodes.Parent(ino)) dircache.Touched(pn->first, pn->second);
  }

  // Reads a possible mfsymlink; `cb(target or nullopt)`.
  void ReadSymlink(const std::string& path, std::function<void(std::optional<std::string>)> cb) {
    smb2::OpenParams p;
    p.non_directory = true;
    auto fsys = fs;
    fs->Open(path, p, [fsys, cb = std::move(cb)](Result<smb2::OpenResult> o) {
      if (!o) return cb(std::nullopt);
      const Handle h = o->handle;
      fsys->Read(h, 0, kMfSymlinkSize + 1, [fsys, h, cb](Result<smb2::ReadResult> r) {
        std::optional<std::string> target;
        if (r) target = DecodeMfSymlink(r->data);
        fsys->Close(h, [](Result<void>) {});
        cb(std::move(target));
      });
    });
  }

  bool MaybeSymlink(const FileAttributes& a) const {
    return !a.is_directory() && a.end_of_file == kMfSymlinkSize;
  }

  // Stats `path` for node `ino` and caches the result; `cb(attrs, symlink)`.
  void StatPath(std::uint64_t ino, const std::string& path,
                std::function<void(Result<FileAttributes>, bool symlink)> cb) {
    fs->Stat(path, [this, ino, path, cb = std::move(cb)](Result<FileAttributes> a) {
      if (!a) return cb(a.error(), false);
      if (!MaybeSymlink(*a)) {
        inodes.SetAttributes(ino, *a, Expiry());
        return cb(std::move(a), false);
      }
      FileAttributes attrs = *a;
      ReadSymlink(path, [this, ino, attrs, cb](std::optional<std::string> t) {
        inodes.SetAttributes(ino, attrs, Expiry(), t.has_value());
        cb(attrs, t.has_value());
      });
    });
  }

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

  std::optional<OpenFile> File(std::uint64_t fh) {
    std::lock_guard<std::mutex> l(mu);
    auto it = files.find(fh);
    if (it == files.end()) return std::nullopt;
    return it->second;
  }

  // Some open file of node `ino`: the kernel sends GETATTR of fstat(2), and
  // SETATTR of fchmod(2)/futimens(2), without a file handle, and a node
  // unlinked while open has no path left to open.
  std::optional<OpenFile> AnyFileOf(std::uint64_t ino) {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& [fh, f] : files) {
      if (f.ino == ino) return f;
    }
    return std::nullopt;
  }

  std::uint64_t AddFile(OpenFile f) {
    std::lock_guard<std::mutex> l(mu);
    const std::uint64_t fh = next_fh++;
    files.emplace(fh, f);
    return fh;
  }

  // ---- leases ------------------------------------------------------------
  // The lease key for node `ino` (0: a node not made yet), drawn on first use.
  smb2::LeaseKey LeaseKeyFor(std::uint64_t ino) {
    std::lock_guard<std::mutex> l(lease_mu);
    if (ino) {
      auto it = leases.find(ino);
      if (it != leases.end()) return it->second.key;
    }
    smb2::LeaseKey k;
    auth::OsRandom()(k);
    return k;
  }

  // An open of `ino` with `key` was granted `state`. Whether the kernel may
  // keep its page cache of the file: only if this mount held a read lease
  // without a break since it filled that cache (another open holds one).
  bool Granted(std::uint64_t ino, const smb2::LeaseKey& key, std::uint32_t state, bool* counted) {
    std::lock_guard<std::mutex> l(lease_mu);
    Lease& le = leases[ino];
    const bool cache_good = le.opens > 0 && (le.state & smb2::kLeaseRead) && le.key == key;
    if (le.key != key) {
      lease_nodes.erase(le.key);
      le.key = key;
      le.opens = 0;
    }
    lease_nodes[key] = ino;
    *counted = state != 0;
    if (state) {
      ++le.opens;
      le.state = state;
    }
    return cache_good && (state & smb2::kLeaseRead);
  }

  // A handle counted in its node's lease closed; with the last one the
  // server forgets the lease.
  void LeaseClosed(std::uint64_t ino) {
    std::lock_guard<std::mutex> l(lease_mu);
    auto it = leases.find(ino);
    if (it == leases.end()) return;
    if (--it->second.opens <= 0) {
      lease_nodes.erase(it->second.key);
      leases.erase(it);
    }
  }

  // A lease break (or, after a reconnect, every lease lost): what was
  // cached under the part taken back goes, then the server is told.
  void OnLeaseBreak(const smb2::LeaseKey& key, std::uint32_t new_state, std::function<void()> ack) {
    std::uint64_t ino = 0;
    {
      std::lock_guard<std::mutex> l(lease_mu);
      auto it = lease_nodes.find(key);
      if (it != lease_nodes.end()) {
        ino = it->second;
        leases[ino].state = new_state;
      }
    }
    if (ino == 0 || (new_state & smb2::kLeaseRead)) return ack();
    // Read caching ends: attributes, listing entry and the kernel's pages
    // and attributes of the file go (with cache=strict nothing is dirty in
    // the kernel: writes went through).
    inodes.InvalidateAttributes(ino);
    TouchListing(ino);
    {
      std::lock_guard<std::mutex> l(inval_mu);
      if (!inval_stop) {
        inval_queue.emplace_back(ino, std::move(ack));
        inval_cv.notify_one();
        return;
      }
    }
    ack();
  }

  void InvalidateLoop() {
    for (;;) {
      std::pair<std::uint64_t, std::function<void()>> job;
      {
        std::unique_lock<std::mutex> l(inval_mu);
        inval_cv.wait(l, [&] { return inval_stop || !inval_queue.empty(); });
        if (inval_queue.empty()) return;
        job = std::move(inval_queue.front());
        inval_queue.pop_front();
      }
      if (se && is_mounted) fuse_lowlevel_notify_inval_inode(se, job.first, 0, 0);
      if (opts.on_lease_break) opts.on_lease_break();
      job.second();
    }
  }

  void StopInvalidations() {
    {
      std::lock_guard<std::mutex> l(inval_mu);
      inval_stop = true;
    }
    inval_cv.notify_all();
    if (inval_thread.joinable()) inval_thread.join();
    // Breaks still queued are acknowledged (their files are going anyway).
    for (auto& job : inval_queue) job.second();
    inval_queue.clear();
  }

  // ---- operations ------------------------------------------------------
  void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    auto op = Begin(req, "lookup");
    if (IsHidden(name)) return op->Err(ENOENT);
    auto path = inodes.ChildPath(parent, name);
    if (!path) return op->Err(ENOENT);
    LookupIn(op, parent, name, *path, true);
  }

  // Directories of at most this many entries are listed again (one round
  // trip) to answer a lookup in them once their listing has expired: a
  // process creating or removing many files there then waits for one
  // listing per actimeo instead of one request per name.
  static constexpr std::size_t kRelistMax = 4096;

  // Answers a lookup from the directory's cached listing when it can, else
  // from the server (a fresh listing of a small directory, or one CREATE +
  // QUERY_INFO + CLOSE compound for the name).
  void LookupIn(const OpPtr& op, std::uint64_t parent, const std::string& n, const std::string& p, bool may_relist) {
    const DirCache::Found f = dircache.Find(parent, n, Clock::now());
    if (f.answer == DirCache::Answer::kAbsent) return ReplyNegative(op, Remaining(f.expiry));
    if (f.answer == DirCache::Answer::kPresent) {
      const std::uint64_t known = inodes.Child(parent, n);
      std::optional<InodeTable::Cached> c = known ? inodes.Fresh(known) : std::nullopt;
      if (!c && f.attrs && !MaybeSymlink(*f.attrs)) c = InodeTable::Cached{*f.attrs, false, f.expiry};
      if (c && !OpenForWrite(known)) {
        const std::uint64_t ino = inodes.Lookup(parent, n);
        if (ino == 0) return op->Err(ENOENT);
        const auto expiry = std::min(c->expiry, f.expiry);
        inodes.SetAttributes(ino, c->attrs, expiry, c->symlink);
        fuse_entry_param e = Entry(ino, c->attrs, c->symlink, Remaining(expiry));
        return op->Done(0, [&] { fuse_reply_entry(op->req, &e); });
      }
    } else if (may_relist && dircache.HadSmallListing(parent, kRelistMax)) {
      return Relist(parent, [this, op, parent, n, p] { LookupIn(op, parent, n, p, false); });
    }
    fs->Stat(p, [this, op, parent, n, p](Result<FileAttributes> a) {
      if (!a) {
        const int err = LookupErrno(a.error());
        if (err == ENOENT) return ReplyNegative(op, Timeout());
        return op->Err(err);
      }
      auto finish = [this, op, parent, n](const FileAttributes& attrs, bool symlink) {
        const std::uint64_t ino = inodes.Lookup(parent, n);
        if (ino == 0) return op->Err(ENOENT);
        inodes.SetAttributes(ino, attrs, Expiry(), symlink);
        fuse_entry_param e = Entry(ino, attrs, symlink);
        op->Done(0, [&] { fuse_reply_entry(op->req, &e); });
      };
      if (!MaybeSymlink(*a)) return finish(*a, false);
      FileAttributes attrs = *a;
      ReadSymlink(p, [finish, attrs](std::optional<std::string> t) { finish(attrs, t.has_value()); });
    });
  }

  // Lists directory `dir` again for the cache, then runs `then` (also when
  // the listing failed: it falls back to asking for the name). Lookups that
  // arrive meanwhile wait for the same listing.
  void Relist(std::uint64_t dir, std::function<void()> then) {
    {
      std::lock_guard<std::mutex> l(refresh_mu);
      auto& waiting = refreshing[dir];
      waiting.push_back(std::move(then));
      if (waiting.size() > 1) return;
    }
    auto finish = [this, dir] {
      std::vector<std::function<void()>> waiting;
      {
        std::lock_guard<std::mutex> l(refresh_mu);
        waiting.swap(refreshing[dir]);
        refreshing.erase(dir);
      }
      for (auto& w : waiting) w();
    };
    auto path = inodes.Path(dir);
    if (!path) return finish();
    const std::uint64_t generation = dircache.Generation(dir);
    fs->ReadDirectory(*path, [this, dir, generation, finish](Result<std::vector<smb2::DirectoryEntry>> r) {
      if (r) {
        std::erase_if(*r, [](const smb2::DirectoryEntry& e) { return IsHidden(e.name); });
        dircache.Fill(dir, generation, *r, Expiry());
      }
      finish();
    });
  }

  void Forget(fuse_ino_t ino, std::uint64_t n) { inodes.Forget(ino, n); }

  void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    auto op = Begin(req, "getattr");
    // Attributes this mount fetched less than actimeo ago (a lookup, a
    // listing, a create or setattr reply) are still good: the kernel asks
    // again when it drops its own copy early (after a create or unlink in
    // a directory, for instance).
    // Not for a file this mount is writing: a size fetched while a write
    // was in flight would be older than the kernel's own, and taken.
    if (auto c = inodes.Fresh(ino); c && !OpenForWrite(ino)) {
      struct stat st = ToStat(ino, c->attrs, c->symlink);
      return op->Done(0, [&] { fuse_reply_attr(op->req, &st, Remaining(c->expiry)); });
    }
    auto reply = [this, op, ino](const FileAttributes& a, bool symlink) {
      struct stat st = ToStat(ino, a, symlink);
      op->Done(0, [&] { fuse_reply_attr(op->req, &st, Timeout()); });
    };
    if (fi) {
      // Through the open handle: works for a file unlinked while open.
      if (auto f = File(fi->fh)) {
        fs->GetAttributes(f->handle, [this, op, ino, reply](Result<FileAttributes> a) {
          if (!a) return op->Err(a.error());
          inodes.SetAttributes(ino, *a, Expiry());
          reply(*a, false);
        });
        return;
      }
    }
    auto path = inodes.Path(ino);
    if (!path) {
      if (auto f = AnyFileOf(ino)) {
        fs->GetAttributes(f->handle, [op, reply](Result<FileAttributes> a) {
          if (!a) return op->Err(a.error());
          reply(*a, false);
        });
        return;
      }
      return op->Err(ENOENT);
    }
    StatPath(ino, *path, [op, reply](Result<FileAttributes> a, bool symlink) {
      if (!a) return op->Err(a.error());
      reply(*a, symlink);
    });
  }

  void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
    auto op = Begin(req, "setattr");
    if (opts.read_only) return op->Err(EROFS);
    if ((to_set & FUSE_SET_ATTR_UID && attr->st_uid != opts.uid) ||
        (to_set & FUSE_SET_ATTR_GID && attr->st_gid != opts.gid)) {
      // Ownership comes from the mount options; the server has no Unix
      // owners to change (cifs without unix extensions answers the same).
      return op->Err(EPERM);
    }
    smb2::AttributeChange change;
    smb2::SetAttributes& sa = change.basic;
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
      sa.last_access_time = NowFiletime();
    } else if (to_set & FUSE_SET_ATTR_ATIME) {
      sa.last_access_time = TimespecToFiletime(attr->st_atim);
    }
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
      sa.last_write_time = NowFiletime();
    } else if (to_set & FUSE_SET_ATTR_MTIME) {
      sa.last_write_time = TimespecToFiletime(attr->st_mtim);
    }
    change.set_basic = sa.last_access_time || sa.last_write_time;
    change.set_size = to_set & FUSE_SET_ATTR_SIZE;
    change.size = change.set_size ? static_cast<std::uint64_t>(attr->st_size) : 0;
    // The handle to change through: the caller's (ftruncate), else by path
    // (fchmod and futimens come without a handle, and the caller's may
    // not have write access), else, for a file unlinked while open, one
    // this mount has open on it.
    std::optional<OpenFile> f;
    if (fi) f = File(fi->fh);
    auto path = inodes.Path(ino);
    if (!f && !path) f = AnyFileOf(ino);
    if (!f && !path) return op->Err(ENOENT);
    auto apply = [this, op, ino, f, path](smb2::AttributeChange ch) {
      auto reply = [this, op, ino](Result<FileAttributes> a) {
        if (!a) {
          inodes.InvalidateAttributes(ino);
          TouchListing(ino);
          return op->Err(a.error());
        }
        inodes.SetAttributes(ino, *a, Expiry());
        TouchListing(ino);
        struct stat st = ToStat(ino, *a);
        op->Done(0, [&] { fuse_reply_attr(op->req, &st, Timeout()); });
      };
      // One round trip: SET_INFO(s) and QUERY_INFO as one compound (by path
      // inside CREATE ... CLOSE).
      if (f) return fs->Update(f->handle, ch, reply);
      fs->UpdatePath(*path, ch, reply);
    };
    if (!(to_set & FUSE_SET_ATTR_MODE)) return apply(change);
    // chmod: no write bit at all sets the DOS read-only attribute, any
    // write bit clears it (the cifs rule); the other attributes are kept,
    // so they are needed first: cached ones when fresh.
    const mode_t mode = attr->st_mode;
    auto with_attrs = [apply, change, mode](const FileAttributes& a) mutable {
      std::uint32_t attrs = a.file_attributes;
      if (mode & 0222) {
        attrs &= ~smb2::kAttributeReadonly;
      } else {
        attrs |= smb2::kAttributeReadonly;
      }
      // MS-FSCC 2.4.7: zero would mean "unchanged"; NORMAL is "none".
      if (attrs == 0) attrs = smb2::kAttributeNormal;
      change.basic.file_attributes = attrs;
      change.set_basic = true;
      apply(change);
    };
    if (auto dos = inodes.DosAttributes(ino)) {
      FileAttributes known;
      known.file_attributes = *dos;
      return with_attrs(known);
    }
    auto got = [op, with_attrs](Result<FileAttributes> a) mutable {
      if (!a) return op->Err(a.error());
      with_attrs(*a);
    };
    if (f) return fs->GetAttributes(f->handle, got);
    fs->Stat(*path, got);
  }

  void Readlink(fuse_req_t req, fuse_ino_t ino) {
    auto op = Begin(req, "readlink");
    auto path = inodes.Path(ino);
    if (!path) return op->Err(ENOENT);
    ReadSymlink(*path, [op](std::optional<std::string> t) {
      if (!t) return op->Err(EINVAL);
      op->Done(0, [&] { fuse_reply_readlink(op->req, t->c_str()); });
    });
  }

  // Creates `name` in `parent` and replies with an entry (and, for
  // create(), an open file).
  void CreateFile(fuse_req_t req, const char* opname, fuse_ino_t parent, const char* name, int flags,
                  fuse_file_info* fi) {
    auto op = Begin(req, opname);
    if (opts.read_only) return op->Err(EROFS);
    auto path = inodes.ChildPath(parent, name);
    if (!path) return op->Err(ENOENT);
    smb2::OpenParams p;
    p.read = true;
    p.write = true;
    p.non_directory = true;
    p.disposition = (flags & O_EXCL) ? smb2::OpenDisposition::kCreate
                    : (flags & O_TRUNC) ? smb2::OpenDisposition::kOverwriteIf
                                        : smb2::OpenDisposition::kOpenIf;
    const bool keep_open = fi != nullptr;
    std::string n = name;
    fuse_file_info info = fi ? *fi : fuse_file_info{};
    p.lease_key = LeaseKeyFor(inodes.Child(parent, n));
    fs->Open(*path, p, [this, op, parent, n, keep_open, info, key = p.lease_key](Result<smb2::OpenResult> o) mutable {
      if (!o) return op->Err(o.error());
      const std::uint64_t ino = inodes.Lookup(parent, n);
      inodes.SetAttributes(ino, o->attrs, Expiry());
      dircache.Added(parent, n, o->attrs);
      DirChanged(parent);
      fuse_entry_param e = Entry(ino, o->attrs, false);
      if (!keep_open) {
        fs->Close(o->handle, [op, e](Result<void> c) {
          if (!c) return op->Err(c.error());
          op->Done(0, [&] { fuse_reply_entry(op->req, &e); });
        });
        return;
      }
      OpenFile of{o->handle, ino, true};
      const bool keep = Granted(ino, key, o->durable.lease_state, &of.leased);
      info.fh = AddFile(of);
      ApplyCacheFlags(info, ino, keep);
      op->Done(0, [&] {
        if (fuse_reply_create(op->req, &e, &info) == -ENOENT) {
          // The caller was interrupted: the kernel will never release it.
          Release(info.fh, nullptr);
        }
      });
    });
  }

  // `leased`: this mount held a read lease on the file since the kernel
  // cached its pages (a break would have dropped them): they are good.
  void ApplyCacheFlags(fuse_file_info& fi, std::uint64_t ino, bool leased) {
    fi.direct_io = opts.cache == CacheMode::kNone;
    fi.keep_cache = opts.cache == CacheMode::kLoose || (leased && opts.cache == CacheMode::kStrict);
    // SQLite's WAL index ("DB-shm") is shared memory: every process of the
    // database maps it and reads the others' stores at once. An open that
    // drops the page cache (cache=strict) would throw away stores not yet
    // written back under the other processes' feet ("database disk image
    // is malformed" with two writers); kept, the processes of one mount
    // share one mapping. Across clients WAL cannot work on any network
    // filesystem (SQLite's documentation says so).
    if (opts.cache != CacheMode::kNone) {
      auto p = inodes.Path(ino);
      if (p && p->size() > 4 && p->compare(p->size() - 4, 4, "-shm") == 0) fi.keep_cache = 1;
    }
  }

  void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    auto op = Begin(req, "open");
    const int acc = fi->flags & O_ACCMODE;
    const bool write = acc == O_WRONLY || acc == O_RDWR;
    if (write && opts.read_only) return op->Err(EROFS);
    auto path = inodes.Path(ino);
    if (!path) return op->Err(ENOENT);
    smb2::OpenParams p;
    // With the writeback cache the kernel may read to fill pages even for a
    // write-only open: always ask for read access too.
    p.read = true;
    p.write = write;
    p.non_directory = true;
    p.disposition = (fi->flags & O_TRUNC) && write ? smb2::OpenDisposition::kOverwrite : smb2::OpenDisposition::kOpen;
    fuse_file_info info = *fi;
    p.lease_key = LeaseKeyFor(ino);
    fs->Open(*path, p, [this, op, ino, write, info, key = p.lease_key](Result<smb2::OpenResult> o) mutable {
      if (!o) return op->Err(o.error());
      inodes.SetAttributes(ino, o->attrs, Expiry());
      OpenFile of{o->handle, ino, write};
      const bool keep = Granted(ino, key, o->durable.lease_state, &of.leased);
      info.fh = AddFile(of);
      ApplyCacheFlags(info, ino, keep);
      op->Done(0, [&] {
        if (fuse_reply_open(op->req, &info) == -ENOENT) Release(info.fh, nullptr);
      });
    });
  }

  void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    auto op = Begin(req, "read");
    auto f = File(fi->fh);
    if (!f) return op->Err(EBADF);
    // Split into requests of at most the server's size (64 KiB on 2.0.2),
    // all sent at once; the reply gathers them in order.
    const std::uint32_t chunk = std::max<std::uint32_t>(fs->max_io_size(), 4096);
    struct Gather {
      std::mutex mu;
      std::vector<smb2::ReadResult> parts;
      std::vector<std::uint32_t> asked;
      std::size_t pending;
      std::error_code error;
    };
    const std::size_t n = size == 0 ? 0 : (size + chunk - 1) / chunk;
    if (n == 0) return op->Done(0, [&] { fuse_reply_buf(op->req, nullptr, 0); });
    auto g = std::make_shared<Gather>();
    g->parts.resize(n);
    g->asked.resize(n);
    g->pending = n;
    for (std::size_t i = 0; i < n; ++i) {
      g->asked[i] = static_cast<std::uint32_t>(std::min<std::size_t>(chunk, size - i * chunk));
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t o = static_cast<std::uint64_t>(off) + i * chunk;
      const std::uint32_t len = g->asked[i];
      fs->Read(f->handle, o, len, [op, g, i](Result<smb2::ReadResult> r) {
        std::unique_lock<std::mutex> l(g->mu);
        if (r) {
          g->parts[i] = std::move(*r);
        } else if (!g->error) {
          g->error = r.error();
        }
        if (--g->pending) return;
        l.unlock();
        if (g->error) return op->Err(g->error);
        // Stop at the first short part: that is the end of the file.
        std::vector<iovec> iov;
        for (std::size_t k = 0; k < g->parts.size(); ++k) {
          const ByteSpan d = g->parts[k].data;
          if (d.empty()) break;
          iov.push_back({const_cast<std::uint8_t*>(d.data()), d.size()});
          if (d.size() < g->asked[k]) break;
        }
        std::size_t total = 0;
        for (const iovec& v : iov) total += v.iov_len;
        if (op->impl->opts.on_data) op->impl->opts.on_data(total, 0);
        op->Done(0, [&] { fuse_reply_iov(op->req, iov.data(), static_cast<int>(iov.size())); });
      });
    }
  }

  void Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
    auto op = Begin(req, "write");
    auto f = File(fi->fh);
    if (!f) return op->Err(EBADF);
    const std::uint32_t chunk = std::max<std::uint32_t>(fs->max_io_size(), 4096);
    struct Gather {
      std::mutex mu;
      std::size_t pending;
      std::size_t written = 0;
      std::error_code error;
    };
    auto g = std::make_shared<Gather>();
    const std::size_t n = size == 0 ? 0 : (size + chunk - 1) / chunk;
    if (n == 0) return op->Done(0, [&] { fuse_reply_write(op->req, 0); });
    g->pending = n;
    inodes.InvalidateAttributes(ino, true);
    TouchListing(ino);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t start = i * chunk;
      const std::size_t len = std::min<std::size_t>(chunk, size - start);
      // The FUSE buffer is only valid during this call: copy it.
      auto data = std::make_shared<const Bytes>(reinterpret_cast<const std::uint8_t*>(buf) + start,
                                                reinterpret_cast<const std::uint8_t*>(buf) + start + len);
      fs->Write(f->handle, static_cast<std::uint64_t>(off) + start, data, [op, g, len](Result<std::uint32_t> r) {
        std::unique_lock<std::mutex> l(g->mu);
        if (!r) {
          if (!g->error) g->error = r.error();
        } else if (*r != len) {
          // A short write in the middle would leave a hole the application
          // was told about nothing: report it as an error.
          if (!g->error) g->error = std::make_error_code(std::errc::no_space_on_device);
        } else {
          g->written += *r;
        }
        if (--g->pending) return;
        l.unlock();
        if (g->error) return op->Err(g->error);
        if (op->impl->opts.on_data) op->impl->opts.on_data(0, g->written);
        op->Done(0, [&] { fuse_reply_write(op->req, g->written); });
      });
    }
  }

  void Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    // Every WRITE was acknowledged by the server before its FUSE reply, and
    // with the writeback cache the kernel writes dirty pages back (and
    // reports their errors) before it sends this. What is left: POSIX
    // releases all of the process's record locks on the file at any
    // close() of it (libfuse: flush, with the lock owner).
    auto op = Begin(req, "flush");
    locks->ReleaseOwner(ino, fi->lock_owner, [op](int err) { op->Err(err); });
  }

  void Fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
    auto op = Begin(req, "fsync");
    auto f = File(fi->fh);
    if (!f) return op->Err(EBADF);
    // Servers refuse FLUSH on a handle without write access (Samba 4.17:
    // STATUS_ACCESS_DENIED), and such a handle has written nothing: the
    // kernel wrote any dirty pages back through a writable handle already.
    if (!f->writable) return op->Err(0);
    // SMB2 FLUSH: the server puts the data on stable storage.
    fs->Flush(f->handle, [op](Result<void> r) { op->Err(r ? 0 : ErrnoFor(r.error())); });
  }

  void Release(std::uint64_t fh, OpPtr op) {
    std::optional<OpenFile> f;
    {
      std::lock_guard<std::mutex> l(mu);
      auto it = files.find(fh);
      if (it != files.end()) {
        f = it->second;
        files.erase(it);
      }
    }
    if (!f) {
      if (op) op->Err(0);
      return;
    }
    inodes.InvalidateAttributes(f->ino, true);
    if (f->writable) TouchListing(f->ino);
    if (f->leased) LeaseClosed(f->ino);
    locks->ForgetOpen(f->ino, fh);
    fs->Close(f->handle, [op](Result<void> r) {
      if (op) op->Err(r ? 0 : ErrnoFor(r.error()));
    });
  }

  void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    auto op = Begin(req, "opendir");
    auto path = inodes.Path(ino);
    if (!path) return op->Err(ENOENT);
    fuse_file_info info = *fi;
    const std::uint64_t generation = dircache.Generation(ino);
    // The listing is taken whole at opendir (every QUERY_DIRECTORY round)
    // and served from that snapshot, so offsets stay stable while the
    // directory changes under a reader.
    fs->ReadDirectory(*path, [this, op, info, ino, generation](Result<std::vector<smb2::DirectoryEntry>> r) mutable {
      if (!r) return op->Err(r.error());
      auto snap = std::make_shared<DirSnapshot>();
      snap->entries = std::move(*r);
      // Silly-renamed files: never listed; a leftover of a crash (not yet
      // marked for deletion) is deleted now, quietly (one still open
      // somewhere is marked already and only goes at its last close).
      for (const auto& e : snap->entries) {
        if (IsHidden(e.name)) {
          if (auto dir = inodes.Path(ino)) {
            fs->Unlink(dir->empty() ? e.name : *dir + "/" + e.name, [](Result<void>) {});
          }
        }
      }
      std::erase_if(snap->entries, [](const smb2::DirectoryEntry& e) { return IsHidden(e.name); });
      // The same listing answers lookups for actimeo (ls -l, find, stat).
      dircache.Fill(ino, generation, snap->entries, Expiry());
      {
        std::lock_guard<std::mutex> l(mu);
        info.fh = next_fh++;
        dirs.emplace(info.fh, std::move(snap));
      }
      info.cache_readdir = opts.cache == CacheMode::kLoose;
      op->Done(0, [&] {
        if (fuse_reply_open(op->req, &info) == -ENOENT) {
          std::lock_guard<std::mutex> l(mu);
          dirs.erase(info.fh);
        }
      });
    });
  }

  void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi, bool plus) {
    auto op = Begin(req, plus ? "readdirplus" : "readdir");
    std::shared_ptr<DirSnapshot> snap;
    {
      std::lock_guard<std::mutex> l(mu);
      auto it = dirs.find(fi->fh);
      if (it != dirs.end()) snap = it->second;
    }
    if (!snap) return op->Err(EBADF);
    std::vector<char> buf(size);
    std::size_t used = 0;
    // Offsets: 0 ".", 1 "..", then entry i at i + 2; each entry carries the
    // offset of the next one.
    const std::size_t total = snap->entries.size() + 2;
    for (std::size_t i = static_cast<std::size_t>(off); i < total; ++i) {
      std::size_t need;
      const char* name;
      struct stat st{};
      fuse_entry_param e{};
      const smb2::DirectoryEntry* de = nullptr;
      if (i < 2) {
        name = i == 0 ? "." : "..";
        st.st_ino = i == 0 ? ino : 1;
        st.st_mode = S_IFDIR;
      } else {
        de = &snap->entries[i - 2];
        name = de->name.c_str();
        st = ToStat(0, de->attrs);
      }
      if (plus) {
        if (de) {
          // The kernel takes a reference for each entry returned with a
          // nonzero ino: only add one if the entry fits.
          e = Entry(0, de->attrs, false);
          e.attr.st_ino = de->attrs.file_id;
        } else {
          e.attr = st;
        }
        need = fuse_add_direntry_plus(op->req, nullptr, 0, name, &e, 0);
        if (used + need > size) break;
        if (de) {
          const std::uint64_t child = inodes.Lookup(ino, de->name);
          e = Entry(child, de->attrs, false);
          // A 1067-byte file may be an mfsymlink: do not let the kernel
          // cache attributes that would hide it; lookup will check.
          if (MaybeSymlink(de->attrs)) {
            e.attr_timeout = 0;
            e.entry_timeout = 0;
          } else {
            inodes.SetAttributes(child, de->attrs, Expiry());
          }
        }
        fuse_add_direntry_plus(op->req, buf.data() + used, size - used, name, &e, static_cast<off_t>(i + 1));
      } else {
        need = fuse_add_direntry(op->req, nullptr, 0, name, &st, 0);
        if (used + need > size) break;
        fuse_add_direntry(op->req, buf.data() + used, size - used, name, &st, static_cast<off_t>(i + 1));
      }
      used += need;
    }
    op->Done(0, [&] { fuse_reply_buf(op->req, buf.data(), used); });
  }

  void ReleaseDir(fuse_req_t req, fuse_file_info* fi) {
    auto op = Begin(req, "releasedir");
    std::lock_guard<std::mutex> l(mu);
    dirs.erase(fi->fh);
    op->Err(0);
  }

  void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
    auto op = Begin(req, "mkdir");
    if (opts.read_only) return op->Err(EROFS);
    auto path = inodes.ChildPath(parent, name);
    if (!path) return op->Err(ENOENT);
    std::string n = name;
    fs->MakeDirectory(*path, [this, op, parent, n](Result<FileAttributes> a) {
      if (!a) return op->Err(a.error());
      const std::uint64_t ino = inodes.Lookup(parent, n);
      inodes.SetAttributes(ino, *a, Expiry());
      dircache.Added(parent, n, *a);
      DirChanged(parent);
      // A directory just made is empty: lookups in it need no round trip.
      dircache.Fill(ino, dircache.Generation(ino), {}, Expiry());
      fuse_entry_param e = Entry(ino, *a, false);
      op->Done(0, [&] { fuse_reply_entry(op->req, &e); });
    });
  }

  // Whether this mount has `ino` open with write access.
  bool OpenForWrite(std::uint64_t ino) {
    if (ino == 0) return false;
    std::lock_guard<std::mutex> l(mu);
    return std::any_of(files.begin(), files.end(),
                       [ino](const auto& e) { return e.second.ino == ino && e.second.writable; });
  }

  // Whether this mount has `ino` open.
  bool IsOpen(std::uint64_t ino) {
    if (ino == 0) return false;
    std::lock_guard<std::mutex> l(mu);
    return std::any_of(files.begin(), files.end(), [ino](const auto& e) { return e.second.ino == ino; });
  }

  // Moves `path` out of the way to a hidden name and marks it for deletion
  // there (silly rename); `done` gets the rename's result.
  void SillyRename(const std::string& path, std::function<void(Result<void>)> done) {
    const std::string hidden = HiddenSibling(path);
    auto fsys = fs;
    fs->Rename(path, hidden, false, [fsys, hidden, done](Result<void> r) {
      if (!r) return done(r);
      fsys->Unlink(hidden, [done](Result<void>) { done({}); });
    });
  }

  void Remove(fuse_req_t req, fuse_ino_t parent, const char* name, bool dir) {
    auto op = Begin(req, dir ? "rmdir" : "unlink");
    if (opts.read_only) return op->Err(EROFS);
    auto path = inodes.ChildPath(parent, name);
    if (!path) return op->Err(ENOENT);
    std::string n = name;
    const std::uint64_t child = dir ? 0 : inodes.Child(parent, n);
    auto done = [this, op, parent, n, dir](Result<void> r) {
      if (!r) return op->Err(r.error());
      if (dir) {
        if (const std::uint64_t gone = inodes.Child(parent, n)) dircache.Forget(gone);
      }
      dircache.Removed(parent, n);
      DirChanged(parent);
      inodes.Remove(parent, n);
      op->Err(0);
    };
    if (dir) return fs->RemoveDirectory(*path, done);
    // A file this mount has open goes to a hidden name first, so the name
    // can be used again at once (a server keeps a file marked for deletion,
    // and its name, until its last handle closes).
    if (IsOpen(child)) return SillyRename(*path, done);
    fs->Unlink(*path, done);
  }

  void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
              unsigned int flags) {
    auto op = Begin(req, "rename");
    if (opts.read_only) return op->Err(EROFS);
    // SMB2 has no atomic exchange.
    if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) return op->Err(EINVAL);
    auto from = inodes.ChildPath(parent, name);
    auto to = inodes.ChildPath(newparent, newname);
    if (!from || !to) return op->Err(ENOENT);
    std::string n = name, nn = newname;
    const bool replace = !(flags & RENAME_NOREPLACE);
    auto finish = [this, op, parent, n, newparent, nn](Result<void> r) {
      if (!r) {
        // A failure may have come after a silly rename moved the target.
        dircache.Forget(newparent);
        return op->Err(r.error());
      }
      dircache.Removed(parent, n);
      dircache.Added(newparent, nn, std::nullopt);
      DirChanged(parent);
      DirChanged(newparent);
      inodes.Rename(parent, n, newparent, nn);
      op->Err(0);
    };
    fs->Rename(*from, *to, replace, [this, finish, from = *from, to = *to, replace](Result<void> r) {
      // A server refuses to replace a file that is open (here or at another
      // client: STATUS_ACCESS_DENIED). POSIX replaces it at once, and whoever
      // has it open keeps it: move it to a hidden name, then rename.
      if (r || !replace || ErrnoFor(r.error()) != EACCES) return finish(r);
      SillyRename(to, [this, finish, from, to, r](Result<void> moved) {
        if (!moved) return finish(r);
        fs->Rename(from, to, true, finish);
      });
    });
  }

  void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
    auto op = Begin(req, "link");
    if (opts.read_only) return op->Err(EROFS);
    auto from = inodes.Path(ino);
    auto to = inodes.ChildPath(newparent, newname);
    if (!from || !to) return op->Err(ENOENT);
    std::string nn = newname;
    fs->HardLink(*from, *to, [this, op, ino, newparent, nn, to = *to](Result<void> r) {
      if (!r) return op->Err(r.error());
      inodes.InvalidateAttributes(ino);
      TouchListing(ino);
      dircache.Added(newparent, nn, std::nullopt);
      DirChanged(newparent);
      fs->Stat(to, [this, op, newparent, nn](Result<FileAttributes> a) {
        if (!a) return op->Err(a.error());
        const std::uint64_t child = inodes.Lookup(newparent, nn);
        fuse_entry_param e = Entry(child, *a, false);
        op->Done(0, [&] { fuse_reply_entry(op->req, &e); });
      });
    });
  }

  void Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
    auto op = Begin(req, "symlink");
    if (opts.read_only) return op->Err(EROFS);
    auto content = EncodeMfSymlink(target);
    if (!content) return op->Err(ENAMETOOLONG);
    auto path = inodes.ChildPath(parent, name);
    if (!path) return op->Err(ENOENT);
    smb2::OpenParams p;
    p.write = true;
    p.non_directory = true;
    p.disposition = smb2::OpenDisposition::kCreate;
    auto data = std::make_shared<const Bytes>(std::move(*content));
    std::string n = name;
    auto fsys = fs;
    fs->Open(*path, p, [this, fsys, op, data, parent, n](Result<smb2::OpenResult> o) {
      if (!o) return op->Err(o.error());
      const Handle h = o->handle;
      dircache.Added(parent, n, std::nullopt);
      DirChanged(parent);
      fsys->Write(h, 0, data, [this, fsys, op, h, parent, n](Result<std::uint32_t> w) {
        fsys->GetAttributes(h, [this, fsys, op, h, parent, n, w](Result<FileAttributes> a) {
          fsys->Close(h, [this, op, parent, n, w, a](Result<void> c) {
            if (!w) return op->Err(w.error());
            if (!a) return op->Err(a.error());
            if (!c) return op->Err(c.error());
            const std::uint64_t ino = inodes.Lookup(parent, n);
            inodes.SetAttributes(ino, *a, Expiry(), true);
            fuse_entry_param e = Entry(ino, *a, true);
            op->Done(0, [&] { fuse_reply_entry(op->req, &e); });
          });
        });
      });
    });
  }

  void StatFs(fuse_req_t req) {
    auto op = Begin(req, "statfs");
    fs->StatFs([op](Result<smb2::FsStats> s) {
      if (!s) return op->Err(s.error());
      struct statvfs v{};
      v.f_bsize = s->block_size;
      v.f_frsize = s->block_size;
      v.f_blocks = s->total_bytes / s->block_size;
      v.f_bfree = s->free_bytes / s->block_size;
      v.f_bavail = v.f_bfree;
      v.f_namemax = s->max_name_length;
      op->Done(0, [&] { fuse_reply_statfs(op->req, &v); });
    });
  }

  // fcntl and flock locks: LockManager (lock_manager.h) keeps POSIX
  // semantics per process and covers them with SMB2 byte-range locks.
  LockManager::Request LockRequest(fuse_req_t req, fuse_ino_t ino, const fuse_file_info* fi,
                                   const OpenFile& f) const {
    LockManager::Request q;
    q.ino = ino;
    q.fh = fi->fh;
    q.handle = f.handle;
    q.owner = fi->lock_owner;
    if (const fuse_ctx* c = fuse_req_ctx(req)) q.pid = static_cast<std::uint32_t>(c->pid);
    return q;
  }

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

  void SetLock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, const struct flock* lock, bool wait) {
    auto op = Begin(req, "setlk");
    auto f = File(fi->fh);
    if (!f) return op->Err(EBADF);
    const LockManager::Request q = LockRequest(req, ino, fi, *f);
    const LockRange r = PosixRange(*lock);
    const bool unlock = lock->l_type == F_UNLCK;
    WaitingLock(op, wait && !unlock, [&](LockManager::Done done) {
      return locks->SetLock(q, r, unlock, wait && !unlock, std::move(done));
    });
  }

  void Flock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int how) {
    auto op = Begin(req, "flock");
    auto f = File(fi->fh);
    if (!f) return op->Err(EBADF);
    const LockManager::Request q = LockRequest(req, ino, fi, *f);
    const bool unlock = how & LOCK_UN;
    const bool wait = !unlock && !(how & LOCK_NB);
    WaitingLock(op, wait, [&](LockManager::Done done) {
      return locks->Flock(q, (how & LOCK_EX) != 0, unlock, wait, std::move(done));
    });
  }

  // The fcntl range [l_start, l_start + l_len) as offsets (l_len 0: to the
  // end of any file, kLockEnd); the kernel has made l_start absolute.
  static LockRange PosixRange(const struct flock& l) {
    const std::uint64_t start = std::min<std::uint64_t>(static_cast<std::uint64_t>(l.l_start), kLockEnd - 1);
    std::uint64_t end = kLockEnd;
    if (l.l_len > 0) end = std::min<std::uint64_t>(start + static_cast<std::uint64_t>(l.l_len), kLockEnd);
    return {start, end, l.l_type == F_WRLCK};
  }

  void GetLock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock) {
    auto op = Begin(req, "getlk");
    auto f = File(fi->fh);
    if (!f) return op->Err(EBADF);
    const LockManager::Request q = LockRequest(req, ino, fi, *f);
    struct flock l = *lock;
    locks->GetLock(q, PosixRange(*lock), [op, l](int err, std::optional<HeldLock> h) mutable {
      if (err) return op->Err(err);
      if (!h) {
        l.l_type = F_UNLCK;
      } else {
        // POSIX: the conflicting lock, and who holds it where known
        // (another process of this mount; 0 for another client).
        l.l_type = h->range.exclusive ? F_WRLCK : F_RDLCK;
        l.l_whence = SEEK_SET;
        l.l_start = static_cast<off_t>(h->range.start);
        l.l_len = h->range.end >= kLockEnd ? 0 : static_cast<off_t>(h->range.end - h->range.start);
        l.l_pid = static_cast<pid_t>(h->pid);
      }
      op->Done(0, [&] { fuse_reply_lock(op->req, &l); });
    });
  }
};

namespace {

FuseFs::Impl* I(fuse_req_t req) { return static_cast<FuseFs::Impl*>(fuse_req_userdata(req)); }

void OpInit(void* userdata, fuse_conn_info* conn) {
  auto* impl = static_cast<FuseFs::Impl*>(userdata);
  conn->max_write = impl->opts.max_io;
  conn->max_read = impl->opts.max_io;
  conn->max_readahead = std::min<unsigned>(conn->max_readahead, impl->opts.max_io);
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  auto want = [conn](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  want(FUSE_CAP_ASYNC_READ);
  want(FUSE_CAP_ATOMIC_O_TRUNC);
  want(FUSE_CAP_READDIRPLUS);
  want(FUSE_CAP_READDIRPLUS_AUTO);
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_POSIX_LOCKS);
  want(FUSE_CAP_FLOCK_LOCKS);
  want(FUSE_CAP_ASYNC_DIO);
  // The writeback cache lets the kernel batch and parallelise writes, but
  // with it the kernel trusts its own file size and mtime for good: it
  // never takes the server's size again for a regular file it knows
  // (fuse_change_attributes keeps i_size when writeback_cache is on), so a
  // file changed by another client, or through another hard link, keeps
  // its old size, and reads past it return zeros or stop short (seen in
  // the e2e tests with Linux 6.18). That is only acceptable with
  // cache=loose; strict (the default, like cifs) and none write through.
  if (impl->opts.cache == CacheMode::kLoose) {
    want(FUSE_CAP_WRITEBACK_CACHE);
  } else {
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  }
  conn->time_gran = 100;  // FILETIME resolution, in ns
  {
    std::lock_guard<std::mutex> l(impl->init_mu);
    impl->initialized = true;
  }
  impl->init_cv.notify_all();
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) { I(req)->Lookup(req, parent, name); }
void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t n) {
  I(req)->Forget(ino, n);
  fuse_reply_none(req);
}
void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) I(req)->Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}
void OpGetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { I(req)->GetAttr(req, ino, fi); }
void OpSetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  I(req)->SetAttr(req, ino, attr, to_set, fi);
}
void OpReadlink(fuse_req_t req, fuse_ino_t ino) { I(req)->Readlink(req, ino); }
void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
  if (!S_ISREG(mode)) {
    // Devices, FIFOs and sockets have no SMB2 form without the POSIX
    // extensions; cifs answers the same.
    fuse_reply_err(req, EPERM);
    return;
  }
  I(req)->CreateFile(req, "mknod", parent, name, O_EXCL, nullptr);
}
void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t) { I(req)->MkDir(req, parent, name); }
void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) { I(req)->Remove(req, parent, name, false); }
void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) { I(req)->Remove(req, parent, name, true); }
void OpSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  I(req)->Symlink(req, link, parent, name);
}
void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
              unsigned int flags) {
  I(req)->Rename(req, parent, name, newparent, newname, flags);
}
void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  I(req)->Link(req, ino, newparent, newname);
}
void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { I(req)->Open(req, ino, fi); }
void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  I(req)->Read(req, ino, size, off, fi);
}
void OpWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  I(req)->Write(req, ino, buf, size, off, fi);
}
void OpFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { I(req)->Flush(req, ino, fi); }
void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  auto* impl = I(req);
  impl->Release(fi->fh, impl->Begin(req, "release"));
}
void OpFsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  I(req)->Fsync(req, ino, datasync, fi);
}
void OpOpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { I(req)->OpenDir(req, ino, fi); }
void OpReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  I(req)->ReadDir(req, ino, size, off, fi, false);
}
void OpReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  I(req)->ReadDir(req, ino, size, off, fi, true);
}
void OpReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) { I(req)->ReleaseDir(req, fi); }
void OpFsyncDir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) { fuse_reply_err(req, 0); }
void OpStatFs(fuse_req_t req, fuse_ino_t) { I(req)->StatFs(req); }
void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t, fuse_file_info* fi) {
  I(req)->CreateFile(req, "create", parent, name, fi->flags, fi);
}
void OpGetLk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock) {
  I(req)->GetLock(req, ino, fi, lock);
}
void OpSetLk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock, int sleep) {
  I(req)->SetLock(req, ino, fi, lock, sleep != 0);
}
void OpFlock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int op) { I(req)->Flock(req, ino, fi, op); }

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops o{};
  o.init = OpInit;
  o.lookup = OpLookup;
  o.forget = OpForget;
  o.forget_multi = OpForgetMulti;
  o.getattr = OpGetAttr;
  o.setattr = OpSetAttr;
  o.readlink = OpReadlink;
  o.mknod = OpMknod;
  o.mkdir = OpMkdir;
  o.unlink = OpUnlink;
  o.rmdir = OpRmdir;
  o.symlink = OpSymlink;
  o.rename = OpRename;
  o.link = OpLink;
  o.open = OpOpen;
  o.read = OpRead;
  o.write = OpWrite;
  o.flush = OpFlush;
  o.release = OpRelease;
  o.fsync = OpFsync;
  o.opendir = OpOpenDir;
  o.readdir = OpReadDir;
  o.readdirplus = OpReadDirPlus;
  o.releasedir = OpReleaseDir;
  o.fsyncdir = OpFsyncDir;
  o.statfs = OpStatFs;
  o.create = OpCreate;
  o.getlk = OpGetLk;
  o.setlk = OpSetLk;
  o.flock = OpFlock;
  return o;
}

}  // namespace

FuseFs::FuseFs(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<FuseFs> FuseFs::Mount(std::shared_ptr<smb2::RemoteFs> fs, const std::string& mountpoint,
                                      FsOptions options, std::string* error) {
  auto impl = std::make_unique<Impl>();
  impl->fs = std::move(fs);
  impl->locks = std::make_shared<LockManager>(impl->fs);
  impl->opts = std::move(options);
  impl->mountpoint = mountpoint;
  // Permission checks by the kernel against the uid/gid/modes we report,
  // as cifs does with its file_mode/dir_mode.
  std::vector<std::string> argv = {"smbgate", "-o", "default_permissions", "-o", "subtype=smbgate", "-o",
                                   "max_read=" + std::to_string(impl->opts.max_io)};
  if (!impl->opts.fsname.empty()) {
    std::string fsname;
    // libfuse splits options at commas; escape them in the name.
    for (char c : impl->opts.fsname) {
      if (c == ',' || c == '\\') fsname += '\\';
      fsname += c;
    }
    argv.push_back("-o");
    argv.push_back("fsname=" + fsname);
  }
  if (impl->opts.allow_other) {
    argv.push_back("-o");
    argv.push_back("allow_other");
  }
  if (impl->opts.read_only) {
    argv.push_back("-o");
    argv.push_back("ro");
  }
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(cargv.size()), cargv.data());
  static const fuse_lowlevel_ops kOps = MakeOps();
  impl->se = fuse_session_new(&args, &kOps, sizeof kOps, impl.get());
  // The session keeps nothing of `args`; libfuse may have copied them to
  // the heap while parsing (LeakSanitizer in the e2e tests found it).
  fuse_opt_free_args(&args);
  if (!impl->se) {
    *error = "FUSE: could not create a session (bad options?)";
    return nullptr;
  }
  if (fuse_session_mount(impl->se, mountpoint.c_str()) != 0) {
    *error = "FUSE: could not mount on " + mountpoint +
             " (is /dev/fuse available and is fusermount3 installed? does the directory exist?)";
    fuse_session_destroy(impl->se);
    impl->se = nullptr;
    return nullptr;
  }
  impl->is_mounted = true;
  Impl* raw = impl.get();
  raw->inval_thread = std::thread([raw] { raw->InvalidateLoop(); });
  raw->fs->SetLeaseBreakHandler([raw](const smb2::LeaseKey& key, std::uint32_t state, std::function<void()> ack) {
    raw->OnLeaseBreak(key, state, std::move(ack));
  });
  return std::unique_ptr<FuseFs>(new FuseFs(std::move(impl)));
}

FuseFs::~FuseFs() {
  impl_->fs->SetLeaseBreakHandler({});
  impl_->StopInvalidations();
  if (!impl_->se) return;
  if (impl_->signals_installed) fuse_remove_signal_handlers(impl_->se);
  if (impl_->is_mounted) fuse_session_unmount(impl_->se);
  fuse_session_destroy(impl_->se);
}

bool FuseFs::InstallSignalHandlers() {
  if (fuse_set_signal_handlers(impl_->se) != 0) return false;
  impl_->signals_installed = true;
  return true;
}

int FuseFs::Run() {
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  // Handlers only hand work over and return, so a few threads keep the
  // kernel's queue drained; replies come from the SMB connection's thread.
  fuse_loop_cfg_set_idle_threads(cfg, 4);
  fuse_loop_cfg_set_max_threads(cfg, 16);
  const int rc = fuse_session_loop_mt(impl_->se, cfg);
  fuse_loop_cfg_destroy(cfg);
  return rc < 0 ? -rc : 0;
}

void FuseFs::Exit() {
  if (impl_->se) fuse_session_exit(impl_->se);
}

void FuseFs::Shutdown(std::chrono::milliseconds drain_timeout) {
  Impl& i = *impl_;
  {
    // Every request but the blocking locks: those wait for another client
    // (with no deadline of their own) and would hold the stop for the whole
    // drain timeout (e2e StopWithABlockedLockWaiter).
    std::unique_lock<std::mutex> l(i.flight_mu);
    i.flight_cv.wait_for(l, drain_timeout, [&] { return i.in_flight <= i.lock_waiters; });
  }
  // Lock requests waiting for another process of this mount end now.
  i.locks->CancelAll();
  // Close what the kernel did not release (a stop with files still open).
  std::vector<Handle> left;
  {
    std::lock_guard<std::mutex> l(i.mu);
    for (auto& [fh, f] : i.files) left.push_back(f.handle);
    i.files.clear();
    i.dirs.clear();
  }
  for (const Handle& h : left) {
    auto p = std::make_shared<std::promise<void>>();
    i.fs->Close(h, [p](Result<void>) { p->set_value(); });
    p->get_future().wait_for(std::chrono::seconds(10));
  }
  {
    // Closing a handle ends the locks still waiting on it (Samba 4.17
    // answers them then), so their replies go out before the unmount.
    std::unique_lock<std::mutex> l(i.flight_mu);
    i.flight_cv.wait_for(l, std::chrono::seconds(5), [&] { return i.in_flight == 0; });
  }
  // Lease breaks from here on are acknowledged at once by the client.
  i.fs->SetLeaseBreakHandler({});
  i.StopInvalidations();
  if (i.se && i.is_mounted) {
    if (i.signals_installed) {
      fuse_remove_signal_handlers(i.se);
      i.signals_installed = false;
    }
    fuse_session_unmount(i.se);
    i.is_mounted = false;
  }
}

bool FuseFs::WaitInitialized(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(impl_->init_mu);
  return impl_->init_cv.wait_for(l, timeout, [this] { return impl_->initialized; });
}

bool FuseFs::mounted() const { return impl_->is_mounted; }

std::size_t FuseFs::open_dirs() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->dirs.size();
}

std::size_t FuseFs::inodes() const { return impl_->inodes.size(); }
std::size_t FuseFs::cached_entries() const { return impl_->dircache.entries(); }

std::size_t FuseFs::open_files() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->files.size();
}

}  // namespace smbgate::fuse
