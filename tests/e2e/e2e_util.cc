#include "tests/e2e/e2e_util.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace smbgate::test::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kDefaultBudget{120};
// After the watchdog fired, how long the test has to wind down before the
// whole binary exits (a syscall stuck even with every daemon dead).
constexpr std::chrono::seconds kGrace{30};

// Aborts the FUSE connections of the given mounts (their st_dev) through
// fusectl, as `echo 1 > /sys/fs/fuse/connections/N/abort` does. This is the
// one way out when a daemon cannot exit: a thread of it waiting on a request
// of its own mount that the dead daemon had already read keeps /dev/fuse
// open, so the kernel never aborts the connection by itself. fusectl is
// mounted on a private directory when /sys/fs/fuse/connections is not.
void AbortFuseConnections(const std::set<dev_t>& devs) {
  if (devs.empty()) return;
  std::string dir = "/sys/fs/fuse/connections";
  std::string own;
  std::error_code ec;
  if (!fs::exists(dir, ec) || fs::is_empty(dir, ec)) {
    std::string tmpl = (fs::temp_directory_path() / "smbgate-fusectl-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return;
    if (::mount("fusectl", tmpl.c_str(), "fusectl", 0, nullptr) != 0) {
      ::rmdir(tmpl.c_str());
      return;
    }
    dir = own = tmpl;
  }
  for (dev_t d : devs) {
    // The connection directory is named by the superblock's device number;
    // FUSE's anonymous devices have major 0.
    const std::string abort_file = dir + "/" + std::to_string(minor(d)) + "/abort";
    const int fd = ::open(abort_file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      [[maybe_unused]] ssize_t n = ::write(fd, "1", 1);
      ::close(fd);
    }
  }
  if (!own.empty()) {
    ::umount2(own.c_str(), MNT_DETACH);
    ::rmdir(own.c_str());
  }
}

// ---- watchdog ------------------------------------------------------------

class Watchdog {
 public:
  static Watchdog& Get() {
    // Leaked on purpose: used from static destructors' time too.
    static Watchdog* w = new Watchdog;
    return *w;
  }

  void Arm(std::chrono::seconds budget, std::string test) {
    std::lock_guard<std::mutex> l(mu_);
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    armed_ = true;
    fired_ = false;
    deadline_ = Clock::now() + budget;
    if (!test.empty()) test_ = std::move(test);
    cv_.notify_all();
  }
  void Rearm(std::chrono::seconds budget) {
    std::lock_guard<std::mutex> l(mu_);
    if (!armed_ || fired_) return;
    deadline_ = Clock::now() + budget;
    cv_.notify_all();
  }
  void Disarm() {
    std::lock_guard<std::mutex> l(mu_);
    armed_ = false;
    cv_.notify_all();
  }
  void AddDaemon(pid_t pid, const std::string& mountpoint) {
    std::lock_guard<std::mutex> l(mu_);
    pids_.insert(pid);
    if (!mountpoint.empty()) mounts_.insert(mountpoint);
  }
  void RemovePid(pid_t pid) {
    std::lock_guard<std::mutex> l(mu_);
    pids_.erase(pid);
  }
  void RemoveMount(const std::string& mountpoint) {
    std::lock_guard<std::mutex> l(mu_);
    mounts_.erase(mountpoint);
  }
  void AddDevice(dev_t dev) {
    std::lock_guard<std::mutex> l(mu_);
    devs_.insert(dev);
  }
  void RemoveDevice(dev_t dev) {
    std::lock_guard<std::mutex> l(mu_);
    devs_.erase(dev);
  }
  // Kills and detaches everything still registered (end of the binary).
  void KillAll() {
    std::set<pid_t> pids;
    std::set<std::string> mounts;
    std::set<dev_t> devs;
    {
      std::lock_guard<std::mutex> l(mu_);
      pids = pids_;
      mounts = mounts_;
      devs = devs_;
    }
    for (pid_t p : pids) ::kill(p, SIGKILL);
    // Killing is not always enough (see AbortFuseConnections).
    std::this_thread::sleep_for(200ms);
    AbortFuseConnections(devs);
    for (const auto& m : mounts) {
      for (int i = 0; i < 8 && IsMountPoint(m); ++i) ::umount2(m.c_str(), MNT_DETACH);
    }
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      if (!armed_) {
        cv_.wait(l);
        continue;
      }
      if (Clock::now() < deadline_) {
        cv_.wait_until(l, deadline_);
        continue;
      }
      if (fired_) {
        std::fprintf(stderr, "e2e watchdog: %s is still stuck %lld s after every daemon was killed; exiting\n",
                     test_.c_str(), static_cast<long long>(kGrace.count()));
        std::fflush(stderr);
        ::_exit(124);
      }
      fired_ = true;
      deadline_ = Clock::now() + kGrace;
      const std::string test = test_;
      l.unlock();
      std::fprintf(stderr, "e2e watchdog: %s exceeded its time budget; killing its smbgate daemons and helpers\n",
                   test.c_str());
      std::fflush(stderr);
      KillAll();
      ADD_FAILURE() << "watchdog: the test exceeded its time budget (a hang); daemons were killed";
      l.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool armed_ = false;
  bool fired_ = false;
  Clock::time_point deadline_{};
  std::string test_;
  std::set<pid_t> pids_;
  std::set<std::string> mounts_;
  std::set<dev_t> devs_;
};

class WatchdogListener : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo& info) override {
    Watchdog::Get().Arm(kDefaultBudget, std::string(info.test_suite_name()) + "." + info.name());
  }
  void OnTestEnd(const ::testing::TestInfo&) override { Watchdog::Get().Disarm(); }
};

