// Message security against a real smbd: encryption required by the server
// (3.0, 3.0.2, 3.1.1 and each of the four ciphers), by one share, or by the
// client (seal); a man in the middle that flips a byte of an encrypted
// frame; and one that rewrites NEGOTIATE to downgrade the dialect.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "smb2/client/connection.h"
#include "smb2/client/names.h"
#include "smb2/client/session.h"
#include "smb2/client/smb_fs.h"
#include "smb2/codec/negotiate.h"
#include "smb2/codec/session_setup.h"
#include "src/check.h"
#include "tests/integration/smbd_fixture.h"
#include "tests/integration/strip_proxy.h"

namespace smbgate::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using smb2::Wait;

struct Client {
  std::shared_ptr<smb2::Connection> conn;
  std::shared_ptr<smb2::Session> session;
  std::shared_ptr<smb2::Tree> tree;
};

smb2::ConnectionOptions OptionsFor(const SmbdServer& s, std::uint16_t port = 0) {
  smb2::ConnectionOptions o;
  o.host = s.host();
  o.port = port ? port : s.port();
  o.request_timeout = 20s;
  return o;
}

auth::NtlmCredentials CredsFor(const SmbdServer& s) {
  auth::NtlmCredentials c;
  c.user = s.user();
  c.domain = s.domain();
  c.password = SecretString(s.password());
  return c;
}

// Connect, session setup, tree connect to the read-write share; the first
// error is returned as it is.
Result<Client> Connect(const SmbdServer& s, smb2::ConnectionOptions o) {
  auto conn = smb2::Connection::Open(o);
  if (!conn) return conn.error();
  auto session = smb2::Session::Setup(*conn, CredsFor(s));
  if (!session) return session.error();
  auto tree = smb2::Tree::Connect(*session, "\\\\" + s.host() + "\\" + s.share());
  if (!tree) return tree.error();
  return Client{*conn, *session, *tree};
}

std::unique_ptr<SmbdServer> StartServer(SmbdOptions o) {
  auto s = std::make_unique<SmbdServer>(std::move(o));
  std::string err;
  if (!s->Start(&err)) {
    ADD_FAILURE() << err;
    return nullptr;
  }
  return s;
}

// Writes `size` random bytes to `name` through `c` and reads them back; the
// server's own file must hold the same bytes.
void RoundTrip(const Client& c, const SmbdServer& s, const std::string& name, std::size_t size) {
  smb2::SmbFs f(c.tree);
  Bytes content(size);
  std::mt19937 rng(static_cast<unsigned>(size));
  for (auto& b : content) b = static_cast<std::uint8_t>(rng());
  smb2::OpenParams p;
  p.write = true;
  p.disposition = smb2::OpenDisposition::kOverwriteIf;
  auto o = Wait<smb2::OpenResult>([&](auto cb) { f.Open(name, p, cb); });
  ASSERT_TRUE(o) << o.error().message();
  const std::size_t chunk = f.max_io_size();
  for (std::size_t off = 0; off < size; off += chunk) {
    const std::size_t n = std::min(chunk, size - off);
    auto piece = std::make_shared<const Bytes>(content.begin() + off, content.begin() + off + n);
    auto w = Wait<std::uint32_t>([&](auto cb) { f.Write(o->handle, off, piece, cb); });
    ASSERT_TRUE(w) << w.error().message();
    ASSERT_EQ(*w, n);
  }
  Bytes back;
  while (back.size() < size) {
    auto r = Wait<smb2::ReadResult>([&](auto cb) { f.Read(o->handle, back.size(), 1 << 20, cb); });
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_FALSE(r->data.empty());
    back.insert(back.end(), r->data.begin(), r->data.end());
  }
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Close(o->handle, cb); }));
  EXPECT_EQ(back, content);
  std::ifstream in(s.share_dir() / name, std::ios::binary);
  Bytes on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, content);
}

// `smbgate check` against `s` names `cipher` on its encryption line; the
// output is printed under `label` for the record.
void ExpectCheckSays(const SmbdServer& s, const std::string& cipher, const std::string& label) {
  std::string err;
  auto cred = s.CredentialsFile(&err);
  ASSERT_FALSE(cred.empty()) << err;
  std::ostringstream out, errs;
  ASSERT_EQ(RunCheck({s.Target(), "--credentials", cred.string()}, out, errs), 0) << errs.str();
  EXPECT_NE(out.str().find("encryption: " + cipher + "\n"), std::string::npos) << out.str();
  std::cout << "[" << label << "]\n" << out.str();
}

struct RequiredCase {
  Dialect dialect;
  const char* cipher;  // the cipher smbgate must end up with
};

class EncryptionRequiredTest : public ::testing::TestWithParam<RequiredCase> {};

