// CredentialsWatcher: notices when the credentials change on disk, so a
// rotated Kubernetes Secret is used without a remount. Watches the
// directory with inotify (the kubelet swaps the `..data` symlink atomically)
// and also polls, for filesystems without inotify and for a file that is
// rewritten in place.
//
// Thread-safety: Start/Stop from one thread; the callback runs on the
// watcher's own thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "src/credentials.h"

namespace smbgate {

// A SHA-256 over user, domain and password: compares two credential sets
// without keeping a second copy of the password. Never logged.
using CredentialsFingerprint = std::array<std::uint8_t, 32>;
CredentialsFingerprint Fingerprint(const Credentials& c);

class CredentialsWatcher {
 public:
  // `on_rotated(user, domain)` is called after the credentials at `path`
  // changed and load cleanly (a half-written change is retried on the next
  // event or poll).
  using OnRotated = std::function<void(const std::string& user, const std::string& domain)>;

  CredentialsWatcher(std::string path, std::chrono::milliseconds poll_interval, OnRotated on_rotated);
  ~CredentialsWatcher();
  CredentialsWatcher(const CredentialsWatcher&) = delete;
  CredentialsWatcher& operator=(const CredentialsWatcher&) = delete;

  // Reads the current credentials as the baseline and starts watching.
  // False (with a message) if the path cannot be read or watched at all.
  bool Start(std::string* error);
  void Stop();
  // Checks now (also used by the poll); true if a rotation was reported.
  bool CheckNow();
  std::uint64_t rotations() const { return rotations_.load(); }
  bool using_inotify() const { return inotify_fd_ >= 0; }

 private:
  void Run();

  std::string path_;
  std::chrono::milliseconds poll_;
  OnRotated on_rotated_;
  std::mutex mu_;  // guards current_ (CheckNow from any thread)
  std::optional<CredentialsFingerprint> current_;
  int inotify_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::atomic<std::uint64_t> rotations_{0};
};

}  // namespace smbgate
