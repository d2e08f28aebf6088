// ReconnectingFs: a RemoteFs that survives the loss of its connection, the
// way the kernel cifs client and Windows do. When a request fails because
// the connection or session is gone, the filesystem is marked down and a
// background thread reconnects (negotiate, session setup with the current
// credentials, tree connect) with jittered exponential backoff. Then:
// - every durable open is reclaimed with DH2C (MS-SMB2 3.2.4.4) before any
//   request runs, so its byte-range locks and lease never lapse; an open
//   the server will not give back is reopened by path on its next use, and
//   the on_reclaim observer says so;
// - the requests that were in flight are sent again (MS-SMB2 3.2.4.1.1
//   replay: SMB2_FLAGS_REPLAY_OPERATION, a raised ChannelSequence, the same
//   CreateGuid and LockSequence), and the ones the server cannot
//   deduplicate are checked (a delete that finds nothing to delete, a
//   rename whose source is gone and target exists, were done);
// - requests made while it is down wait for it: forever (`hard`, the
//   default) or up to `wait_limit` (`soft`).
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "smb2/client/smb_fs.h"

namespace smbgate::smb2 {

class ReconnectingFs final : public RemoteFs, public std::enable_shared_from_this<ReconnectingFs> {
 public:
  // Builds a fresh, connected SmbFs (blocking). Called on the reconnect
  // thread; it should read the newest credentials each time.
  using Factory = std::function<Result<std::shared_ptr<SmbFs>>()>;

