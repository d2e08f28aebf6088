#include "src/mount.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <thread>

#include "auth/crypto.h"
#include "fuse/dir_stream.h"
#include "fuse/fuse_fs.h"
#include "smb2/client/dfs_fs.h"
#include "smb2/client/dfs_referral_client.h"
#include "smb2/client/names.h"
#include "smb2/client/reconnecting_fs.h"
#include "smb2/client/session.h"
#include "smb2/codec/status.h"
#include "src/connect.h"
#include "src/credentials.h"
#include "src/credentials_watcher.h"
#include "src/dfs.h"
#include "src/http_server.h"
#include "src/metrics.h"
#include "src/sd_notify.h"
#include "src/logging.h"
#include "src/mount_options.h"
#include "src/target.h"

extern char** environ;

namespace smbgate {
namespace {

using namespace std::chrono_literals;

// Reports the outcome of start-up to the parent in the background mode (a
// pipe), or to stderr in the foreground.
class StartupReport {
 public:
  explicit StartupReport(int fd = -1) : fd_(fd) {}
  void Fail(const std::string& line) {
    if (fd_ >= 0) {
      const std::string l = line + "\n";
      (void)!::write(fd_, l.data(), l.size());
      Close();
    } else {
      std::cerr << line << "\n";
    }
  }
  void Ok() {
    if (fd_ >= 0) {
      (void)!::write(fd_, "OK\n", 3);
      Close();
    }
  }
  bool background() const { return fd_ >= 0; }

