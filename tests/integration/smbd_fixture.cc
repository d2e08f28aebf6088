#include "tests/integration/smbd_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

extern char** environ;

namespace smbgate::test {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(15);
constexpr auto kStopGrace = std::chrono::seconds(5);
constexpr auto kToolTimeout = std::chrono::seconds(30);
constexpr std::size_t kMaxProcessOutput = 1 << 20;

std::string ErrnoText(int err) { return std::system_category().message(err); }

std::string StatusText(int status) {
  if (WIFEXITED(status))
    return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

bool WriteFileMode(const fs::path& p, std::string_view content, mode_t mode,
                   std::string* error) {
  const int fd =
      ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    *error = p.string() + ": " + ErrnoText(errno);
    return false;
  }
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = p.string() + ": " + ErrnoText(errno);
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  // The mode argument of open() is masked by the umask; set it exactly.
  const bool ok = ::fchmod(fd, mode) == 0;
  if (!ok) *error = p.string() + ": chmod: " + ErrnoText(errno);
  ::close(fd);
  return ok;
}

bool MakeDir(const fs::path& p, std::string* error) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) {
    *error = p.string() + ": " + ec.message();
    return false;
  }
  return true;
}

// A port the kernel just handed out for 127.0.0.1. Another process could
// take it before smbd binds it; Start() then retries with a new one.
std::uint16_t PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool CanConnect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// The environment for a child: ours, with `extra` ("NAME=value") replacing
// or adding entries.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& x : extra) {
      if (std::string_view(x).substr(0, x.find('=')) == name) replaced = true;
    }
    if (!replaced) env.emplace_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// What a forked child does before exec. Only async-signal-safe calls: the
// test binary has other threads (the strip proxy, GoogleTest's).
void ResetChildSignals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
}

[[noreturn]] void ExecFailed(const char* prog) {
  static const char kMsg[] = "exec failed: ";
  [[maybe_unused]] ssize_t n = ::write(2, kMsg, sizeof kMsg - 1);
  n = ::write(2, prog, std::strlen(prog));
  n = ::write(2, "\n", 1);
  ::_exit(127);
}

std::string KubeTimestamp() {
  static std::atomic<unsigned> counter{0};
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "..%Y_%m_%d_%H_%M_%S", &tm);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      now.time_since_epoch())
                      .count() %
                  1000000000;
  return std::string(buf) + "." + std::to_string(ns) + "_" +
         std::to_string(counter++);
}

// True if a process of group `pgid` exists that is not a zombie. Reads
// /proc/PID/stat: "pid (comm) state ppid pgrp ...", comm may hold spaces.
bool HasLiveProcessInGroup(pid_t pgid) {
  if (::kill(-pgid, 0) != 0) return false;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const std::size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (!(fields >> state >> ppid >> pgrp)) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') return true;
  }
  return false;
}

}  // namespace

const char* SambaProtocolName(Dialect d) {
  switch (d) {
    case Dialect::kSmb2_02:
      return "SMB2_02";
    case Dialect::kSmb2_10:
      return "SMB2_10";
    case Dialect::kSmb3_00:
      return "SMB3_00";
    case Dialect::kSmb3_02:
      return "SMB3_02";
    case Dialect::kSmb3_11:
      return "SMB3_11";
  }
  return "?";
}

std::uint16_t DialectRevision(Dialect d) {
  switch (d) {
    case Dialect::kSmb2_02:
      return 0x0202;
    case Dialect::kSmb2_10:
      return 0x0210;
    case Dialect::kSmb3_00:
      return 0x0300;
    case Dialect::kSmb3_02:
      return 0x0302;
    case Dialect::kSmb3_11:
      return 0x0311;
  }
  return 0;
}

