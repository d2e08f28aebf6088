#include "src/csi/handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <mutex>

namespace smbgate::csi {
namespace {

constexpr char kRequestPrefix[] = "SMBGATE-FUSE-FD 1 volume=";

// umask is per process: binding with a world-connectable mode is serialized here. The socket
// is reachable only from inside the pod's emptyDir (and by root on the node).
std::mutex g_umask_mu;

std::string Errno(int e) { return strerror(e); }

void SendLine(int conn, const std::string& line, int fd) {
  struct iovec iov = {const_cast<char*>(line.data()), line.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  // The descriptor travels with the first byte; a short write of the rest is finished plainly.
  ssize_t w;
  do {
    w = sendmsg(conn, &msg, MSG_NOSIGNAL);
  } while (w < 0 && errno == EINTR);
  if (w < 0) return;
  size_t done = static_cast<size_t>(w);
  while (done < line.size()) {
    const ssize_t more = send(conn, line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (more < 0 && errno == EINTR) continue;
    if (more <= 0) return;
    done += static_cast<size_t>(more);
  }
}

// Reads one request line (at most 255 bytes) within the socket's receive timeout.
bool ReadLine(int conn, std::string* line) {
  char c;
  while (line->size() < 255) {
    const ssize_t r = recv(conn, &c, 1, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    if (c == '\n') return true;
    line->push_back(c);
  }
  return false;
}

}  // namespace

VolumeServer::VolumeServer(Publication p, std::string socket_dir,
                           std::chrono::seconds handoff_timeout, Mounter mount)
    : pub_(std::move(p)),
      socket_dir_(std::move(socket_dir)),
      timeout_(handoff_timeout),
      mount_(std::move(mount)) {}

VolumeServer::~VolumeServer() { Stop(); }

Status VolumeServer::Listen() {
  dir_fd_ = open(socket_dir_.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd_ < 0) {
    const int e = errno;
    return Status::Error(Code::kUnavailable,
                         "the pod's emptyDir volume " + pub_.socket_volume + " (" +
                             socket_dir_ + "): " + Errno(e) +
                             " (declare an emptyDir volume named " + pub_.socket_volume +
                             " in the pod, or set the socketVolume attribute)");
  }
  const std::string name = pub_.SocketName();
  if (unlinkat(dir_fd_, name.c_str(), 0) != 0 && errno != ENOENT) {
    const int e = errno;
    return Status::Error(Code::kFailedPrecondition,
                         "cannot replace " + socket_dir_ + "/" + name + ": " + Errno(e));
  }
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return Status::Error(Code::kInternal, "socket: " + Errno(errno));
  // Bound through the directory descriptor: short enough for sun_path whatever the kubelet's
  // path, and immune to the pod swapping a path component for a symbolic link.
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  const std::string path = "/proc/self/fd/" + std::to_string(dir_fd_) + "/" + name;
  if (path.size() >= sizeof addr.sun_path) {
    return Status::Error(Code::kInvalidArgument, "socket name " + name + " is too long");
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int rc;
  int e = 0;
  {
    std::lock_guard<std::mutex> lock(g_umask_mu);
    const mode_t old = umask(0);
    rc = bind(listen_fd_, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
    if (rc != 0) e = errno;
    umask(old);
  }
  if (rc != 0 || listen(listen_fd_, 4) != 0) {
    if (rc == 0) e = errno;
    return Status::Error(Code::kInternal,
                         "listening on " + socket_dir_ + "/" + name + ": " + Errno(e));
  }
  if (pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    return Status::Error(Code::kInternal, "pipe: " + Errno(errno));
  }
  return Status::Ok();
}

void VolumeServer::Start(int pending_fd) {
  pending_fd_ = pending_fd;
  pending_since_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { Run(); });
}

void VolumeServer::Stop() {
  if (thread_.joinable()) {
    const char c = 'x';
    (void)!write(stop_pipe_[1], &c, 1);
    thread_.join();
  }
  ClosePending();
  for (int* fd : {&serving_, &listen_fd_, &stop_pipe_[0], &stop_pipe_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  if (dir_fd_ >= 0) {
    unlinkat(dir_fd_, pub_.SocketName().c_str(), 0);
    close(dir_fd_);
    dir_fd_ = -1;
  }
}

void VolumeServer::ClosePending() {
  if (pending_fd_ >= 0) close(pending_fd_);
  pending_fd_ = -1;
}

void VolumeServer::Run() {
  const std::string who = pub_.pod_namespace + "/" + pub_.pod_name + " volume " + pub_.volume_name;
  for (;;) {
    struct pollfd fds[3] = {{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}, {serving_, POLLIN, 0}};
    int wait_ms = -1;
    if (pending_fd_ >= 0) {
      const auto left = pending_since_ + timeout_ - std::chrono::steady_clock::now();
      wait_ms = static_cast<int>(
          std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count()));
    }
    const int n = poll(fds, serving_ >= 0 ? 3 : 2, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (fds[0].revents != 0) return;
    if (n == 0 && pending_fd_ >= 0) {
      ClosePending();
      spdlog::error(
          "{}: no sidecar took the mount within {} s; the FUSE connection is aborted (the "
          "application sees ENOTCONN). Is the smbgate sidecar in the pod, mounting the emptyDir "
          "{} and running smbgate-fuse-fd --socket DIR/{} --volume {}?",
          who, timeout_.count(), pub_.socket_volume, pub_.SocketName(), pub_.volume_name);
      continue;
    }
    if (serving_ >= 0 && fds[2].revents != 0) {
      char buf[64];
      const ssize_t r = recv(serving_, buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        close(serving_);
        serving_ = -1;
        spdlog::warn("{}: the sidecar serving the mount exited; the next one gets a fresh mount",
                     who);
      }
    }
    if (fds[1].revents != 0) {
      const int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn >= 0) Serve(conn);
    }
  }
}

void VolumeServer::Serve(int conn) {
  const std::string who = pub_.pod_namespace + "/" + pub_.pod_name + " volume " + pub_.volume_name;
  struct timeval tv = {5, 0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct ucred cred = {};
  socklen_t len = sizeof cred;
  getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len);
  auto refuse = [&](const std::string& reason) {
    spdlog::warn("{}: refused pid {} uid {}: {}", who, cred.pid, cred.uid, reason);
    SendLine(conn, "ERR " + reason + "\n", -1);
    close(conn);
  };

  std::string line;
  if (!ReadLine(conn, &line)) {
    refuse("no request line within 5 s");
    return;
  }
  if (line.rfind(kRequestPrefix, 0) != 0) {
    refuse("not an SMBGATE-FUSE-FD 1 request");
    return;
  }
  std::string volume = line.substr(sizeof kRequestPrefix - 1);
  const auto space = volume.find(' ');
  if (space != std::string::npos) {
    if (volume.substr(space) != " ro") {
      refuse("unknown request option " + volume.substr(space + 1));
      return;
    }
    volume.resize(space);
  }
  if (volume != pub_.volume_name) {
    refuse("this socket serves volume " + pub_.volume_name + ", not " + volume);
    return;
  }
  if (serving_ >= 0) {
    char c;
    const ssize_t r = recv(serving_, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    if (r == 0) {
      close(serving_);
      serving_ = -1;
    } else {
      refuse("volume " + volume + " is already served by another smbgate process");
      return;
    }
  }
  if (pending_fd_ < 0) {
    Status st;
    pending_fd_ = mount_(&st);
    if (pending_fd_ < 0) {
      refuse(st.message);
      return;
    }
    pending_since_ = std::chrono::steady_clock::now();
    spdlog::info("{}: mounted afresh for a new sidecar", who);
  }
  SendLine(conn, "OK\n", pending_fd_);
  ClosePending();
  serving_ = conn;
  // SO_PEERCRED reports pid 0 for a peer in a PID namespace the driver cannot see (the
  // sidecar's container, when the driver runs in its own).
  spdlog::info("{}: handed the mount to {} (uid {})", who,
               cred.pid > 0 ? "pid " + std::to_string(cred.pid) : std::string("the sidecar's container"),
               cred.uid);
}

}  // namespace smbgate::csi
