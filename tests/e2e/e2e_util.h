// End-to-end test helpers: the real `smbgate mount` binary as a child
// process over a real smbd (tests/integration/smbd_fixture.h), a watchdog
// that turns a hang into a failure, and small file utilities.
//
// Every blocking step is bounded. A FUSE syscall cannot be interrupted while
// the daemon is alive, so the watchdog (armed for every test) SIGKILLs every
// daemon the test started and lazily unmounts their mountpoints when the
// test overruns its budget: the stuck syscall then fails with ENOTCONN and
// the test fails instead of hanging CI.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/smbd_fixture.h"

#ifndef SMBGATE_BINARY
#error "SMBGATE_BINARY must name the smbgate executable (tests/CMakeLists.txt)"
#endif

namespace smbgate::test::e2e {

using namespace std::chrono_literals;

// The `smbgate` executable under test: $SMBGATE_E2E_BINARY if set (an
// installed or patched build), else the one built with the tests.
inline const char* SmbgateBinary() {
  const char* b = std::getenv("SMBGATE_E2E_BINARY");
  return b && *b ? b : SMBGATE_BINARY;
}

// Sets the current test's time budget (from now); the default is 120 s.
void SetTestBudget(std::chrono::seconds budget);
// Processes the watchdog must kill if the test hangs (forked helpers).
void RegisterChild(pid_t pid);
void UnregisterChild(pid_t pid);

// A fresh directory under $TMPDIR (mode 0755, so other uids can traverse
// it), removed with its content on destruction, after any mount below it is
// lazily detached (never recursing into a live mount).
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "smbgate-e2e");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Whether `path` is a mount point now (per /proc/self/mountinfo).
bool IsMountPoint(const std::string& path);
// The filesystem type of the mount at `path` ("fuse.smbgate"), or "".
std::string MountFsType(const std::string& path);

struct MountParams {
  std::string target;                // //HOST:PORT/SHARE[/SUBDIR]
  std::string credentials;           // --credentials
  std::vector<std::string> options;  // -o items, joined with ','
  // Where to mount; empty: a fresh directory of the Mount's own TempDir.
  std::string mountpoint;
  std::chrono::seconds ready_timeout = 20s;
};

// One `smbgate mount ... --foreground` child. Start() returns once the
// mountpoint's st_dev differs from its parent's. The destructor never leaves
// anything behind: a daemon still running is SIGKILLed and its mount lazily
// detached.
class Mount {
 public:
  // Errors: the daemon exited or did not answer in time; `error` holds its
  // log.
  static std::unique_ptr<Mount> Start(const MountParams& params, std::string* error);
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  const std::string& path() const { return mountpoint_; }
  std::string operator/(std::string_view rel) const { return mountpoint_ + "/" + std::string(rel); }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // SIGTERM, then waits (bounded) for the exit. Returns the exit status, or
  // -1 (signal or timeout: the daemon is then SIGKILLed). The mount is
  // detached afterwards whatever happened.
  int Stop(std::chrono::seconds timeout = 30s);
  // Waits (bounded) for the daemon to exit on its own (after an unmount);
  // exit status or -1 as for Stop().
  int WaitExit(std::chrono::seconds timeout = 30s);
  // SIGKILL and reap; leaves the dead mount in place.
  void Kill();
  // The daemon's stdout and stderr so far.
  std::string Log() const;

 private:
  Mount() = default;
  int Reap(std::chrono::milliseconds timeout);

  std::unique_ptr<TempDir> dir_;
  std::string mountpoint_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  dev_t dev_ = 0;  // the mount's device, once it answered
};

// The result of RunSmbgate.
struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or at the deadline
  bool timed_out = false;
  double seconds = 0;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `smbgate ARGS...` with stdin on /dev/null, capturing stdout and stderr
// apart; its process group is SIGKILLed at `timeout`. With `as_uid` >= 0 the
// child drops to that uid and gid first.
RunResult RunSmbgate(const std::vector<std::string>& args, std::chrono::milliseconds timeout, int as_uid = -1);

// Lines of `text` that are not empty.
std::vector<std::string> NonEmptyLines(const std::string& text);

// SHA-256 (hex) of a file's content, read with plain read(2) calls.
std::string Sha256File(const std::string& path);
std::string Sha256(const void* data, std::size_t size);

// Writes `size` bytes of `c` (or a given buffer) to `path`; truncates.
bool WriteFile(const std::string& path, std::string_view content);
// The content of `path`, or nullopt-like empty plus errno set.
std::string ReadFile(const std::string& path);

// Files smbd has open right now on share `share` (smbstatus -L), one line
// each; empty when none.
std::vector<std::string> ServerOpenFiles(const SmbdServer& server);

// Deterministic pseudo-random bytes for `offset..offset+len` of a stream
// seeded by `seed`: the same offset always gives the same byte.
void PatternFill(std::uint64_t seed, std::uint64_t offset, void* buf, std::size_t len);

// Forks a child that runs `body` and _exits with its return value; waits
// (bounded) for it. Returns the exit status, or -1 on a signal or timeout
// (the child is SIGKILLed). The child is registered with the watchdog.
int RunInChild(const std::function<int()>& body, std::chrono::seconds timeout = 60s);

}  // namespace smbgate::test::e2e
