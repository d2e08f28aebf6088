// The handover of a mounted /dev/fuse descriptor to the pod's unprivileged sidecar, over a
// unix socket the driver creates in the pod's emptyDir (SOCKET_DIR/NAME.sock), speaking the
// protocol of smbgate-fuse-fd (deploy/image/smbgate-fuse-fd.c, version 1):
//   the sidecar sends "SMBGATE-FUSE-FD 1 volume=NAME[ ro]\n";
//   the driver answers "OK\n" with the descriptor (SCM_RIGHTS) or "ERR reason\n";
//   the sidecar keeps the connection open while it serves, so end-of-file tells the driver
//   the FUSE daemon exited.
// One thread per published volume waits for the sidecar. A descriptor nobody takes within the
// handoff timeout is closed, which aborts the FUSE connection: the application then gets
// ENOTCONN instead of hanging on a mount nobody serves. A sidecar that connects after that, or
// after the previous one exited, gets a fresh mount stacked on the dead one (mount propagation
// carries it into application containers that mount the volume with HostToContainer).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "src/csi/status.h"
#include "src/csi/volume.h"

namespace smbgate::csi {

class VolumeServer {
 public:
  // Mounts a fresh /dev/fuse at the volume's target; returns the descriptor or -1.
  using Mounter = std::function<int(Status*)>;

  VolumeServer(Publication p, std::string socket_dir, std::chrono::seconds handoff_timeout,
               Mounter mount);
  ~VolumeServer();
  VolumeServer(const VolumeServer&) = delete;
  VolumeServer& operator=(const VolumeServer&) = delete;

  // Creates SOCKET_DIR/NAME.sock (replacing whatever the pod left under that name; never
  // following a symbolic link out of the emptyDir).
  Status Listen();
  // Starts waiting for the sidecar with `pending_fd` (a mount just made), or with none (-1):
  // a sidecar that connects then gets a fresh mount.
  void Start(int pending_fd);
  // Ends the thread, closes every descriptor and removes the socket.
  void Stop();

  const Publication& publication() const { return pub_; }

 private:
  void Run();
  void Serve(int conn);
  void ClosePending();

  const Publication pub_;
  const std::string socket_dir_;
  const std::chrono::seconds timeout_;
  const Mounter mount_;
  int dir_fd_ = -1;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int pending_fd_ = -1;
  int serving_ = -1;  // the connection of the sidecar serving the mount
  std::chrono::steady_clock::time_point pending_since_;
  std::thread thread_;
};

}  // namespace smbgate::csi
