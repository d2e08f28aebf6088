// A real Samba server (Debian's smbd) for integration tests: started on
// 127.0.0.1 and a free TCP port, in a private temporary directory, with
// mandatory signing and NTLMv2 only, one protocol range per instance.
//
// Needs root (CI runs as root): the SMB user is the effective unix user and
// smbd itself does not run unprivileged. Use SMBGATE_REQUIRE_SMBD() at the
// top of a test to skip it otherwise.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace smbgate::test {

// The dialects smbd is asked to speak, in order.
enum class Dialect { kSmb2_02, kSmb2_10, kSmb3_00, kSmb3_02, kSmb3_11 };
inline constexpr std::array<Dialect, 5> kAllDialects = {
    Dialect::kSmb2_02, Dialect::kSmb2_10, Dialect::kSmb3_00, Dialect::kSmb3_02,
    Dialect::kSmb3_11};
// Samba's name for it, as in `server max protocol = SMB3_11`; also a good
// test name suffix.
const char* SambaProtocolName(Dialect d);
// The DialectRevision of MS-SMB2 2.2.4 (0x0202, 0x0210, 0x0300, 0x0302,
// 0x0311).
std::uint16_t DialectRevision(Dialect d);

// The password of the test user: every character that broke other clients'
// mounts (`, ; \ $ = "`, a space) and a non-ASCII one. No leading or trailing
// blank: smbclient's -A file parser trims them (checked with Samba 4.17).
inline constexpr std::string_view kDefaultTestPassword =
    "p@ss, w0rd;\\$\"=\\ x\xC3\xBC";  // p@ss, w0rd;\$"=\ xü

// User name, password and domain, as written into credentials files.
struct TestCredentials {
  std::string user;
  std::string password;
  std::string domain;
};

// Writes `username=`, `password=`, `domain=` lines (mode 0600): the
// mount.cifs credentials format, which is also smbclient's -A format.
[[nodiscard]] bool WriteCredentialsFile(const std::filesystem::path& path,
                                        const TestCredentials& creds,
                                        std::string* error);
// Writes (or updates) a Kubernetes Secret volume at `dir` the way the
// kubelet's AtomicWriter does: a new `..<timestamp>` directory with the files
// `username`, `password`, `domain` (mode 0644), `..data` swapped to it by
// rename, `username -> ..data/username` and so on, and the previous version
// removed. Calling it again is a Secret rotation.
[[nodiscard]] bool WriteSecretDirectory(const std::filesystem::path& dir,
                                        const TestCredentials& creds,
                                        std::string* error);

struct SmbdOptions {
  Dialect min_protocol = Dialect::kSmb2_02;
  Dialect max_protocol = Dialect::kSmb3_11;
  std::string password = std::string(kDefaultTestPassword);
  // smbd's debug level (-d); 1 keeps the log short, 3 shows authentication.
  int debug_level = 1;
  // More `name = value` lines for [global], e.g. "smb encrypt = required".
  std::vector<std::string> extra_global;
  // More lines for the read-write [share], e.g. "smb encrypt = required".
  std::vector<std::string> extra_share;
};

// One smbd. Not thread-safe: use one instance from one thread at a time
// (the servers of SharedSmbdServer are only read after start).
class SmbdServer {
 public:
  // Whether the fixture can run here: root, and smbd and smbpasswd installed.
  // If not, `why` says what is missing.
  static bool Available(std::string* why);

  explicit SmbdServer(SmbdOptions options = {});
  SmbdServer(const SmbdServer&) = delete;
  SmbdServer& operator=(const SmbdServer&) = delete;
  // Stops smbd (the whole process group) and removes the directory, unless
  // SMBGATE_KEEP_SMBD_DIR is set in the environment.
  ~SmbdServer();

  // Creates the directory, smb.conf and the passdb user, starts smbd on a
  // free port and waits (at most 15 s) until it accepts connections. On
  // failure `error` says why, with the tail of smbd's log.
  [[nodiscard]] bool Start(std::string* error);
  // Stops smbd and all its children: SIGTERM to the process group, SIGKILL
  // after 5 s. Idempotent.
  void Stop();
  // Stop() and start again on the same port, directory and passdb.
  [[nodiscard]] bool Restart(std::string* error);
  // Changes the user's password in the passdb (smbpasswd, password on
  // stdin); a running smbd uses it for the next authentication.
  [[nodiscard]] bool SetPassword(const std::string& new_password,
                                 std::string* error);
  bool running() const { return pid_ > 0; }