// `server smb encrypt = required`: the session comes back with
// SMB2_SESSION_FLAG_ENCRYPT_DATA and everything after it is encrypted.
TEST_P(EncryptionRequiredTest, SessionIsEncryptedAndDataArrives) {
  SMBGATE_REQUIRE_SMBD();
  SmbdOptions so;
  so.min_protocol = so.max_protocol = GetParam().dialect;
  so.extra_global = {"server smb encrypt = required"};
  auto server = StartServer(so);
  ASSERT_TRUE(server);
  auto c = Connect(*server, OptionsFor(*server));
  ASSERT_TRUE(c) << c.error().message() << "\n" << server->LogTail();
  EXPECT_TRUE(c->session->encrypted());
  EXPECT_TRUE(c->tree->encrypted());
  EXPECT_EQ(smb2::CipherName(c->conn->negotiated().cipher_id), GetParam().cipher);
  RoundTrip(*c, *server, "sealed.bin", (3 << 20) + 12345);

  ExpectCheckSays(*server, GetParam().cipher, SambaProtocolName(GetParam().dialect));
}

INSTANTIATE_TEST_SUITE_P(Dialects, EncryptionRequiredTest,
                         ::testing::Values(RequiredCase{Dialect::kSmb3_00, "AES-128-CCM"},
                                           RequiredCase{Dialect::kSmb3_02, "AES-128-CCM"},
                                           RequiredCase{Dialect::kSmb3_11, "AES-128-GCM"}),
                         [](const auto& i) { return std::string(SambaProtocolName(i.param.dialect)); });

struct CipherCase {
  const char* samba_name;  // `server smb3 encryption algorithms`
  const char* cipher;
};

class CipherTest : public ::testing::TestWithParam<CipherCase> {};

// 3.1.1 with the server limited to one cipher: smbgate offers all four and
// uses the one the server picks, with 32-byte keys for the AES-256 ones.
TEST_P(CipherTest, EachCipherCarriesData) {
  SMBGATE_REQUIRE_SMBD();
  SmbdOptions so;
  so.min_protocol = so.max_protocol = Dialect::kSmb3_11;
  so.extra_global = {"server smb encrypt = required",
                     std::string("server smb3 encryption algorithms = ") + GetParam().samba_name};
  auto server = StartServer(so);
  ASSERT_TRUE(server);
  auto c = Connect(*server, OptionsFor(*server));
  ASSERT_TRUE(c) << c.error().message() << "\n" << server->LogTail();
  EXPECT_EQ(smb2::CipherName(c->conn->negotiated().cipher_id), GetParam().cipher);
  EXPECT_TRUE(c->session->encrypted());
  RoundTrip(*c, *server, "cipher.bin", (2 << 20) + 7);
  ExpectCheckSays(*server, GetParam().cipher, GetParam().samba_name);
}

INSTANTIATE_TEST_SUITE_P(Ciphers, CipherTest,
                         ::testing::Values(CipherCase{"aes-128-ccm", "AES-128-CCM"},
                                           CipherCase{"aes-128-gcm", "AES-128-GCM"},
                                           CipherCase{"aes-256-ccm", "AES-256-CCM"},
                                           CipherCase{"aes-256-gcm", "AES-256-GCM"}),
                         [](const auto& i) {
                           std::string n = i.param.samba_name;
                           for (char& ch : n) ch = ch == '-' ? '_' : ch;
                           return n;
                         });

class ShareEncryptionTest : public ::testing::TestWithParam<Dialect> {};

// `smb encrypt = required` on one share only: the session stays signed, the
// tree is encrypted (SHI1005_FLAGS_ENCRYPT_DATA).
TEST_P(ShareEncryptionTest, OnlyThatTreeIsEncrypted) {
  SMBGATE_REQUIRE_SMBD();
  SmbdOptions so;
  so.min_protocol = so.max_protocol = GetParam();
  so.extra_share = {"smb encrypt = required"};
  auto server = StartServer(so);
  ASSERT_TRUE(server);
  auto c = Connect(*server, OptionsFor(*server));
  ASSERT_TRUE(c) << c.error().message() << "\n" << server->LogTail();
  EXPECT_FALSE(c->session->encrypted());
  EXPECT_TRUE(c->tree->encrypted());
  EXPECT_TRUE(c->tree->share_flags() & 0x00008000u);
  RoundTrip(*c, *server, "share-sealed.bin", (1 << 20) + 3);
  // The read-only share of the same session is not encrypted.
  auto ro = smb2::Tree::Connect(c->session, "\\\\" + server->host() + "\\" + server->readonly_share());
  ASSERT_TRUE(ro) << ro.error().message();
  EXPECT_FALSE((*ro)->encrypted());
}

INSTANTIATE_TEST_SUITE_P(Dialects, ShareEncryptionTest, ::testing::Values(Dialect::kSmb3_00, Dialect::kSmb3_11),
                         [](const auto& i) { return std::string(SambaProtocolName(i.param)); });

// `seal` against a server that offers encryption but does not require it:
// every tree is encrypted anyway.
TEST(SealTest, SealEncryptsWhatTheServerWouldNot) {
  SMBGATE_REQUIRE_SMBD();
  std::string err;
  SmbdServer* server = SharedSmbdServer(Dialect::kSmb3_11, &err);
  ASSERT_NE(server, nullptr) << err;
  auto o = OptionsFor(*server);
  o.seal = true;
  auto c = Connect(*server, o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->session->encrypted());
  EXPECT_TRUE(c->tree->encrypted());
  RoundTrip(*c, *server, "seal-asked.bin", 100000);
}