  struct Options {
    std::chrono::milliseconds first_backoff{500};
    std::chrono::milliseconds max_backoff{30'000};
    // How long a request waits for the connection to come back; max()
    // waits forever (mount option `hard`).
    std::chrono::milliseconds wait_limit = std::chrono::milliseconds::max();
    // How often one request is sent again after lost connections before
    // its error is reported (a request that kills the server each time
    // must not loop forever).
    int max_replays = 8;
    // Echo interval: a connection that answers nothing for three intervals
    // is declared dead (the cifs rule). 0 disables the echo.
    std::chrono::milliseconds echo_interval{30'000};
    std::function<void()> on_reconnected;  // metrics/logs; any thread
    std::function<void(std::error_code)> on_down;
    // A reconnect reached another server (ServerGuid) or weaker parameters
    // (dialect, signing algorithm, cipher) than the first connection and
    // was refused; `what` names the change. Any thread.
    std::function<void(const std::string& what)> on_refused;
    // The round trip of each keepalive ECHO that was answered. Any thread.
    std::function<void(std::chrono::nanoseconds)> on_echo;
    // After a reconnect, for each durable open: reclaimed (no error), or
    // the server's refusal (it will be reopened by path, without its
    // locks). Reconnect thread.
    std::function<void(const std::string& path, std::error_code refused)> on_reclaim;
    // A byte-range lock of a reopened (not reclaimed) handle could not be
    // taken again: another client holds the range now. Any thread.
    std::function<void(const std::string& path, std::error_code why)> on_lock_lost;
  };

  static std::shared_ptr<ReconnectingFs> Create(std::shared_ptr<SmbFs> initial, Factory factory, Options options);
  ~ReconnectingFs() override;

  // Stops the reconnect and echo threads; pending waiters fail.
  void Stop();
  // True while connected (for /readyz).
  bool up() const;
  std::uint64_t reconnects() const;
  // The current filesystem (nullptr while down); for logoff at shutdown.
  std::shared_ptr<SmbFs> current() const;

  void Open(std::string path, OpenParams params, Callback<OpenResult> cb) override;
  void Close(Handle h, Callback<void> cb) override;
  void Read(Handle h, std::uint64_t offset, std::uint32_t length, Callback<ReadResult> cb) override;
  void Write(Handle h, std::uint64_t offset, std::shared_ptr<const Bytes> data, Callback<std::uint32_t> cb) override;
  void Flush(Handle h, Callback<void> cb) override;
  void GetAttributes(Handle h, Callback<FileAttributes> cb) override;
  void Stat(std::string path, Callback<FileAttributes> cb) override;
  void ReadDirectory(std::string path, Callback<std::vector<DirectoryEntry>> cb) override;
  // A listing's handle is not reopened after a reconnect: its place in the
  // listing went with the old one. ListMore then fails with ESTALE, and the
  // caller opens the listing again.
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
  // Kept for every later connection. After a reconnect the handler is told
  // that every lease is gone (new state 0): the caches it guarded may be
  // stale.
  void SetLeaseBreakHandler(LeaseBreakHandler handler) override;
  void Update(Handle h, AttributeChange change, Callback<FileAttributes> cb) override;
  void UpdatePath(std::string path, AttributeChange change, Callback<FileAttributes> cb) override;
  void CopyRange(Handle src, std::uint64_t src_offset, Handle dst, std::uint64_t dst_offset, std::uint64_t length,
                 Callback<std::uint64_t> cb) override;

  // Whether an error means the connection or session is gone.
  static bool IsConnectionError(const std::error_code& ec);
  // Whether the server lost or expired the session
  // (STATUS_USER_SESSION_DELETED, STATUS_NETWORK_SESSION_EXPIRED): the
  // request was not carried out and is sent again after a new session setup.
  static bool IsSessionGone(const std::error_code& ec);
  // What differs between the first connection and a reconnect that must
  // be refused ("ServerGuid changed", "dialect 3.1.1 -> 2.1", ...); empty
  // when it may be used. `vers=` pins the dialect, so an unchanged one is
  // the only one accepted either way.
  static std::string DowngradeBetween(const NegotiatedState& first, const NegotiatedState& now);

 private:
  ReconnectingFs(std::shared_ptr<SmbFs> initial, Factory factory, Options options);

  // A unit of work against one generation of the filesystem.
  using Job = std::function<void(const std::shared_ptr<SmbFs>& fs, std::uint64_t generation)>;
  struct Waiting {
    Job job;
    std::function<void(std::error_code)> fail;
    std::chrono::steady_clock::time_point since;
  };
  struct VirtualHandle {
    std::string path;
    OpenParams params;
    Handle real;
    std::uint64_t generation = 0;
    DurableState durable;  // durable.durable: reclaim after a reconnect
    std::uint32_t lock_count = 0;  // LockSequence of the next lock
    bool closing = false;  // closed by the application while down
    int reclaim_losses = 0;  // reclaims that ended with the connection lost
    // The byte-range locks held through this handle, to take again after
    // a reopen by path (a reclaimed open keeps them on the server).
    struct Range {
      std::uint64_t offset, length;
      bool exclusive;
    };
    std::vector<Range> locks;
    // A lock could not be taken again after a reopen: another client may
    // have changed the range, so I/O on the handle fails with EIO.
    bool locks_lost = false;
    // The path was unlinked (or replaced by a rename) while this handle was
    // open: the file is gone with the connection that held it, and the path
    // may name another file by now, so it is never reopened.
    bool unlinked = false;
    // A directory open for listing (OpenListing): never reopened.
    bool listing = false;
  };

  // One attempt of Open(); `attempt` > 0 is a replay with the same
  // CreateGuid, `maybe_done` when the last one may have been carried out.
  void OpenAttempt(std::string path, OpenParams params, DurableState want, Callback<OpenResult> cb, int attempt,
                   bool maybe_done);
  // One attempt of OpenListing().
  void ListingAttempt(std::string path, Callback<DirectoryPage> cb, int attempt);
  // Reclaims every durable open of an older generation on `fs` (blocking;
  // reconnect thread).
  void ReclaimAll(const std::shared_ptr<SmbFs>& fs, std::uint64_t generation);
  // Runs `job` now if up, else queues it.
  void Submit(Job job, std::function<void(std::error_code)> fail);
  // Called by a job whose request failed: marks the generation down.
  void ReportError(std::uint64_t generation, const std::error_code& ec);
  // Runs `body` with the real handle of `vh` in the current generation,
  // reopening it by path first if the connection was replaced.
  // `body` gets the VirtualHandle (for its lock sequence) and whether this
  // is a replay of an attempt that may have been carried out.
  template <class T>
  using HandleBody = std::function<void(const std::shared_ptr<SmbFs>&, Handle, VirtualHandle&, bool maybe_done,
                                        Callback<T>)>;
  template <class T>
  void WithHandle(Handle vh, Callback<T> cb, HandleBody<T> body, int attempt = 0, bool maybe_done = false);
  // A copy of the entry of virtual handle `vh`, if it is still open.
  std::optional<VirtualHandle> FindHandle(Handle vh);
  // Runs a path operation on the current generation; `attempt` counts the
  // times it was sent again after a lost session or connection. `call`
  // gets `maybe_done` as WithHandle's body does.
  template <class T, class F>
  void PathOp(Callback<T> cb, F call, int attempt = 0, bool maybe_done = false);
  // Wraps a callback so connection errors trigger a reconnect. With
  // `retry`, a lost session or connection runs it with whether the request
  // may have been carried out (after marking the generation down, so it
  // waits for the new session) instead of reporting the error.
  template <class T>
  Callback<T> Watch(std::uint64_t generation, Callback<T> cb, std::function<void(bool maybe_done)> retry = nullptr);

  // Keeps the paths of open handles in step with renames and unlinks done
  // through this filesystem, for reopening after a reconnect.
  void PathRenamed(const std::string& from, const std::string& to);
  void PathUnlinked(const std::string& path);

  void ReconnectLoop();
  void EchoLoop();

  Factory factory_;
  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<SmbFs> current_;
  std::uint64_t generation_ = 1;
  bool down_ = false;
  bool stopping_ = false;
  std::uint64_t reconnects_ = 0;
  std::uint32_t max_io_ = 65536;
  NegotiatedState first_;  // of the first connection: what reconnects must match
  std::deque<Waiting> waiting_;
  std::unordered_map<std::uint64_t, VirtualHandle> handles_;
  std::uint64_t next_handle_ = 1;
  LeaseBreakHandler lease_handler_;
  std::thread reconnect_thread_;
  std::thread echo_thread_;
};

}  // namespace smbgate::smb2
