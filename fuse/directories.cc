#include "fuse/fuse_impl.h"

namespace smbgate::fuse {
namespace {

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
                    counter.fetch_add(1) ^
                    static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())));
  const auto slash = path.rfind('/');
  return (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + std::string(kHiddenPrefix) + buf;
}

}  // namespace

void FuseFs::Impl::OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto op = Begin(req, "opendir");
  if (!inodes.Path(ino)) return op->Err(ENOENT);
  fuse_file_info info = *fi;
  const std::uint64_t generation = dircache.Generation(ino);
  // Attributes in the listing are as old as its start.
  const auto expiry = Expiry();
  auto fsys = fs;
  // The directory's path as it is when a page is asked for (a rename may
  // move it while it is open).
  auto path = [this, ino] { return inodes.Path(ino); };
  // Silly-renamed files are never listed; a leftover of a crash (not yet
  // marked for deletion) is deleted as it is seen, quietly (one still open
  // somewhere is marked already and only goes at its last close).
  auto keep = [fsys, path](const smb2::DirectoryEntry& e) {
    if (!IsHidden(e.name)) return true;
    if (auto dir = path()) {
      const std::string leftover = dir->empty() ? e.name : *dir + "/" + e.name;
      if (e.attrs.is_directory()) {
        fsys->RemoveDirectory(leftover, [](Result<void>) {});
      } else {
        fsys->Unlink(leftover, [](Result<void>) {});
      }
    }
    return false;
  };
  // A listing that fits the directory cache answers lookups for actimeo
  // (ls -l, find, stat), unless this mount changed the directory, or an
  // entry's attributes, since it began (the generation).
  auto complete = [this, ino, generation, expiry](const std::vector<smb2::DirectoryEntry>& entries) {
    dircache.Fill(ino, generation, entries, expiry);
  };
  // The listing is read in pages as readdir goes (dir_stream.h); the first
  // comes now, so opendir fails where the directory cannot be listed.
  auto stream = std::make_shared<DirStream>(fs, path, keep, dircache.capacity(), complete);
  stream->Read(0, [this, op, info, ino, stream](Result<std::span<const smb2::DirectoryEntry>> r) mutable {
    if (!r) return op->Err(r.error());
    info.fh = handles.AddDir(stream, ino);
    info.cache_readdir = opts.cache == CacheMode::kLoose;
    // No caller to get it (answered EINTR by an interrupt, or dropped by
    // the kernel): nobody will release it.
    bool dropped = false;
    if (!op->Answer(0, [&] { dropped = fuse_reply_open(op->req, &info) == -ENOENT; }) || dropped) {
      handles.RemoveDir(info.fh);
    }
  });
}

void FuseFs::Impl::ClosingListings(std::vector<std::string> paths, std::function<void()> then) {
  std::vector<std::shared_ptr<DirStream>> under;
  for (auto& [ino, stream] : handles.Dirs()) {
    auto p = inodes.Path(ino);
    if (!p) continue;
    for (const std::string& top : paths) {
      if (*p == top || top.empty() || (p->size() > top.size() && p->compare(0, top.size(), top) == 0 &&
                                       (*p)[top.size()] == '/')) {
        under.push_back(stream);
        break;
      }
    }
  }
  if (under.empty()) return then();
  auto left = std::make_shared<std::atomic<std::size_t>>(under.size());
  auto done = std::make_shared<std::function<void()>>(std::move(then));
  for (auto& s : under) {
    s->Park([left, done] {
      if (--*left == 0) (*done)();
    });
  }
}