class E2eEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    ::testing::UnitTest::GetInstance()->listeners().Append(new WatchdogListener);
    // A daemon writing to a closed pipe must not take the test binary down.
    ::signal(SIGPIPE, SIG_IGN);
  }
  void TearDown() override { Watchdog::Get().KillAll(); }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment = ::testing::AddGlobalTestEnvironment(new E2eEnvironment);

// ---- helpers ---------------------------------------------------------------

std::vector<std::string> MountInfoLines() {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string oct = s.substr(i + 1, 3);
      if (oct.size() == 3 && oct.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(oct, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

struct MountEntry {
  std::string mountpoint;
  std::string fstype;
  long id = -1;
};

std::vector<MountEntry> Mounts() {
  std::vector<MountEntry> out;
  for (const auto& line : MountInfoLines()) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mp;
    f >> id >> parent >> dev >> root >> mp;
    std::string tok;
    while (f >> tok && tok != "-") {
    }
    std::string type;
    f >> type;
    out.push_back({Unescape(mp), type, std::atol(id.c_str())});
  }
  return out;
}

std::string Canonical(const std::string& p) {
  std::error_code ec;
  // weakly_canonical does not stat the final component (it may be a dead
  // FUSE mount answering ENOTCONN).
  fs::path parent = fs::path(p).parent_path();
  fs::path c = fs::weakly_canonical(parent, ec);
  if (ec) return p;
  return (c / fs::path(p).filename()).string();
}

std::string ErrnoText(int e) { return std::strerror(e); }

void ResetSignalsInChild() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) ::signal(s, SIG_DFL);
}

// The stacks of every thread of `pid` (gdb, bounded), to tell a daemon
// that will not stop from one that is slow; a note if gdb is missing.
// Function arguments are left out: one may hold a credential.
std::string ThreadStacks(pid_t pid) {
  if (::access("/usr/bin/gdb", X_OK) != 0) return "(install gdb to see them)\n";
  const std::string cmd = "cd / && timeout 60 /usr/bin/gdb -batch -nx -p " + std::to_string(pid) +
                          " -ex 'set print frame-arguments none' -ex 'thread apply all bt 25' 2>&1 | grep -E '^(Thread|#)'";
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && out.size() < (1u << 20)) out.append(buf, n);
    ::pclose(f);
  }
  return out;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

void SetTestBudget(std::chrono::seconds budget) { Watchdog::Get().Rearm(budget); }
void RegisterChild(pid_t pid) { Watchdog::Get().AddDaemon(pid, ""); }
void UnregisterChild(pid_t pid) { Watchdog::Get().RemovePid(pid); }

// ---- TempDir ----------------------------------------------------------------

