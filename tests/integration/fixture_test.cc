// Proves the integration fixtures with Samba's own client: the smbd of
// smbd_fixture serves every dialect with the special-character password, and
// the strip proxy forwards (and, in its hostile modes, breaks signing).
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "src/credentials.h"
#include "tests/integration/smbd_fixture.h"
#include "tests/integration/strip_proxy.h"

namespace smbgate::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool WriteFile(const fs::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return static_cast<bool>(out);
}

// Content that a transfer could plausibly mangle: every byte value, then
// random bytes past one SMB2 credit's 64 KiB.
std::string TestPayload() {
  std::string s;
  for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  std::mt19937 rng(42);
  for (int i = 0; i < 200000; ++i) s += static_cast<char>(rng() & 0xFF);
  return s;
}

// A scratch directory on the client side, removed afterwards.
class LocalDir {
 public:
  LocalDir() {
    std::string tmpl =
        (fs::temp_directory_path() / "smbgate-client-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~LocalDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// smbclient against `server` (or `port` if given: the proxy), credentials
// from `auth_file` (-A, never the password in argv), commands `cmds` run in
// `local_dir`. `extra` options come last (a later -m wins).
ProcessResult Smbclient(const SmbdServer& server, const fs::path& auth_file,
                        const std::string& share, const fs::path& local_dir,
                        const std::string& cmds, std::uint16_t port = 0,
                        const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {
      "smbclient", "//127.0.0.1/" + share,
      "-p",        std::to_string(port ? port : server.port()),
      "-A",        auth_file.string(),
      "-m",        "SMB3",
      "-s",        server.client_config_path().string(),
      "-c",        "lcd " + local_dir.string() + "; " + cmds};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return RunProcess(argv, "", 60s);
}

std::string Describe(const ProcessResult& r) {
  return "smbclient " +
         (r.timed_out ? std::string("timed out")
                      : "exit " + std::to_string(r.exit_code)) +
         ":\n" + r.output;
}

// put then get of one file through `port`, checked on the server's disk and
// back on the client.
void ExpectRoundTrip(const SmbdServer& server, const fs::path& auth_file,
                     std::uint16_t port = 0) {
  LocalDir local;
  ASSERT_FALSE(local.path().empty());
  const std::string payload = TestPayload();
  ASSERT_TRUE(WriteFile(local.path() / "in.bin", payload));
  const std::string name = "t" + std::to_string(::getpid()) + "_" +
                           std::to_string(std::random_device{}()) + ".bin";
  ProcessResult r =
      Smbclient(server, auth_file, server.share(), local.path(),
                "put in.bin " + name + "; get " + name + " out.bin", port);
  ASSERT_EQ(r.exit_code, 0) << Describe(r) << "\nsmbd log:\n"
                            << server.LogTail();
  EXPECT_EQ(r.output.find("NT_STATUS"), std::string::npos) << r.output;
  EXPECT_EQ(ReadFile(server.share_dir() / name), payload)
      << "server copy differs";
  EXPECT_EQ(ReadFile(local.path() / "out.bin"), payload) << "read back differs";
  std::error_code ec;
  fs::remove(server.share_dir() / name, ec);
}

class FixtureDialectTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    SMBGATE_REQUIRE_SMBD();
    std::string error;
    server_ = SharedSmbdServer(GetParam(), &error);
    ASSERT_NE(server_, nullptr) << error;
    auth_file_ = server_->CredentialsFile(&error);
    ASSERT_FALSE(auth_file_.empty()) << error;
  }
  SmbdServer* server_ = nullptr;
  fs::path auth_file_;
};

TEST_P(FixtureDialectTest, PutAndGetWithSpecialCharacterPassword) {
  ASSERT_NE(server_->password().find_first_of(",;\\$=\" "), std::string::npos);
  ExpectRoundTrip(*server_, auth_file_);
}

// A client limited to the server's dialect gets in; one limited to another
// dialect is refused, so the server speaks exactly the one configured.
TEST_P(FixtureDialectTest, SpeaksOnlyTheConfiguredDialect) {
  auto only = [&](Dialect d) {
    const std::string name = SambaProtocolName(d);
    LocalDir local;
    return Smbclient(*server_, auth_file_, server_->share(), local.path(), "ls",
                     0, {"--option=client min protocol=" + name, "-m", name});
  };
  ProcessResult same = only(GetParam());
  EXPECT_EQ(same.exit_code, 0) << Describe(same);
  const Dialect other =
      GetParam() == Dialect::kSmb3_11 ? Dialect::kSmb2_02 : Dialect::kSmb3_11;
  ProcessResult refused = only(other);
  EXPECT_NE(refused.exit_code, 0) << Describe(refused);
}

TEST_P(FixtureDialectTest, WrongPasswordIsRefused) {
  TestCredentials bad = server_->credentials();
  bad.password += "!";
  const fs::path p = server_->dir() / "client" / "bad";
  std::string error;
  ASSERT_TRUE(WriteCredentialsFile(p, bad, &error)) << error;
  LocalDir local;
  ProcessResult r =
      Smbclient(*server_, p, server_->share(), local.path(), "ls");
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.output.find("NT_STATUS_LOGON_FAILURE"), std::string::npos)
      << Describe(r);
}

