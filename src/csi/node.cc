#include "src/csi/node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "src/csi/fuse_mount.h"

namespace smbgate::csi {
namespace {

constexpr char kRecordSuffix[] = ".vol";

bool IsDir(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

FuseMountOptions OptionsFor(const Publication& p) {
  FuseMountOptions o;
  o.uid = p.uid;
  o.gid = p.gid;
  o.readonly = p.readonly;
  return o;
}

std::string Describe(const Publication& p) {
  return p.pod_namespace + "/" + p.pod_name + " volume " + p.volume_name;
}

}  // namespace

NodeDriver::NodeDriver(DriverConfig config) : config_(std::move(config)) {}

NodeDriver::~NodeDriver() { Shutdown(); }

std::string NodeDriver::RecordPath(const std::string& volume_id) const {
  return config_.state_dir + "/" + volume_id + kRecordSuffix;
}

Status NodeDriver::WriteRecord(const Publication& p) const {
  const std::string path = RecordPath(p.volume_id);
  const std::string tmp = path + ".tmp";
  const std::string text = EncodeRecord(p);
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Error(Code::kInternal, "writing " + tmp + ": " + strerror(errno) +
                                              " (is --state-dir writable?)");
  }
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return Status::Error(Code::kInternal, "writing " + path + ": " + strerror(errno));
  }
  return Status::Ok();
}

std::unique_ptr<VolumeServer> NodeDriver::MakeServer(const Publication& p) const {
  const FuseMountOptions o = OptionsFor(p);
  const std::string target = p.target_path;
  return std::make_unique<VolumeServer>(
      p, p.SocketDir(config_.kubelet_dir), config_.handoff_timeout,
      [target, o](Status* st) { return MountFuse(target, o, st); });
}

void NodeDriver::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  DIR* d = opendir(config_.state_dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (const struct dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() > 4 && n.compare(n.size() - 4, 4, kRecordSuffix) == 0) names.push_back(n);
  }
  closedir(d);
  for (const auto& n : names) {
    std::ifstream in(config_.state_dir + "/" + n);
    std::stringstream text;
    text << in.rdbuf();
    const auto pub = DecodeRecord(text.str());
    if (!pub || !CheckTarget(pub->target_path, config_.kubelet_dir).ok()) {
      spdlog::warn("state record {} is unreadable; ignored", n);
      continue;
    }
    auto server = MakeServer(*pub);
    const Status listening = server->Listen();
    int fd = -1;
    if (!listening.ok()) {
      // The pod may be gone; the kubelet still calls NodeUnpublishVolume, which cleans up.
      spdlog::warn("{}: {}", Describe(*pub), listening.message);
    } else if (MountedType(pub->target_path).empty() && IsDir(pub->target_path)) {
      Status st;
      fd = MountFuse(pub->target_path, OptionsFor(*pub), &st);
      if (fd < 0) spdlog::warn("{}: {}", Describe(*pub), st.message);
    }
    spdlog::info("{}: recovered from the state directory ({})", Describe(*pub),
                 fd >= 0 ? "mounted again, waiting for the sidecar" : "mount kept");
    if (listening.ok()) server->Start(fd);
    volumes_[pub->target_path] = std::move(server);
  }
}

Status NodeDriver::Publish(const PublishInput& in) {
  Publication p;
  Status st = ParsePublish(in, config_.kubelet_dir, &p);
  if (!st.ok()) return st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = volumes_.find(p.target_path);
    if (it != volumes_.end()) {
      if (it->second->publication().SameRequest(p)) return Status::Ok();  // idempotent
      return Status::Error(Code::kAlreadyExists,
                           "target_path " + p.target_path +
                               " is already published with other parameters");
    }
  }
  // The kubelet sets up the pod's volumes in parallel: give the emptyDir a moment.
  const std::string socket_dir = p.SocketDir(config_.kubelet_dir);
  const auto until = std::chrono::steady_clock::now() + config_.socket_dir_wait;
  while (!IsDir(socket_dir) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (volumes_.count(p.target_path) != 0) return Status::Ok();  // published meanwhile
  auto server = MakeServer(p);
  st = server->Listen();
  if (!st.ok()) return st;

  bool created = false;
  auto undo = [&](int fd) {
    if (fd >= 0) close(fd);
    (void)UnmountAll(p.target_path);
    if (created) rmdir(p.target_path.c_str());
  };
  int fd = -1;
  if (MountedType(p.target_path) == "fuse.smbgate") {
    // Mounted by a run of the driver whose record is gone (never stat it: nobody may serve
    // it). The sidecar that connects gets a fresh mount.
    spdlog::warn("{}: adopting the smbgate mount already at {}", Describe(p), p.target_path);
  } else {
    if (mkdir(p.target_path.c_str(), 0750) == 0) {
      created = true;
    } else if (errno != EEXIST || !IsDir(p.target_path)) {
      return Status::Error(Code::kInternal,
                           "creating " + p.target_path + ": " + strerror(errno));
    }
    fd = MountFuse(p.target_path, OptionsFor(p), &st);
    if (fd < 0) {
      undo(-1);
      return st;
    }
  }
  st = WriteRecord(p);
  if (!st.ok()) {
    undo(fd);
    return st;
  }
  spdlog::info("{}: published at {} ({}), waiting for the sidecar on {}/{}", Describe(p),
               p.target_path, p.readonly ? "ro" : "rw", socket_dir, p.SocketName());
  server->Start(fd);
  volumes_[p.target_path] = std::move(server);
  return Status::Ok();
}

Status NodeDriver::Unpublish(const std::string& volume_id, const std::string& target_path) {
  if (volume_id.empty()) return Status::Error(Code::kInvalidArgument, "volume_id is empty");
  Status st = CheckTarget(target_path, config_.kubelet_dir);
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  std::string record_id = IsSafeVolumeId(volume_id) ? volume_id : "";
  const auto it = volumes_.find(target_path);
  if (it != volumes_.end()) {
    record_id = it->second->publication().volume_id;
    it->second->Stop();
    volumes_.erase(it);
  }
  st = UnmountAll(target_path);
  if (!st.ok()) return st;
  if (rmdir(target_path.c_str()) != 0 && errno != ENOENT) {
    return Status::Error(Code::kInternal, "removing " + target_path + ": " + strerror(errno));
  }
  if (!record_id.empty()) unlink(RecordPath(record_id).c_str());
  spdlog::info("unpublished {} ({})", target_path, volume_id);
  return Status::Ok();
}

Status NodeDriver::Probe() const {
  const int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return Status::Error(Code::kFailedPrecondition,
                         std::string("cannot open /dev/fuse: ") + strerror(errno));
  }
  close(fd);
  if (!IsDir(config_.kubelet_dir + "/pods")) {
    return Status::Error(Code::kFailedPrecondition,
                         config_.kubelet_dir + "/pods is not there (is --kubelet-dir the "
                                               "kubelet's root directory, mounted into the "
                                               "driver?)");
  }
  return Status::Ok();
}

void NodeDriver::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [target, server] : volumes_) server->Stop();
  volumes_.clear();
}

}  // namespace smbgate::csi
