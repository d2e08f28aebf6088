#include <malloc.h>

#include "fuse/fuse_impl.h"

namespace smbgate::fuse {

std::shared_ptr<WriteBehind> FuseFs::Impl::NewWriteBehind(std::uint64_t ino, Handle h) {
  if (opts.cache != CacheMode::kStrict) return nullptr;
  auto fsys = fs;
  // Requests of the server's size, at most the FUSE write size.
  const std::size_t chunk = std::min<std::size_t>(opts.max_io, std::max<std::uint32_t>(fs->max_io_size(), 4096));
  // In flight: at least kBehindInFlight requests and at least one FUSE
  // write's worth (16 of 64 KiB on a 2.0.2 server).
  const std::size_t flight = std::max<std::size_t>(kBehindInFlight, opts.max_io / chunk);
  auto wb = std::make_shared<WriteBehind>(
      chunk, flight,
      [this, fsys, h, ino](std::uint64_t off, std::shared_ptr<const Bytes> data, std::function<void(int)> done) {
        const std::size_t n = data->size();
        fsys->Write(h, off, std::move(data), [this, done, n, ino](Result<std::uint32_t> r) {
          // A short write in the middle would leave a hole: an error.
          const int err = !r ? ErrnoFor(r.error()) : *r == n ? 0 : ENOSPC;
          // The owned size counted this write: from now on the server's
          // answers count (the error itself comes with the next write,
          // fsync or close).
          if (err) inodes.Changed(ino);
          done(err);
        });
      },
      behind_total);
  std::lock_guard<std::mutex> l(behind_mu);
  behind.emplace(ino, wb);
  return wb;
}

void FuseFs::Impl::ForgetWriteBehind(std::uint64_t ino, const std::shared_ptr<WriteBehind>& wb) {
  std::lock_guard<std::mutex> l(behind_mu);
  auto [b, e] = behind.equal_range(ino);
  for (auto it = b; it != e; ++it) {
    if (it->second == wb) {
      behind.erase(it);
      return;
    }
  }
}

bool FuseFs::Impl::HasWritesBehind(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(behind_mu);
  auto [b, e] = behind.equal_range(ino);
  return std::any_of(b, e, [](const auto& kv) { return kv.second->pending_bytes() > 0; });
}

void FuseFs::Impl::DrainWrites(std::uint64_t ino, std::function<void()> then) {
  std::vector<std::shared_ptr<WriteBehind>> all;
  {
    std::lock_guard<std::mutex> l(behind_mu);
    auto [b, e] = behind.equal_range(ino);
    for (auto it = b; it != e; ++it) all.push_back(it->second);
  }
  if (all.empty()) return then();
  auto left = std::make_shared<std::atomic<std::size_t>>(all.size());
  auto shared_then = std::make_shared<std::function<void()>>(std::move(then));
  for (const auto& wb : all) {
    wb->Drain(false, [left, shared_then](int) {
      if (--*left == 0) (*shared_then)();
    });
  }
}

void FuseFs::Impl::AfterWrites() {
  if (*behind_total != 0 || written_since_trim < kTrimAfter) return;
  written_since_trim = 0;
  malloc_trim(0);
}

bool FuseFs::Impl::WriteLeased(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(lease_mu);
  auto it = leases.find(ino);
  return it != leases.end() && (it->second.state & smb2::kLeaseWrite);
}

void FuseFs::Impl::CreateFile(fuse_req_t req, const char* opname, fuse_ino_t parent, const char* name, int flags,
                              fuse_file_info* fi) {
  auto op = Begin(req, opname);
  if (opts.read_only) return op->Err(EROFS);
  auto path = inodes.ChildPath(parent, name);
  if (!path) return op->Err(ENOENT);
  if (int e = PathLimitError(name, *path)) return op->Err(e);
  smb2::OpenParams p;
  p.read = true;
  p.write = true;
  p.non_directory = true;
  p.disposition = (flags & O_EXCL)    ? smb2::OpenDisposition::kCreate
                  : (flags & O_TRUNC) ? smb2::OpenDisposition::kOverwriteIf
                                      : smb2::OpenDisposition::kOpenIf;
  const bool keep_open = fi != nullptr;
  std::string n = name;
  fuse_file_info info = fi ? *fi : fuse_file_info{};
  // The node first (its id makes the lease key); the kernel's reference
  // goes again if the create fails.
  const std::uint64_t ino = inodes.Lookup(parent, n);
  if (ino == 0) return op->Err(ENOENT);
  p.lease_key = LeaseKeyFor(ino);
  // Writes still on their way to an existing file land before it is
  // truncated.
  DrainWrites(ino, [this, op, path = *path, p, parent, n, keep_open, info, ino]() mutable {
    const std::optional<std::uint64_t> from = OwnableFrom(ino);
    fs->Open(path, p, [this, op, parent, n, keep_open, info, ino, from](Result<smb2::OpenResult> o) mutable {
      if (!o) {
        inodes.Forget(ino, 1);
        return op->Err(o.error());
      }
      if (!keep_open) inodes.SetAttributes(ino, o->attrs, Expiry());
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
      OpenFile of;
      of.handle = o->handle;
      of.ino = ino;
      of.writable = true;
      of.behind = NewWriteBehind(ino, o->handle);
      const bool keep = Granted(ino, o->durable.lease_state, &of.leased);
      info.fh = handles.AddFile(of);
      Learned(ino, o->attrs, from);
      ApplyCacheFlags(info, ino, keep);
      ReplyWithHandle(op, info.fh, [&] { return fuse_reply_create(op->req, &e, &info); });
    });
  });
}

void FuseFs::Impl::ApplyCacheFlags(fuse_file_info& fi, std::uint64_t ino, bool leased) {
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

void FuseFs::Impl::Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
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
  // A handle of this file closed a moment ago and kept under its lease:
  // no round trip. (O_TRUNC goes to the server.)
  if (!(fi->flags & O_TRUNC)) {
    if (auto kept = Unpark(ino, write)) {
      bool keep = false;
      {
        std::lock_guard<std::mutex> l(lease_mu);
        auto it = leases.find(ino);
        keep = it != leases.end() && (it->second.state & smb2::kLeaseRead);
      }
      info.fh = handles.AddFile(*kept);
      ApplyCacheFlags(info, ino, keep);
      return ReplyWithHandle(op, info.fh, [&] { return fuse_reply_open(op->req, &info); });
    }
  }
  p.lease_key = LeaseKeyFor(ino);
  // A truncating open waits for this mount's writes still on their way.
  const std::uint64_t before = p.disposition == smb2::OpenDisposition::kOverwrite ? ino : 0;
  DrainWrites(before, [this, op, path = *path, p, ino, write, info]() mutable {
    const std::optional<std::uint64_t> from = OwnableFrom(ino);
    fs->Open(path, p, [this, op, ino, write, info, from](Result<smb2::OpenResult> o) mutable {
      if (!o) return op->Err(o.error());
      OpenFile of;
      of.handle = o->handle;
      of.ino = ino;
      of.writable = write;
      if (write) of.behind = NewWriteBehind(ino, o->handle);
      const bool keep = Granted(ino, o->durable.lease_state, &of.leased);
      info.fh = handles.AddFile(of);
      Learned(ino, o->attrs, from);
      ApplyCacheFlags(info, ino, keep);
      ReplyWithHandle(op, info.fh, [&] { return fuse_reply_open(op->req, &info); });
    });
  });
}

void FuseFs::Impl::Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  auto op = Begin(req, "read");
  auto f = handles.File(fi->fh);
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
  // This mount's writes still on their way to the server land first.
  DrainWrites(ino, [this, op, f = *f, g, n, off, chunk] {
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t o = static_cast<std::uint64_t>(off) + i * chunk;
      const std::uint32_t len = g->asked[i];
      fs->Read(f.handle, o, len, [op, g, i](Result<smb2::ReadResult> r) {
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
  });
}

void FuseFs::Impl::Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  auto op = Begin(req, "write");
  auto f = handles.File(fi->fh);
  if (!f) return op->Err(EBADF);
  if (size == 0) return op->Done(0, [&] { fuse_reply_write(op->req, 0); });
  const std::uint64_t end = static_cast<std::uint64_t>(off) + size;
  const std::uint64_t now = NowFiletime();
  inodes.Writing(ino);
  TouchListing(ino);
  written_since_trim += size;
  auto reply = [op, size] {
    if (op->impl->opts.on_data) op->impl->opts.on_data(0, size);
    op->Done(0, [&] { fuse_reply_write(op->req, size); });
  };
  if (f->behind) {
    // Taken at once under a write lease (no other client can see the file
    // before the break, which waits for these writes); otherwise, or past
    // the mount's bound, answered when the server has it. Either way it
    // goes out in order with the file's other writes.
    const bool taken = WriteLeased(ino) && *behind_total < kBehindLimit;
    std::shared_ptr<WriteBehind> wb = f->behind;
    wb->Write(static_cast<std::uint64_t>(off), reinterpret_cast<const std::uint8_t*>(buf), size,
              [this, op, wb, taken, reply, ino, end, now](int err) {
                // An error of an earlier write, answered before the server
                // had it: reported now, this write not taken; the owned
                // size and times included it.
                if (err) {
                  inodes.Changed(ino);
                  return op->Err(err);
                }
                // Taken: in the file's queue now, so a drain that begins
                // later waits for it; the owned size and times follow
                // before the reply (a stat right after it sees them).
                inodes.Wrote(ino, end, now);
                if (taken) return reply();
                wb->Drain(true, [this, op, reply, ino](int e) {
                  if (e) {
                    inodes.Changed(ino);  // the server may not have it
                    return op->Err(e);
                  }
                  reply();
                });
              });
    // Counted again now that it is pending: a query whose count was read
    // between Writing and wb->Write saw no write pending (see OwnableFrom).
    inodes.Writing(ino);
    return;
  }
  // cache=none and cache=loose: split into requests of at most the
  // server's size, all sent at once, answered when all are written.
  const std::uint32_t chunk = std::max<std::uint32_t>(fs->max_io_size(), 4096);
  struct Gather {
    std::mutex mu;
    std::size_t pending;
    std::error_code error;
  };
  auto g = std::make_shared<Gather>();
  const std::size_t n = (size + chunk - 1) / chunk;
  g->pending = n;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t start = i * chunk;
    const std::size_t len = std::min<std::size_t>(chunk, size - start);
    // The FUSE buffer is only valid during this call: copy it.
    auto data = std::make_shared<const Bytes>(reinterpret_cast<const std::uint8_t*>(buf) + start,
                                              reinterpret_cast<const std::uint8_t*>(buf) + start + len);
    fs->Write(f->handle, static_cast<std::uint64_t>(off) + start, data, [op, g, len, reply](Result<std::uint32_t> r) {
      std::unique_lock<std::mutex> l(g->mu);
      if (!r) {
        if (!g->error) g->error = r.error();
      } else if (*r != len) {
        // A short write in the middle would leave a hole the application
        // was told about nothing: report it as an error.
        if (!g->error) g->error = std::make_error_code(std::errc::no_space_on_device);
      }
      if (--g->pending) return;
      l.unlock();
      if (g->error) return op->Err(g->error);
      reply();
    });
  }
}