INSTANTIATE_TEST_SUITE_P(Dialects, FixtureDialectTest,
                         ::testing::ValuesIn(kAllDialects),
                         [](const ::testing::TestParamInfo<Dialect>& i) {
                           return std::string(SambaProtocolName(i.param));
                         });

class FixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMBGATE_REQUIRE_SMBD();
    std::string error;
    server_ = SharedSmbdServer(Dialect::kSmb3_11, &error);
    ASSERT_NE(server_, nullptr) << error;
  }
  SmbdServer* server_ = nullptr;
};

// A standalone smbd authenticates its local passdb users whatever domain the
// client names (Samba maps an unknown domain to its own SAM).
TEST_F(FixtureTest, DomainOfLocalAccountIsNotChecked) {
  for (const std::string domain :
       {"TESTDOM", "SMBGATETEST", "NOSUCHDOMAIN", ""}) {
    TestCredentials c = server_->credentials();
    c.domain = domain;
    std::string error;
    const fs::path p = server_->dir() / "client" / "domain_test";
    ASSERT_TRUE(WriteCredentialsFile(p, c, &error)) << error;
    SCOPED_TRACE("domain '" + domain + "'");
    ExpectRoundTrip(*server_, p);
  }
}

TEST_F(FixtureTest, ReadOnlyShareRefusesWrites) {
  std::string error;
  const fs::path auth = server_->CredentialsFile(&error);
  ASSERT_FALSE(auth.empty()) << error;
  LocalDir local;
  ASSERT_TRUE(WriteFile(local.path() / "x", "x"));
  ProcessResult get = Smbclient(*server_, auth, server_->readonly_share(),
                                local.path(), "get readme.txt r.txt");
  ASSERT_EQ(get.exit_code, 0) << Describe(get);
  EXPECT_EQ(ReadFile(local.path() / "r.txt"), "read-only share\n");
  ProcessResult put = Smbclient(*server_, auth, server_->readonly_share(),
                                local.path(), "put x x");
  EXPECT_NE(put.output.find("NT_STATUS_ACCESS_DENIED"), std::string::npos)
      << Describe(put);
  EXPECT_FALSE(fs::exists(server_->readonly_share_dir() / "x"));
}

// The Secret volume the fixture writes is what smbgate's own loader reads.
TEST_F(FixtureTest, SecretDirectoryLoadsWithLoadCredentials) {
  std::string error;
  const fs::path secret = server_->SecretDirectory(&error);
  ASSERT_FALSE(secret.empty()) << error;
  EXPECT_TRUE(fs::is_symlink(secret / "..data"));
  EXPECT_TRUE(fs::is_symlink(secret / "password"));
  std::vector<std::string> warnings;
  std::string message;
  auto creds = LoadCredentials(secret.string(), &warnings, &message);
  ASSERT_TRUE(creds) << message;
  EXPECT_EQ(creds->user, server_->user());
  EXPECT_EQ(creds->domain, server_->domain());
  EXPECT_EQ(creds->password.view(), server_->password());
  EXPECT_TRUE(warnings.empty());

  auto file = LoadCredentials(server_->CredentialsFile(&error).string(),
                              &warnings, &message);
  ASSERT_TRUE(file) << message;
  EXPECT_EQ(file->password.view(), server_->password());
}