 private:
  void Close() {
    ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

bool IsFdMountpoint(const std::string& mp) { return mp.rfind("/dev/fd/", 0) == 0; }

// `path` made absolute against the current directory (not resolved: a
// Secret's symlinks are followed when it is read); unchanged if the current
// directory cannot be read.
std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

// Runs a program without a shell; true if it exited 0.
// A response dropped for failing its protection is logged the first time
// each reason is seen (a tampering proxy would otherwise flood the log); the
// metrics count every one.
void LogProtectionFailure(std::error_code why) {
  static std::atomic<std::uint32_t> seen{0};
  const std::uint32_t bit = 1u << (why.value() & 31);
  if (seen.fetch_or(bit) & bit) return;
  LogWarn("dropped a response that failed its protection; the request waits for the genuine one",
          {{"error", why.message()}});
}

// The `cause` label of smbgate_reconnects_total for a lost connection.
const char* LossCause(const std::error_code& ec) {
  if (ec == smb2::client_errc::connection_lost) return "connection_lost";
  if (ec == smb2::client_errc::timeout) return "timeout";
  if (smb2::ReconnectingFs::IsSessionGone(ec)) return "session_expired";
  if (smb2::IsNtStatus(ec) && smb2::NtStatusOf(ec) == smb2::status::kNetworkNameDeleted) return "share_deleted";
  return "other";
}

bool RunQuietly(std::vector<std::string> argv) {
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(s.data());
  a.push_back(nullptr);
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  const int rc = posix_spawnp(&pid, a[0], &fa, nullptr, a.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Checks the mountpoint; replaces a dead FUSE mount left by a killed daemon
// (stat fails with ENOTCONN). Returns an error line, or "" when usable.
std::string PrepareMountpoint(const std::string& mp) {
  if (IsFdMountpoint(mp)) {
    // A /dev/fuse descriptor mounted by a privileged helper (libfuse >= 3.3).
    const int fd = std::atoi(mp.c_str() + 8);
    if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) {
      return "mountpoint " + mp + ": no such open file descriptor (the helper must pass an open /dev/fuse descriptor)";
    }
    return "";
  }
  struct stat st;
  // statx(AT_STATX_FORCE_SYNC) asks the filesystem itself: stat(2) of a
  // dead FUSE mount is answered from the kernel's attribute cache for up to
  // actimeo after the daemon died.
  struct statx sx;
  if (::statx(AT_FDCWD, mp.c_str(), AT_STATX_FORCE_SYNC, STATX_TYPE, &sx) != 0 && errno == ENOTCONN) {
    // A previous daemon died and left its mount behind: detach it, as a
    // new mount.cifs would have to, then use the directory again.
    if (!RunQuietly({"fusermount3", "-u", "-z", mp}) && ::umount2(mp.c_str(), MNT_DETACH) != 0) {
      return "mountpoint " + mp + " holds a dead mount that could not be removed (run: fusermount3 -u -z " + mp + ")";
    }
    LogWarn("replaced a dead mount left by a previous daemon", {{"mountpoint", mp}});
  }
  if (::stat(mp.c_str(), &st) != 0) {
    if (errno == ENOENT) return "mountpoint " + mp + " does not exist (create it: mkdir -p " + mp + ")";
    return "mountpoint " + mp + ": " + std::strerror(errno);
  }
  if (!S_ISDIR(st.st_mode)) return "mountpoint " + mp + " is not a directory";
  DIR* d = ::opendir(mp.c_str());
  if (!d) return "mountpoint " + mp + ": " + std::strerror(errno);
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  if (!empty) return "mountpoint " + mp + " is not empty (mount on an empty directory so no files are hidden)";
  return "";
}

// Everything one connection attempt needs; re-reads the credentials each
// time so a rotated password is used by the next session setup.
struct Connector {
  MountConfig cfg;
  Target target;
  Metrics* metrics;
  // One ClientGuid for every connection of this mount: the server finds
  // durable and replayed opens by it (MS-SMB2 3.3.5.9.12).
  std::array<std::uint8_t, 16> client_guid{};
  // A DFS mount's sessions by server, for referral requests (null otherwise).
  std::shared_ptr<DfsSessions> dfs_sessions;

  // Connects; when the server rejects the credentials, reads them again
  // once (a rotation may have landed since) and retries if they changed.
  Result<std::shared_ptr<smb2::SmbFs>> Connect(std::string* error) const {
    std::optional<CredentialsFingerprint> used;
    auto r = ConnectOnce(error, &used);
    if (r || !IsCredentialRejection(r.error())) return r;
    std::this_thread::sleep_for(1s);
    auto again = LoadCredentials(cfg.credentials, nullptr, nullptr);
    if (!again || (used && Fingerprint(*again) == *used)) return r;
    LogInfo("credentials were rejected; retrying once with the newer ones on disk");
    return ConnectOnce(error, &used);
  }

  static bool IsCredentialRejection(const std::error_code& ec) {
    if (!smb2::IsNtStatus(ec)) return false;
    switch (smb2::NtStatusOf(ec)) {
      case smb2::status::kLogonFailure:
      case smb2::status::kWrongPassword:
      case smb2::status::kPasswordExpired:
      case smb2::status::kPasswordMustChange:
      case smb2::status::kNoSuchUser:
        return true;
      default:
        return false;
    }
  }

  // Logs each authentication and counts it in the metrics under `server`.
  std::function<void(const AuthEvent&)> AuthRecorder(std::string server) const {
    Metrics* m = metrics;
    return [m, server = std::move(server)](const AuthEvent& ev) {
      // A server that was never reached is the connect error's line, not
      // an authentication's.
      if (ev.reached_session_setup) LogAuthentication(ev);
      // Label values stay bounded: "success", an NTSTATUS name, or "error".
      const bool named =
          ev.result == "success" || ev.result.rfind("STATUS_", 0) == 0 || ev.result.rfind("NTSTATUS", 0) == 0;
      m->AuthAttempt(named ? ev.result : "error", ev.failure_class, ev.duration_ms / 1000, server);
      if (ev.result == "success") m->SessionSetup();
    };
  }

  // A domain-based DFS namespace: the root servers the domain's DCs name
  // for `target` (ResolveDomainRoot), or nullopt for any other share.
  Result<std::optional<std::vector<Target>>> DomainRoots(std::vector<DfsHop>* hops, std::string* error) const {
    auto creds = LoadCredentials(cfg.credentials, nullptr, error);
    if (!creds) return creds.error();
    if (!cfg.domain.empty() && creds->domain.empty()) creds->domain = cfg.domain;
    smb2::ConnectionOptions o;
    if (cfg.vers) o.min_dialect = o.max_dialect = *cfg.vers;
    o.seal = cfg.seal;
    o.client_guid = client_guid;
    ConnectReport report;
    auto r = ResolveDomainRoot(target, *creds, o, cfg.spn, hops, error, &report,
                               AuthRecorder(metrics->ServerLabel(DisplayServer(target))));
    if (!r) {
      if (const std::string fix = LikelyFix(report.failed_stage, r.error()); !fix.empty()) {
        *error += " (likely fix: " + fix + ")";
      }
    }
    return r;
  }

  Result<std::shared_ptr<smb2::SmbFs>> ConnectOnce(std::string* error,
                                                   std::optional<CredentialsFingerprint>* used) const {
    std::vector<std::string> warnings;
    std::string msg;
    auto creds = LoadCredentials(cfg.credentials, &warnings, &msg);
    for (const auto& w : warnings) LogWarn(w);
    if (!creds) {
      metrics->CredentialsReadFailure();
      *error = msg;
      return creds.error();
    }
    metrics->SetCredentialsChanged(CredentialsChangedTime(cfg.credentials));
    *used = Fingerprint(*creds);
    if (!cfg.domain.empty() && creds->domain.empty()) creds->domain = cfg.domain;
    smb2::ConnectionOptions o;
    if (cfg.vers) o.min_dialect = o.max_dialect = *cfg.vers;
    // Every connection, the first and each reconnect, is built here.
    o.seal = cfg.seal;
    o.client_guid = client_guid;
    std::uint32_t io = 8u << 20;
    if (cfg.rsize) io = std::min(io, cfg.rsize);
    if (cfg.wsize) io = std::min(io, cfg.wsize);
    o.max_io_size = io;
    Metrics* m = metrics;
    // The server actually used (a DFS target has its own Connector) labels
    // the metrics, bounded by Metrics::ServerLabel.
    const std::string server = m->ServerLabel(DisplayServer(target));
    o.on_response = [m, server](smb2::Command c, std::uint32_t status, std::chrono::nanoseconds elapsed) {
      m->SmbRequest(smb2::CommandName(c), smb2::NtStatusName(status),
                    std::chrono::duration<double>(elapsed).count(), server);
    };
    o.on_protection_failure = [m](std::error_code why) {
      if (why == smb2::client_errc::unsigned_response) {
        m->UnsignedResponse();
      } else if (why == smb2::client_errc::unencrypted_response || why == smb2::client_errc::decryption_failed) {
        m->EncryptionFailure();
      } else {
        m->BadSignature();
      }
      LogProtectionFailure(why);
    };
    ConnectReport report;
    auto share = ConnectToShare(target, *creds, o, cfg.spn, error, AuthRecorder(server), &report);
    if (report.negotiate.count() > 0) m->ServerRtt(std::chrono::duration<double>(report.negotiate).count());
    if (!share && share.error() == smb2::client_errc::guest_session_refused) m->GuestRefused();
    if (!share) {
      // The same "(likely fix: ...)" as `smbgate check`, so the one line a
      // failed mount prints names the cause and what to change.
      if (const std::string fix = LikelyFix(report.failed_stage, share.error()); !fix.empty()) {
        *error += " (likely fix: " + fix + ")";
      }
      // The server ended the connection over a rewritten negotiation.
      if (share.error() == smb2::client_errc::validate_negotiate_failed) m->DowngradeRefusal();
      return share.error();
    }
    if (dfs_sessions) dfs_sessions->Put(target.host, share->session);
    return std::make_shared<smb2::SmbFs>(share->tree, target.subdir);
  }
};

// Every ReconnectingFs of a mount (the share's and, with DFS, each target
// share's). Thread-safe.
class DfsTargets {
 public:
  // `root`: the share the mount is of, or with a domain namespace one of its
  // root targets.
  void Add(std::shared_ptr<smb2::ReconnectingFs> fs, bool root = false) {
    std::lock_guard<std::mutex> l(mu_);
    all_.push_back(std::move(fs));
    if (root) roots_.push_back(all_.back());
  }
  // Any session up: with DFS a dead target alone must not make a pod unready
  // while its link fails over to another.
  bool up() {
    std::lock_guard<std::mutex> l(mu_);
    return std::any_of(all_.begin(), all_.end(), [](const auto& f) { return f->up(); });
  }
  // A session up with the namespace's share (any of its root targets).
  bool root_up() {
    std::lock_guard<std::mutex> l(mu_);
    return std::any_of(roots_.begin(), roots_.end(), [](const auto& f) { return f->up(); });
  }
  // smbgate_session_up from root_up(), one writer at a time: two root
  // sessions lost at once must not leave the last write a stale 1.
  void PublishSessionUp(Metrics& m) {
    std::lock_guard<std::mutex> l(publish_mu_);
    m.SetSessionUp(root_up());
  }
  void Stop() {
    for (auto& f : Copy()) f->Stop();
  }
  void Logoff() {
    for (auto& f : Copy()) {
      if (auto fs = f->current()) {
        (void)fs->tree()->Disconnect();
        (void)fs->tree()->session().Logoff();
      }
    }
  }

 private:
  std::vector<std::shared_ptr<smb2::ReconnectingFs>> Copy() {
    std::lock_guard<std::mutex> l(mu_);
    return all_;
  }
  std::mutex mu_;
  std::mutex publish_mu_;
  std::vector<std::shared_ptr<smb2::ReconnectingFs>> all_;
  std::vector<std::shared_ptr<smb2::ReconnectingFs>> roots_;
};

// How long a request waits for a dead target of a link with several targets
// before it goes to the next one, and the longest reconnect backoff of such a
// target (so it is back soon after its server is).
constexpr auto kFailoverWait = std::chrono::seconds(5);
constexpr auto kFailoverMaxBackoff = std::chrono::seconds(2);

// Waits for a dead target of a link (or namespace root) with several
// targets only as long as a failover does.
smb2::ReconnectingFs::Options ForFailover(smb2::ReconnectingFs::Options o) {
  o.wait_limit = std::min<std::chrono::milliseconds>(o.wait_limit, kFailoverWait);
  o.max_backoff = kFailoverMaxBackoff;
  return o;
}

// The DfsFs of a mount of a DFS namespace share: `root` is the share's
// filesystem; each target share gets a Connector and a ReconnectingFs of its
// own (same credentials, ClientGuid and options; its own server in logs and
// metrics); referrals are asked on a session the mount already has with that
// server, else on a new one to its IPC$. `root_referral`: a domain
// namespace's root servers, `root` being the one in use; another of them,
// when the namespace fails over to it, gets `ro` as the root's (its losses
// and reconnects are the mount's session's).
std::shared_ptr<smb2::DfsFs> MakeDfsFs(const std::shared_ptr<Connector>& root_connector,
                                       std::shared_ptr<smb2::ReconnectingFs> root,
                                       const smb2::ReconnectingFs::Options& ro, std::shared_ptr<DfsTargets> all,
                                       const Target& target,
                                       std::optional<smb2::DfsReferralCache::Entry> root_referral) {
  std::vector<std::string> root_shares;  // "\server\share" of each root target
  if (root_referral) {
    for (const std::string& t : root_referral->targets) {
      if (auto u = smb2::SplitUnc(t)) root_shares.push_back("\\" + u->server + "\\" + u->share);
    }
  }
  smb2::DfsFs::Hooks hooks;
  hooks.connect = [root_connector, ro, all, root_shares](const std::string& server, const std::string& share,
                                                         bool several) -> Result<std::shared_ptr<smb2::RemoteFs>> {
    auto c = std::make_shared<Connector>(*root_connector);
    c->target = Target{server, kDefaultSmbPort, share, ""};
    c->cfg.spn.clear();  // a configured SPN names the namespace's server
    std::string e;
    auto fs = c->Connect(&e);
    if (!fs) {
      LogWarn("DFS target unreachable", {{"target", c->target.ToString()}, {"error", e}});
      return fs.error();
    }
    auto o = several ? ForFailover(ro) : ro;
    const std::string where = DisplayServer(c->target);
    // A whole share covers only itself: a case-insensitive comparison.
    const bool root_target = std::any_of(root_shares.begin(), root_shares.end(), [&](const std::string& t) {
      return smb2::CoversPath(t, "\\" + server + "\\" + share);
    });
    if (!root_target) {
      // smbgate_session_up follows the namespace's own server: a dead target
      // that its link failed over from must not hold it at 0 (the alert would
      // fire for a mount that works).
      o.on_down = [where](std::error_code ec) {
        LogWarn("connection to a DFS target lost; reconnecting", {{"server", where}, {"error", ec.message()}});
      };
      o.on_reconnected = [where] { LogInfo("reconnected to a DFS target", {{"server", where}}); };
    }
    auto r = smb2::ReconnectingFs::Create(
        *fs,
        [c]() -> Result<std::shared_ptr<smb2::SmbFs>> {
          std::string err;
          auto f = c->Connect(&err);
          if (!f) LogDebug("reconnect to a DFS target failed", {{"error", err}});
          return f;
        },
        o);
    all->Add(r, root_target);
    LogInfo(root_target ? "connected to a root target of the DFS namespace" : "connected to a DFS target",
            {{"target", c->target.ToString()}});
    if (root_target) all->PublishSessionUp(*root_connector->metrics);
    return std::shared_ptr<smb2::RemoteFs>(r);
  };
  hooks.referral = [root_connector](const std::string& server,
                                    const std::string& path) -> Result<smb2::DfsReferralResponse> {
    if (auto s = root_connector->dfs_sessions->Get(server)) {
      auto r = smb2::GetDfsReferral(s, server, path);
      if (r || !smb2::ReconnectingFs::IsConnectionError(r.error())) return r;
    }
    // No session with that server yet (or it just died): one to its IPC$,
    // kept only for this request.
    Connector c = *root_connector;
    c.target = Target{server, kDefaultSmbPort, "IPC$", ""};
    c.cfg.spn.clear();
    std::string e;
    auto ipc = c.Connect(&e);
    if (!ipc) return ipc.error();
    auto s = root_connector->dfs_sessions->Get(server);
    if (!s) return make_error_code(smb2::client_errc::connection_lost);
    auto r = smb2::GetDfsReferral(s, server, path);
    (void)(*ipc)->tree()->Disconnect();
    (void)(*ipc)->tree()->session().Logoff();
    return r;
  };
  hooks.on_referral = [](const smb2::DfsReferralCache::Entry& e) {
    std::string targets;
    for (const auto& t : e.targets) targets += (targets.empty() ? "" : ",") + t;
    LogInfo("DFS referral", {{"path", e.prefix}, {"targets", targets}, {"using", e.target()},
                             {"ttl_s", std::to_string(e.ttl_s)}});
  };
  hooks.on_referral_failed = [](const std::string& path, const std::string& server, std::error_code ec) {
    LogWarn("DFS referral request failed", {{"path", path}, {"server", server}, {"error", ec.message()}});
  };
  hooks.on_failover = [](const std::string& prefix, const std::string& from, const std::string& to,
                         std::error_code why) {
    LogWarn("DFS target failed; using the next target of the link",
            {{"path", prefix}, {"from", from}, {"to", to}, {"error", why.message()}});
  };
  auto dfs = smb2::DfsFs::Create(DfsPathOf(target), std::move(root), std::move(hooks), std::move(root_referral));
  // Follow the referrals of the mount's own path now: the log says where it
  // lives, and the first request does not wait for them.
  if (auto where = dfs->Resolve("")) {
    LogInfo("DFS namespace mounted", {{"path", DfsPathOf(target)}, {"served_by", *where}});
  }
  return dfs;
}

void BlockStopSignals(bool block) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGHUP);
  pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &s, nullptr);
}

int Serve(const MountConfig& cfg, const Target& target, StartupReport& report) {
  if (auto r = InitLogging(cfg.log_level, cfg.log_format); !r) {
    report.Fail("log_level " + cfg.log_level + " is not valid");
    return 2;
  }
  // Threads made from here on (SMB connections, reconnects) must not take
  // the stop signals: they belong to the FUSE loop below.
  BlockStopSignals(true);
  ::signal(SIGPIPE, SIG_IGN);

  Metrics& metrics = GlobalMetrics();
  auto connector = std::make_shared<Connector>(Connector{cfg, target, &metrics, {}, std::make_shared<DfsSessions>()});
  auth::OsRandom()(connector->client_guid);
  std::string error;
  // A domain-based namespace (//domain/namespace/...): the first of its root
  // servers that answers is mounted as the namespace.
  std::vector<DfsHop> domain_hops;
  auto roots = connector->DomainRoots(&domain_hops, &error);
  if (!roots) {
    report.Fail(error);
    return 1;
  }
  Result<std::shared_ptr<smb2::SmbFs>> initial = make_error_code(smb2::errc::malformed_response);
  // The namespace's root referral, its active target the one mounted: the
  // mount fails over between root targets as between a link's.
  std::optional<smb2::DfsReferralCache::Entry> root_referral;
  if (!*roots) {
    initial = connector->Connect(&error);
  } else {
    const DfsHop& h = domain_hops.front();
    std::string why;
    for (std::size_t k = 0; k < (*roots)->size() && !initial; ++k) {
      connector->target = (**roots)[k];
      initial = connector->Connect(&why);
      if (initial) {
        LogInfo("DFS domain namespace: mounting a root target", {{"path", h.prefix}, {"target", h.targets[k]}});
        smb2::DfsReferralCache::Entry e;
        e.prefix = h.prefix;
        e.targets = h.targets;
        e.active = k;
        e.ttl_s = h.ttl_s;
        e.root = true;
        root_referral = std::move(e);
      } else {
        error = "DFS root target " + h.targets[k] + " of " + h.prefix + ": " + why;
      }
    }
  }
  if (!initial) {
    report.Fail(error);
    return 1;
  }
  // A DFS namespace share (or a domain namespace's root target): the root's
  // filesystem is the whole share, and DfsFs (below) routes the mount's
  // paths, the subdirectory included.
  const bool dfs = IsDfsShare(*(*initial)->tree()) || root_referral;
  if (dfs) {
    connector->target.subdir.clear();
    *initial = std::make_shared<smb2::SmbFs>((*initial)->tree());
  }

  // A rotated Secret is picked up by the next session setup (Connector
  // reads the files each time); the watcher makes the rotation visible.
  CredentialsWatcher watcher(cfg.credentials, 10s, [&metrics, path = cfg.credentials](const std::string& user,
                                                                                      const std::string& domain) {
    metrics.CredentialRotation();
    metrics.SetCredentialsChanged(CredentialsChangedTime(path));
    LogInfo("credentials rotated; the next session setup uses them", {{"path", path}, {"user", user}, {"domain", domain}});
  });
  if (std::string werr; !watcher.Start(&werr)) LogWarn("credentials are not watched", {{"error", werr}});

  // Every ReconnectingFs of the mount: the share's, and with DFS one per
  // target share followed.
  auto all_fs = std::make_shared<DfsTargets>();
  smb2::ReconnectingFs::Options ro;
  // The cause of the last loss, for the reconnect that ends it.
  auto loss_cause = std::make_shared<std::atomic<const char*>>("other");
  ro.on_down = [&metrics, loss_cause, weak_all = std::weak_ptr<DfsTargets>(all_fs)](std::error_code ec) {
    // Down when no root target of the namespace is up (one is all a mount
    // of a plain share has).
    if (auto all = weak_all.lock()) all->PublishSessionUp(metrics);
    loss_cause->store(LossCause(ec));
    LogWarn("connection to the server lost; reconnecting", {{"error", ec.message()}});
  };
  ro.on_echo = [&metrics](std::chrono::nanoseconds rtt) {
    metrics.ServerRtt(std::chrono::duration<double>(rtt).count());
  };
  ro.on_refused = [&metrics, server = DisplayServer(target)](const std::string& what) {
    metrics.DowngradeRefusal();
    LogError("reconnect refused: the server's identity or security changed since the first connection",
             {{"server", server}, {"changed", what}});
  };
  ro.on_reconnected = [&metrics, loss_cause, weak_all = std::weak_ptr<DfsTargets>(all_fs)] {
    metrics.Reconnect(loss_cause->load());
    if (auto all = weak_all.lock()) all->PublishSessionUp(metrics);
    LogInfo("reconnected to the server");
  };
  ro.wait_limit = cfg.hard ? std::chrono::milliseconds::max()
                           : std::chrono::milliseconds(static_cast<std::int64_t>(cfg.soft_timeout * 1000));
  ro.on_reclaim = [](const std::string& path, std::error_code refused) {
    if (!refused) {
      LogDebug("durable handle reclaimed", {{"path", path}});
    } else {
      LogWarn("the server refused to give back a durable handle; reopened by path (its byte-range locks are taken "
              "again where still free)",
              {{"path", path}, {"error", refused.message()}});
    }
  };
  ro.on_lock_lost = [](const std::string& path, std::error_code why) {
    LogError("a byte-range lock was lost across the reconnect (another client holds the range now); I/O on that open "
             "file fails with EIO until it is closed",
             {{"path", path}, {"error", why.message()}});
  };
  // A namespace with several root targets fails over as a link does.
  const bool several_roots = root_referral && root_referral->targets.size() > 1;
  auto rfs = smb2::ReconnectingFs::Create(
      *initial,
      [connector]() -> Result<std::shared_ptr<smb2::SmbFs>> {
        std::string e;
        auto fs = connector->Connect(&e);
        if (!fs) LogWarn("reconnect failed", {{"error", e}});
        return fs;
      },
      several_roots ? ForFailover(ro) : ro);
  all_fs->Add(rfs, /*root=*/true);
  std::shared_ptr<smb2::RemoteFs> remote = rfs;
  if (dfs) remote = MakeDfsFs(connector, rfs, ro, all_fs, target, std::move(root_referral));

  // The subdirectory must exist before anything is mounted on it.
  if (!target.subdir.empty()) {
    auto st = smb2::Wait<smb2::FileAttributes>([&](auto cb) { remote->Stat("", cb); });
    if (!st || !st->is_directory()) {
      all_fs->Stop();
      report.Fail("subdirectory " + target.subdir + " of " + target.UncPath() +
                  (st ? " is not a directory" : ": " + st.error().message()));
      return 1;
    }
  }

  // Leftovers of silly renames of a crashed daemon at the top of the share
  // go now (deeper ones when their directory is next listed).
  // Read a page at a time (a share's top may hold a million names), keeping
  // none.
  auto sweep = std::make_shared<fuse::DirStream>(
      remote, [] { return std::optional<std::string>(""); },
      [remote](const smb2::DirectoryEntry& e) {
        if (fuse::IsHidden(e.name)) remote->Unlink(e.name, [](Result<void>) {});
        return false;
      },
      0, nullptr);
  sweep->Read(0, [sweep](auto) {});

  fuse::FsOptions fo;
  fo.uid = cfg.uid ? *cfg.uid : ::getuid();
  fo.gid = cfg.gid ? *cfg.gid : ::getgid();
  fo.file_mode = cfg.file_mode;
  fo.dir_mode = cfg.dir_mode;
  fo.read_only = cfg.read_only;
  fo.allow_other = cfg.allow_other;
  fo.actimeo = cfg.actimeo;
  fo.close_timeout = cfg.closetimeo;
  fo.cache = cfg.cache == MountConfig::Cache::kNone    ? fuse::CacheMode::kNone
             : cfg.cache == MountConfig::Cache::kLoose ? fuse::CacheMode::kLoose
                                                       : fuse::CacheMode::kStrict;
  fo.max_io = std::min<std::uint32_t>(1u << 20, std::max<std::uint32_t>(remote->max_io_size(), 4096));
  fo.fsname = target.ToString();
  fo.on_operation = [&metrics](const char* op, int err, double seconds) { metrics.FuseOp(op, err, seconds); };
  fo.waiting_for_server = [all_fs] { return !all_fs->up(); };
  fo.on_lease_break = [&metrics] { metrics.LeaseBreak(); };
  fo.on_data = [&metrics](std::uint64_t r, std::uint64_t w) {
    if (r) metrics.BytesRead(r);
    if (w) metrics.BytesWritten(w);
  };
  metrics.SetSessionUp(true);

  std::atomic<bool> mounted{false};
  // The mount, while there is one, for the gauges /metrics shows.
  std::atomic<fuse::FuseFs*> live{nullptr};
  std::unique_ptr<HttpServer> http;
  if (cfg.metrics_port) {
    HttpHandlers h;
    // Liveness: the process answers. It never looks at the server: killing
    // the sidecar for a server outage would destroy the mount.
    h.healthy = [] { return true; };
    h.ready = [&mounted, all_fs] { return mounted.load() && all_fs->up(); };
    h.not_ready_reason = [&mounted] {
      return std::string(!mounted ? "not mounted" : "no session with the server (reconnecting)");
    };
    h.metrics = [&metrics, &live] {
      if (fuse::FuseFs* m = live.load()) {
        metrics.SetFuseObjects(static_cast<double>(m->inodes()), static_cast<double>(m->open_files()),
                               static_cast<double>(m->open_dirs()), static_cast<double>(m->cached_entries()));
      }
      return metrics.RenderPrometheus();
    };
    auto started = HttpServer::Start(cfg.metrics_address, cfg.metrics_port, h);
    if (!started) {
      all_fs->Stop();
      report.Fail("metrics: cannot listen on " + cfg.metrics_address + ":" + std::to_string(cfg.metrics_port) + ": " +
                  started.error().message());
      return 1;
    }
    http = std::move(*started);
  }
  auto mount = fuse::FuseFs::Mount(remote, cfg.mountpoint, fo, &error);
  if (!mount) {
    all_fs->Stop();
    report.Fail(error);
    return 1;
  }
  if (!mount->InstallSignalHandlers()) LogWarn("could not install signal handlers");
  live = mount.get();

  // "Mounted" means the mount answers: stat it from another thread while
  // the loop below serves it, then tell the parent.
  std::atomic<bool> loop_ended{false};
  std::thread ready([&cfg, &report, &target, &loop_ended, &mounted, &metrics, &mount] {
    // "Mounted" means the kernel finished FUSE INIT with this daemon: from
    // then on the mount answers. The daemon never stats its own mount: a
    // thread blocked on a request to its own process would keep a killed
    // daemon from ever exiting, and the mount would hang for good.
    bool answered = false;
    for (int i = 0; i < 200 && !answered && !loop_ended; ++i) answered = mount->WaitInitialized(50ms);
    if (!answered) {
      report.Fail("mount on " + cfg.mountpoint + " did not answer (see the log above)");
      return;
    }
    LogInfo("mounted", {{"share", target.ToString()}, {"mountpoint", cfg.mountpoint}});
    mounted = true;
    metrics.SetMounted(true);
    // systemd Type=notify units wait for this (no-op without NOTIFY_SOCKET).
    NotifySystemdReady();
    report.Ok();
  });
  BlockStopSignals(false);
  const int rc = mount->Run();
  loop_ended = true;
  BlockStopSignals(true);
  ready.join();
  mounted = false;
  metrics.SetMounted(false);

  NotifySystemdStopping();
  LogInfo("stopping: closing files and unmounting", {{"mountpoint", cfg.mountpoint}});
  mount->Shutdown(30s);
  watcher.Stop();
  if (auto d = std::dynamic_pointer_cast<smb2::DfsFs>(remote)) d->Stop();
  all_fs->Stop();
  all_fs->Logoff();
  live = nullptr;
  if (http) http->Stop();  // no scrape runs past here
  mount.reset();
  LogInfo("stopped");
  return rc == 0 ? 0 : 1;
}

}  // namespace

int RunMount(const std::vector<std::string>& args) {
  std::string error;
  auto cfg = ParseMountArgs(args, &error);
  if (!cfg) {
    std::cerr << error << "\n";
    return 2;
  }
  auto target = ParseTarget(cfg->target, &error);
  if (!target) {
    std::cerr << error << "\n";
    return 2;
  }
  // Bad input is reported before anything starts.
  {
    std::vector<std::string> warnings;
    auto creds = LoadCredentials(cfg->credentials, &warnings, &error);
    for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
    if (!creds) {
      std::cerr << error << "\n";
      return 2;
    }
  }
  // The background daemon works from "/": a relative credentials path or
  // mountpoint must mean what it meant in the caller's directory.
  if (!IsFdMountpoint(cfg->mountpoint)) cfg->mountpoint = AbsolutePath(cfg->mountpoint);
  cfg->credentials = AbsolutePath(cfg->credentials);
  if (std::string e = PrepareMountpoint(cfg->mountpoint); !e.empty()) {
    std::cerr << e << "\n";
    return 1;
  }
  if (cfg->foreground) {
    StartupReport report;
    return Serve(*cfg, *target, report);
  }

  // Background: the child serves; the parent exits once the mount answers
  // (or with the child's one-line error), like mount(8) expects.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::cerr << "mount: pipe: " << std::strerror(errno) << "\n";
    return 1;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::cerr << "mount: fork: " << std::strerror(errno) << "\n";
    return 1;
  }
  if (pid == 0) {
    ::close(fds[0]);
    ::setsid();
    if (::chdir("/") != 0) return 1;
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      // Not the caller's stderr either: `$(smbgate mount ...)` and other
      // callers that read to EOF would wait until the unmount. Start-up
      // errors reach the caller through the pipe.
      ::dup2(null, 2);
      ::close(null);
    }
    LogToSyslog("smbgate");
    StartupReport report(fds[1]);
    ::_exit(Serve(*cfg, *target, report));
  }
  ::close(fds[1]);
  std::string msg;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      msg.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fds[0]);
  if (msg == "OK\n") return 0;
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (msg.empty()) msg = "mount: the daemon exited before the mount was ready\n";
  std::cerr << msg;
  return WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1;
}

}  // namespace smbgate
