// The CSI node service's logic: publish and unpublish ephemeral inline smbgate volumes, keep a
// record of each on disk so a restarted driver picks its volumes up again, and hand each
// mount to the pod's sidecar (handoff.h).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "src/csi/handoff.h"
#include "src/csi/status.h"
#include "src/csi/volume.h"

namespace smbgate::csi {

struct DriverConfig {
  std::string kubelet_dir = "/var/lib/kubelet";
  std::string state_dir;  // one file per published volume
  std::chrono::seconds handoff_timeout{300};
  // How long NodePublishVolume waits for the kubelet to create the pod's emptyDir before
  // answering UNAVAILABLE (the kubelet then calls again).
  std::chrono::seconds socket_dir_wait{10};
};

class NodeDriver {
 public:
  explicit NodeDriver(DriverConfig config);
  ~NodeDriver();

  // Serves again every volume recorded in the state directory.
  void Recover();
  Status Publish(const PublishInput& in);
  Status Unpublish(const std::string& volume_id, const std::string& target_path);
  // Ready when /dev/fuse opens and the kubelet's directory is there.
  Status Probe() const;
  // Stops waiting for sidecars; mounts already handed over stay.
  void Shutdown();

 private:
  std::unique_ptr<VolumeServer> MakeServer(const Publication& p) const;
  std::string RecordPath(const std::string& volume_id) const;
  Status WriteRecord(const Publication& p) const;

  const DriverConfig config_;
  std::mutex mu_;  // one publish or unpublish at a time
  std::map<std::string, std::unique_ptr<VolumeServer>> volumes_;  // by target path
};

}  // namespace smbgate::csi