// True if a process runs with `needle` in its command line.
bool ProcessWithArgument(const std::string& needle) {
  DIR* d = ::opendir("/proc");
  if (!d) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string cmdline = ReadFile(fs::path("/proc") / e->d_name / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) != std::string::npos) found = true;
  }
  ::closedir(d);
  return found;
}

// Password rotation and restarts on a private server (the shared ones must
// not change).
TEST(FixtureLifecycleTest, SetPasswordRestartAndStop) {
  SMBGATE_REQUIRE_SMBD();
  SmbdOptions options;
  options.min_protocol = Dialect::kSmb3_00;
  SmbdServer server(options);
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  const fs::path old_auth = server.dir() / "client" / "old";
  ASSERT_TRUE(WriteCredentialsFile(old_auth, server.credentials(), &error))
      << error;
  ExpectRoundTrip(server, old_auth);

  ASSERT_TRUE(server.SetPassword("n3w; p\\a$$=\"word\" ,", &error)) << error;
  const fs::path new_auth = server.CredentialsFile(&error);
  ASSERT_FALSE(new_auth.empty()) << error;
  ExpectRoundTrip(server, new_auth);
  LocalDir local;
  ProcessResult stale =
      Smbclient(server, old_auth, server.share(), local.path(), "ls");
  EXPECT_NE(stale.output.find("NT_STATUS_LOGON_FAILURE"), std::string::npos)
      << Describe(stale);

  const std::uint16_t port = server.port();
  ASSERT_TRUE(server.Restart(&error)) << error;
  EXPECT_EQ(server.port(), port);
  ExpectRoundTrip(server, new_auth);
  EXPECT_NE(server.LogTail(200).find("starting smbd"), std::string::npos);

  const std::string conf = server.config_path().string();
  EXPECT_TRUE(ProcessWithArgument(conf));
  server.Stop();
  EXPECT_FALSE(server.running());
  EXPECT_FALSE(ProcessWithArgument(conf)) << "smbd processes left behind";
}

// ---- the strip proxy ----

TEST(StripProxyFrameTest, RewritesEveryMessageOfACompound) {
  // Two 64-byte headers chained by NextCommand, then a third one that is not
  // reachable because the second's NextCommand is 0.
  std::vector<std::uint8_t> f(64 * 3, 0);
  for (int m = 0; m < 3; ++m) {
    std::uint8_t* h = f.data() + 64 * m;
    h[0] = 0xFE, h[1] = 'S', h[2] = 'M', h[3] = 'B';
    h[16] = 0x09;                   // SERVER_TO_REDIR | SIGNED
    std::memset(h + 48, 0xAB, 16);  // signature
  }
  f[20] = 64;  // first NextCommand
  std::vector<std::uint8_t> strip = f;
  int seen = 0;
  EXPECT_EQ(StripProxy::RewriteFrame(strip.data(), strip.size(),
                                     StripProxy::Mode::kStripSignatures, &seen),
            2);
  EXPECT_EQ(seen, 2);
  for (int m = 0; m < 2; ++m) {
    EXPECT_EQ(strip[64 * m + 16], 0x01);
    for (int i = 48; i < 64; ++i) EXPECT_EQ(strip[64 * m + i], 0);
  }
  EXPECT_EQ(strip[128 + 16], 0x09);  // not part of the compound

  std::vector<std::uint8_t> corrupt = f;
  EXPECT_EQ(
      StripProxy::RewriteFrame(corrupt.data(), corrupt.size(),
                               StripProxy::Mode::kCorruptSignatures, nullptr),
      2);
  EXPECT_NE(std::memcmp(corrupt.data() + 48, f.data() + 48, 16), 0);
  EXPECT_EQ(corrupt[16], 0x09);

  std::vector<std::uint8_t> pass = f;
  EXPECT_EQ(StripProxy::RewriteFrame(pass.data(), pass.size(),
                                     StripProxy::Mode::kPassThrough, nullptr),
            0);
  EXPECT_EQ(pass, f);

  // A transform header (encrypted) and a NextCommand past the end are left.
  std::vector<std::uint8_t> bad = f;
  bad[20] = 0xF0, bad[21] = 0xFF;
  EXPECT_EQ(
      StripProxy::RewriteFrame(bad.data(), bad.size(),
                               StripProxy::Mode::kStripSignatures, nullptr),
      1);
  std::vector<std::uint8_t> transform = f;
  transform[0] = 0xFD;
  EXPECT_EQ(
      StripProxy::RewriteFrame(transform.data(), transform.size(),
                               StripProxy::Mode::kStripSignatures, nullptr),
      0);
}