void FuseFs::Impl::Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  // Every WRITE was acknowledged by the server before its FUSE reply, and
  // with the writeback cache the kernel writes dirty pages back (and
  // reports their errors) before it sends this. What is left: POSIX
  // releases all of the process's record locks on the file at any
  // close() of it (libfuse: flush, with the lock owner).
  // With write-behind, this close waits for the file's writes and reports
  // their first error.
  auto op = Begin(req, "flush");
  auto release_locks = [this, op, ino, owner = fi->lock_owner](int write_err) {
    if (write_err) inodes.Changed(ino);  // owned attributes included the failed write
    locks->ReleaseOwner(ino, owner, [op, write_err](int err) { op->Err(write_err ? write_err : err); });
  };
  auto f = handles.File(fi->fh);
  if (f && f->behind) return f->behind->Drain(true, release_locks);
  release_locks(0);
}

void FuseFs::Impl::Fsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info* fi) {
  auto op = Begin(req, "fsync");
  auto f = handles.File(fi->fh);
  if (!f) return op->Err(EBADF);
  // Servers refuse FLUSH on a handle without write access (Samba 4.17:
  // STATUS_ACCESS_DENIED), and such a handle has written nothing: the
  // kernel wrote any dirty pages back through a writable handle already.
  if (!f->writable) return op->Err(0);
  // SMB2 FLUSH: the server puts the data on stable storage (after the
  // writes still on their way, whose first error is reported here).
  auto flush = [this, op, ino, h = f->handle](int write_err) {
    if (write_err) {
      inodes.Changed(ino);  // owned attributes included the failed write
      return op->Err(write_err);
    }
    fs->Flush(h, [op](Result<void> r) { op->Err(r ? 0 : ErrnoFor(r.error())); });
  };
  if (f->behind) return f->behind->Drain(true, flush);
  flush(0);
}

