#include "src/csi/volume.h"

#include <charconv>
#include <sstream>

namespace smbgate::csi {
namespace {

constexpr char kPodInfoPrefix[] = "csi.storage.k8s.io/";
constexpr char kPodUid[] = "csi.storage.k8s.io/pod.uid";
constexpr char kPodName[] = "csi.storage.k8s.io/pod.name";
constexpr char kPodNamespace[] = "csi.storage.k8s.io/pod.namespace";
constexpr char kEphemeral[] = "csi.storage.k8s.io/ephemeral";

Status Invalid(std::string m) { return Status::Error(Code::kInvalidArgument, std::move(m)); }

// Absolute, no empty, "." or ".." component, no trailing slash.
bool IsNormalAbsolute(const std::string& p) {
  if (p.size() < 2 || p[0] != '/' || p.back() == '/') return false;
  size_t start = 1;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    const std::string_view part(p.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return p.find('\0') == std::string::npos;
}

bool ParseId(const std::string& s, unsigned* out) {
  if (s.empty() || s.size() > 10) return false;
  unsigned v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v > 2147483647u) return false;
  *out = v;
  return true;
}

std::string Get(const std::map<std::string, std::string>& m, const char* key) {
  const auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

}  // namespace

bool IsDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (const char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool IsPodUid(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (const char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

bool IsSafeVolumeId(const std::string& s) {
  if (s.empty() || s.size() > 128 || s[0] == '.') return false;
  for (const char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::string Publication::SocketDir(const std::string& kubelet_dir) const {
  return kubelet_dir + "/pods/" + pod_uid + "/volumes/kubernetes.io~empty-dir/" + socket_volume;
}

bool Publication::SameRequest(const Publication& o) const {
  return volume_id == o.volume_id && target_path == o.target_path && pod_uid == o.pod_uid &&
         socket_volume == o.socket_volume && uid == o.uid && gid == o.gid &&
         readonly == o.readonly;
}

Status CheckTarget(const std::string& target, const std::string& kubelet_dir) {
  if (target.empty()) return Invalid("target_path is empty (the kubelet always sets it)");
  const std::string pods = kubelet_dir + "/pods/";
  if (!IsNormalAbsolute(target) || target.compare(0, pods.size(), pods) != 0) {
    return Invalid("target_path " + target + " is not inside " + pods +
                   " (is the driver's --kubelet-dir the kubelet's --root-dir?)");
  }
  return Status::Ok();
}

Status ParsePublish(const PublishInput& in, const std::string& kubelet_dir, Publication* out) {
  Publication p;
  if (in.volume_id.empty()) return Invalid("volume_id is empty");
  if (!IsSafeVolumeId(in.volume_id)) {
    return Invalid("volume_id " + in.volume_id +
                   " has characters other than letters, digits, '-', '_' and '.'");
  }
  p.volume_id = in.volume_id;
  if (!in.has_capability) return Invalid("volume_capability is missing");
  if (in.block) {
    return Invalid("block access is not supported: smbgate volumes are file systems");
  }
  if (!in.fs_type.empty() && in.fs_type != "smbgate" && in.fs_type != "fuse.smbgate") {
    return Invalid("fs_type " + in.fs_type + " is not smbgate (leave fsType unset)");
  }
  p.readonly = in.readonly;
  for (const auto& f : in.mount_flags) {
    if (f == "ro") {
      p.readonly = true;
    } else if (f != "rw") {
      return Invalid("mount flag " + f +
                     " is not supported (only ro and rw; smbgate's own options go to the "
                     "sidecar's `smbgate mount -o`)");
    }
  }

  const auto& ctx = in.volume_context;
  for (const auto& [key, value] : ctx) {
    if (key.rfind(kPodInfoPrefix, 0) == 0) continue;
    if (key != kAttrSocketVolume && key != kAttrUid && key != kAttrGid) {
      return Invalid("unknown volume attribute " + key + " (known: " + kAttrSocketVolume +
                     ", " + kAttrUid + ", " + kAttrGid + ")");
    }
  }
  if (Get(ctx, kEphemeral) != "true") {
    return Invalid(
        "not an ephemeral inline volume (csi.storage.k8s.io/ephemeral is not \"true\"): "
        "smbgate volumes are declared inline in the pod, and the CSIDriver object needs "
        "volumeLifecycleModes [Ephemeral] and podInfoOnMount: true");
  }
  p.pod_uid = Get(ctx, kPodUid);
  if (p.pod_uid.empty()) {
    return Invalid(
        "csi.storage.k8s.io/pod.uid is missing: set podInfoOnMount: true in the CSIDriver "
        "object");
  }
  if (!IsPodUid(p.pod_uid)) return Invalid("csi.storage.k8s.io/pod.uid is not a pod UID");
  p.pod_name = Get(ctx, kPodName);
  p.pod_namespace = Get(ctx, kPodNamespace);

  p.socket_volume = Get(ctx, kAttrSocketVolume);
  if (p.socket_volume.empty()) p.socket_volume = kDefaultSocketVolume;
  if (!IsDnsLabel(p.socket_volume)) {
    return Invalid(std::string("volume attribute ") + kAttrSocketVolume + "=" +
                   p.socket_volume + " is not a volume name (lower-case letters, digits, -)");
  }
  for (const auto& [key, field] :
       {std::pair{kAttrUid, &p.uid}, std::pair{kAttrGid, &p.gid}}) {
    const std::string v = Get(ctx, key);
    if (!v.empty() && !ParseId(v, field)) {
      return Invalid(std::string("volume attribute ") + key + "=" + v +
                     " is not a number from 0 to 2147483647");
    }
  }

  Status t = CheckTarget(in.target_path, kubelet_dir);
  if (!t.ok()) return t;
  // KUBELET/pods/POD_UID/volumes/kubernetes.io~csi/NAME/mount, for this pod.
  const std::string prefix = kubelet_dir + "/pods/" + p.pod_uid + "/volumes/kubernetes.io~csi/";
  const std::string suffix = "/mount";
  const std::string& target = in.target_path;
  if (target.size() <= prefix.size() + suffix.size() ||
      target.compare(0, prefix.size(), prefix) != 0 ||
      target.compare(target.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return Invalid("target_path " + target + " is not " + prefix + "NAME/mount of pod " +
                   p.pod_uid);
  }
  p.volume_name =
      target.substr(prefix.size(), target.size() - prefix.size() - suffix.size());
  if (!IsDnsLabel(p.volume_name)) {
    return Invalid("target_path " + target + ": " + p.volume_name + " is not a volume name");
  }
  p.target_path = target;
  *out = std::move(p);
  return Status::Ok();
}

std::string EncodeRecord(const Publication& p) {
  std::ostringstream o;
  o << "volume_id=" << p.volume_id << "\ntarget_path=" << p.target_path
    << "\npod_uid=" << p.pod_uid << "\npod_namespace=" << p.pod_namespace
    << "\npod_name=" << p.pod_name << "\nvolume_name=" << p.volume_name
    << "\nsocket_volume=" << p.socket_volume << "\nuid=" << p.uid << "\ngid=" << p.gid
    << "\nreadonly=" << (p.readonly ? 1 : 0) << "\n";
  return o.str();
}

std::optional<Publication> DecodeRecord(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) return std::nullopt;
    kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  Publication p;
  p.volume_id = Get(kv, "volume_id");
  p.target_path = Get(kv, "target_path");
  p.pod_uid = Get(kv, "pod_uid");
  p.pod_namespace = Get(kv, "pod_namespace");
  p.pod_name = Get(kv, "pod_name");
  p.volume_name = Get(kv, "volume_name");
  p.socket_volume = Get(kv, "socket_volume");
  p.readonly = Get(kv, "readonly") == "1";
  if (!IsSafeVolumeId(p.volume_id) || !IsPodUid(p.pod_uid) || !IsDnsLabel(p.volume_name) ||
      !IsDnsLabel(p.socket_volume) || !IsNormalAbsolute(p.target_path) ||
      !ParseId(Get(kv, "uid"), &p.uid) || !ParseId(Get(kv, "gid"), &p.gid)) {
    return std::nullopt;
  }
  return p;
}

}  // namespace smbgate::csi
