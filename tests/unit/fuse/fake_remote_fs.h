// FakeRemoteFs: an in-memory SMB share behind smb2::RemoteFs, for testing
// the FUSE layer without a server. It keeps the rules of an SMB server that
// the layer above depends on:
//
// - names are case-insensitive (ASCII) and case-preserving;
// - a file unlinked while open stays, delete-pending, under its name until
//   its last handle closes, and opening that name fails with
//   STATUS_DELETE_PENDING (Samba 4.17, Windows); it still shows in listings;
// - a rename never replaces a file that is open (STATUS_ACCESS_DENIED, as
//   Samba answers); a directory replaces only an empty directory (Samba
//   renames with rename(2));
// - SET_INFO needs a handle opened for writing or for attributes only;
//   READ and WRITE need the matching access; a read-only file (the DOS
//   attribute) refuses opens for writing and deletion;
// - byte-range locks per handle with SMB's conflict rules, blocking locks
//   granted when the range comes free, every lock of a handle dropped at
//   its close;
// - leases as on SMB 3.x: a file open with a lease key gets read + handle +
//   write caching, one lease per key shared by its opens; an open with
//   another key takes write caching from the others (a break); the same key
//   on two files is refused (STATUS_INVALID_PARAMETER).
//
// Not modelled: hard links (STATUS_NOT_SUPPORTED), mandatory byte-range
// locking of reads and writes, directory leases, and the breaks a server
// sends for this mount's own path-based requests (only an open or a write
// under another lease key breaks this mount's leases).
//
// Every callback runs on one worker thread of the fake (as the real client
// runs them on its I/O thread), never under the fake's lock and never on
// the caller's stack. Lease breaks go to the handler on that thread too.
//
// For tests: per-method call counters, a failure injected into the next
// call(s) of a method, the share's content seen and changed directly, and
// "another client" that changes files behind the mount's back, breaking the
// leases held on them first and waiting for the acknowledgements, like a
// server.
//
// Thread-safety: every member may be called from any thread; the methods
// that wait for acknowledgements (Other*, BreakLease*) must not be called on
// the fake's worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "smb2/client/remote_fs.h"

namespace smbgate::fuse {

class FakeRemoteFs final : public smb2::RemoteFs {
 public:
  FakeRemoteFs();
  ~FakeRemoteFs() override;
  FakeRemoteFs(const FakeRemoteFs&) = delete;
  FakeRemoteFs& operator=(const FakeRemoteFs&) = delete;

  // ---- smb2::RemoteFs ---------------------------------------------------
  void Open(std::string path, smb2::OpenParams params, smb2::Callback<smb2::OpenResult> cb) override;
  void Close(smb2::Handle h, smb2::Callback<void> cb) override;
  void Read(smb2::Handle h, std::uint64_t offset, std::uint32_t length, smb2::Callback<smb2::ReadResult> cb) override;
  void Write(smb2::Handle h, std::uint64_t offset, std::shared_ptr<const Bytes> data,
             smb2::Callback<std::uint32_t> cb) override;
  void Flush(smb2::Handle h, smb2::Callback<void> cb) override;
  void GetAttributes(smb2::Handle h, smb2::Callback<smb2::FileAttributes> cb) override;
  void Stat(std::string path, smb2::Callback<smb2::FileAttributes> cb) override;
  void ReadDirectory(std::string path, smb2::Callback<std::vector<smb2::DirectoryEntry>> cb) override;
  // Pages of set_list_page() entries, taken from the directory as it is at
  // OpenListing (and at a restart).
  void OpenListing(std::string path, smb2::Callback<smb2::DirectoryPage> cb) override;
  void ListMore(smb2::Handle h, bool restart, smb2::Callback<smb2::DirectoryPage> cb) override;
  void MakeDirectory(std::string path, smb2::Callback<smb2::FileAttributes> cb) override;
  void RemoveDirectory(std::string path, smb2::Callback<void> cb) override;
  void Unlink(std::string path, smb2::Callback<void> cb) override;
  void Rename(std::string from, std::string to, bool replace, smb2::Callback<void> cb) override;
  void Truncate(smb2::Handle h, std::uint64_t size, smb2::Callback<void> cb) override;
  void SetInfo(smb2::Handle h, smb2::SetAttributes attrs, smb2::Callback<void> cb) override;
  void HardLink(std::string existing, std::string new_path, smb2::Callback<void> cb) override;
  void StatFs(smb2::Callback<smb2::FsStats> cb) override;
  void Lock(smb2::Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait,
            smb2::Callback<void> cb) override;
  std::uint32_t max_io_size() const override;
  // One call each, like SmbFs's compounds (the defaults would count the
  // Open, SET_INFO, QUERY_INFO and Close they are made of).
  void Update(smb2::Handle h, smb2::AttributeChange change, smb2::Callback<smb2::FileAttributes> cb) override;
  void UpdatePath(std::string path, smb2::AttributeChange change, smb2::Callback<smb2::FileAttributes> cb) override;
  void SetLeaseBreakHandler(LeaseBreakHandler handler) override;