  const std::string& host() const { return host_; }  // "127.0.0.1"
  std::uint16_t port() const { return port_; }
  // The read-write share and its directory on disk (the server's copy).
  std::string share() const { return "share"; }
  std::filesystem::path share_dir() const { return dir_ / "share"; }
  // A read-only share holding readme.txt.
  std::string readonly_share() const { return "readonly"; }
  std::filesystem::path readonly_share_dir() const { return dir_ / "readonly"; }
  // `//127.0.0.1:PORT/share`, as smbgate takes it.
  std::string Target() const;

  // The SMB user: the name of the effective unix user (root in CI), which
  // smbd maps to that account.
  const std::string& user() const { return user_; }
  const std::string& password() const { return options_.password; }
  // TESTDOM, the workgroup. A standalone smbd (4.17) authenticates local
  // passdb accounts whatever domain the client names: TESTDOM, the netbios
  // name, an empty or an unknown domain all work (fixture_test checks two).
  const std::string& domain() const { return domain_; }
  TestCredentials credentials() const {
    return {user_, options_.password, domain_};
  }
  Dialect min_protocol() const { return options_.min_protocol; }
  Dialect max_protocol() const { return options_.max_protocol; }

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path config_path() const { return dir_ / "smb.conf"; }
  // A client smb.conf (for smbclient -s): workgroup, client signing
  // required, and its caches inside dir().
  std::filesystem::path client_config_path() const {
    return dir_ / "client.conf";
  }
  // smbd's stdout and stderr (all of its debug output), kept over restarts.
  std::filesystem::path log_path() const { return dir_ / "smbd.log"; }
  // The last `lines` lines of the log, for failure messages.
  std::string LogTail(std::size_t lines = 40) const;

  // Writes the current credentials to dir()/client/credentials (mount.cifs
  // format) or to the Secret volume dir()/client/secret (a rotation if it
  // exists) and returns the path; empty on failure, with `error` set.
  std::filesystem::path CredentialsFile(std::string* error) const;
  std::filesystem::path SecretDirectory(std::string* error) const;

 private:
  bool Prepare(std::string* error);
  bool Launch(std::string* error);
  bool WaitReady(std::string* error);
  bool WriteConfigs(std::string* error);
  // SIGKILL to what is left of smbd's process group, then a bounded wait
  // until no member is alive.
  static void KillGroup(pid_t pgid, bool leader_reaped);

  SmbdOptions options_;
  std::string host_ = "127.0.0.1";
  std::string domain_ = "TESTDOM";
  std::string user_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  bool prepared_ = false;
  pid_t pid_ = -1;     // smbd's main process, leader of its process group
  int stdin_fd_ = -1;  // write end of smbd's stdin: it exits at EOF
};

// One server per dialect (min = max = `d`), started on first use and shared
// by every test of the binary until exit. Tests must not Stop, Restart or
// SetPassword these: make their own SmbdServer for that. Returns null with
// `error` set if it cannot start (and does not retry). Thread-safe.
SmbdServer* SharedSmbdServer(Dialect d, std::string* error);

// The outcome of RunProcess.
struct ProcessResult {
  bool started = false;    // fork and exec worked
  bool timed_out = false;  // killed at the deadline
  int exit_code = -1;      // -1 if it did not exit normally
  std::string output;      // stdout and stderr, interleaved
};

// Runs `argv` (argv[0] looked up in PATH and the sbin directories) with
// `stdin_data` on its standard input, collecting its output; kills its
// process group at `timeout`. Secrets go through stdin, never argv.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         std::string_view stdin_data,
                         std::chrono::milliseconds timeout,
                         const std::vector<std::string>& extra_env = {});

// The full path of a program in PATH or /usr/sbin, /sbin, /usr/local/sbin
// (which a non-root PATH may lack); empty if not found.
std::string FindProgram(std::string_view name);

}  // namespace smbgate::test

// Skips the current GoogleTest test unless smbd can run here.
#define SMBGATE_REQUIRE_SMBD()                                         \
  do {                                                                 \
    std::string smbgate_why_;                                          \
    if (!::smbgate::test::SmbdServer::Available(&smbgate_why_)) {      \
      GTEST_SKIP() << "integration tests need smbd: " << smbgate_why_; \
    }                                                                  \
  } while (0)