void FuseFs::Impl::Release(std::uint64_t fh, OpPtr op, std::shared_ptr<void> hold) {
  std::optional<OpenFile> f = handles.TakeFile(fh);
  if (!f) {
    if (op) op->Err(0);
    return;
  }
  if (f->behind) {
    // Writes after the last flush (a shared mapping's pages) go first.
    std::shared_ptr<WriteBehind> wb = std::move(f->behind);
    wb->Drain(false, [this, fh, op, file = *f, wb, hold](int) {
      ForgetWriteBehind(file.ino, wb);
      ReleaseNow(fh, file, op, hold);
      AfterWrites();
    });
    return;
  }
  ReleaseNow(fh, *f, op, std::move(hold));
}

void FuseFs::Impl::ReleaseNow(std::uint64_t fh, const OpenFile& f, OpPtr op, std::shared_ptr<void> hold) {
  // The server sets a written file's times at its close: attributes asked
  // for while the CLOSE is on its way are not owned (the count moves now
  // and once it is done).
  if (f.writable) {
    inodes.Changed(f.ino);
    TouchListing(f.ino);
  } else {
    inodes.InvalidateAttributes(f.ino, true);
  }
  // Kept for a reopen while the lease allows (deferred close).
  if (Park(f)) {
    if (op) op->Err(0);
    return;
  }
  locks->ForgetOpen(f.ino, fh);
  if (f.leased) LeaseClosed(f.ino);
  if (f.writable) {
    std::lock_guard<std::mutex> l(closing_mu);
    ++closing[f.ino].first;
  }
  fs->Close(f.handle, [this, op, ino = f.ino, writable = f.writable, hold = std::move(hold)](Result<void> r) {
    std::vector<std::function<void()>> waiting;
    if (writable) {
      inodes.Changed(ino);
      std::lock_guard<std::mutex> l(closing_mu);
      auto it = closing.find(ino);
      if (it != closing.end() && --it->second.first == 0) {
        waiting = std::move(it->second.second);
        closing.erase(it);
      }
    }
    for (auto& w : waiting) w();
    if (op) op->Err(r ? 0 : ErrnoFor(r.error()));
  });
}

