// RemoteFs: the file operations the FUSE layer needs, as one interface so
// fuse/ can be tested against a fake. Paths are '/'-separated and relative
// to the share root ("" is the root itself).
//
// Every operation is asynchronous: the callback runs exactly once, possibly
// on another thread (the connection's I/O thread), and must not block. Errors
// are std::error_code: the server's NTSTATUS (smb2::ntstatus_category) or an
// smb2::errc. Thread-safety: implementations accept calls from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auth/common/bytes.h"
#include "auth/common/result.h"

namespace smbgate::smb2 {

// FILE_ATTRIBUTE_* values (MS-FSCC 2.6) the layers above need.
inline constexpr std::uint32_t kAttributeReadonly = 0x00000001;
inline constexpr std::uint32_t kAttributeDirectory = 0x00000010;
inline constexpr std::uint32_t kAttributeNormal = 0x00000080;

// Times are Windows FILETIMEs (100 ns since 1601-01-01 UTC); 0 means
// "unknown" on input to SetInfo ("leave unchanged").
struct FileAttributes {
  std::uint64_t creation_time = 0;
  std::uint64_t last_access_time = 0;
  std::uint64_t last_write_time = 0;
  std::uint64_t change_time = 0;
  std::uint64_t end_of_file = 0;
  std::uint64_t allocation_size = 0;
  std::uint32_t file_attributes = 0;  // FILE_ATTRIBUTE_* (MS-FSCC 2.6)
  std::uint64_t file_id = 0;          // the server's index number, 0 if none
  std::uint32_t nlink = 1;
  bool is_directory() const noexcept { return file_attributes & kAttributeDirectory; }
};

struct DirectoryEntry {
  std::string name;
  FileAttributes attrs;
};

struct FsStats {
  std::uint64_t total_bytes = 0;
  std::uint64_t free_bytes = 0;     // free for this user
  std::uint32_t block_size = 4096;  // sectors * bytes per sector
  std::uint32_t max_name_length = 255;
};

// An open handle on the server. Opaque to callers; cheap to copy.
struct Handle {
  std::uint64_t persistent = 0;
  std::uint64_t volatile_ = 0;
  friend bool operator==(const Handle&, const Handle&) = default;
};

// One part of a directory's listing (OpenListing, ListMore), in the
// server's order, without "." and "..".
struct DirectoryPage {
  std::vector<DirectoryEntry> entries;
  // No entries follow. Otherwise `handle` is the directory, open on the
  // server, to go on from with ListMore; the caller closes it.
  bool end = true;
  Handle handle;
};

enum class OpenDisposition { kOpen, kCreate, kOpenIf, kOverwrite, kOverwriteIf };

// SMB2_LEASE_* (MS-SMB2 2.2.13.2.8): what a lease lets the client cache.
inline constexpr std::uint32_t kLeaseRead = 0x01;    // data and attributes
inline constexpr std::uint32_t kLeaseHandle = 0x02;  // the open itself, after close
inline constexpr std::uint32_t kLeaseWrite = 0x04;   // writes and byte-range locks

using LeaseKey = std::array<std::uint8_t, 16>;

struct OpenParams {
  bool read = true;
  bool write = false;
  bool directory = false;      // the path must be a directory
  bool non_directory = false;  // the path must not be a directory
  bool delete_access = false;  // allow rename/delete through the handle
  OpenDisposition disposition = OpenDisposition::kOpen;
  std::uint32_t file_attributes = 0;  // for a created file
  // The lease key of a file open (MS-SMB2 2.2.13.2.8): the caller's key for
  // the file, so that all its opens share one lease and never break each
  // other; all zero draws a key for this open alone.
  LeaseKey lease_key{};
};

// What a durable open (MS-SMB2 3.2.4.3.5, 2.2.13.2.11) needs to be found
// again after the connection is lost: chosen by the client before the
// CREATE (create_guid, lease_key), then what the server granted.
struct DurableState {
  std::array<std::uint8_t, 16> create_guid{};
  std::array<std::uint8_t, 16> lease_key{};
  std::uint32_t lease_state = 0;  // SMB2_LEASE_* granted, 0 for none
  bool durable = false;           // the server granted a durable handle
  bool persistent = false;        // ... a persistent one (CA share)
  std::uint32_t timeout_ms = 0;   // how long the server keeps it
};

struct OpenResult {
  Handle handle;
  FileAttributes attrs;
  bool created = false;
  DurableState durable;  // all false/zero where not requested or granted
};

// Data returned by Read: a view into a received frame kept alive by `owner`.
struct ReadResult {
  std::shared_ptr<const void> owner;
  ByteSpan data;  // shorter than asked at end of file; empty at/after EOF
};

// Fields to change with SetInfo; unset ones stay as they are.
struct SetAttributes {
  std::uint64_t creation_time = 0;
  std::uint64_t last_access_time = 0;
  std::uint64_t last_write_time = 0;
  std::uint64_t change_time = 0;
  // FILE_ATTRIBUTE_* to set, or 0 to leave them.
  std::uint32_t file_attributes = 0;
};

// A change of size and/or basic attributes (setattr).
struct AttributeChange {
  bool set_size = false;
  std::uint64_t size = 0;
  bool set_basic = false;
  SetAttributes basic;
};

template <class T>
using Callback = std::function<void(Result<T>)>;

class RemoteFs {
 public:
  virtual ~RemoteFs() = default;