void FuseFs::Impl::ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  auto op = Begin(req, plus ? "readdirplus" : "readdir");
  std::shared_ptr<DirStream> stream = handles.Dir(fi->fh);
  if (!stream || off < 0) return op->Err(EBADF);
  // Offsets: 0 ".", 1 "..", then entry k at k + 2; each entry carries the
  // offset of the next one.
  const auto first = static_cast<std::uint64_t>(off);
  stream->Read(
      first < 2 ? 0 : first - 2, [this, op, ino, size, first, plus](Result<std::span<const smb2::DirectoryEntry>> r) {
        if (!r) return op->Err(r.error());
        std::vector<char> buf(size);
        std::size_t used = 0;
        const std::uint64_t base = first < 2 ? 2 : first;  // offset of (*r)[0]
        for (std::uint64_t i = first; i < base + r->size(); ++i) {
          std::size_t need;
          const char* name;
          struct stat st {};
          fuse_entry_param e{};
          const smb2::DirectoryEntry* de = nullptr;
          if (i < 2) {
            name = i == 0 ? "." : "..";
            st.st_ino = i == 0 ? ino : 1;
            st.st_mode = S_IFDIR;
          } else {
            de = &(*r)[i - base];
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
            if (de && *behind_total > 0 && HasWritesBehind(inodes.Child(ino, de->name))) {
              // The listed size misses this mount's writes on their way: no
              // attributes for the kernel (node id 0), a lookup gets them.
              e = fuse_entry_param{};
              e.attr.st_ino = de->attrs.file_id;
              e.attr.st_mode = st.st_mode;
            } else if (de) {
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
        if (plus) NotePeakNodes();
      });
}

void FuseFs::Impl::ReleaseDir(fuse_req_t req, fuse_file_info* fi) {
  auto op = Begin(req, "releasedir");
  // The directory is closed on the server when no read holds it any more.
  handles.RemoveDir(fi->fh);
  op->Err(0);
}

void FuseFs::Impl::MkDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto op = Begin(req, "mkdir");
  if (opts.read_only) return op->Err(EROFS);
  auto path = inodes.ChildPath(parent, name);
  if (!path) return op->Err(ENOENT);
  if (int e = PathLimitError(name, *path)) return op->Err(e);
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

void FuseFs::Impl::SillyRename(const std::string& path, std::function<void(Result<void>)> done) {
  const std::string hidden = HiddenSibling(path);
  auto fsys = fs;
  fs->Rename(path, hidden, false, [fsys, hidden, done](Result<void> r) {
    if (!r) return done(r);
    fsys->Unlink(hidden, [done](Result<void>) { done({}); });
  });
}

void FuseFs::Impl::Remove(fuse_req_t req, fuse_ino_t parent, const char* name, bool dir) {
  auto op = Begin(req, dir ? "rmdir" : "unlink");
  if (opts.read_only) return op->Err(EROFS);
  auto path = inodes.ChildPath(parent, name);
  if (!path) return op->Err(ENOENT);
  if (int e = PathLimitError(name, *path)) return op->Err(e);
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
  // Handles kept after their close go first: the server would keep the
  // file (and its name) until they close.
  ClosingParked([this, dir, done, child, path = *path] {
    // Listings open in the directory or below go first too: the server
    // would keep a removed directory until they close.
    if (dir) return ClosingListings({path}, [this, done, path] { fs->RemoveDirectory(path, done); });
    // A file this mount has open goes to a hidden name first, so the name
    // can be used again at once (a server keeps a file marked for deletion,
    // and its name, until its last handle closes).
    if (handles.IsOpen(child)) return SillyRename(path, done);
    fs->Unlink(path, done);
  });
}

void FuseFs::Impl::Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                          const char* newname, unsigned int flags) {
  auto op = Begin(req, "rename");
  if (opts.read_only) return op->Err(EROFS);
  // SMB2 has no atomic exchange.
  if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) return op->Err(EINVAL);
  auto from = inodes.ChildPath(parent, name);
  auto to = inodes.ChildPath(newparent, newname);
  if (!from || !to) return op->Err(ENOENT);
  if (int e = PathLimitError(newname, *to)) return op->Err(e);
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
  // Handles kept after their close go first: a server refuses to replace
  // an open file or to rename a directory with an open file inside.
  // So do listings open in a directory renamed or replaced, or below it:
  // a server refuses to rename a directory with opens below it.
  ClosingParked([this, finish, from = *from, to = *to, replace] {
    ClosingListings({from, to}, [this, finish, from, to, replace] { RenameNow(from, to, replace, finish); });
  });
}

void FuseFs::Impl::RenameNow(const std::string& from, const std::string& to, bool replace,
                             std::function<void(Result<void>)> finish) {
  fs->Rename(from, to, replace, [this, finish, from, to, replace](Result<void> r) {
    // A server refuses to replace a file that is open (here or at another
    // client) with STATUS_ACCESS_DENIED, and Windows an empty directory.
    // POSIX replaces it at once, and whoever has it open keeps it: move the
    // target to a hidden name and rename again. The refusal may have been
    // about the source instead: then the target goes back where it was.
    if (r || !replace || ErrnoFor(r.error()) != EACCES) return finish(r);
    const std::string hidden = HiddenSibling(to);
    fs->Rename(to, hidden, false, [this, finish, from, to, hidden, r](Result<void> moved) {
      if (!moved) return finish(r);
      fs->Rename(from, to, true, [this, finish, to, hidden](Result<void> again) {
        if (!again) {
          fs->Rename(hidden, to, false, [finish, again](Result<void>) { finish(again); });
          return;
        }
        // The replaced file is marked for deletion (it goes at its last
        // close elsewhere); a replaced (empty) directory is removed.
        fs->Unlink(hidden, [this, finish, hidden](Result<void> u) {
          if (u) return finish({});
          fs->RemoveDirectory(hidden, [finish](Result<void>) { finish({}); });
        });
      });
    });
  });
}

void FuseFs::Impl::Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  auto op = Begin(req, "link");
  if (opts.read_only) return op->Err(EROFS);
  auto from = inodes.Path(ino);
  auto to = inodes.ChildPath(newparent, newname);
  if (!from || !to) return op->Err(ENOENT);
  if (int e = PathLimitError(newname, *to)) return op->Err(e);
  std::string nn = newname;
  fs->HardLink(*from, *to, [this, op, ino, newparent, nn, to = *to](Result<void> r) {
    if (!r) return op->Err(r.error());
    inodes.Changed(ino);
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

void FuseFs::Impl::Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  auto op = Begin(req, "symlink");
  if (opts.read_only) return op->Err(EROFS);
  auto content = EncodeMfSymlink(target);
  if (!content) return op->Err(ENAMETOOLONG);
  auto path = inodes.ChildPath(parent, name);
  if (!path) return op->Err(ENOENT);
  if (int e = PathLimitError(name, *path)) return op->Err(e);
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

void FuseFs::Impl::StatFs(fuse_req_t req) {
  auto op = Begin(req, "statfs");
  fs->StatFs([op](Result<smb2::FsStats> s) {
    if (!s) return op->Err(s.error());
    struct statvfs v {};
    v.f_bsize = s->block_size;
    v.f_frsize = s->block_size;
    v.f_blocks = s->total_bytes / s->block_size;
    v.f_bfree = s->free_bytes / s->block_size;
    v.f_bavail = v.f_bfree;
    // What a component may hold here: the server's limit where it gave
    // one, at most NAME_MAX (path_limits.h).
    v.f_namemax = s->max_name_length && s->max_name_length < kNameMax ? s->max_name_length : kNameMax;
    op->Done(0, [&] { fuse_reply_statfs(op->req, &v); });
  });
}

}  // namespace smbgate::fuse
