// What a NodePublishVolume call asks for, checked: an ephemeral inline volume of one pod, its
// target under the kubelet's directory and the pod's emptyDir where the sidecar picks up the
// /dev/fuse descriptor. Pure: no I/O, so every refusal is unit-tested.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/csi/status.h"

namespace smbgate::csi {

// The volume attributes (volumeAttributes of the pod's csi volume) the driver reads, besides
// the csi.storage.k8s.io/* keys the kubelet adds with podInfoOnMount.
inline constexpr char kAttrSocketVolume[] = "socketVolume";
inline constexpr char kAttrUid[] = "uid";
inline constexpr char kAttrGid[] = "gid";
inline constexpr char kDefaultSocketVolume[] = "smbgate-fuse";
inline constexpr unsigned kDefaultId = 65534;  // nobody: the chart's sidecar user

// The fields of NodePublishVolumeRequest the driver uses, copied out of the protobuf.
struct PublishInput {
  std::string volume_id;
  std::string target_path;
  bool has_capability = false;
  bool block = false;  // access_type is BlockVolume
  std::string fs_type;
  std::vector<std::string> mount_flags;
  bool readonly = false;
  std::map<std::string, std::string> volume_context;
};

// A publication the driver can carry out, and what it records to survive its own restart.
struct Publication {
  std::string volume_id;
  std::string target_path;   // KUBELET/pods/POD_UID/volumes/kubernetes.io~csi/NAME/mount
  std::string pod_uid;
  std::string pod_namespace;  // for logs only
  std::string pod_name;       // for logs only
  std::string volume_name;    // NAME: the pod's volume; the socket is NAME.sock
  std::string socket_volume;  // the pod's emptyDir holding the socket
  unsigned uid = kDefaultId;  // user_id= and group_id= of the FUSE mount
  unsigned gid = kDefaultId;
  bool readonly = false;

  // KUBELET/pods/POD_UID/volumes/kubernetes.io~empty-dir/SOCKET_VOLUME
  std::string SocketDir(const std::string& kubelet_dir) const;
  std::string SocketName() const { return volume_name + ".sock"; }
  bool SameRequest(const Publication& other) const;
};

// Checks a publish request; the error names the field and what to put there.
Status ParsePublish(const PublishInput& in, const std::string& kubelet_dir, Publication* out);

// Checks a target path for NodeUnpublishVolume: inside KUBELET/pods/, normalized.
Status CheckTarget(const std::string& target_path, const std::string& kubelet_dir);

// A record of a publication as key=value lines, and back (nullopt when malformed).
std::string EncodeRecord(const Publication& p);
std::optional<Publication> DecodeRecord(const std::string& text);

// Kubernetes names: a DNS-1123 label (volume names) and a pod UID.
bool IsDnsLabel(const std::string& s);
bool IsPodUid(const std::string& s);
// A volume id usable as a file name in the state directory.
bool IsSafeVolumeId(const std::string& s);

}  // namespace smbgate::csi
