#include "fuse/fuse_impl.h"
#include "smb2/client/errors.h"

namespace smbgate::fuse {
namespace {

// The errno for a failed lookup. A file unlinked while still open stays on
// the server, delete-pending, until its last handle is closed, and Samba
// 4.17 (like Windows) answers an open of its name with
// STATUS_DELETE_PENDING; for POSIX the name is gone already.
int LookupErrno(const std::error_code& ec) {
  if (smb2::IsNtStatus(ec) && smb2::NtStatusOf(ec) == smb2::status::kDeletePending) return ENOENT;
  return ErrnoFor(ec);
}

// A handle closed while a request went through it: STATUS_FILE_CLOSED from
// the server, or the client's own "cancelled" once the handle is gone.
bool IsFileClosed(const std::error_code& ec) {
  return (smb2::IsNtStatus(ec) && smb2::NtStatusOf(ec) == smb2::status::kFileClosed) ||
         ec == smb2::client_errc::cancelled;
}

}  // namespace

void FuseFs::Impl::TouchListing(std::uint64_t ino) {
  if (auto pn = inodes.Parent(ino)) dircache.Touched(pn->first, pn->second);
}

void FuseFs::Impl::ReadSymlink(const std::string& path, std::function<void(std::optional<std::string>)> cb) {
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

void FuseFs::Impl::StatPath(std::uint64_t ino, const std::string& path,
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

void FuseFs::Impl::Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto op = Begin(req, "lookup");
  if (IsHidden(name)) return op->Err(ENOENT);
  auto path = inodes.ChildPath(parent, name);
  if (!path) return op->Err(ENOENT);
  if (int e = PathLimitError(name, *path)) return op->Err(e);
  LookupIn(op, parent, name, *path, true);
}

void FuseFs::Impl::LookupIn(const OpPtr& op, std::uint64_t parent, const std::string& n, const std::string& p,
                            bool may_relist) {
  const DirCache::Found f = dircache.Find(parent, n, Clock::now());
  if (f.answer == DirCache::Answer::kAbsent) return ReplyNegative(op, Remaining(f.expiry));
  if (f.answer == DirCache::Answer::kPresent) {
    const std::uint64_t known = inodes.Child(parent, n);
    std::optional<InodeTable::Cached> c = known ? inodes.Fresh(known) : std::nullopt;
    if (!c && f.attrs && !MaybeSymlink(*f.attrs)) c = InodeTable::Cached{*f.attrs, false, f.expiry};
    if (c && (c->owned || !handles.OpenForWrite(known))) {
      const std::uint64_t ino = inodes.Lookup(parent, n);
      if (ino == 0) return op->Err(ENOENT);
      const auto expiry = std::min(c->expiry, f.expiry);
      inodes.SetAttributes(ino, c->attrs, expiry, c->symlink);
      fuse_entry_param e = Entry(ino, c->attrs, c->symlink, Remaining(expiry));
      return op->Done(0, [&] { fuse_reply_entry(op->req, &e); });
    }
  } else if (may_relist && dircache.HadSmallListing(parent, kRelistMax, Clock::now())) {
    return Relist(parent, [this, op, parent, n, p] { LookupIn(op, parent, n, p, false); });
  }
  // A size from the server must include this mount's writes still on
  // their way.
  DrainWrites(inodes.Child(parent, n), [this, op, parent, n, p] {
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
  });
}

void FuseFs::Impl::Relist(std::uint64_t dir, std::function<void()> then) {
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

void FuseFs::Impl::GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto op = Begin(req, "getattr");
  // Attributes this mount fetched less than actimeo ago (a lookup, a
  // listing, a create or setattr reply) are still good: the kernel asks
  // again when it drops its own copy early (after a create or unlink in
  // a directory, for instance).
  // Not for a file this mount is writing: a size fetched while a write
  // was in flight would be older than the kernel's own, and taken.
  // Owned attributes (this mount holds the write lease) include those
  // writes.
  if (auto c = inodes.Fresh(ino); c && (c->owned || !handles.OpenForWrite(ino))) {
    struct stat st = ToStat(ino, c->attrs, c->symlink);
    return op->Done(0, [&] { fuse_reply_attr(op->req, &st, Remaining(c->expiry)); });
  }
  auto reply = [this, op, ino](const FileAttributes& a, bool symlink) {
    struct stat st = ToStat(ino, a, symlink);
    op->Done(0, [&] { fuse_reply_attr(op->req, &st, Timeout()); });
  };
  auto path = inodes.Path(ino);
  auto by_path = [this, op, ino, path, reply] {
    if (!path) return op->Err(ENOENT);
    StatPath(ino, *path, [op, reply](Result<FileAttributes> a, bool symlink) {
      if (!a) return op->Err(a.error());
      reply(*a, symlink);
    });
  };
  // Through an open handle where there is one: one QUERY_INFO instead of
  // an open, a query and a close; and it works for a file unlinked while
  // open.
  std::optional<OpenFile> f;
  if (fi) f = handles.File(fi->fh);
  if (!f) f = handles.AnyFileOf(ino);
  // The server's size must include this mount's writes on their way.
  DrainWrites(ino, [this, op, ino, f, reply, by_path, path] {
    if (!f) return by_path();
    const std::optional<std::uint64_t> from = OwnableFrom(ino);
    fs->GetAttributes(f->handle, [this, op, ino, reply, by_path, path, from](Result<FileAttributes> a) {
      // The handle may have been closed meanwhile (its release runs
      // alongside): the path answers then.
      if (!a && path && IsFileClosed(a.error())) return by_path();
      if (!a) return op->Err(a.error());
      // A 1067-byte file may be an mfsymlink: the path says.
      if (MaybeSymlink(*a)) return by_path();
      Learned(ino, *a, from);
      reply(*a, false);
    });
  });
}

void FuseFs::Impl::SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
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
  // The handle to change through: the caller's (ftruncate), else one this
  // mount has open for writing (fchmod and futimens come without a handle;
  // write access includes the attributes), else by path, else, for a file
  // unlinked while open, any handle of it.
  std::optional<OpenFile> f;
  if (fi) f = handles.File(fi->fh);
  if (!f) f = handles.AnyWritableFileOf(ino);
  auto path = inodes.Path(ino);
  if (!f && !path) f = handles.AnyFileOf(ino);
  if (!f && !path) return op->Err(ENOENT);
  // Writes on their way land before a truncate or a time set after them,
  // and so do the closes of written handles (the server sets the file's
  // times at such a close).
  DrainWrites(ino, [this, op, ino, f, path, change, to_set, mode = attr->st_mode] {
    AfterCloses(ino,
                [this, op, ino, f, path, change, to_set, mode] { SetAttrNow(op, ino, f, path, change, to_set, mode); });
  });
}

void FuseFs::Impl::SetAttrNow(const OpPtr& op, std::uint64_t ino, std::optional<OpenFile> f,
                              std::optional<std::string> path, smb2::AttributeChange change, int to_set, mode_t mode) {
  // The writes of `ino` are on the server now (SetAttr drained them).
  const std::optional<std::uint64_t> from = OwnableFrom(ino);
  auto apply = [this, op, ino, f, path, from](smb2::AttributeChange ch) {
    if (!ch.set_size && !ch.set_basic) {
      // Nothing the server keeps changes (chown to the mount's owner, a
      // chmod that keeps the read-only bit): answer with the attributes.
      if (auto c = inodes.Fresh(ino); c && (c->owned || !handles.OpenForWrite(ino))) {
        struct stat st = ToStat(ino, c->attrs, c->symlink);
        return op->Done(0, [&] { fuse_reply_attr(op->req, &st, Remaining(c->expiry)); });
      }
    }
    const bool time_set = ch.set_basic && ch.basic.last_write_time;
    auto reply = [this, op, ino, from, time_set](Result<FileAttributes> a) {
      if (!a) {
        inodes.InvalidateAttributes(ino);
        TouchListing(ino);
        return op->Err(a.error());
      }
      if (time_set) inodes.TimeSet(ino);
      Learned(ino, *a, from, time_set);
      TouchListing(ino);
      struct stat st = ToStat(ino, *a);
      op->Done(0, [&] { fuse_reply_attr(op->req, &st, Timeout()); });
    };
    // One round trip: SET_INFO(s) and QUERY_INFO as one compound (by path
    // inside CREATE ... CLOSE).
    if (!f) return fs->UpdatePath(*path, ch, reply);
    fs->Update(f->handle, ch, [this, ch, path, reply](Result<FileAttributes> a) {
      // A handle closed meanwhile by its release: by path then.
      if (!a && path && IsFileClosed(a.error())) return fs->UpdatePath(*path, ch, reply);
      reply(std::move(a));
    });
  };
  if (!(to_set & FUSE_SET_ATTR_MODE)) return apply(change);
  // chmod: no write bit at all sets the DOS read-only attribute, any
  // write bit clears it (the cifs rule); the other attributes are kept,
  // so they are needed first: cached ones when fresh.
  auto with_attrs = [apply, change, mode](const FileAttributes& a) mutable {
    std::uint32_t attrs = a.file_attributes;
    if (mode & 0222) {
      attrs &= ~smb2::kAttributeReadonly;
    } else {
      attrs |= smb2::kAttributeReadonly;
    }
    if (attrs != a.file_attributes) {
      // MS-FSCC 2.4.7: zero would mean "unchanged"; NORMAL is "none".
      if (attrs == 0) attrs = smb2::kAttributeNormal;
      change.basic.file_attributes = attrs;
      change.set_basic = true;
    }
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
  if (!f) return fs->Stat(*path, got);
  fs->GetAttributes(f->handle, [this, path, got](Result<FileAttributes> a) mutable {
    // A handle closed meanwhile by its release: by path then.
    if (!a && path && IsFileClosed(a.error())) return fs->Stat(*path, got);
    got(std::move(a));
  });
}

void FuseFs::Impl::Readlink(fuse_req_t req, fuse_ino_t ino) {
  auto op = Begin(req, "readlink");
  auto path = inodes.Path(ino);
  if (!path) return op->Err(ENOENT);
  ReadSymlink(*path, [op](std::optional<std::string> t) {
    if (!t) return op->Err(EINVAL);
    op->Done(0, [&] { fuse_reply_readlink(op->req, t->c_str()); });
  });
}

}  // namespace smbgate::fuse