  // ---- configuration ----------------------------------------------------
  // Whether opens of files get leases (SMB 3.x, the default) or none
  // (2.0.2).
  void set_leases(bool grant);
  void set_max_io(std::uint32_t bytes);  // default 64 KiB
  // Entries per page of a listing (OpenListing's first page holds two, as
  // SmbFs's compound of two rounds); 0, the default, lists whole.
  void set_list_page(std::size_t entries);
  // How long each WRITE takes to be answered (a server's round trip; the
  // data is in place at once). Default 0.
  void set_write_latency(std::chrono::microseconds latency);
  void set_fs_stats(const smb2::FsStats& stats);

  // ---- calls --------------------------------------------------------------
  // Calls of a RemoteFs method by name ("Open", "Stat", "UpdatePath", ...),
  // failed ones included.
  int calls(std::string_view method) const;
  // Calls of `method` for exactly `path` ("Stat", "d/a").
  int calls_for(std::string_view method, std::string_view path) const;
  // Every call by method.
  std::map<std::string, int> all_calls() const;
  // Every call since the last reset with its path, in order ("Stat d/a,
  // Open d/b"): for assertion messages.
  std::string CallLog() const;
  void ResetCalls();

  // ---- failures -----------------------------------------------------------
  // The next `times` calls of `method` fail with `ec` (and change nothing).
  void FailNext(std::string_view method, std::error_code ec, int times = 1);
  // The same for the calls of `method` whose detail (the path, or "from ->
  // to" for Rename and HardLink) is exactly `detail`.
  void FailNextFor(std::string_view method, std::string_view detail, std::error_code ec, int times = 1);
  void ClearFailures();

  // ---- ordering ---------------------------------------------------------------
  // While held, Open requests are counted and kept, unanswered, as if the
  // server had not processed them yet; ReleaseOpens() processes the kept
  // ones in arrival order (and stops holding). For races between opens.
  void HoldOpens();
  std::size_t held_opens() const;
  void ReleaseOpens();

  // ---- the share's content, directly (no call counted, no lease broken) ---
  // Creates or replaces a file, making missing parent directories.
  void PutFile(std::string_view path, std::string_view data, std::uint32_t dos_attributes = 0);
  void PutDir(std::string_view path);
  // The file's ACL lacks DELETE for this user: deleting it, renaming it and
  // opening it for deletion fail with STATUS_ACCESS_DENIED.
  void DenyDelete(std::string_view path);
  std::optional<std::string> FileData(std::string_view path) const;
  std::optional<smb2::FileAttributes> Attributes(std::string_view path) const;
  // The names in a directory as the server has them (delete-pending ones
  // included); empty if there is no such directory.
  std::vector<std::string> Names(std::string_view dir) const;
  bool DeletePending(std::string_view path) const;
  std::size_t open_handles() const;
  // Byte-range locks held on the file (any handle, another client's too).
  std::size_t locks_on(std::string_view path) const;

  // ---- another client -------------------------------------------------------
  // Each breaks the leases this mount holds on the file as a server would
  // (a write, a size or attribute change or a byte-range lock: to none; a
  // delete or rename: to read), waits for the acknowledgements (at most
  // `kAckTimeout`), then makes the change. Errors: the server's NTSTATUS.
  static constexpr std::chrono::milliseconds kAckTimeout{5000};
  std::error_code OtherWrite(std::string_view path, std::uint64_t offset, std::string_view data,
                             bool break_leases = true);
  std::error_code OtherCreate(std::string_view path, std::string_view data);
  std::error_code OtherMkdir(std::string_view path);
  std::error_code OtherDelete(std::string_view path);
  std::error_code OtherRename(std::string_view from, std::string_view to);
  std::error_code OtherLock(std::string_view path, std::uint64_t offset, std::uint64_t length, bool exclusive);
  std::error_code OtherUnlock(std::string_view path, std::uint64_t offset, std::uint64_t length);

  // ---- leases ---------------------------------------------------------------
  struct BreakOutcome {
    int sent = 0;   // breaks sent to the handler
    int acked = 0;  // of those, acknowledged before the timeout
    bool all_acked() const { return acked == sent; }
  };
  // Breaks lease `key` (or every lease on the file at `path`) down to
  // `state & keep` (SMB2_LEASE_*), if that takes anything away, and waits
  // for the acknowledgements.
  BreakOutcome BreakLease(const smb2::LeaseKey& key, std::uint32_t keep,
                          std::chrono::milliseconds timeout = kAckTimeout);
  BreakOutcome BreakLeases(std::string_view path, std::uint32_t keep, std::chrono::milliseconds timeout = kAckTimeout);
  // The leases held on the file at `path` (key and state).
  std::vector<std::pair<smb2::LeaseKey, std::uint32_t>> Leases(std::string_view path) const;
  int breaks_sent() const;
  int breaks_acked() const;
  // Acknowledgements beyond the first for one break (the handler must call
  // `ack` exactly once).
  int extra_acks() const;
  // Breaks sent because an open of this mount came with another lease key
  // than the file's other opens (the FUSE layer means to use one key per
  // file).
  int cross_key_breaks() const;