TempDir::TempDir(std::string_view prefix) {
  std::string tmpl = (fs::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl << ": " << ErrnoText(errno);
    return;
  }
  ::chmod(tmpl.c_str(), 0755);
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  const std::string prefix = path_.string() + "/";
  // Detach every mount below us first (deepest first), so remove_all never
  // walks into a share.
  for (int round = 0; round < 8; ++round) {
    bool any = false;
    auto mounts = Mounts();
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
      if (it->mountpoint.rfind(prefix, 0) == 0) {
        ::umount2(it->mountpoint.c_str(), MNT_DETACH);
        any = true;
      }
    }
    if (!any) break;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

bool IsMountPoint(const std::string& path) {
  const std::string c = Canonical(path);
  for (const auto& m : Mounts()) {
    if (m.mountpoint == c) return true;
  }
  return false;
}

std::string MountFsType(const std::string& path) {
  const std::string c = Canonical(path);
  std::string type;
  for (const auto& m : Mounts()) {
    if (m.mountpoint == c) type = m.fstype;  // the last one is on top
  }
  return type;
}

// ---- Mount -------------------------------------------------------------------

std::unique_ptr<Mount> Mount::Start(const MountParams& params, std::string* error) {
  std::unique_ptr<Mount> m(new Mount);
  m->dir_ = std::make_unique<TempDir>("smbgate-e2e-mnt");
  if (m->dir_->path().empty()) {
    *error = "no temporary directory";
    return nullptr;
  }
  if (params.mountpoint.empty()) {
    m->mountpoint_ = (m->dir_->path() / "mnt").string();
    if (::mkdir(m->mountpoint_.c_str(), 0755) != 0) {
      *error = "mkdir " + m->mountpoint_ + ": " + ErrnoText(errno);
      return nullptr;
    }
  } else {
    m->mountpoint_ = params.mountpoint;
  }
  m->log_path_ = m->dir_->path() / "daemon.log";

  std::vector<std::string> argv = {SmbgateBinary(), "mount",         params.target,
                                   m->mountpoint_,  "--credentials", params.credentials};
  if (!params.options.empty()) {
    std::string o;
    for (const auto& x : params.options) o += (o.empty() ? "" : ",") + x;
    argv.push_back("-o");
    argv.push_back(o);
  }
  argv.push_back("--foreground");
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  const int log_fd = ::open(m->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    *error = "open " + m->log_path_.string() + ": " + ErrnoText(errno);
    return nullptr;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Dies with the test binary, even when that is SIGKILLed by CTest.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ResetSignalsInChild();
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(cargv[0], cargv.data(), environ);
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    *error = "fork: " + ErrnoText(errno);
    return nullptr;
  }
  m->pid_ = pid;
  Watchdog::Get().AddDaemon(pid, m->mountpoint_);

  const std::string parent_dir = fs::path(m->mountpoint_).parent_path().string();
  const auto deadline = Clock::now() + params.ready_timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      m->pid_ = -1;
      Watchdog::Get().RemovePid(pid);
      *error = "smbgate mount exited (" +
               (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                  : "signal " + std::to_string(WTERMSIG(status))) +
               ") before the mount answered; its log:\n" + m->Log();
      return nullptr;
    }
    // AT_STATX_FORCE_SYNC asks the filesystem itself: a dead mount left
    // there answers ENOTCONN (a plain stat could come from its cache).
    struct statx sx;
    struct stat pst;
    if (::statx(AT_FDCWD, m->mountpoint_.c_str(), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx) == 0 &&
        ::stat(parent_dir.c_str(), &pst) == 0 && makedev(sx.stx_dev_major, sx.stx_dev_minor) != pst.st_dev) {
      m->dev_ = makedev(sx.stx_dev_major, sx.stx_dev_minor);
      Watchdog::Get().AddDevice(m->dev_);
      return m;
    }
    std::this_thread::sleep_for(20ms);
  }
  *error = "the mount did not answer within " + std::to_string(params.ready_timeout.count()) + " s; log:\n" + m->Log();
  return nullptr;  // the destructor kills it
}

Mount::~Mount() {
  if (pid_ > 0) Kill();
  if (!mountpoint_.empty()) {
    for (int i = 0; i < 8 && IsMountPoint(mountpoint_); ++i) ::umount2(mountpoint_.c_str(), MNT_DETACH);
    Watchdog::Get().RemoveMount(mountpoint_);
  }
  if (dev_ != 0) Watchdog::Get().RemoveDevice(dev_);
}

int Mount::Reap(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t w = ::waitpid(pid_, &status, WNOHANG);
    if (w == pid_) {
      Watchdog::Get().RemovePid(pid_);
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (w < 0 && errno != EINTR) {
      pid_ = -1;
      return -1;
    }
    if (Clock::now() >= deadline) {
      ADD_FAILURE() << "smbgate (pid " << pid_ << ") did not exit within " << timeout.count() << " ms; log:\n"
                    << Log() << "\nits threads:\n"
                    << ThreadStacks(pid_);
      Kill();
      return -1;
    }
    std::this_thread::sleep_for(10ms);
  }
}

int Mount::Stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return Reap(timeout);
}

int Mount::WaitExit(std::chrono::seconds timeout) { return Reap(timeout); }

