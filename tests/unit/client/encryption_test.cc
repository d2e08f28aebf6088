// Unit tests of the Connection's message security over a scripted
// transport: encrypted requests and responses (MS-SMB2 3.1.4.3), responses
// that must be encrypted and are not, responses that do not decrypt, and
// the request table's bookkeeping.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "fake_transport.h"
#include "smb2/client/connection.h"
#include "smb2/client/message_security.h"
#include "smb2/client/request_table.h"
#include "smb2/client/session.h"
#include "smb2/codec/compound.h"
#include "smb2/codec/error_response.h"
#include "smb2/codec/negotiate.h"
#include "smb2/codec/status.h"
#include "smb2/codec/tree.h"

namespace smbgate::smb2 {
namespace {

using test::FakeTransport;
using namespace std::chrono_literals;

constexpr std::uint64_t kSession = 0x0000100000000042ull;

SecretBytes Key(std::uint8_t seed) {
  SecretBytes k(16);
  for (std::size_t i = 0; i < 16; ++i) k[i] = static_cast<std::uint8_t>(seed + i);
  return k;
}

// The client's keys; the server's are the same with the directions swapped.
auth::SmbSessionKeys ClientKeys() {
  auth::SmbSessionKeys k;
  k.signing_key = Key(1);
  k.encryption_key = Key(40);
  k.decryption_key = Key(80);
  return k;
}
auth::SmbSessionKeys ServerKeys() {
  auth::SmbSessionKeys k;
  k.signing_key = Key(1);
  k.encryption_key = Key(80);
  k.decryption_key = Key(40);
  return k;
}

Bytes NegotiateReply(const Header& req) {
  NegotiateResponse n;
  n.security_mode = kSecurityModeSigningEnabled | kSecurityModeSigningRequired;
  n.dialect_revision = kDialect311;
  n.capabilities = kCapLargeMtu;
  n.max_read_size = n.max_write_size = n.max_transact_size = 1 << 20;
  n.preauth_hash_algorithm = kHashAlgorithmSha512;
  static const std::uint8_t salt[32] = {};
  n.preauth_salt = salt;
  n.cipher = kCipherAes128Gcm;
  n.signing_algorithm = kSigningAesCmac;
  Header h = req;
  h.flags = kFlagServerToRedir;
  h.credits = 32;
  return EncodeMessage(h, n);
}

Bytes TreeReply(const Header& req, std::uint32_t st = status::kSuccess) {
  Header h = req;
  h.flags = kFlagServerToRedir;
  h.status = st;
  h.credits = 8;
  h.signature = {};
  TreeConnectResponse r;
  r.share_type = kShareTypeDisk;
  return EncodeMessage(h, r);
}

// A server side: decrypts what the client sent, answers with what `answer`
// makes of the plain request header.
struct Server {
  MessageSecurity sec{kDialect311, auth::SigningAlgorithm::kAesCmac, kCipherAes128Gcm, false};
  Server() { EXPECT_TRUE(sec.AddSession(kSession, ServerKeys(), true)); }
  Result<Header> Open(const Bytes& frame) {
    auto d = sec.Decrypt(frame);
    if (!d) return d.error();
    return DecodeHeader(d->frame);
  }
};

struct Client {
  std::shared_ptr<FakeTransport::Shared> shared = std::make_shared<FakeTransport::Shared>();
  std::vector<std::error_code> dropped;
  std::mutex mu;
  std::shared_ptr<Connection> conn;

