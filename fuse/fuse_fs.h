// FuseFs: the libfuse3 low-level filesystem over a RemoteFs. Owns the inode
// and handle tables, the attribute cache, and the FUSE session (mount, the
// multi-threaded loop, unmount). libfuse's headers stay in fuse_fs.cc.
//
// Every FUSE handler hands its work to the RemoteFs and returns; the reply
// is sent exactly once from the completion callback, so many FUSE requests
// become many SMB requests in flight.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "auth/common/result.h"
#include "smb2/client/remote_fs.h"

namespace smbgate::fuse {

enum class CacheMode { kStrict, kLoose, kNone };

// Files replaced by a rename or unlinked while open wait for their last
// close under this hidden name prefix (silly rename, fuse_fs.cc).
inline constexpr std::string_view kHiddenPrefix = ".smbgate-deleted-";
inline bool IsHidden(std::string_view name) { return name.substr(0, kHiddenPrefix.size()) == kHiddenPrefix; }

struct FsOptions {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t file_mode = 0755;
  mode_t dir_mode = 0755;
  bool read_only = false;
  bool allow_other = false;
  CacheMode cache = CacheMode::kStrict;
  // Entry and attribute timeout (mount.cifs actimeo), seconds.
  double actimeo = 1.0;
  // Deferred close (mount.cifs closetimeo), seconds: a file closed under a
  // handle-caching lease keeps its SMB handle this long for a reopen; 0
  // closes at once.
  double close_timeout = 0;
  // Largest FUSE read/write the kernel sends (capped at 1 MiB by FUSE).
  std::uint32_t max_io = 1 << 20;
  std::string fsname;  // shown by mount(8): //host/share
  // Called once per FUSE operation with its name, errno (0 on success) and
  // duration; for metrics. May be empty. Runs on any thread.
  std::function<void(const char* op, int err, double seconds)> on_operation;
  // Called with the bytes of each successful read and write reply.
  std::function<void(std::uint64_t read, std::uint64_t written)> on_data;
  // Called once per lease break that ended read caching of a file (its
  // kernel caches dropped), before the break is acknowledged.
  std::function<void()> on_lease_break;
  // Whether requests are waiting for the server to come back (the
  // connection is down): then a signal to the calling process answers its
  // request with EINTR at once (FUSE_INTERRUPT) instead of leaving it to
  // wait; a request on a live connection finishes normally. Any thread.
  std::function<bool()> waiting_for_server;
};

class FuseFs {
 public:
  // Creates the FUSE session and mounts it on `mountpoint` (a directory, or
  // /dev/fd/N for a descriptor already mounted by a privileged helper).
  // Errors: a one-line message in *error.
  static std::unique_ptr<FuseFs> Mount(std::shared_ptr<smb2::RemoteFs> fs, const std::string& mountpoint,
                                       FsOptions options, std::string* error);
  ~FuseFs();  // unmounts if still mounted

  // Runs the multi-threaded FUSE loop until Exit(), a signal from
  // InstallSignalHandlers(), or an unmount. Returns 0 on a clean end.
  int Run();
  // Asks the loop to end (thread-safe).
  void Exit();
  // Lets SIGTERM, SIGINT and SIGHUP end Run() (one mount per process).
  bool InstallSignalHandlers();
  // After Run(): waits (bounded) for replies still in flight, closes every
  // handle left open on the server, then unmounts.
  void Shutdown(std::chrono::milliseconds drain_timeout);

  // Waits until the kernel completed FUSE INIT (the mount answers from then
  // on); false on timeout.
  bool WaitInitialized(std::chrono::milliseconds timeout);
  // True while the kernel has the mount.
  bool mounted() const;
  std::size_t open_files() const;
  std::size_t open_dirs() const;
  std::size_t inodes() const;          // nodes the kernel holds, the root included
  std::size_t cached_entries() const;  // names in cached directory listings

  struct Impl;

 private:
  void RemoveSignalHandlers();
  explicit FuseFs(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace smbgate::fuse