// `seal` against a server that can only speak 2.x: one clear refusal at
// negotiation, before any credential is sent.
TEST(SealTest, SealAgainstSmb2ServerIsRefused) {
  SMBGATE_REQUIRE_SMBD();
  std::string err;
  SmbdServer* server = SharedSmbdServer(Dialect::kSmb2_10, &err);
  ASSERT_NE(server, nullptr) << err;
  auto o = OptionsFor(*server);
  o.seal = true;
  const char* step = nullptr;
  auto conn = smb2::Connection::Open(o, &step);
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error(), smb2::make_error_code(smb2::client_errc::encryption_unavailable));
  EXPECT_STREQ(step, "negotiate");
  EXPECT_EQ(smb2::ClientErrno(smb2::client_errc::encryption_unavailable), EACCES);
}

// A man in the middle flips one bit of every encrypted response: nothing
// altered reaches the caller; the request fails with decryption_failed
// (EIO) at its deadline, and each altered frame is counted.
TEST(SealTest, FlippedEncryptedByteIsRefused) {
  SMBGATE_REQUIRE_SMBD();
  std::string err;
  SmbdServer* server = SharedSmbdServer(Dialect::kSmb3_11, &err);
  ASSERT_NE(server, nullptr) << err;
  StripProxy proxy(server->host(), server->port(), StripProxy::Mode::kPassThrough);
  ASSERT_TRUE(proxy.Start(&err)) << err;
  auto o = OptionsFor(*server, proxy.port());
  o.seal = true;
  o.request_timeout = 1500ms;
  std::atomic<int> decrypt_failures{0};
  o.on_protection_failure = [&](std::error_code why) {
    if (why == smb2::client_errc::decryption_failed) ++decrypt_failures;
  };
  auto c = Connect(*server, o);
  ASSERT_TRUE(c) << c.error().message();
  RoundTrip(*c, *server, "flip.bin", 70000);

  smb2::SmbFs f(c->tree);
  auto h = Wait<smb2::OpenResult>([&](auto cb) { f.Open("flip.bin", smb2::OpenParams{}, cb); });
  ASSERT_TRUE(h) << h.error().message();
  proxy.set_mode(StripProxy::Mode::kCorruptEncrypted);
  auto r = Wait<smb2::ReadResult>([&](auto cb) { f.Read(h->handle, 0, 70000, cb); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), smb2::make_error_code(smb2::client_errc::decryption_failed));
  EXPECT_EQ(smb2::ClientErrno(smb2::client_errc::decryption_failed), EIO);
  EXPECT_GE(decrypt_failures.load(), 1);
  EXPECT_GE(proxy.rewritten(), 1u);
}

// A man in the middle rewrites NEGOTIATE to offer at most 2.1 although
// smbgate offered up to 3.1.1: the server answers 2.1, and the validation
// of the negotiation (run whenever the dialect is below the best offered)
// refuses the connection before the share is used.
TEST(DowngradeTest, RewrittenNegotiateIsRefusedOnFirstConnect) {
  SMBGATE_REQUIRE_SMBD();
  SmbdOptions so;  // 2.0.2 .. 3.1.1
  auto server = StartServer(so);
  ASSERT_TRUE(server);
  StripProxy proxy(server->host(), server->port(), StripProxy::Mode::kPassThrough);
  std::string err;
  ASSERT_TRUE(proxy.Start(&err)) << err;
  proxy.set_downgrade(0x0210);
  auto c = Connect(*server, OptionsFor(*server, proxy.port()));
  ASSERT_FALSE(c) << "a downgraded connection was accepted";
  EXPECT_EQ(c.error(), smb2::make_error_code(smb2::client_errc::validate_negotiate_failed)) << c.error().message();
  EXPECT_EQ(proxy.downgraded(), 1u);

  // Without the rewrite the same path negotiates 3.1.1.
  proxy.set_downgrade(0);
  auto ok = Connect(*server, OptionsFor(*server, proxy.port()));
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->conn->negotiated().dialect, 0x0311);
}

// A genuine 2.1-only server passes the same validation.
TEST(DowngradeTest, GenuineOldServerIsAccepted) {
  SMBGATE_REQUIRE_SMBD();
  for (Dialect d : {Dialect::kSmb2_02, Dialect::kSmb2_10}) {
    std::string err;
    SmbdServer* server = SharedSmbdServer(d, &err);
    ASSERT_NE(server, nullptr) << err;
    auto c = Connect(*server, OptionsFor(*server));
    ASSERT_TRUE(c) << SambaProtocolName(d) << ": " << c.error().message();
    EXPECT_EQ(c->conn->negotiated().dialect, DialectRevision(d));
  }
}

}  // namespace
}  // namespace smbgate::test
