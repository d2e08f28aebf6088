// End-to-end: smbgate mounts of servers and shares that require SMB3
// encryption, `-o seal`, and seal refused against a 2.x-only server.
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "tests/e2e/e2e_fixture.h"

namespace smbgate::test::e2e {
namespace {

// Writes 6 MiB through the mount, fsyncs, reads it back through the mount
// and from the server's disk.
void DataRoundTrip(const Mount& m, const std::filesystem::path& on_server) {
  std::string data(6 << 20, '\0');
  PatternFill(31, 0, data.data(), data.size());
  const int fd = ::open((m / on_server.filename().string()).c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_SYS(fd);
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  ASSERT_SYS(::fsync(fd));
  ASSERT_SYS(::close(fd));
  EXPECT_TRUE(SameBytes(ReadFile(m / on_server.filename().string()), data));
  EXPECT_TRUE(SameBytes(ReadFile(on_server.string()), data));
}

TEST(Sealed, ServerThatRequiresEncryption) {
  SMBGATE_REQUIRE_SMBD();
  SmbdOptions so;
  so.extra_global = {"server smb encrypt = required"};
  SmbdServer server(so);
  std::string err;
  ASSERT_TRUE(server.Start(&err)) << err;
  const std::string creds = server.CredentialsFile(&err).string();
  ASSERT_FALSE(creds.empty()) << err;
  MountParams p;
  p.target = server.Target();
  p.credentials = creds;
  auto m = Mount::Start(p, &err);
  ASSERT_TRUE(m) << err;
  DataRoundTrip(*m, server.share_dir() / "sealed.bin");
  // The authentication line says what protects the traffic.
  EXPECT_NE(m->Log().find("encryption=AES-128-GCM"), std::string::npos) << m->Log();
  EXPECT_EQ(m->Stop(), 0) << m->Log();
}

TEST(Sealed, SealOptionAndShareEncryption) {
  SMBGATE_REQUIRE_SMBD();
  SmbdOptions so;
  so.extra_share = {"smb encrypt = required"};
  SmbdServer server(so);
  std::string err;
  ASSERT_TRUE(server.Start(&err)) << err;
  const std::string creds = server.CredentialsFile(&err).string();
  ASSERT_FALSE(creds.empty()) << err;
  for (const char* opt : {"seal", "rw"}) {
    SCOPED_TRACE(opt);
    MountParams p;
    p.target = server.Target();
    p.credentials = creds;
    p.options = {opt, "log_level=debug"};
    auto m = Mount::Start(p, &err);
    ASSERT_TRUE(m) << err;
    DataRoundTrip(*m, server.share_dir() / (std::string(opt) + ".bin"));
    EXPECT_EQ(m->Stop(), 0) << m->Log();
  }
}

TEST(Sealed, SealAgainstSmb2ServerStopsWithOneLine) {
  SMBGATE_REQUIRE_SMBD();
  std::string err;
  SmbdServer* server = SharedSmbdServer(Dialect::kSmb2_10, &err);
  ASSERT_NE(server, nullptr) << err;
  const std::string creds = server->CredentialsFile(&err).string();
  ASSERT_FALSE(creds.empty()) << err;
  TempDir tmp;
  const std::string mp = (tmp.path() / "mnt").string();
  ASSERT_SYS(::mkdir(mp.c_str(), 0755));
  RunResult r = RunSmbgate({"mount", server->Target(), mp, "--credentials", creds, "--foreground", "-o", "seal"},
                           std::chrono::seconds(20));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = NonEmptyLines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("encryption is required (seal)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(server->host()), std::string::npos) << lines[0];
  EXPECT_FALSE(IsMountPoint(mp));
}

}  // namespace
}  // namespace smbgate::test::e2e