// Without Samba: a fake server writes one compound response in pieces that
// split the length prefix and a header; the client must get it whole with
// both signatures stripped, and its own bytes must reach the server as sent.
TEST(StripProxyFrameTest, ReassemblesFramesSplitAcrossReads) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);

  StripProxy proxy("127.0.0.1", ntohs(a.sin_port),
                   StripProxy::Mode::kStripSignatures);
  std::string error;
  ASSERT_TRUE(proxy.Start(&error)) << error;

  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in p{};
  p.sin_family = AF_INET;
  p.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  p.sin_port = htons(proxy.port());
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&p), sizeof p), 0);
  const int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(server, 0);

  // Nothing here may hang the binary: every receive has a deadline.
  const timeval five_seconds{5, 0};
  for (int fd : {client, server}) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five_seconds,
                 sizeof five_seconds);
  }
  const std::string request("\x00\x00\x00\x04ping", 8);
  ASSERT_EQ(::send(client, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string got_request(request.size(), '\0');
  ASSERT_EQ(::recv(server, got_request.data(), got_request.size(), MSG_WAITALL),
            static_cast<ssize_t>(request.size()));
  EXPECT_EQ(got_request, request);

  std::vector<std::uint8_t> frame(4 + 128, 0);
  frame[3] = 128;
  for (int m = 0; m < 2; ++m) {
    std::uint8_t* h = frame.data() + 4 + 64 * m;
    h[0] = 0xFE, h[1] = 'S', h[2] = 'M', h[3] = 'B';
    h[16] = 0x09;
    std::memset(h + 48, 0x5A, 16);
  }
  frame[4 + 20] = 64;
  for (auto [from, to] :
       {std::pair{0, 2}, std::pair{2, 30}, std::pair{30, 132}}) {
    ASSERT_EQ(::send(server, frame.data() + from, to - from, MSG_NOSIGNAL),
              to - from);
    std::this_thread::sleep_for(20ms);
  }
  std::vector<std::uint8_t> got(frame.size());
  ASSERT_EQ(::recv(client, got.data(), got.size(), MSG_WAITALL),
            static_cast<ssize_t>(got.size()));
  EXPECT_EQ(std::memcmp(got.data(), frame.data(), 4), 0);
  for (int m = 0; m < 2; ++m) {
    const std::uint8_t* h = got.data() + 4 + 64 * m;
    EXPECT_EQ(h[16], 0x01);
    for (int i = 48; i < 64; ++i) EXPECT_EQ(h[i], 0) << m << " " << i;
  }
  EXPECT_EQ(proxy.responses(), 2u);
  EXPECT_EQ(proxy.rewritten(), 2u);

  // The server closing ends the connection on the client's side too.
  ::close(server);
  char byte;
  EXPECT_EQ(::recv(client, &byte, 1, 0), 0);
  ::close(client);
  ::close(listener);
  proxy.Stop();
}

TEST(StripProxyFrameTest, RefusesNonLoopbackUpstream) {
  for (const char* host :
       {"10.0.0.1", "192.168.1.1", "example.com", "fd00::1"}) {
    StripProxy p(host, 445, StripProxy::Mode::kPassThrough);
    std::string error;
    EXPECT_FALSE(p.Start(&error)) << host;
    EXPECT_NE(error.find("loopback"), std::string::npos) << error;
  }
}

TEST_F(FixtureTest, StripProxyPassThroughWorksWithSmbclient) {
  std::string error;
  StripProxy proxy(server_->host(), server_->port(),
                   StripProxy::Mode::kPassThrough);
  ASSERT_TRUE(proxy.Start(&error)) << error;
  const fs::path auth = server_->CredentialsFile(&error);
  ASSERT_FALSE(auth.empty()) << error;
  ExpectRoundTrip(*server_, auth, proxy.port());
  EXPECT_GE(proxy.connections(), 1u);
  EXPECT_GT(proxy.responses(), 5u);
  EXPECT_EQ(proxy.rewritten(), 0u);
}

// smbclient with `client signing = required` must reject what the hostile
// modes deliver: proof that the proxy really rewrites signed responses.
TEST_F(FixtureTest, StripProxyHostileModesBreakSmbclient) {
  std::string error;
  const fs::path auth = server_->CredentialsFile(&error);
  ASSERT_FALSE(auth.empty()) << error;
  for (auto mode : {StripProxy::Mode::kStripSignatures,
                    StripProxy::Mode::kCorruptSignatures}) {
    StripProxy proxy(server_->host(), server_->port(), mode);
    ASSERT_TRUE(proxy.Start(&error)) << error;
    LocalDir local;
    ProcessResult r = Smbclient(*server_, auth, server_->share(), local.path(),
                                "ls", proxy.port());
    EXPECT_NE(r.exit_code, 0) << Describe(r);
    // Samba 4.17: "Bad SMB2 (sign_algo_id=2) signature for message".
    EXPECT_NE(r.output.find("signature"), std::string::npos) << Describe(r);
    EXPECT_GT(proxy.rewritten(), 0u);
  }
}

TEST(RunProcessTest, StdinOutputExitCodeAndTimeout) {
  ProcessResult cat = RunProcess({"cat"}, "secret; \\$\"=\n", 10s);
  EXPECT_TRUE(cat.started);
  EXPECT_EQ(cat.exit_code, 0);
  EXPECT_EQ(cat.output, "secret; \\$\"=\n");

  // A child that exits without reading its input must not raise SIGPIPE
  // here.
  ProcessResult quick =
      RunProcess({"sh", "-c", "exit 3"}, std::string(4 << 20, 'x'), 10s);
  EXPECT_EQ(quick.exit_code, 3);

  const auto t0 = std::chrono::steady_clock::now();
  ProcessResult slow =
      RunProcess({"sh", "-c", "sleep 30 & sleep 30"}, "", 300ms);
  EXPECT_TRUE(slow.timed_out);
  EXPECT_EQ(slow.exit_code, -1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);

  ProcessResult missing = RunProcess({"no-such-program-smbgate"}, "", 1s);
  EXPECT_FALSE(missing.started);
  EXPECT_NE(missing.output.find("not found"), std::string::npos);
}

TEST(FixtureLifecycleTest, StartFailureShowsTheLog) {
  SMBGATE_REQUIRE_SMBD();
  SmbdOptions options;
  options.extra_global = {"interfaces = 192.0.2.1"};  // TEST-NET-1: not here
  SmbdServer server(options);
  std::string error;
  // smbd 4.17 panics at once: "open_sockets_smbd: No sockets available to
  // bind to."
  EXPECT_FALSE(server.Start(&error));
  EXPECT_NE(error.find("smbd exited"), std::string::npos) << error;
  EXPECT_NE(error.find(server.log_path().string()), std::string::npos) << error;
  EXPECT_NE(error.find("No sockets available"), std::string::npos) << error;
  EXPECT_FALSE(server.running());
}

}  // namespace
}  // namespace smbgate::test
