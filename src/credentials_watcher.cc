#include "src/credentials_watcher.h"

#include <openssl/evp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "src/logging.h"

namespace smbgate {

CredentialsFingerprint Fingerprint(const Credentials& c) {
  CredentialsFingerprint out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return out;
  // Lengths first, so ("ab","c") and ("a","bc") differ.
  auto add = [ctx](std::string_view s) {
    const std::uint64_t n = s.size();
    EVP_DigestUpdate(ctx, &n, sizeof n);
    EVP_DigestUpdate(ctx, s.data(), s.size());
  };
  unsigned int len = 0;
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1) {
    add(c.user);
    add(c.domain);
    add(c.password.view());
    EVP_DigestFinal_ex(ctx, out.data(), &len);
  }
  EVP_MD_CTX_free(ctx);
  return out;
}

CredentialsWatcher::CredentialsWatcher(std::string path, std::chrono::milliseconds poll_interval,
                                       OnRotated on_rotated)
    : path_(std::move(path)), poll_(poll_interval), on_rotated_(std::move(on_rotated)) {}

CredentialsWatcher::~CredentialsWatcher() { Stop(); }

bool CredentialsWatcher::Start(std::string* error) {
  auto c = LoadCredentials(path_, nullptr, error);
  if (!c) return false;
  current_ = Fingerprint(*c);
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    *error = "credentials watcher: pipe: " + std::string(std::strerror(errno));
    return false;
  }
  // Watch the directory that holds the credentials: for a Secret volume
  // the path itself; for a file, its directory (editors and the kubelet
  // replace files rather than rewrite them).
  struct stat st;
  std::string dir = path_;
  if (::stat(path_.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    const auto slash = path_.find_last_of('/');
    dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
  }
  inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd_ >= 0 &&
      ::inotify_add_watch(inotify_fd_, dir.c_str(),
                          IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB | IN_MODIFY) < 0) {
    LogWarn("credentials: cannot watch with inotify; polling instead", {{"path", dir}});
    ::close(inotify_fd_);
    inotify_fd_ = -1;
  }
  thread_ = std::thread([this] { Run(); });
  return true;
}

void CredentialsWatcher::Stop() {
  if (thread_.joinable()) {
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
  }
  for (int* fd : {&inotify_fd_, &wake_[0], &wake_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

bool CredentialsWatcher::CheckNow() {
  auto c = LoadCredentials(path_, nullptr, nullptr);
  // A Secret being swapped or a file half-written may not load: keep the
  // last good one and look again at the next event or poll.
  if (!c) return false;
  const CredentialsFingerprint fp = Fingerprint(*c);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (current_ && *current_ == fp) return false;
    current_ = fp;
  }
  rotations_.fetch_add(1);
  if (on_rotated_) on_rotated_(c->user, c->domain);
  return true;
}

void CredentialsWatcher::Run() {
  pollfd fds[2] = {{wake_[0], POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
  const nfds_t n = inotify_fd_ >= 0 ? 2 : 1;
  for (;;) {
    const int rc = ::poll(fds, n, static_cast<int>(poll_.count()));
    if (rc < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) return;
    if (n == 2 && (fds[1].revents & POLLIN)) {
      char buf[4096];
      while (::read(inotify_fd_, buf, sizeof buf) > 0) {
      }
      // The kubelet writes the new timestamped directory, then swaps
      // `..data`; a short pause lets the whole swap land.
      pollfd w{wake_[0], POLLIN, 0};
      if (::poll(&w, 1, 200) > 0) return;
    }
    CheckNow();
  }
}

}  // namespace smbgate