  virtual void Open(std::string path, OpenParams params, Callback<OpenResult> cb) = 0;
  virtual void Close(Handle h, Callback<void> cb) = 0;
  // Reads up to `length` bytes (at most max_io_size()).
  virtual void Read(Handle h, std::uint64_t offset, std::uint32_t length, Callback<ReadResult> cb) = 0;
  // Writes all of `data` (at most max_io_size()); yields the count written.
  virtual void Write(Handle h, std::uint64_t offset, std::shared_ptr<const Bytes> data, Callback<std::uint32_t> cb) = 0;
  virtual void Flush(Handle h, Callback<void> cb) = 0;
  virtual void GetAttributes(Handle h, Callback<FileAttributes> cb) = 0;
  virtual void Stat(std::string path, Callback<FileAttributes> cb) = 0;
  // Lists a directory completely (every QUERY_DIRECTORY round), without
  // "." and "..".
  virtual void ReadDirectory(std::string path, Callback<std::vector<DirectoryEntry>> cb) = 0;
  // A listing in parts, for directories too big to hold whole: opens
  // directory `path` and yields the first part (SmbFs: CREATE and two
  // QUERY_DIRECTORY rounds as one compound, so a directory that fits in one
  // buffer takes one round trip and is closed again). The default lists it
  // whole (ReadDirectory) as one page.
  virtual void OpenListing(std::string path, Callback<DirectoryPage> cb);
  // The next part of the listing of `h` (one QUERY_DIRECTORY round), or the
  // first part again with `restart` (SMB2_RESTART_SCANS, MS-SMB2 2.2.33).
  // Once nothing follows, the page has `end` set (and may be empty); the
  // handle stays open either way. The default fails with
  // STATUS_NOT_SUPPORTED.
  virtual void ListMore(Handle h, bool restart, Callback<DirectoryPage> cb);
  virtual void MakeDirectory(std::string path, Callback<FileAttributes> cb) = 0;
  virtual void RemoveDirectory(std::string path, Callback<void> cb) = 0;
  virtual void Unlink(std::string path, Callback<void> cb) = 0;
  virtual void Rename(std::string from, std::string to, bool replace, Callback<void> cb) = 0;
  virtual void Truncate(Handle h, std::uint64_t size, Callback<void> cb) = 0;
  virtual void SetInfo(Handle h, SetAttributes attrs, Callback<void> cb) = 0;
  virtual void HardLink(std::string existing, std::string new_path, Callback<void> cb) = 0;
  virtual void StatFs(Callback<FsStats> cb) = 0;
  // Byte-range lock or unlock (MS-SMB2 3.2.4.19). `wait` blocks on the
  // server until the range is free; otherwise a conflict fails at once.
  enum class LockType { kShared, kExclusive, kUnlock };
  virtual void Lock(Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait,
                    Callback<void> cb) = 0;

  // Largest Read/Write the server accepts in one request.
  virtual std::uint32_t max_io_size() const = 0;

  // Applies `change` through an open handle (size first) and yields the
  // attributes after it. The default makes one request per step; SmbFs
  // sends them as one compound.
  virtual void Update(Handle h, AttributeChange change, Callback<FileAttributes> cb);
  // The same by path, with a handle opened for it (and for a size change
  // with write access) and closed again.
  virtual void UpdatePath(std::string path, AttributeChange change, Callback<FileAttributes> cb);

  // Copies `length` bytes of `src` from `src_offset` to `dst` at
  // `dst_offset` on the server (server-side copy, MS-SMB2 3.2.4.20.2), and
  // yields the bytes copied (fewer at the end of `src`). Both handles of
  // this RemoteFs. The default fails with STATUS_NOT_SUPPORTED: the caller
  // copies the data itself.
  virtual void CopyRange(Handle src, std::uint64_t src_offset, Handle dst, std::uint64_t dst_offset,
                         std::uint64_t length, Callback<std::uint64_t> cb);

  // A lease break (MS-SMB2 3.2.5.19.2): the server takes back part of the
  // lease `key` (leaving `new_state`, SMB2_LEASE_*). The handler gives up
  // what it cached under the lease (dirty data written, caches dropped) and
  // then calls `ack` exactly once, from any thread; the server waits for it
  // (35 s on Samba and Windows) before letting the other client go on. It
  // runs on the connection's thread and must not block. Without a handler
  // every break is acknowledged at once.
  using LeaseBreakHandler =
      std::function<void(const LeaseKey& key, std::uint32_t new_state, std::function<void()> ack)>;
  virtual void SetLeaseBreakHandler(LeaseBreakHandler handler) { (void)handler; }
};

}  // namespace smbgate::smb2