std::string FindProgram(std::string_view name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string d; std::getline(ss, d, ':');) {
      if (!d.empty()) dirs.push_back(d);
    }
  }
  for (const char* d :
       {"/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin"}) {
    dirs.emplace_back(d);
  }
  for (const auto& d : dirs) {
    const std::string p = d + "/" + std::string(name);
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

ProcessResult RunProcess(const std::vector<std::string>& argv_in,
                         std::string_view stdin_data,
                         std::chrono::milliseconds timeout,
                         const std::vector<std::string>& extra_env) {
  ProcessResult r;
  if (argv_in.empty()) return r;
  std::vector<std::string> argv = argv_in;
  std::string prog =
      argv[0].find('/') == std::string::npos ? FindProgram(argv[0]) : argv[0];
  if (prog.empty()) {
    r.output = argv[0] + ": not found";
    return r;
  }
  std::vector<std::string> env = ChildEnvironment(extra_env);
  std::vector<char*> cargv = CStrings(argv);
  std::vector<char*> cenv = CStrings(env);

  // stdin is a socket, not a pipe: send() with MSG_NOSIGNAL cannot raise
  // SIGPIPE in the test binary if the child exits without reading.
  int in[2], out[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
    r.output = "socketpair: " + ErrnoText(errno);
    return r;
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    r.output = "pipe: " + ErrnoText(errno);
    ::close(in[0]);
    ::close(in[1]);
    return r;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ResetChildSignals();
    ::dup2(in[1], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::execve(prog.c_str(), cargv.data(), cenv.data());
    ExecFailed(prog.c_str());
  }
  ::close(in[1]);
  ::close(out[1]);
  if (pid < 0) {
    r.output = "fork: " + ErrnoText(errno);
    ::close(in[0]);
    ::close(out[0]);
    return r;
  }
  // Its own process group, so a timeout kills whatever it started too. Both
  // sides call setpgid: whichever runs first wins the race with exec/kill.
  ::setpgid(pid, pid);
  r.started = true;

  int in_fd = in[0];
  std::size_t sent = 0;
  if (stdin_data.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  const auto deadline = Clock::now() + timeout;
  bool out_open = true;
  while (out_open) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      break;
    }
    pollfd fds[2] = {{out[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
    const int n =
        ::poll(fds, in_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (fds[0].revents != 0) {
      char buf[4096];
      const ssize_t got = ::read(out[0], buf, sizeof buf);
      if (got > 0) {
        if (r.output.size() < kMaxProcessOutput)
          r.output.append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        out_open = false;
      }
    }
    if (in_fd >= 0 && fds[1].revents != 0) {
      const ssize_t put =
          ::send(in_fd, stdin_data.data() + sent, stdin_data.size() - sent,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
      if (put > 0) sent += static_cast<std::size_t>(put);
      if ((put < 0 && errno != EAGAIN && errno != EINTR) ||
          sent == stdin_data.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  ::close(out[0]);

  // Its output is closed; wait for the exit until the same deadline. On a
  // timeout the whole group is killed before it is reaped (after reaping,
  // the group id could name someone else).
  int status = 0;
  for (;;) {
    if (!r.timed_out) {
      const pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) return r;
      if (Clock::now() >= deadline) r.timed_out = true;
    }
    if (r.timed_out) {
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

bool WriteCredentialsFile(const fs::path& path, const TestCredentials& creds,
                          std::string* error) {
  // mount.cifs and smbclient -A take the value up to the end of the line, so
  // no quoting; smbclient trims blanks around it.
  const std::string text = "username=" + creds.user +
                           "\npassword=" + creds.password +
                           "\ndomain=" + creds.domain + "\n";
  return WriteFileMode(path, text, 0600, error);
}

bool WriteSecretDirectory(const fs::path& dir, const TestCredentials& creds,
                          std::string* error) {
  // The layout of kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go):
  // the payload goes to a fresh timestamped directory, `..data` is replaced
  // by renaming a new symlink over it, and the user-visible names are
  // symlinks through `..data`.
  if (!MakeDir(dir, error)) return false;
  std::error_code ec;
  const fs::path data = dir / "..data";
  const fs::path old_version =
      fs::is_symlink(data, ec) ? fs::read_symlink(data, ec) : fs::path();
  const std::string stamp = KubeTimestamp();
  if (!MakeDir(dir / stamp, error)) return false;
  ::chmod((dir / stamp).c_str(), 0755);
  const std::pair<const char*, const std::string*> files[] = {
      {"username", &creds.user},
      {"password", &creds.password},
      {"domain", &creds.domain}};
  for (const auto& [name, value] : files) {
    if (!WriteFileMode(dir / stamp / name, *value, 0644, error)) return false;
  }
  const fs::path tmp = dir / "..data_tmp";
  fs::remove(tmp, ec);
  if (::symlink(stamp.c_str(), tmp.c_str()) != 0 ||
      ::rename(tmp.c_str(), data.c_str()) != 0) {
    *error = data.string() + ": " + ErrnoText(errno);
    return false;
  }
  for (const auto& [name, value] : files) {
    const fs::path link = dir / name;
    if (fs::is_symlink(link, ec)) continue;
    if (::symlink((std::string("..data/") + name).c_str(), link.c_str()) != 0) {
      *error = link.string() + ": " + ErrnoText(errno);
      return false;
    }
  }
  if (!old_version.empty() && old_version.string() != stamp &&
      old_version.string().rfind("..", 0) == 0) {
    fs::remove_all(dir / old_version, ec);
  }
  return true;
}

bool SmbdServer::Available(std::string* why) {
  if (::geteuid() != 0) {
    *why =
        "not running as root (smbd needs root; CI runs the integration tests "
        "as root)";
    return false;
  }
  for (const char* prog : {"smbd", "smbpasswd"}) {
    if (FindProgram(prog).empty()) {
      *why = std::string(prog) + " not found (apt-get install samba)";
      return false;
    }
  }
  return true;
}

SmbdServer::SmbdServer(SmbdOptions options) : options_(std::move(options)) {
  // The SMB user is the effective unix user: a passdb entry must map to a
  // unix account, and this one exists wherever the tests run (root in CI).
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 &&
      found) {
    user_ = found->pw_name;
  }
}

SmbdServer::~SmbdServer() {
  Stop();
  if (!dir_.empty() && std::getenv("SMBGATE_KEEP_SMBD_DIR") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string SmbdServer::Target() const {
  return "//" + host_ + ":" + std::to_string(port_) + "/" + share();
}

bool SmbdServer::WriteConfigs(std::string* error) {
  const std::string d = dir_.string();
  std::ostringstream c;
  c << "# Written by smbgate's test fixture "
       "(tests/integration/smbd_fixture.cc).\n"
    << "[global]\n"
    << "  server role = standalone server\n"
    << "  workgroup = " << domain_
    << "\n"
    // Fixed, so the log and the NTLM target info do not depend on the host.
    << "  netbios name = SMBGATETEST\n"
    << "  server signing = mandatory\n"
    << "  ntlm auth = ntlmv2-only\n"
    << "  server min protocol = " << SambaProtocolName(options_.min_protocol)
    << "\n"
    << "  server max protocol = " << SambaProtocolName(options_.max_protocol)
    << "\n"
    << "  smb ports = " << port_ << "\n"
    << "  interfaces = 127.0.0.1\n"
    << "  bind interfaces only = yes\n"
    << "  disable netbios = yes\n"
    // Every directory smbd writes to, inside the private directory, so
    // several servers and the host's own Samba never share state.
    << "  lock directory = " << d << "/lock\n"
    << "  state directory = " << d << "/state\n"
    << "  cache directory = " << d << "/cache\n"
    << "  pid directory = " << d << "/pid\n"
    << "  private dir = " << d << "/private\n"
    << "  ncalrpc dir = " << d << "/ncalrpc\n"
    << "  binddns dir = " << d << "/binddns\n"
    << "  usershare path = " << d << "/usershares\n"
    << "  log file = " << d << "/log/%m.log\n"
    << "  passdb backend = tdbsam:" << d << "/passdb.tdb\n"
    << "  restrict anonymous = 2\n"
    << "  map to guest = Never\n"
    << "  load printers = no\n"
    << "  printcap name = /dev/null\n"
    << "  disable spoolss = yes\n"
    << "  kernel oplocks = no\n"
    << "  vfs objects =\n"
    // Encryption offered, used when a share, the server or the client
    // requires it (Samba's default), so tests can ask for it per share.
    << "  server smb encrypt = if_required\n"
    // Samba 4.16+ starts samba-dcerpcd on demand for RPC pipes (srvsvc,
    // ...). File access does not need it, and it would be one more process
    // to clean up.
    << "  rpc start on demand helpers = no\n";
  for (const auto& line : options_.extra_global) c << "  " << line << "\n";
  c << "\n[share]\n"
    << "  path = " << d << "/share\n"
    << "  read only = no\n"
    << "  create mask = 0644\n";
  for (const auto& line : options_.extra_share) c << "  " << line << "\n";
  c << "\n[readonly]\n"
    << "  path = " << d << "/readonly\n"
    << "  read only = yes\n";
  if (!WriteFileMode(config_path(), c.str(), 0644, error)) return false;

  std::ostringstream cc;
  cc << "# smbclient's configuration for tests (smbclient -s this file).\n"
     << "[global]\n"
     << "  workgroup = " << domain_ << "\n"
     << "  client signing = required\n"
     << "  client use kerberos = off\n"
     << "  lock directory = " << d << "/client/lock\n"
     << "  state directory = " << d << "/client/state\n"
     << "  cache directory = " << d << "/client/cache\n"
     << "  private dir = " << d << "/client/private\n"
     << "  ncalrpc dir = " << d << "/client/ncalrpc\n"
     << "  log file = " << d << "/client/%m.log\n";
  return WriteFileMode(client_config_path(), cc.str(), 0644, error);
}

bool SmbdServer::Prepare(std::string* error) {
  if (user_.empty()) {
    *error = "cannot find the name of uid " + std::to_string(::geteuid());
    return false;
  }
  std::string tmpl =
      (fs::temp_directory_path() / "smbgate-smbd-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    *error = "mkdtemp " + tmpl + ": " + ErrnoText(errno);
    return false;
  }
  dir_ = tmpl;
  ::chmod(dir_.c_str(), 0755);
  for (const char* sub :
       {"share", "readonly", "lock", "state", "cache", "pid", "private",
        "ncalrpc", "binddns", "usershares", "log", "client", "client/lock",
        "client/state", "client/cache", "client/private", "client/ncalrpc"}) {
    if (!MakeDir(dir_ / sub, error)) return false;
  }
  ::chmod((dir_ / "private").c_str(), 0700);
  if (!WriteFileMode(readonly_share_dir() / "readme.txt", "read-only share\n",
                     0644, error)) {
    return false;
  }
  port_ = PickFreePort();
  if (port_ == 0) {
    *error = "no free TCP port on 127.0.0.1";
    return false;
  }
  if (!WriteConfigs(error)) return false;
  // smbpasswd -s reads the password twice from stdin, one line each, and
  // keeps every other byte (spaces included): it never appears in argv.
  const std::string pw = options_.password;
  if (pw.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos) {
    *error = "the test password cannot hold a line break or NUL";
    return false;
  }
  ProcessResult r =
      RunProcess({"smbpasswd", "-c", config_path().string(), "-s", "-a", user_},
                 pw + "\n" + pw + "\n", kToolTimeout);
  if (r.exit_code != 0) {
    *error = "smbpasswd -a " + user_ + " failed (" +
             (r.timed_out ? std::string("timed out")
                          : "exit " + std::to_string(r.exit_code)) +
             "): " + r.output;
    return false;
  }
  prepared_ = true;
  return true;
}

bool SmbdServer::Launch(std::string* error) {
  const std::string smbd = FindProgram("smbd");
  if (smbd.empty()) {
    *error = "smbd not found (apt-get install samba)";
    return false;
  }
  // Samba 4.17 (checked with `smbd --help` and by hand):
  //  --foreground        do not fork into the background; and, because it is
  //                      not forking, smbd watches stdin and exits at EOF if
  //                      stdin is a pipe or socket (source3/smbd/server.c).
  //                      The fixture keeps the write end of that pipe: if the
  //                      test binary dies, even by SIGKILL, smbd exits.
  //  --no-process-group  smbd would otherwise call setsid() itself; the
  //                      child below makes the process group instead, before
  //                      exec, so Stop() can signal smbd and every child it
  //                      forked (one per connection, notifyd, cleanupd)
  //                      without a race.
  //  --debug-stdout      all debug output to stdout, which goes to log_path()
  //                      (per-process log files would scatter it).
  std::vector<std::string> argv = {
      smbd,
      "--foreground",
      "--no-process-group",
      "--debug-stdout",
      "--debuglevel=" + std::to_string(options_.debug_level),
      "--configfile=" + config_path().string()};
  std::vector<std::string> env = ChildEnvironment({});
  std::vector<char*> cargv = CStrings(argv);
  std::vector<char*> cenv = CStrings(env);

  const int log_fd = ::open(log_path().c_str(),
                            O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *error = log_path().string() + ": " + ErrnoText(errno);
    return false;
  }
  const std::string banner =
      "=== smbgate fixture: starting smbd on 127.0.0.1:" +
      std::to_string(port_) + " ===\n";
  [[maybe_unused]] ssize_t n = ::write(log_fd, banner.data(), banner.size());
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + ErrnoText(errno);
    ::close(log_fd);
    return false;
  }
  const std::string dir = dir_.string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ResetChildSignals();
    ::dup2(in[0], 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    ::execve(smbd.c_str(), cargv.data(), cenv.data());
    ExecFailed(smbd.c_str());
  }
  ::close(in[0]);
  ::close(log_fd);
  if (pid < 0) {
    *error = std::string("fork: ") + ErrnoText(errno);
    ::close(in[1]);
    return false;
  }
  ::setpgid(pid, pid);
  pid_ = pid;
  stdin_fd_ = in[1];
  return true;
}

bool SmbdServer::WaitReady(std::string* error) {
  // smbd exited early: clean up the rest of its group and say why.
  auto exited = [&](int status, const char* when) {
    const pid_t pgid = pid_;
    pid_ = -1;
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
    KillGroup(pgid, /*leader_reaped=*/true);
    *error = "smbd exited (" + StatusText(status) + ") " + when + " on " +
             host_ + ":" + std::to_string(port_) + "; " + log_path().string() +
             " ends with:\n" + LogTail();
    return false;
  };
  const auto deadline = Clock::now() + kReadyTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      return exited(status, "before accepting connections");
    }
    if (CanConnect(port_)) {
      // A connection could reach another process that took the port first;
      // smbd then fails to bind and exits, so check it is still there.
      std::this_thread::sleep_for(milliseconds(100));
      if (::waitpid(pid_, &status, WNOHANG) == pid_)
        return exited(status, "right after start");
      return true;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  Stop();
  *error = "smbd did not accept connections on " + host_ + ":" +
           std::to_string(port_) + " within 15 s; " + log_path().string() +
           " ends with:\n" + LogTail();
  return false;
}

bool SmbdServer::Start(std::string* error) {
  if (running()) return true;
  if (!prepared_ && !Prepare(error)) return false;
  // A port picked by PickFreePort can be taken by another process before
  // smbd binds it; then try another.
  for (int attempt = 0;; ++attempt) {
    if (!Launch(error)) return false;
    if (WaitReady(error)) return true;
    const bool port_taken =
        error->find("Address already in use") != std::string::npos;
    if (!port_taken || attempt == 2) return false;
    port_ = PickFreePort();
    if (port_ == 0) return false;  // `error` still says why smbd failed
    if (!WriteConfigs(error)) return false;
  }
}

void SmbdServer::Stop() {
  if (stdin_fd_ >= 0) {
    ::close(stdin_fd_);
    stdin_fd_ = -1;
  }
  if (pid_ <= 0) return;
  const pid_t pgid = pid_;
  pid_ = -1;
  ::kill(-pgid, SIGTERM);
  bool reaped = false;
  const auto deadline = Clock::now() + kStopGrace;
  while (Clock::now() < deadline) {
    const pid_t w = ::waitpid(pgid, nullptr, WNOHANG);
    if (w == pgid || (w < 0 && errno == ECHILD)) {
      reaped = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  KillGroup(pgid, reaped);
}

void SmbdServer::KillGroup(pid_t pgid, bool leader_reaped) {
  // Whatever is left of the group (a child busy with a connection, or smbd
  // itself if SIGTERM was not enough).
  ::kill(-pgid, SIGKILL);
  if (!leader_reaped) ::waitpid(pgid, nullptr, 0);
  // smbd's children are not ours: when smbd exits they are reparented to
  // init, which reaps them when it gets to it. Wait (bounded) until none is
  // alive, so no test sees a stray smbd; zombies do not count.
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (HasLiveProcessInGroup(pgid) && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
}

bool SmbdServer::Restart(std::string* error) {
  if (!prepared_) return Start(error);
  Stop();
  if (!Launch(error)) return false;
  return WaitReady(error);
}

bool SmbdServer::SetPassword(const std::string& new_password,
                             std::string* error) {
  if (!prepared_) {
    *error = "SetPassword before Start";
    return false;
  }
  if (new_password.find_first_of(std::string_view("\n\r\0", 3)) !=
      std::string::npos) {
    *error = "the test password cannot hold a line break or NUL";
    return false;
  }
  ProcessResult r =
      RunProcess({"smbpasswd", "-c", config_path().string(), "-s", user_},
                 new_password + "\n" + new_password + "\n", kToolTimeout);
  if (r.exit_code != 0) {
    *error = "smbpasswd " + user_ + " failed: " + r.output;
    return false;
  }
  options_.password = new_password;
  return true;
}

std::string SmbdServer::LogTail(std::size_t lines) const {
  std::ifstream in(log_path(), std::ios::binary);
  if (!in) return "(no log at " + log_path().string() + ")";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > 65536 ? size - 65536 : 0;
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  std::size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (std::size_t i = 0; i < lines && pos != std::string::npos && pos > 0;
       ++i) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

fs::path SmbdServer::CredentialsFile(std::string* error) const {
  const fs::path p = dir_ / "client" / "credentials";
  return WriteCredentialsFile(p, credentials(), error) ? p : fs::path();
}

fs::path SmbdServer::SecretDirectory(std::string* error) const {
  const fs::path p = dir_ / "client" / "secret";
  return WriteSecretDirectory(p, credentials(), error) ? p : fs::path();
}

SmbdServer* SharedSmbdServer(Dialect d, std::string* error) {
  struct Entry {
    std::unique_ptr<SmbdServer> server;
    std::string error;
  };
  // Destroyed at exit, which stops every shared smbd.
  static std::mutex mu;
  static std::map<Dialect, Entry> servers;
  std::lock_guard<std::mutex> lock(mu);
  auto [it, inserted] = servers.try_emplace(d);
  Entry& e = it->second;
  if (inserted) {
    SmbdOptions o;
    o.min_protocol = d;
    o.max_protocol = d;
    auto s = std::make_unique<SmbdServer>(o);
    if (s->Start(&e.error)) e.server = std::move(s);
  }
  if (!e.server) *error = e.error;
  return e.server.get();
}

}  // namespace smbgate::test
