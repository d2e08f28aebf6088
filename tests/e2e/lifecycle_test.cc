// The daemon's life: clean exit on SIGTERM and on unmount, a new mount over
// a killed daemon's dead mount, recovery from a dropped connection without
// remounting, the default background mode, and bad input (each a one-line
// error and a non-zero exit within seconds, never a hang).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace smbgate::test::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Waits (bounded) until smbd has no file open; returns what is left.
std::vector<std::string> WaitNoOpenFiles(const SmbdServer& server) {
  std::vector<std::string> open;
  for (int i = 0; i < 50; ++i) {
    open = ServerOpenFiles(server);
    if (open.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return open;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

class Lifecycle : public E2eTest {};

TEST_F(Lifecycle, SigtermWithFilesOpenExitsCleanly) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const int fd = ::open((*m / "open-at-stop").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_SYS(fd);
  // Written, not fsync'ed: write(2) returned, so the server has it.
  ASSERT_EQ(::write(fd, "written before SIGTERM", 22), 22);
  const int rfd = ::open((*m / "open-at-stop").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_SYS(rfd);
  DIR* d = ::opendir(m->path().c_str());
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(ServerOpenFiles(*server_).empty()) << "smbstatus should list the open files";

  StopClean(*m);
  EXPECT_EQ(ReadFile(S("open-at-stop")), "written before SIGTERM");
  const auto left = WaitNoOpenFiles(*server_);
  EXPECT_TRUE(left.empty()) << "files still open on the server:\n" << Join(left);
  // The descriptors of the gone mount fail; closing them is harmless.
  char c;
  EXPECT_EQ(::read(rfd, &c, 1), -1);
  ::close(fd);
  ::close(rfd);
  ::closedir(d);
}

TEST_F(Lifecycle, SigintExitsCleanly) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  ASSERT_TRUE(WriteFile(*m / "f", "x"));
  const std::string mp = m->path();
  ::kill(m->pid(), SIGINT);
  EXPECT_EQ(m->WaitExit(), 0) << m->Log();
  EXPECT_FALSE(IsMountPoint(mp));
}

TEST_F(Lifecycle, UnmountEndsTheDaemonCleanly) {
  for (const char* how : {"fusermount3", "umount"}) {
    SCOPED_TRACE(how);
    auto m = MountTestDir();
    ASSERT_TRUE(m);
    ASSERT_TRUE(WriteFile(*m / (std::string("by-") + how), how));
    std::vector<std::string> argv = std::string(how) == "umount"
                                        ? std::vector<std::string>{"umount", m->path()}
                                        : std::vector<std::string>{"fusermount3", "-u", m->path()};
    ProcessResult r = RunProcess(argv, "", std::chrono::seconds(15));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto unmounted = Clock::now();
    EXPECT_EQ(m->WaitExit(), 0) << "the daemon did not exit 0 after " << how << "; log:\n" << m->Log();
    // Nothing in flight: the daemon is gone within 200 ms (about 50 ms here). The bound
    // below is loose for a loaded CI machine; it catches a daemon lingering on a timer.
    const auto exit_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - unmounted).count();
    std::printf("daemon exit after %s: %lld ms\n", how, static_cast<long long>(exit_ms));
    EXPECT_LT(exit_ms, 1000) << "the daemon lived on after " << how;
    EXPECT_FALSE(IsMountPoint(m->path()));
    EXPECT_EQ(ReadFile(S(std::string("by-") + how)), how);
    const auto left = WaitNoOpenFiles(*server_);
    EXPECT_TRUE(left.empty()) << Join(left);
  }
}

// statx(2) that asks the filesystem rather than the kernel's attribute
// cache: a dead FUSE mount answers ENOTCONN at once.
int StatxForceSync(const std::string& path) {
  struct statx sx;
  return ::statx(AT_FDCWD, path.c_str(), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx);
}

TEST_F(Lifecycle, RemountOverKilledDaemonsDeadMount) {
  ASSERT_TRUE(WriteFile(S("survivor"), "still here"));
  auto first = MountTestDir();
  ASSERT_TRUE(first);
  const std::string mp = first->path();
  EXPECT_EQ(ReadFile(*first / "survivor"), "still here");
  first->Kill();
  EXPECT_ERRNO(StatxForceSync(mp), ENOTCONN);
  EXPECT_TRUE(IsMountPoint(mp)) << "the dead mount is left behind";
  // A plain stat(2) is answered from the dead mount's attribute cache until
  // it expires (actimeo=1 s); after that it is ENOTCONN too.
  struct stat st;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (::stat(mp.c_str(), &st) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_ERRNO(::stat(mp.c_str(), &st), ENOTCONN);

  MountParams p = Params();
  p.mountpoint = mp;
  auto second = StartMount(p);
  ASSERT_TRUE(second);
  EXPECT_EQ(ReadFile(*second / "survivor"), "still here");
  ASSERT_TRUE(WriteFile(*second / "after", "remounted"));
  EXPECT_EQ(ReadFile(S("after")), "remounted");
  StopClean(*second);
  EXPECT_FALSE(IsMountPoint(mp)) << "no dead mount is left under the new one";
  EXPECT_SYS(::stat(mp.c_str(), &st)) << "the directory is usable again";
}

// A restarted daemon (systemd Restart=, a Kubernetes sidecar) remounts
// right away, while the dead mount still answers stat(2) from its
// attribute cache: src/mount.cc detects the dead mount with
// statx(AT_STATX_FORCE_SYNC); plain stat would take it for a live directory
// and fail on its opendir with "Transport endpoint is not connected".
TEST_F(Lifecycle, RemountRightAfterKill) {
  auto first = MountTestDir();
  ASSERT_TRUE(first);
  const std::string mp = first->path();
  ASSERT_TRUE(WriteFile(*first / "f", "x"));
  // The root's attributes fresh in the kernel's cache when the daemon dies.
  ASSERT_SYS(StatxForceSync(mp));
  first->Kill();
  struct stat st;
  EXPECT_SYS(::stat(mp.c_str(), &st)) << "stat of the dead mount, from the attribute cache";
  MountParams p = Params();
  p.mountpoint = mp;
  auto second = StartMount(p);
  ASSERT_TRUE(second);
  EXPECT_EQ(ReadFile(*second / "f"), "x");
  StopClean(*second);
  EXPECT_FALSE(IsMountPoint(mp));
}

// A daemon killed at any moment of its start (OOM killer, a failing probe)
// must die and leave a dead mount that answers ENOTCONN, never a hang.
// The daemon must never stat its own mountpoint (it waits for FUSE INIT
// instead): when SIGKILL lands while such a request has been read by a FUSE
// thread but not answered, the stat'ing thread waits uninterruptibly for an
// answer that never comes; it keeps /dev/fuse open, so the kernel never
// aborts the connection, the process never exits, and every access to the
// mountpoint hangs until someone writes to /sys/fs/fuse/connections/N/abort.
TEST_F(Lifecycle, KilledDuringStartNeverHangs) {
  SetTestBudget(std::chrono::seconds(170));
  int stuck = 0;
  for (int i = 0; i < 20; ++i) {
    auto m = MountTestDir();
    ASSERT_TRUE(m);
    const pid_t pid = m->pid();
    ::kill(pid, SIGKILL);
    bool died = false;
    for (int k = 0; k < 200 && !died; ++k) {
      died = ::waitpid(pid, nullptr, WNOHANG) == pid;
      if (!died) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!died) {
      ++stuck;
      continue;  // Mount's destructor aborts the FUSE connection
    }
    EXPECT_ERRNO(StatxForceSync(m->path()), ENOTCONN);
    m->Kill();  // already reaped: only forgets the pid
  }
  EXPECT_EQ(stuck, 0) << "daemons that could not die of SIGKILL during their start";
}

// A dropped connection: smbd restarts on the same port. The mount stays,
// the daemon reconnects by itself, an open file is reopened by path and
// goes on working; at most one error reaches the application, for a
// request that was in flight.
TEST_F(Lifecycle, ReconnectAfterServerRestart) {
  SetTestBudget(std::chrono::seconds(150));
  SmbdServer own;
  std::string err;
  ASSERT_TRUE(own.Start(&err)) << err;
  const std::string creds = own.CredentialsFile(&err).string();
  ASSERT_FALSE(creds.empty()) << err;
  MountParams p;
  p.target = own.Target();
  p.credentials = creds;
  auto m = StartMount(p);
  ASSERT_TRUE(m);
  const pid_t daemon = m->pid();
  const std::string on_disk = (own.share_dir() / "reopened.bin").string();

  constexpr std::size_t kBlock = 256 * 1024;
  auto block = [](std::size_t i) {
    std::string b(kBlock, '\0');
    PatternFill(9, i * kBlock, b.data(), kBlock);
    return b;
  };
  const int fd = ::open((*m / "reopened.bin").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_SYS(fd);
  for (std::size_t i = 0; i < 4; ++i) {
    const std::string b = block(i);
    ASSERT_EQ(::pwrite(fd, b.data(), kBlock, static_cast<off_t>(i * kBlock)), static_cast<ssize_t>(kBlock));
  }
  ASSERT_SYS(::fsync(fd));

  // 1. An idle restart: nothing in flight, so ideally no error at all.
  ASSERT_TRUE(own.Restart(&err)) << err;
  int errors = 0;
  std::string error_log;
  auto attempt = [&](const char* what, auto&& call) {
    for (int tries = 0; tries < 2; ++tries) {
      errno = 0;
      if (call()) return true;
      ++errors;
      error_log += std::string(what) + ": " + std::strerror(errno) + "\n";
    }
    return false;
  };
  const auto t0 = Clock::now();
  for (std::size_t i = 4; i < 8; ++i) {
    const std::string b = block(i);
    ASSERT_TRUE(attempt(
        "pwrite after restart",
        [&] { return ::pwrite(fd, b.data(), kBlock, static_cast<off_t>(i * kBlock)) == static_cast<ssize_t>(kBlock); }))
        << error_log << m->Log();
  }
  const double recovered_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(attempt("fsync", [&] { return ::fsync(fd) == 0; })) << error_log;
  std::string back(8 * kBlock, '\0');
  ASSERT_TRUE(attempt("pread", [&] {
    return ::pread(fd, back.data(), back.size(), 0) == static_cast<ssize_t>(back.size());
  })) << error_log;
  std::string want;
  for (std::size_t i = 0; i < 8; ++i) want += block(i);
  EXPECT_TRUE(SameBytes(back, want));
  EXPECT_TRUE(attempt("create after restart", [&] { return WriteFile(*m / "created-after", "new session"); }))
      << error_log;
  EXPECT_EQ(ReadFile((own.share_dir() / "created-after").string()), "new session");
  struct stat st;
  EXPECT_TRUE(attempt("stat", [&] { return ::stat((*m / "created-after").c_str(), &st) == 0; })) << error_log;
  // Nothing was in flight when the connection dropped: no error at all.
  EXPECT_EQ(errors, 0) << "errors after an idle restart:\n" << error_log;
  std::printf("[ e2e figures ] idle restart: %d error(s), first writes done %.2f s after smbd was back\n%s", errors,
              recovered_s, error_log.c_str());

  // 2. A restart with a writer busy: one request in flight may fail; the
  // application rewrites that block and the file ends up exact. The writer
  // is a process of its own: the fixture forks and execs the new smbd
  // meanwhile, and a descriptor of the file in this process would go to
  // that child, whose exec closes it and so flushes the file; a flush waits
  // for the writes taken behind the application (as a close does on cifs
  // and NFS), and those wait for that very smbd. The child makes only
  // async-signal-safe calls (this process has threads).
  ASSERT_SYS(::close(fd));
  std::string blocks;
  for (std::size_t k = 8; k < 32; ++k) blocks += block(k);
  const std::string path = *m / "reopened.bin";
  int stop_pipe[2], result_pipe[2];
  ASSERT_SYS(::pipe2(stop_pipe, O_CLOEXEC));
  ASSERT_SYS(::pipe2(result_pipe, O_CLOEXEC));
  ASSERT_SYS(::fcntl(stop_pipe[0], F_SETFL, O_NONBLOCK));
  struct WriterResult {
    int errors = 0, rounds = 0, last_errno = 0, fsync_errno = 0;
  };
  const pid_t writer = ::fork();
  ASSERT_SYS(writer);
  if (writer == 0) {
    WriterResult r;
    const int w = ::open(path.c_str(), O_RDWR);
    if (w < 0) ::_exit(3);
    bool stop = false;
    std::size_t i = 0;
    while (!stop || r.rounds < 40) {
      char c;
      if (!stop && ::read(stop_pipe[0], &c, 1) >= 0) stop = true;  // a byte, or EOF
      const std::size_t k = 8 + (i % 24);
      if (::pwrite(w, blocks.data() + (k - 8) * kBlock, kBlock, static_cast<off_t>(k * kBlock)) !=
          static_cast<ssize_t>(kBlock)) {
        r.last_errno = errno;
        if (++r.errors > 6) break;
        continue;  // the application retries the same block
      }
      ++i;
      if (++r.rounds > 20'000) break;
    }
    if (::fsync(w) != 0) r.fsync_errno = errno;
    ::close(w);
    [[maybe_unused]] ssize_t n = ::write(result_pipe[1], &r, sizeof r);
    ::_exit(0);
  }
  ::close(result_pipe[1]);
  ::close(stop_pipe[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const bool restarted = own.Restart(&err);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  [[maybe_unused]] ssize_t stop_written = ::write(stop_pipe[1], "x", 1);
  ::close(stop_pipe[1]);
  WriterResult wr;
  const bool got = ::read(result_pipe[0], &wr, sizeof wr) == static_cast<ssize_t>(sizeof wr);
  ::close(result_pipe[0]);
  int status = 0;
  ::waitpid(writer, &status, 0);
  ASSERT_TRUE(restarted) << err;
  ASSERT_TRUE(got) << "the writer process ended without a result (status " << status << ")";
  EXPECT_LE(wr.errors, 1) << "errors with a writer busy during the restart: " << wr.errors << ", the last "
                          << std::strerror(wr.last_errno) << "\n"
                          << m->Log();
  EXPECT_EQ(wr.fsync_errno, 0) << std::strerror(wr.fsync_errno);
  want += blocks;
  EXPECT_EQ(fs::file_size(on_disk), want.size());
  EXPECT_EQ(Sha256File(on_disk), Sha256(want.data(), want.size()));
  std::printf("[ e2e figures ] busy restart: %d writer error(s), %d blocks written\n", wr.errors, wr.rounds);

  // Same daemon, same mount: nothing was remounted.
  EXPECT_EQ(m->pid(), daemon);
  EXPECT_TRUE(m->running());
  const std::string log = m->Log();
  EXPECT_NE(log.find("reconnect"), std::string::npos) << "the log should say it reconnected:\n" << log;
  StopClean(*m);
}

// Reopening by path after a reconnect must follow what happened to the
// path meanwhile: a file renamed while open is reopened under its new name;
// a file unlinked while open is gone with the old connection (its handle was
// its last one), and its descriptor must fail rather than write into a new
// file that took the name since.
TEST_F(Lifecycle, ReconnectFollowsRenameAndRefusesUnlinked) {
  SmbdServer own;
  std::string err;
  ASSERT_TRUE(own.Start(&err)) << err;
  MountParams p;
  p.target = own.Target();
  p.credentials = own.CredentialsFile(&err).string();
  auto m = StartMount(p);
  ASSERT_TRUE(m);
  auto on_disk = [&](const char* n) { return (own.share_dir() / n).string(); };

  const int renamed = ::open((*m / "before-rename").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_SYS(renamed);
  ASSERT_EQ(::write(renamed, "A1", 2), 2);
  ASSERT_SYS(::rename((*m / "before-rename").c_str(), (*m / "after-rename").c_str()));
  const int unlinked = ::open((*m / "unlinked").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_SYS(unlinked);
  ASSERT_EQ(::write(unlinked, "old", 3), 3);
  ASSERT_SYS(::unlink((*m / "unlinked").c_str()));

  ASSERT_TRUE(own.Restart(&err)) << err;
  // The old file went with the old session (delete on last close); a new
  // one takes its name.
  ASSERT_TRUE(WriteFile(*m / "unlinked", "new file")) << std::strerror(errno);

  EXPECT_EQ(::pwrite(renamed, "A2", 2, 2), 2) << std::strerror(errno);
  EXPECT_SYS(::fsync(renamed));
  EXPECT_EQ(ReadFile(on_disk("after-rename")), "A1A2");
  EXPECT_FALSE(fs::exists(on_disk("before-rename"))) << "reopened under the old name";

  errno = 0;
  EXPECT_EQ(::pwrite(unlinked, "XX", 2, 0), -1) << "a write to an unlinked file's descriptor went somewhere";
  EXPECT_EQ(ReadFile(on_disk("unlinked")), "new file") << "the new file got the old descriptor's data";
  ::close(unlinked);
  EXPECT_SYS(::close(renamed));
  StopClean(*m);
}

// ---- command line and bad input ---------------------------------------------

// The lines of smbgate's stderr that are not log records: log lines start
// with a timestamp ("2026-...T...Z level ...", log_format=text) or are JSON
// objects. The daemon logs to stderr (--foreground, systemd, containers);
// an error for a person is a plain line.
std::vector<std::string> ErrorLines(const std::string& err) {
  std::vector<std::string> out;
  for (const auto& l : NonEmptyLines(err)) {
    const bool timestamped =
        l.size() > 20 && std::isdigit(static_cast<unsigned char>(l[0])) && l[4] == '-' && l[10] == 'T';
    if (!timestamped && l[0] != '{') out.push_back(l);
  }
  return out;
}

class CommandLine : public E2eTest {
 protected:
  std::vector<std::string> Args(const std::string& target, const std::string& mountpoint, const std::string& creds,
                                bool foreground, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"mount", target, mountpoint, "--credentials", creds};
    a.insert(a.end(), extra.begin(), extra.end());
    if (foreground) a.push_back("--foreground");
    return a;
  }

  // Runs a `smbgate mount` that must fail: non-zero exit within a few
  // seconds, exactly one line on stderr holding every string of `needles`.
  void ExpectOneLineFailure(const std::vector<std::string>& args, const std::vector<std::string>& needles,
                            int want_exit = -1) {
    RunResult r = RunSmbgate(args, std::chrono::seconds(20));
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    SCOPED_TRACE("smbgate" + cmd);
    EXPECT_FALSE(r.timed_out) << "hung";
    EXPECT_NE(r.exit_code, 0);
    if (want_exit >= 0) {
      EXPECT_EQ(r.exit_code, want_exit);
    }
    EXPECT_LT(r.seconds, 8.0) << "took too long";
    const auto lines = ErrorLines(r.err);
    EXPECT_EQ(lines.size(), 1u) << "stderr:\n" << r.err;
    for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "'" << n << "' not in:\n" << r.err;
    EXPECT_EQ(r.err.find(server_->password()), std::string::npos) << "the password leaked";
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
};

TEST_F(CommandLine, BadInputFailsFastWithOneLine) {
  TempDir tmp;
  const std::string mp = (tmp.path() / "mnt").string();
  ASSERT_SYS(::mkdir(mp.c_str(), 0755));
  const std::string target = server_->Target() + "/" + name_;
  const std::string full = (tmp.path() / "full").string();
  ASSERT_SYS(::mkdir(full.c_str(), 0755));
  ASSERT_TRUE(WriteFile(full + "/file", "x"));

  for (bool foreground : {true, false}) {
    SCOPED_TRACE(foreground ? "--foreground" : "background");
    // Credentials: missing, unreadable (the 0600 root file, for uid 65534).
    ExpectOneLineFailure(Args(target, mp, "/nonexistent/creds", foreground), {"/nonexistent/creds"});
    {
      RunResult r = RunSmbgate(Args(target, mp, creds_, foreground), std::chrono::seconds(20), 65534);
      EXPECT_FALSE(r.timed_out);
      EXPECT_NE(r.exit_code, 0);
      const auto lines = ErrorLines(r.err);
      EXPECT_EQ(lines.size(), 1u) << r.err;
      EXPECT_NE(r.err.find(creds_), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("ermission denied"), std::string::npos) << r.err;
    }
    // An unknown -o option: exit 2, named.
    ExpectOneLineFailure(Args(target, mp, creds_, foreground, {"-o", "uid=0,bogus_option=1"}), {"bogus_option"}, 2);
    // Mountpoints: missing, not empty.
    ExpectOneLineFailure(Args(target, mp + "/missing", creds_, foreground), {mp + "/missing", "does not exist"});
    ExpectOneLineFailure(Args(target, full, creds_, foreground), {full, "not empty"});
    // An unreachable server: a loopback port nobody listens on.
    ExpectOneLineFailure(Args("//127.0.0.1:1/share", mp, creds_, foreground), {"127.0.0.1:1"});
    // A wrong password: the user and the server's status are named.
    const fs::path wrong = tmp.path() / "wrong-creds";
    TestCredentials c = server_->credentials();
    c.password = "not the password";
    std::string err;
    ASSERT_TRUE(WriteCredentialsFile(wrong, c, &err)) << err;
    ExpectOneLineFailure(Args(target, mp, wrong.string(), foreground), {server_->user(), "STATUS_LOGON_FAILURE"});
    // A share that does not exist.
    ExpectOneLineFailure(Args(server_->Target() + "x", mp, creds_, foreground), {"sharex"});
    EXPECT_FALSE(IsMountPoint(mp)) << "a failed mount left a mount behind";
  }
  const auto t = MountFsType(mp);
  EXPECT_TRUE(t.empty()) << t;
}

// A share named by host name (not an IP address) is first asked whether the
// name is a domain (DFS); a wrong password there is still one logged and
// counted authentication failure, with one error line.
TEST_F(CommandLine, WrongPasswordByHostNameIsLoggedAsAnAuthentication) {
  TempDir tmp;
  const std::string mp = (tmp.path() / "mnt").string();
  ASSERT_SYS(::mkdir(mp.c_str(), 0755));
  std::string target = server_->Target() + "/" + name_;
  const auto at = target.find("127.0.0.1");
  ASSERT_NE(at, std::string::npos) << target;
  target.replace(at, 9, "localhost");
  const fs::path wrong = tmp.path() / "wrong-creds";
  TestCredentials c = server_->credentials();
  c.password = "not the password";
  std::string err;
  ASSERT_TRUE(WriteCredentialsFile(wrong, c, &err)) << err;
  RunResult r = RunSmbgate(Args(target, mp, wrong.string(), true), std::chrono::seconds(20));
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0);
  const std::string all = r.out + r.err;
  EXPECT_NE(all.find("authentication"), std::string::npos) << all;
  EXPECT_NE(all.find("result=STATUS_LOGON_FAILURE"), std::string::npos) << all;
  EXPECT_NE(all.find("server=localhost:"), std::string::npos) << all;
  EXPECT_EQ(ErrorLines(r.err).size(), 1u) << r.err;
  EXPECT_EQ(all.find(server_->password()), std::string::npos) << "the password leaked";
  EXPECT_FALSE(IsMountPoint(mp));
}

TEST_F(CommandLine, LooseCredentialsModeWarnsAndMounts) {
  TempDir tmp;
  const fs::path loose = tmp.path() / "loose-creds";
  std::string err;
  ASSERT_TRUE(WriteCredentialsFile(loose, server_->credentials(), &err)) << err;
  ASSERT_SYS(::chmod(loose.c_str(), 0644));
  MountParams p = Params();
  p.credentials = loose.string();
  auto m = StartMount(p);
  ASSERT_TRUE(m);
  ASSERT_TRUE(WriteFile(*m / "f", "mounted"));
  EXPECT_EQ(ReadFile(S("f")), "mounted");
  StopClean(*m);
  const std::string log = m->Log();
  EXPECT_NE(log.find("warning"), std::string::npos) << log;
  EXPECT_NE(log.find(loose.string()), std::string::npos) << log;
  EXPECT_NE(log.find("readable by group or others"), std::string::npos) << log;
  EXPECT_EQ(log.find(server_->password()), std::string::npos) << "the password leaked";
}

// Finds a process whose command line holds every string of `parts`.
pid_t FindProcess(const std::vector<std::string>& parts) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool all = !cmd.empty();
    for (const auto& p : parts) all = all && cmd.find(p) != std::string::npos;
    if (all) return static_cast<pid_t>(std::stoi(name));
  }
  return -1;
}

bool Alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// The default mode: `smbgate mount` without --foreground exits 0 only once
// the mount answers, and leaves a working mount served by a daemon in the
// background.
TEST_F(CommandLine, BackgroundModeExitsOnceMounted) {
  TempDir tmp;
  const std::string mp = (tmp.path() / "mnt").string();
  ASSERT_SYS(::mkdir(mp.c_str(), 0755));
  ASSERT_TRUE(WriteFile(S("hello"), "from the share"));
  RunResult r = RunSmbgate(Args(server_->Target() + "/" + name_, mp, creds_, false), std::chrono::seconds(30));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ErrorLines(r.err).empty()) << r.err;
  // Mounted the moment it returned.
  struct stat st, pst;
  ASSERT_SYS(::stat(mp.c_str(), &st));
  ASSERT_SYS(::stat(tmp.path().c_str(), &pst));
  EXPECT_NE(st.st_dev, pst.st_dev) << "smbgate mount returned before the mount answered";
  EXPECT_EQ(MountFsType(mp), "fuse.smbgate");
  const pid_t daemon = FindProcess({SmbgateBinary(), mp});
  ASSERT_GT(daemon, 0) << "no daemon serving " << mp;
  RegisterChild(daemon);  // the watchdog may kill it; TempDir detaches the mount
  EXPECT_EQ(ReadFile(mp + "/hello"), "from the share");
  ASSERT_TRUE(WriteFile(mp + "/written", "through the background daemon"));
  EXPECT_EQ(ReadFile(S("written")), "through the background daemon");

  ProcessResult u = RunProcess({"fusermount3", "-u", mp}, "", std::chrono::seconds(15));
  EXPECT_EQ(u.exit_code, 0) << u.output;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Alive(daemon) && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Alive(daemon)) << "the background daemon did not exit after the unmount";
  if (Alive(daemon)) ::kill(daemon, SIGKILL);
  UnregisterChild(daemon);
  EXPECT_FALSE(IsMountPoint(mp));
}

// Someone capturing the output of `smbgate mount` (a shell's $(...), Go's
// exec CombinedOutput in Kubernetes mount helpers) reads until end of file:
// the background daemon must not keep the caller's stdout or stderr open,
// or that caller hangs until the unmount.
TEST_F(CommandLine, BackgroundDaemonReleasesCallersOutput) {
  TempDir tmp;
  const std::string mp = (tmp.path() / "mnt").string();
  ASSERT_SYS(::mkdir(mp.c_str(), 0755));
  const std::string cmd = std::string(SmbgateBinary()) + " mount " + server_->Target() + "/" + name_ + " " + mp +
                          " --credentials " + creds_ + " 2>&1";
  // `timeout` bounds the shell: output captured to EOF, as $(...) does.
  ProcessResult r =
      RunProcess({"timeout", "10", "sh", "-c", "out=$(" + cmd + "); echo \"rc=$?\""}, "", std::chrono::seconds(20));
  const pid_t daemon = FindProcess({SmbgateBinary(), mp});
  if (daemon > 0) RegisterChild(daemon);
  EXPECT_NE(r.output.find("rc=0"), std::string::npos) << "the caller waited for the daemon's end: " << r.output;
  RunProcess({"fusermount3", "-u", mp}, "", std::chrono::seconds(15));
  for (int i = 0; daemon > 0 && Alive(daemon) && i < 1500; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (daemon > 0) UnregisterChild(daemon);
}

}  // namespace
}  // namespace smbgate::test::e2e
