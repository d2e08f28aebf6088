// HandleTable: the FUSE file handles ("fh") of one mount: each open file
// with its SMB handle, and each open directory with its listing
// (dir_stream.h). Lookups by node are indexed (is the node open? for writing?).
//
// Thread-safety: every member is safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "smb2/client/remote_fs.h"

namespace smbgate::fuse {

class WriteBehind;

struct OpenFile {
  smb2::Handle handle;
  std::uint64_t ino = 0;
  bool writable = false;
  bool leased = false;  // counted in its node's lease (LeaseTable)
  // Writes gathered and sent behind the application (cache=strict, a
  // writable handle; write_behind.h); null otherwise.
  std::shared_ptr<WriteBehind> behind;
};

class DirStream;

class HandleTable {
 public:
  std::uint64_t AddFile(const OpenFile& f);
  std::optional<OpenFile> File(std::uint64_t fh) const;
  // Removes and returns the file of `fh`.
  std::optional<OpenFile> TakeFile(std::uint64_t fh);
  // Some open file of node `ino`: fstat and fchmod come without a handle,
  // and a file unlinked while open has no path left to open.
  std::optional<OpenFile> AnyFileOf(std::uint64_t ino) const;
  // One opened with write access (it may change attributes too).
  std::optional<OpenFile> AnyWritableFileOf(std::uint64_t ino) const;
  bool IsOpen(std::uint64_t ino) const;
  bool OpenForWrite(std::uint64_t ino) const;

  // An open directory: node `ino`'s listing.
  std::uint64_t AddDir(std::shared_ptr<DirStream> d, std::uint64_t ino);
  std::shared_ptr<DirStream> Dir(std::uint64_t fh) const;
  void RemoveDir(std::uint64_t fh);
  // Every open directory's node and listing.
  std::vector<std::pair<std::uint64_t, std::shared_ptr<DirStream>>> Dirs() const;

  // Empties the table and returns the files that were open (shutdown).
  std::vector<OpenFile> TakeAll();

  std::size_t files() const;
  std::size_t dirs() const;

 private:
  struct PerNode {
    int open = 0;
    int writable = 0;
    std::uint64_t some_fh = 0;  // one of them, for AnyFileOf
  };
  void UnindexLocked(std::uint64_t fh, const OpenFile& f);

  mutable std::mutex mu_;
  std::uint64_t next_fh_ = 1;
  std::unordered_map<std::uint64_t, OpenFile> files_;
  std::unordered_map<std::uint64_t, PerNode> nodes_;
  struct ListedDir {
    std::shared_ptr<DirStream> stream;
    std::uint64_t ino = 0;
  };
  std::unordered_map<std::uint64_t, ListedDir> dirs_;
};

}  // namespace smbgate::fuse
