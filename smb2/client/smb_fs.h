// SmbFs: RemoteFs over one SMB2 tree connection. Each operation becomes one
// or a few SMB2 requests sent without blocking; callbacks run on the
// connection's I/O thread.
#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "smb2/client/remote_fs.h"
#include "smb2/client/session.h"

namespace smbgate::smb2 {

class SmbFs final : public RemoteFs {
 public:
  // `subdir` ('/'-separated, may be empty) is prefixed to every path. With
  // `durable`, opens of files on 3.x ask for a read+handle+write lease and
  // a durable v2 handle (persistent on a continuously available share), and
  // lease breaks go to the handler (SetLeaseBreakHandler), then are
  // acknowledged.
  SmbFs(std::shared_ptr<Tree> tree, std::string subdir = {}, bool durable = true);

  void Open(std::string path, OpenParams params, Callback<OpenResult> cb) override;
  void Close(Handle h, Callback<void> cb) override;
  void Read(Handle h, std::uint64_t offset, std::uint32_t length, Callback<ReadResult> cb) override;
  void Write(Handle h, std::uint64_t offset, std::shared_ptr<const Bytes> data, Callback<std::uint32_t> cb) override;
  void Flush(Handle h, Callback<void> cb) override;
  void GetAttributes(Handle h, Callback<FileAttributes> cb) override;
  void Stat(std::string path, Callback<FileAttributes> cb) override;
  void ReadDirectory(std::string path, Callback<std::vector<DirectoryEntry>> cb) override;
  void OpenListing(std::string path, Callback<DirectoryPage> cb) override;
  void ListMore(Handle h, bool restart, Callback<DirectoryPage> cb) override;
  void MakeDirectory(std::string path, Callback<FileAttributes> cb) override;
  void RemoveDirectory(std::string path, Callback<void> cb) override;
  void Unlink(std::string path, Callback<void> cb) override;
  void Rename(std::string from, std::string to, bool replace, Callback<void> cb) override;
  void Truncate(Handle h, std::uint64_t size, Callback<void> cb) override;
  void SetInfo(Handle h, SetAttributes attrs, Callback<void> cb) override;
  void HardLink(std::string existing, std::string new_path, Callback<void> cb) override;
  void StatFs(Callback<FsStats> cb) override;
  void Lock(Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait,
            Callback<void> cb) override;
  std::uint32_t max_io_size() const override;
  void SetLeaseBreakHandler(LeaseBreakHandler handler) override;
  void Update(Handle h, AttributeChange change, Callback<FileAttributes> cb) override;
  void UpdatePath(std::string path, AttributeChange change, Callback<FileAttributes> cb) override;
  void CopyRange(Handle src, std::uint64_t src_offset, Handle dst, std::uint64_t dst_offset, std::uint64_t length,
                 Callback<std::uint64_t> cb) override;

  const std::shared_ptr<Tree>& tree() const noexcept { return tree_; }

  // Open() with the client's choices made beforehand (`want.create_guid`,
  // `want.lease_key`; zero ones are drawn at random), so that a replay of
  // the same create carries the same CreateGuid (MS-SMB2 3.3.5.9.10).
  void OpenWith(std::string path, OpenParams params, DurableState want, Callback<OpenResult> cb);
  // Reclaims a durable open of a lost connection with DH2C (MS-SMB2
  // 3.2.4.4, 2.2.13.2.12): the same open, its locks and lease. Errors: the
  // server's refusal (STATUS_OBJECT_NAME_NOT_FOUND once it dropped it).
  void Reclaim(std::string path, OpenParams params, Handle old, DurableState held, Callback<OpenResult> cb);
  // Lock() with a LockSequenceNumber/Index (MS-SMB2 2.2.26, 3.2.4.19): a
  // replay with the same `sequence` is recognised by the server. The low 4
  // bits are the number, the rest the index (1..64); 0 sends none.
  void LockWithSequence(Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait,
                        std::uint32_t sequence, Callback<void> cb);
  // The same filesystem, whose requests are marked as replays (sent again
  // after a lost connection).
  std::shared_ptr<SmbFs> Replaying() const;
  // Whether opens of files ask for durable handles here.
  bool durable_handles() const;

  // The SMB name ("dir\\file") for a '/'-separated path under the subdir.
  // Errors: client_errc::name_invalid for a component with '\\' or ':' (which
  // Windows would read as a separator or a stream), "." or "..".
  Result<std::string> ToSmbName(const std::string& path) const;

 private:
  // Marks `r` as a replay when this is a Replaying() view.
  Request Mark(Request r) const;

  std::shared_ptr<Tree> tree_;
  std::string subdir_;
  bool durable_ = true;
  bool replay_ = false;
  // Shared with the connection's break handler and with Replaying() views.
  struct BreakSlot {
    std::mutex mu;
    LeaseBreakHandler handler;
  };
  std::shared_ptr<BreakSlot> break_handler_;
};

// Runs an asynchronous RemoteFs call and waits for it. For tools and tests;
// never call from the connection's I/O thread.
template <class T, class F>
Result<T> Wait(F&& start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

}  // namespace smbgate::smb2