void FuseFs::Impl::AfterCloses(std::uint64_t ino, std::function<void()> then) {
  {
    std::lock_guard<std::mutex> l(closing_mu);
    auto it = closing.find(ino);
    if (it != closing.end()) {
      it->second.second.push_back(std::move(then));
      return;
    }
  }
  then();
}

LockManager::Request FuseFs::Impl::LockRequest(fuse_req_t req, fuse_ino_t ino, const fuse_file_info* fi,
                                               const OpenFile& f) const {
  LockManager::Request q;
  q.ino = ino;
  q.fh = fi->fh;
  q.handle = f.handle;
  q.owner = fi->lock_owner;
  if (const fuse_ctx* c = fuse_req_ctx(req)) q.pid = static_cast<std::uint32_t>(c->pid);
  return q;
}

void FuseFs::Impl::SetLock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, const struct flock* lock, bool wait) {
  auto op = Begin(req, "setlk");
  auto f = handles.File(fi->fh);
  if (!f) return op->Err(EBADF);
  const LockManager::Request q = LockRequest(req, ino, fi, *f);
  const LockRange r = PosixRange(*lock);
  const bool unlock = lock->l_type == F_UNLCK;
  // Another client takes the lock next and reads: the data goes first.
  DrainWrites(ino, [this, op, q, r, unlock, wait] {
    WaitingLock(op, wait && !unlock,
                [&](LockManager::Done done) { return locks->SetLock(q, r, unlock, wait && !unlock, std::move(done)); });
  });
}