 private:
  struct Node;
  struct OpenEntry;
  struct Lease;
  struct HeldLock;
  struct Waiter;
  struct Resolved;
  // The worker thread and its queue, the break handler and the record of
  // acknowledgements: shared with the work in flight, so that nothing
  // posted needs the fake itself.
  struct Worker;
  struct HandlerSlot;
  struct AckBoard;
  struct PendingBreak {
    smb2::LeaseKey key{};
    std::uint32_t state = 0;
  };

  // Runs `f` on the worker thread (callable under mu_: it only queues).
  void Post(std::function<void()> f);
  template <class T>
  void Reply(smb2::Callback<T> cb, Result<T> r);

  void OpenNow(std::string path, smb2::OpenParams params, smb2::Callback<smb2::OpenResult> cb);

  // Counts a call; the failure injected for it, if any.
  std::error_code Enter(std::string_view method, std::string_view detail);

  // ---- under mu_ ----
  Resolved ResolveLocked(std::string_view path) const;
  std::shared_ptr<Node> NodeLocked(std::string_view path) const;
  OpenEntry* EntryLocked(const smb2::Handle& h);
  smb2::FileAttributes AttributesOf(const Node& n) const;
  // The directory at `path` if it can be listed, else the server's status.
  Result<std::shared_ptr<Node>> ListableLocked(std::string_view path) const;
  std::vector<smb2::DirectoryEntry> EntriesLocked(const Node& dir) const;
  std::shared_ptr<Node> CreateLocked(const std::shared_ptr<Node>& dir, std::string_view name, bool is_dir);
  std::shared_ptr<Node> MakeParentsLocked(std::string_view path);
  void DetachLocked(Node& n);
  void CloseLocked(std::uint64_t id);
  std::uint32_t RenameLocked(std::string_view from, std::string_view to, bool replace);
  std::uint32_t RemoveLocked(std::string_view path, bool dir);
  std::uint32_t LockLocked(Node& n, std::uint64_t handle, std::uint64_t offset, std::uint64_t length, LockType type,
                           bool wait, smb2::Callback<void>* cb);
  bool LockConflictsLocked(const Node& n, const HeldLock& want) const;
  void GrantWaitersLocked(Node& n);
  void ApplyChangeLocked(Node& n, const smb2::AttributeChange& change);
  void WriteLocked(Node& n, std::uint64_t offset, ByteSpan data);
  // The leases on `n` (but `except`) that lose something when reduced to
  // `state & keep`, as breaks to send; their states change now.
  std::vector<PendingBreak> BreaksLocked(const Node& n, std::uint32_t keep, const smb2::LeaseKey* except);

  // Sends `breaks` to the handler; with `wait`, waits for their
  // acknowledgements (else returns at once, acked 0).
  BreakOutcome SendBreaks(const std::vector<PendingBreak>& breaks, bool wait, std::chrono::milliseconds timeout);
  // Another client's open of `path`: the leases on it keep `keep`.
  BreakOutcome BreakForOther(std::string_view path, std::uint32_t keep);

  mutable std::mutex mu_;
  std::shared_ptr<Node> root_;
  std::map<std::uint64_t, OpenEntry> opens_;  // by handle id
  std::map<smb2::LeaseKey, Lease> leases_;
  std::uint64_t next_handle_ = 1;
  std::uint64_t next_file_id_ = 1000;
  std::uint64_t next_key_ = 1;
  bool grant_leases_ = true;
  std::uint32_t max_io_ = 64 * 1024;
  std::size_t list_page_ = 0;
  std::atomic<std::int64_t> write_latency_us_{0};
  smb2::FsStats stats_;
  std::map<std::string, int, std::less<>> calls_;
  std::vector<std::string> log_;
  std::map<std::string, std::deque<std::error_code>, std::less<>> failures_;  // by method, or "method detail"
  int cross_key_breaks_ = 0;
  bool hold_opens_ = false;
  std::vector<std::function<void()>> held_opens_;

  std::shared_ptr<HandlerSlot> handler_;
  std::shared_ptr<AckBoard> acks_;
  std::shared_ptr<Worker> worker_;
};

// FILETIME (100 ns since 1601) of a Unix time.
std::uint64_t FiletimeOf(std::int64_t unix_seconds, std::uint32_t nanoseconds = 0);

}  // namespace smbgate::fuse
