#include "smb2/client/remote_fs.h"

#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"

namespace smbgate::smb2 {

void RemoteFs::Update(Handle h, AttributeChange change, Callback<FileAttributes> cb) {
  auto after_size = [this, h, change, cb](Result<void> r) {
    if (!r) return cb(r.error());
    auto query = [this, h, cb](Result<void> s) {
      if (!s) return cb(s.error());
      GetAttributes(h, cb);
    };
    if (!change.set_basic) return query({});
    SetInfo(h, change.basic, query);
  };
  if (!change.set_size) return after_size({});
  Truncate(h, change.size, after_size);
}

void RemoteFs::UpdatePath(std::string path, AttributeChange change, Callback<FileAttributes> cb) {
  OpenParams p;
  p.read = false;
  p.write = change.set_size;
  Open(std::move(path), p, [this, change, cb](Result<OpenResult> o) {
    if (!o) return cb(o.error());
    const Handle h = o->handle;
    Update(h, change, [this, h, cb](Result<FileAttributes> a) {
      Close(h, [a = std::move(a), cb](Result<void> c) {
        if (a && !c) return cb(c.error());
        cb(a);
      });
    });
  });
}

void RemoteFs::OpenListing(std::string path, Callback<DirectoryPage> cb) {
  ReadDirectory(std::move(path), [cb = std::move(cb)](Result<std::vector<DirectoryEntry>> r) {
    if (!r) return cb(r.error());
    DirectoryPage page;
    page.entries = std::move(*r);
    cb(std::move(page));
  });
}

void RemoteFs::ListMore(Handle, bool, Callback<DirectoryPage> cb) { cb(MakeNtStatusError(status::kNotSupported)); }

void RemoteFs::CopyRange(Handle, std::uint64_t, Handle, std::uint64_t, std::uint64_t, Callback<std::uint64_t> cb) {
  cb(MakeNtStatusError(status::kNotSupported));
}

}  // namespace smbgate::smb2