void FuseFs::Impl::Flock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int how) {
  auto op = Begin(req, "flock");
  auto f = handles.File(fi->fh);
  if (!f) return op->Err(EBADF);
  const LockManager::Request q = LockRequest(req, ino, fi, *f);
  const bool unlock = how & LOCK_UN;
  const bool wait = !unlock && !(how & LOCK_NB);
  DrainWrites(ino, [this, op, q, how, unlock, wait] {
    WaitingLock(op, wait, [&](LockManager::Done done) {
      return locks->Flock(q, (how & LOCK_EX) != 0, unlock, wait, std::move(done));
    });
  });
}

void FuseFs::Impl::GetLock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock) {
  auto op = Begin(req, "getlk");
  auto f = handles.File(fi->fh);
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

void FuseFs::Impl::CopyFileRange(fuse_req_t req, fuse_ino_t, off_t off_in, fuse_file_info* fi_in, fuse_ino_t ino_out,
                                 off_t off_out, fuse_file_info* fi_out, size_t len, int flags) {
  auto op = Begin(req, "copy_file_range");
  if (flags != 0) return op->Err(EINVAL);
  auto in = handles.File(fi_in->fh);
  auto out = handles.File(fi_out->fh);
  if (!in || !out || !out->writable) return op->Err(EBADF);
  if (off_in < 0 || off_out < 0) return op->Err(EINVAL);
  // Only what the source holds: the server refuses chunks past its end.
  const Handle src = in->handle;
  const Handle dst = out->handle;
  // The server copies what it has: this mount's writes to either file first.
  DrainWrites(in->ino, [this, op, src, dst, ino_out, off_in, off_out, len] {
    DrainWrites(ino_out, [this, op, src, dst, ino_out, off_in, off_out, len] {
      fs->GetAttributes(src, [this, op, src, dst, ino_out, off_in, off_out, len](Result<FileAttributes> a) {
        if (!a) return op->Err(a.error());
        const auto from = static_cast<std::uint64_t>(off_in);
        if (from >= a->end_of_file || len == 0) return op->Done(0, [&] { fuse_reply_write(op->req, 0); });
        const std::uint64_t n = std::min<std::uint64_t>(len, a->end_of_file - from);
        // The server changes the file: not owned, and a query begun while
        // the copy runs is not taken as owned either.
        inodes.Changed(ino_out);
        TouchListing(ino_out);
        fs->CopyRange(src, from, dst, static_cast<std::uint64_t>(off_out), n,
                      [this, op, ino_out](Result<std::uint64_t> copied) {
                        inodes.Changed(ino_out);
                        if (!copied) {
                          // A server without server-side copy (or a source not yet reopened
                          // after a reconnect): EOPNOTSUPP, and the caller copies itself.
                          const std::error_code& ec = copied.error();
                          if (smb2::IsNtStatus(ec) && smb2::NtStatusOf(ec) == smb2::status::kNotSupported)
                            return op->Err(EOPNOTSUPP);
                          return op->Err(ec);
                        }
                        op->Done(0, [&] { fuse_reply_write(op->req, static_cast<size_t>(*copied)); });
                      });
      });
    });
  });
}

}  // namespace smbgate::fuse