void Mount::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  // Bounded: a daemon with a thread stuck on its own mount cannot exit
  // until its FUSE connection is aborted.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 500; ++i) {
      const pid_t w = ::waitpid(pid_, nullptr, WNOHANG);
      if (w == pid_ || (w < 0 && errno != EINTR)) {
        Watchdog::Get().RemovePid(pid_);
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(10ms);
    }
    if (round == 0) {
      ADD_FAILURE() << "smbgate (pid " << pid_ << ") did not die of SIGKILL within 5 s (a thread stuck on its own "
                    << "mount?); aborting its FUSE connection";
      AbortFuseConnections({dev_});
    }
  }
  ADD_FAILURE() << "smbgate (pid " << pid_ << ") is still alive after SIGKILL and a FUSE abort";
  Watchdog::Get().RemovePid(pid_);
  pid_ = -1;
}

std::string Mount::Log() const { return ReadAll(log_path_); }

// ---- processes ------------------------------------------------------------------

RunResult RunSmbgate(const std::vector<std::string>& args, std::chrono::milliseconds timeout, int as_uid) {
  RunResult r;
  std::vector<std::string> argv = {SmbgateBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    r.err = "pipe: " + ErrnoText(errno);
    return r;
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ResetSignalsInChild();
    ::dup2(null_fd, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (as_uid >= 0) {
      const gid_t g = static_cast<gid_t>(as_uid);
      if (::setgroups(1, &g) != 0 || ::setgid(g) != 0 || ::setuid(static_cast<uid_t>(as_uid)) != 0) ::_exit(126);
    }
    ::execve(cargv[0], cargv.data(), environ);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(null_fd);
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    r.err = "fork: " + ErrnoText(errno);
    return r;
  }
  ::setpgid(pid, pid);
  RegisterChild(pid);
  const auto deadline = start + timeout;
  // Reads what is there; stops at the child's exit, not at EOF: a daemon it
  // left in the background may hold the pipes (the test checks that apart).
  auto drain = [&](int fd, std::string& into) {
    char buf[4096];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP))) return;
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return;
      into.append(buf, static_cast<std::size_t>(n));
    }
  };
  int status = 0;
  bool exited = false;
  while (!exited) {
    pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    ::poll(p, 2, 10);
    drain(out[0], r.out);
    drain(err[0], r.err);
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
      break;
    }
    if (Clock::now() >= deadline) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
  }
  UnregisterChild(pid);
  drain(out[0], r.out);
  drain(err[0], r.err);
  ::close(out[0]);
  ::close(err[0]);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (exited && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

int RunInChild(const std::function<int()>& body, std::chrono::seconds timeout) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 99;
    try {
      rc = body();
    } catch (...) {
      rc = 98;
    }
    ::_exit(rc);
  }
  if (pid < 0) return -1;
  RegisterChild(pid);
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      UnregisterChild(pid);
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
  UnregisterChild(pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> NonEmptyLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

// ---- content ----------------------------------------------------------------------

std::string Sha256(const void* data, std::size_t size) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(data, size, md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += hex[md[i] >> 4];
    s += hex[md[i] & 15];
  }
  return s;
}

std::string Sha256File(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "open failed: " + ErrnoText(errno);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  std::string result;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = "read failed: " + ErrnoText(errno);
      break;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  unsigned char md[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (!result.empty()) return result;
  static const char* hex = "0123456789abcdef";
  for (unsigned i = 0; i < len; ++i) {
    result += hex[md[i] >> 4];
    result += hex[md[i] & 15];
  }
  return result;
}

bool WriteFile(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      errno = e;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return ::close(fd) == 0;
}

std::string ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string s;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return s;
}

std::vector<std::string> ServerOpenFiles(const SmbdServer& server) {
  ProcessResult r = RunProcess({"smbstatus", "-s", server.config_path().string(), "-L"}, "", 15s);
  std::vector<std::string> files;
  if (r.exit_code != 0) {
    files.push_back("smbstatus failed: " + r.output);
    return files;
  }
  bool table = false;
  for (const auto& line : NonEmptyLines(r.output)) {
    if (line.rfind("----", 0) == 0) {
      table = true;
      continue;
    }
    if (table) files.push_back(line);
  }
  return files;
}

void PatternFill(std::uint64_t seed, std::uint64_t offset, void* buf, std::size_t len) {
  auto* out = static_cast<std::uint8_t*>(buf);
  std::uint64_t word_index = offset / 8;
  std::size_t pos = 0;
  std::size_t skip = offset % 8;
  while (pos < len) {
    // splitmix64 of the word index: every word independent of the others.
    std::uint64_t z = seed + (word_index + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (std::size_t b = skip; b < 8 && pos < len; ++b) out[pos++] = static_cast<std::uint8_t>(z >> (8 * b));
    skip = 0;
    ++word_index;
  }
}

}  // namespace smbgate::test::e2e