  void Open(FakeTransport::Script session_script, std::chrono::milliseconds timeout = 5s) {
    ConnectionOptions o;
    o.request_timeout = timeout;
    o.on_protection_failure = [this](std::error_code why) {
      std::lock_guard<std::mutex> l(mu);
      dropped.push_back(why);
    };
    auto script = [session_script](const Bytes& frame) -> std::vector<Bytes> {
      if (ClassifyFrame(frame) == FrameKind::kSmb2) {
        auto h = DecodeHeader(frame);
        if (h && h->command == Command::kNegotiate) return {NegotiateReply(*h)};
      }
      return session_script(frame);
    };
    auto c = Connection::Open(o, FakeTransport::Factory(script, shared));
    ASSERT_TRUE(c) << c.error().message();
    conn = *c;
    ASSERT_EQ(conn->negotiated().cipher_id, kCipherAes128Gcm);
    ASSERT_TRUE(conn->AddSession(kSession, ClientKeys(), true));
  }
  std::vector<std::error_code> Dropped() {
    std::lock_guard<std::mutex> l(mu);
    return dropped;
  }
};

Request TreeReq() {
  TreeConnectRequest tc;
  tc.path = "\\\\fake\\share";
  return MakeRequest(Command::kTreeConnect, tc, kSession, 0);
}

TEST(EncryptionTest, RequestsLeaveEncryptedAndEncryptedAnswersArrive) {
  auto server = std::make_shared<Server>();
  Client s;
  s.Open([server](const Bytes& frame) -> std::vector<Bytes> {
    EXPECT_EQ(ClassifyFrame(frame), FrameKind::kTransform);
    auto h = server->Open(frame);
    EXPECT_TRUE(h) << h.error().message();
    if (!h) return {};
    // MS-SMB2 3.2.4.1.1: an encrypted message is not also signed.
    EXPECT_FALSE(h->is_signed());
    auto sealed = server->sec.Encrypt(kSession, TreeReply(*h));
    EXPECT_TRUE(sealed);
    return {*sealed};
  });
  auto r = s.conn->Call(TreeReq());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status(), status::kSuccess);
  EXPECT_TRUE(r->encrypted);
  EXPECT_TRUE(s.Dropped().empty());
  // Nonces never repeat within the session.
  ASSERT_TRUE(s.conn->Call(TreeReq()));
  std::lock_guard<std::mutex> l(s.shared->mu);
  ASSERT_EQ(s.shared->sent.size(), 3u);
  auto t1 = DecodeTransformHeader(s.shared->sent[1]);
  auto t2 = DecodeTransformHeader(s.shared->sent[2]);
  ASSERT_TRUE(t1 && t2);
  EXPECT_NE(t1->nonce, t2->nonce);
  EXPECT_EQ(t1->session_id, kSession);
}

TEST(EncryptionTest, PlainAnswerToAnEncryptedRequestIsDropped) {
  // A man in the middle answers first in clear text (even signed would not
  // do); the genuine encrypted answer follows and is the one delivered.
  auto server = std::make_shared<Server>();
  Client s;
  s.Open([server](const Bytes& frame) -> std::vector<Bytes> {
    auto h = server->Open(frame);
    if (!h) return {};
    Bytes forged = TreeReply(*h, status::kAccessDenied);
    auto sealed = server->sec.Encrypt(kSession, TreeReply(*h));
    return {forged, *sealed};
  });
  auto r = s.conn->Call(TreeReq());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status(), status::kSuccess);
  EXPECT_EQ(s.Dropped(), std::vector<std::error_code>{make_error_code(client_errc::unencrypted_response)});
}

TEST(EncryptionTest, AnswerThatDoesNotDecryptFailsAtTheDeadline) {
  auto server = std::make_shared<Server>();
  Client s;
  s.Open(
      [server](const Bytes& frame) -> std::vector<Bytes> {
        auto h = server->Open(frame);
        if (!h) return {};
        auto sealed = server->sec.Encrypt(kSession, TreeReply(*h));
        (*sealed)[kTransformHeaderSize + 5] ^= 0x10;
        return {*sealed};
      },
      400ms);
  auto r = s.conn->Call(TreeReq());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(client_errc::decryption_failed));
  EXPECT_EQ(s.Dropped(), std::vector<std::error_code>{make_error_code(client_errc::decryption_failed)});
  EXPECT_TRUE(s.conn->is_open());
}

TEST(EncryptionTest, AnswerSealedForAnotherSessionIsRefused) {
  auto server = std::make_shared<Server>();
  ASSERT_TRUE(server->sec.AddSession(kSession + 1, ServerKeys(), true));
  Client s;
  s.Open(
      [server](const Bytes& frame) -> std::vector<Bytes> {
        auto h = server->Open(frame);
        if (!h) return {};
        // Sealed with session+1's transform: the client has no such session.
        auto sealed = server->sec.Encrypt(kSession + 1, TreeReply(*h));
        return {*sealed};
      },
      400ms);
  auto r = s.conn->Call(TreeReq());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(client_errc::unknown_session));
}

