// DfsFs: a RemoteFs over a DFS namespace (MS-DFSC). Each path of the mount is
// routed to the filesystem of its target share by the longest prefix in the
// referral cache (DfsReferralCache), following chained referrals; a path not
// (yet) known to lie under a link goes to the share it names. A
// STATUS_PATH_NOT_COVERED (MS-SMB2 3.3.5.9: the path is under a link of a DFS
// share) from any server, anywhere in the tree, asks that server for the
// referral (FSCTL_DFS_GET_REFERRALS, MS-SMB2 3.2.4.20.3) and sends the
// request again to the target. Each target share has a filesystem of its own
// (a ReconnectingFs: its own connection, session, credits and reconnect),
// made on first use. A request that fails because a target is unreachable
// goes to the next target of the link's referral (MS-DFSC 3.1.5.4.4
// "target failover"), round the list, so it comes back to the first when
// that one returns. Entries live for the referral's TimeToLive; an expired
// entry is refreshed in the background and used meanwhile. Handles remember
// their target.
//
// Renames and hard links between two target shares fail with
// STATUS_NOT_SAME_DEVICE (EXDEV), as across two mounts.
//
// Thread-safety: every member may be called from any thread. Blocking work
// (connects, referral requests) runs on one worker thread of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "smb2/client/dfs_cache.h"
#include "smb2/client/remote_fs.h"

namespace smbgate::smb2 {

class DfsFs final : public RemoteFs, public std::enable_shared_from_this<DfsFs> {
 public:
  struct Hooks {
    // A connected filesystem for \\server\share (blocking; the worker
    // thread). `several_targets`: the share is one of a link's targets, so a
    // dead one should fail its requests soon enough to fail over.
    std::function<Result<std::shared_ptr<RemoteFs>>(const std::string& server, const std::string& share,
                                                    bool several_targets)>
        connect;
    // The referral `server` gives for `path` ("\server\share\link\rest";
    // blocking; the worker thread).
    std::function<Result<DfsReferralResponse>(const std::string& server, const std::string& path)> referral;
    // Observers (logs, metrics); any thread, quick.
    std::function<void(const DfsReferralCache::Entry&)> on_referral;
    std::function<void(const std::string& path, const std::string& server, std::error_code)> on_referral_failed;
    std::function<void(const std::string& prefix, const std::string& from, const std::string& to, std::error_code)>
        on_failover;
  };

  // `root`: the mount's DFS path "\server\share[\dir...]"; `root_fs` the
  // connected filesystem of \\server\share (its paths relative to the share).
  // With `root_referral` (a domain-based namespace, MS-DFSC 3.1.4.1: its
  // prefix "\domain\namespace", its targets the root servers), `root_fs` is
  // the share of that referral's active target, and the namespace's root
  // fails over between its targets as a link's do.
  static std::shared_ptr<DfsFs> Create(std::string root, std::shared_ptr<RemoteFs> root_fs, Hooks hooks,
                                       std::optional<DfsReferralCache::Entry> root_referral = std::nullopt);
  ~DfsFs() override;
  // Stops the worker once the work queued so far has run; work posted
  // later (after the FUSE session ended) is dropped.
  void Stop();

  // Follows referrals for the mount-relative `path` now (blocking; not on an
  // I/O thread), asking the server of each step whether a link covers it,
  // and yields the final "\server\share\path". Errors: a referral's or
  // connect's error.
  Result<std::string> Resolve(const std::string& path);
  const DfsReferralCache& cache() const noexcept { return cache_; }
  // The target filesystems made so far ("server\share" in lower case -> fs).
  std::map<std::string, std::shared_ptr<RemoteFs>> filesystems() const;

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
  // Server-side copy when both files are on one target; else not
  // supported (the caller copies).
  void CopyRange(Handle src, std::uint64_t src_offset, Handle dst, std::uint64_t dst_offset, std::uint64_t length,
                 Callback<std::uint64_t> cb) override;
  void UpdatePath(std::string path, AttributeChange change, Callback<FileAttributes> cb) override;

 private:
  DfsFs(std::string root, std::shared_ptr<RemoteFs> root_fs, Hooks hooks,
        std::optional<DfsReferralCache::Entry> root_referral);

  // Where a mount-relative path goes now: the target share's filesystem
  // (null when not connected yet) and the path inside it.
  struct Route {
    std::shared_ptr<RemoteFs> fs;
    std::string server, share, sub;
    std::string full;  // "\server\share\sub": what a referral request names
    bool via_link = false;
    DfsReferralCache::Entry link;  // the last referral followed, if via_link
  };
  Result<Route> RouteOf(const std::string& path);
  template <class T>
  using Call = std::function<void(const std::shared_ptr<RemoteFs>&, const std::string& sub, Callback<T>)>;
  // Runs `call` on the route of `path`, connecting the target first if
  // needed, following a STATUS_PATH_NOT_COVERED and failing over on an
  // unreachable target; `attempt` bounds the rounds.
  template <class T>
  void Run(std::string path, Callback<T> cb, Call<T> call, int attempt = 0);
  // Asks `server` for the referral of `full` and caches it (blocking).
  Result<void> Refer(const std::string& server, const std::string& full);
  // Makes the filesystem of server\share (blocking).
  Result<std::shared_ptr<RemoteFs>> Connect(const std::string& server, const std::string& share, bool several);
  // Moves the route's link to its next target; false if it has no other.
  bool FailOver(const Route& r, std::error_code why);
  void RefreshIfExpired(const DfsReferralCache::Entry& e);
  void Post(std::function<void()> work);
  // The worker's queue, shared with the worker thread: the last reference
  // to the DfsFs may be dropped by work running on that thread, which then
  // goes on with the queue alone (the DfsFs is gone).
  struct WorkQueue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> work;
    bool stopping = false;
  };
  static void WorkerLoop(const std::shared_ptr<WorkQueue>& q);

  struct OpenFile {
    std::shared_ptr<RemoteFs> fs;
    Handle real;
  };
  template <class T>
  bool WithHandle(Handle h, const Callback<T>& cb, OpenFile* out);
  Handle AddHandle(std::shared_ptr<RemoteFs> fs, Handle real);

  const std::string root_;
  Hooks hooks_;
  DfsReferralCache cache_;
  std::uint32_t max_io_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<RemoteFs>> pool_;
  std::unordered_map<std::uint64_t, OpenFile> handles_;
  std::uint64_t next_handle_ = 1;
  LeaseBreakHandler lease_handler_;
  std::map<std::string, std::chrono::steady_clock::time_point> refresh_after_;
  std::shared_ptr<WorkQueue> queue_ = std::make_shared<WorkQueue>();
  std::thread worker_;
};

}  // namespace smbgate::smb2