TEST(EncryptionTest, UnencryptedSessionDeletedIsTakenAsTheServersWord) {
  auto server = std::make_shared<Server>();
  Client s;
  s.Open([server](const Bytes& frame) -> std::vector<Bytes> {
    auto h = server->Open(frame);
    if (!h) return {};
    Header e = *h;
    e.flags = kFlagServerToRedir;
    e.status = status::kUserSessionDeleted;
    e.credits = 1;
    return {EncodeMessage(e, ErrorResponse{})};
  });
  auto r = s.conn->Call(TreeReq());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status(), status::kUserSessionDeleted);
  EXPECT_FALSE(r->encrypted);
}

TEST(EncryptionTest, SealWithoutACipherIsRefused) {
  MessageSecurity none(kDialect210, auth::SigningAlgorithm::kHmacSha256, 0, true);
  EXPECT_EQ(none.AddSession(1, ClientKeys(), false).error(), make_error_code(client_errc::encryption_unavailable));
  MessageSecurity gcm(kDialect311, auth::SigningAlgorithm::kAesGmac, kCipherAes128Gcm, false);
  ASSERT_TRUE(gcm.AddSession(1, ClientKeys(), false));
  EXPECT_EQ(gcm.ProtectionFor(1, 7, true), Protection::kSigned);
  ASSERT_TRUE(gcm.EncryptTree(1, 7));
  EXPECT_EQ(gcm.ProtectionFor(1, 7, true), Protection::kEncrypted);
  EXPECT_EQ(gcm.ProtectionFor(1, 8, true), Protection::kSigned);
  EXPECT_EQ(gcm.ProtectionFor(0, 0, true), Protection::kNone);
  gcm.RemoveSession(1);
  EXPECT_EQ(gcm.ProtectionFor(1, 7, true), Protection::kNone);
}

TEST(RequestTableTest, CreditsAreCappedAndSpent) {
  RequestTable t(512);
  EXPECT_TRUE(t.CanSend(1));
  EXPECT_FALSE(t.CanSend(2));
  const std::uint64_t m0 = t.Allocate(1);
  EXPECT_EQ(m0, 0u);
  EXPECT_EQ(t.in_flight(), 1u);
  EXPECT_TRUE(t.Starved(1) == false);  // one in flight may still grant
  RequestTable::Entry e;
  e.charge = 1;
  e.done = [](Result<Response>) {};
  t.Add(m0, std::move(e));
  t.Grant(0xffff);
  t.Grant(0xffff);
  EXPECT_LE(t.credits() + t.in_flight(), RequestTable::kMaxCredits);
  (void)t.Take(m0);
  EXPECT_EQ(t.in_flight(), 0u);
  const std::uint64_t m1 = t.Allocate(16);
  EXPECT_EQ(m1, 1u);
  EXPECT_EQ(t.Allocate(1), 17u);  // a 16-credit request takes 16 ids
}

TEST(RequestTableTest, ExpiryReportsWhyAnswersWereDropped) {
  RequestTable t(512);
  const auto now = RequestTable::Clock::now();
  for (std::uint64_t mid : {0u, 1u}) {
    RequestTable::Entry e;
    e.done = [](Result<Response>) {};
    e.deadline = now;
    t.Add(mid, std::move(e));
  }
  t.Find(1)->dropped = client_errc::signature_mismatch;
  auto expired = t.Expire(now, 1000ms);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].second, make_error_code(client_errc::timeout));
  EXPECT_EQ(expired[1].second, make_error_code(client_errc::signature_mismatch));
  // Kept for their late credits until the zombie lifetime passes.
  t.Find(0)->done = nullptr;
  t.Find(1)->done = nullptr;
  EXPECT_TRUE(t.Expire(now + 500ms, 1000ms).empty());
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.Expire(now + 2000ms, 1000ms).empty());
  EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace smbgate::smb2
