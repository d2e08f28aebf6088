// Unit tests of smb2::Connection against a scripted server on loopback:
// negotiation checks, signing and verification, interim responses, credits,
// timeouts and connection loss.
#include "smb2/client/connection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>

#include "fake_server.h"
#include "smb2/client/message_security.h"
#include "smb2/client/session.h"
#include "smb2/codec/compound.h"
#include "smb2/codec/create.h"
#include "smb2/codec/notify.h"
#include "smb2/codec/error_response.h"
#include "smb2/codec/negotiate.h"
#include "smb2/codec/session_setup.h"
#include "smb2/codec/status.h"
#include "smb2/codec/tree.h"

namespace smbgate::smb2 {
namespace {

using test::FakeServer;
using namespace std::chrono_literals;

constexpr std::uint64_t kSession = 0x1122334455667788ull;
const std::uint8_t kKeyBytes[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

NegotiateResponse Neg(std::uint16_t dialect) {
  NegotiateResponse n;
  n.security_mode = kSecurityModeSigningEnabled | kSecurityModeSigningRequired;
  n.dialect_revision = dialect;
  n.capabilities = kCapLargeMtu;
  n.max_read_size = n.max_write_size = n.max_transact_size = 1 << 20;
  if (dialect == kDialect311) {
    n.preauth_hash_algorithm = kHashAlgorithmSha512;
    static const std::uint8_t salt[32] = {};
    n.preauth_salt = salt;
  }
  return n;
}

// Signs a response message in place the way a server does (MS-SMB2 3.1.4.1).
void SignAsServer(Bytes& msg, std::uint16_t dialect, auth::SigningAlgorithm alg) {
  std::uint32_t flags;
  std::memcpy(&flags, msg.data() + 16, 4);
  flags |= kFlagSigned;
  std::memcpy(msg.data() + 16, &flags, 4);
  std::memset(msg.data() + kSignatureOffset, 0, kSignatureSize);
  auto sig = ComputeSignature(dialect, alg, ByteSpan(kKeyBytes, 16), msg);
  ASSERT_TRUE(sig);
  std::memcpy(msg.data() + kSignatureOffset, sig->data(), kSignatureSize);
}

ConnectionOptions Opts(const FakeServer& s) {
  ConnectionOptions o;
  o.host = "127.0.0.1";
  o.port = s.port();
  o.request_timeout = 5s;
  o.max_dialect = kDialect210;
  return o;
}

Request TreeConnectReq() {
  TreeConnectRequest tc;
  tc.path = "\\\\127.0.0.1\\share";
  return MakeRequest(Command::kTreeConnect, tc, kSession, 0);
}

TreeConnectResponse TcResp() {
  TreeConnectResponse r;
  r.share_type = kShareTypeDisk;
  return r;
}

enum class Mode { kGood, kUnsigned, kBadSignature, kInterimThenGood, kWrongCommand, kSilent, kClose };

FakeServer::Script ScriptFor(Mode mode, std::uint16_t dialect = kDialect210) {
  return [mode, dialect](const Bytes&, const Header& h) {
    FakeServer::Reply r;
    if (h.command == Command::kNegotiate) {
      r.frames.push_back(FakeServer::Response(h, status::kSuccess, Neg(dialect), 1));
      return r;
    }
    const auto alg = dialect >= kDialect300 ? auth::SigningAlgorithm::kAesCmac : auth::SigningAlgorithm::kHmacSha256;
    switch (mode) {
      case Mode::kGood: {
        Bytes m = FakeServer::Response(h, status::kSuccess, TcResp());
        SignAsServer(m, dialect, alg);
        r.frames.push_back(std::move(m));
        break;
      }
      case Mode::kUnsigned:
        r.frames.push_back(FakeServer::Response(h, status::kSuccess, TcResp()));
        break;
      case Mode::kBadSignature: {
        Bytes m = FakeServer::Response(h, status::kSuccess, TcResp());
        SignAsServer(m, dialect, alg);
        m[kSignatureOffset + 3] ^= 0x01;
        r.frames.push_back(std::move(m));
        break;
      }
      case Mode::kInterimThenGood: {
        // MS-SMB2 3.3.4.2: the interim response is async and unsigned.
        Header ih = h;
        ih.flags = kFlagServerToRedir | kFlagAsyncCommand;
        ih.async_id = 7;
        ih.status = status::kPending;
        ih.credits = 1;
        WireWriter w;
        Encode(ih, w);
        w.U16(9);  // MS-SMB2 2.2.2 ERROR response body
        w.U16(0);
        w.U32(0);
        w.U8(0);
        r.frames.push_back(w.Take());
        Header fh = ih;
        fh.status = status::kSuccess;
        Bytes m = FakeServer::Response(fh, status::kSuccess, TcResp());
        // keep the async form in the final response as servers do
        std::uint32_t flags = kFlagServerToRedir | kFlagAsyncCommand;
        std::memcpy(m.data() + 16, &flags, 4);
        SignAsServer(m, dialect, alg);
        r.frames.push_back(std::move(m));
        break;
      }
      case Mode::kWrongCommand: {
        Header wh = h;
        wh.command = Command::kEcho;
        WireWriter w;
        wh.flags = kFlagServerToRedir;
        Encode(wh, w);
        w.U16(4);
        w.U16(0);
        // Signed: a genuine answer of the wrong command (a broken server),
        // not a forgery, which would only be dropped.
        Bytes m = w.Take();
        SignAsServer(m, dialect, alg);
        r.frames.push_back(std::move(m));
        break;
      }
      case Mode::kSilent:
        break;
      case Mode::kClose:
        r.close_after = true;
        break;
    }
    return r;
  };
}

std::shared_ptr<Connection> OpenSigned(FakeServer&, ConnectionOptions o) {
  auto c = Connection::Open(o);
  EXPECT_TRUE(c) << c.error().message();
  if (!c) return nullptr;
  auth::SmbSessionKeys keys;
  keys.signing_key = SecretBytes(ByteSpan(kKeyBytes, 16));
  EXPECT_TRUE((*c)->AddSession(kSession, std::move(keys), false));
  return *c;
}

TEST(ConnectionTest, NegotiatesAndSignsRequests) {
  FakeServer s(ScriptFor(Mode::kGood));
  auto c = OpenSigned(s, Opts(s));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->negotiated().dialect, kDialect210);
  EXPECT_EQ(c->negotiated().signing_algorithm, auth::SigningAlgorithm::kHmacSha256);
  EXPECT_TRUE(c->negotiated().large_mtu);
  auto r = c->Call(TreeConnectReq());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status(), status::kSuccess);

  // The request on the wire is signed and its signature verifies.
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 2u);
  auto h = DecodeHeader(reqs[1]);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->is_signed());
  Bytes copy = reqs[1];
  std::memset(copy.data() + kSignatureOffset, 0, kSignatureSize);
  auto want = ComputeSignature(kDialect210, auth::SigningAlgorithm::kHmacSha256, ByteSpan(kKeyBytes, 16), copy);
  ASSERT_TRUE(want);
  EXPECT_EQ(0, std::memcmp(want->data(), reqs[1].data() + kSignatureOffset, 16));
  // The negotiate request demanded signing.
  auto nr = DecodeNegotiateRequest(reqs[0]);
  ASSERT_TRUE(nr);
  EXPECT_EQ(nr->security_mode & kSecurityModeSigningRequired, kSecurityModeSigningRequired);
}

// Counts the responses the connection dropped, by reason.
struct DropCounter {
  std::mutex mu;
  std::vector<std::error_code> seen;
  void Attach(ConnectionOptions& o) {
    o.on_protection_failure = [this](std::error_code why) {
      std::lock_guard<std::mutex> l(mu);
      seen.push_back(why);
    };
  }
  std::vector<std::error_code> Get() {
    std::lock_guard<std::mutex> l(mu);
    return seen;
  }
};

// A server whose every answer fails its protection in `mode`: each answer
// is dropped and counted, the connection stays up, and the request fails at
// its deadline with the reason.
void ExpectDroppedUntilDeadline(Mode mode, client_errc why) {
  FakeServer s(ScriptFor(mode));
  auto o = Opts(s);
  DropCounter drops;
  drops.Attach(o);
  auto c = OpenSigned(s, o);
  ASSERT_TRUE(c);
  Request req = TreeConnectReq();
  req.timeout = 400ms;
  auto r = c->Call(std::move(req));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(why));
  EXPECT_EQ(drops.Get(), std::vector<std::error_code>{make_error_code(why)});
  EXPECT_TRUE(c->is_open());
}

TEST(ConnectionTest, DropsUnsignedResponseAndReportsItAtTheDeadline) {
  ExpectDroppedUntilDeadline(Mode::kUnsigned, client_errc::unsigned_response);
}

TEST(ConnectionTest, DropsBadSignatureAndReportsItAtTheDeadline) {
  ExpectDroppedUntilDeadline(Mode::kBadSignature, client_errc::signature_mismatch);
}

TEST(ConnectionTest, ForgedResponseBeforeTheGenuineOneChangesNothing) {
  // A man in the middle answers first with the request's MessageId, unsigned
  // and then mis-signed, granting many credits; the genuine signed answer
  // follows. The request gets the genuine one.
  FakeServer s([](const Bytes&, const Header& h) {
    FakeServer::Reply r;
    if (h.command == Command::kNegotiate) {
      r.frames.push_back(FakeServer::Response(h, status::kSuccess, Neg(kDialect210), 1));
      return r;
    }
    r.frames.push_back(FakeServer::Response(h, status::kAccessDenied, TcResp(), 5000));
    Bytes bad = FakeServer::Response(h, status::kAccessDenied, TcResp(), 5000);
    SignAsServer(bad, kDialect210, auth::SigningAlgorithm::kHmacSha256);
    bad[kSignatureOffset] ^= 0x80;
    r.frames.push_back(std::move(bad));
    Bytes good = FakeServer::Response(h, status::kSuccess, TcResp(), 1);
    SignAsServer(good, kDialect210, auth::SigningAlgorithm::kHmacSha256);
    r.frames.push_back(std::move(good));
    return r;
  });
  auto o = Opts(s);
  DropCounter drops;
  drops.Attach(o);
  auto c = OpenSigned(s, o);
  ASSERT_TRUE(c);
  auto r = c->Call(TreeConnectReq());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status(), status::kSuccess);
  EXPECT_EQ(drops.Get().size(), 2u);
  // The forged 5000-credit grants were not taken: with one credit in hand,
  // two requests sent at once go one after the other, each answered.
  auto r2 = c->Call(TreeConnectReq());
  ASSERT_TRUE(r2) << r2.error().message();
}

TEST(ConnectionTest, UnsignedSessionExpiredIsTakenAsTheServersWord) {
  // MS-SMB2 3.3.4.1.1: a server that lost the session cannot sign; the
  // status reaches the caller (which sets up a new session), never data.
  FakeServer s([](const Bytes&, const Header& h) {
    FakeServer::Reply r;
    if (h.command == Command::kNegotiate) {
      r.frames.push_back(FakeServer::Response(h, status::kSuccess, Neg(kDialect210), 1));
      return r;
    }
    r.frames.push_back(FakeServer::Response(h, status::kNetworkSessionExpired, ErrorResponse{}, 1));
    return r;
  });
  auto c = OpenSigned(s, Opts(s));
  ASSERT_TRUE(c);
  auto r = c->Call(TreeConnectReq());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status(), status::kNetworkSessionExpired);
}

TEST(ConnectionTest, InterimPendingIsNotVerifiedAndFinalIs) {
  FakeServer s(ScriptFor(Mode::kInterimThenGood));
  auto c = OpenSigned(s, Opts(s));
  ASSERT_TRUE(c);
  auto r = c->Call(TreeConnectReq());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status(), status::kSuccess);
}

TEST(ConnectionTest, Smb3UsesCmac) {
  FakeServer s(ScriptFor(Mode::kGood, kDialect302));
  auto o = Opts(s);
  o.max_dialect = kDialect302;
  auto c = OpenSigned(s, o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->negotiated().signing_algorithm, auth::SigningAlgorithm::kAesCmac);
  auto r = c->Call(TreeConnectReq());
  ASSERT_TRUE(r) << r.error().message();
}

TEST(ConnectionTest, WrongCommandFailsTheConnection) {
  FakeServer s(ScriptFor(Mode::kWrongCommand));
  auto c = OpenSigned(s, Opts(s));
  ASSERT_TRUE(c);
  auto r = c->Call(TreeConnectReq());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::unexpected_command));
}

TEST(ConnectionTest, TimeoutFailsTheWaiter) {
  FakeServer s(ScriptFor(Mode::kSilent));
  auto o = Opts(s);
  auto c = OpenSigned(s, o);
  ASSERT_TRUE(c);
  Request req = TreeConnectReq();
  req.timeout = 300ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c->Call(std::move(req));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(client_errc::timeout));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(ConnectionTest, LostConnectionFailsEveryWaiterAtOnce) {
  FakeServer s(ScriptFor(Mode::kSilent));
  auto c = OpenSigned(s, Opts(s));
  ASSERT_TRUE(c);
  std::vector<std::future<Result<Response>>> fs;
  for (int i = 0; i < 5; ++i) {
    auto p = std::make_shared<std::promise<Result<Response>>>();
    fs.push_back(p->get_future());
    c->Send(TreeConnectReq(), [p](Result<Response> r) { p->set_value(std::move(r)); });
  }
  // Let the requests reach the server, then drop the connection.
  for (int i = 0; i < 100 && s.requests().size() < 6; ++i) std::this_thread::sleep_for(10ms);
  s.CloseClient();
  for (auto& f : fs) {
    ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
    auto r = f.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(client_errc::connection_lost));
  }
  EXPECT_FALSE(c->is_open());
  // Later requests fail at once too.
  auto r = c->Call(TreeConnectReq());
  EXPECT_EQ(r.error(), make_error_code(client_errc::connection_lost));
}

TEST(ConnectionTest, MultiCreditRequestChargesAndAdvancesMessageIds) {
  FakeServer s(ScriptFor(Mode::kGood));
  auto c = OpenSigned(s, Opts(s));
  ASSERT_TRUE(c);
  // The negotiate response granted 1 credit; the first request asks for
  // more, so a second, 16-credit request can go once it is answered.
  ASSERT_TRUE(c->Call(TreeConnectReq()));
  Request big = TreeConnectReq();
  big.payload_size = 1 << 20;  // 1 MiB: 16 credits of 64 KiB
  auto r = c->Call(std::move(big));
  ASSERT_TRUE(r) << r.error().message();
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 3u);
  auto h1 = DecodeHeader(reqs[1]);
  auto h2 = DecodeHeader(reqs[2]);
  ASSERT_TRUE(h1 && h2);
  EXPECT_EQ(h2->credit_charge, 16);
  EXPECT_EQ(h2->message_id, h1->message_id + 1);
  EXPECT_GE(h2->credits, 16);
}

TEST(ConnectionTest, StarvedOfCreditsFailsInsteadOfHanging) {
  FakeServer s([](const Bytes&, const Header& h) {
    FakeServer::Reply r;
    r.frames.push_back(FakeServer::Response(h, status::kSuccess, Neg(kDialect210), 0));
    return r;
  });
  auto c = OpenSigned(s, Opts(s));
  ASSERT_TRUE(c);
  auto r = c->Call(TreeConnectReq());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(client_errc::credits_exhausted));
}

TEST(ConnectionTest, RefusesADialectItDidNotOffer) {
  FakeServer s([](const Bytes&, const Header& h) {
    FakeServer::Reply r;
    r.frames.push_back(FakeServer::Response(h, status::kSuccess, Neg(kDialect311), 1));
    return r;
  });
  auto o = Opts(s);
  o.max_dialect = kDialect302;
  const char* step = nullptr;
  auto c = Connection::Open(o, &step);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), make_error_code(client_errc::no_common_dialect));
  EXPECT_STREQ(step, "negotiate");
}

TEST(ConnectionTest, RefusesAServerThatCannotSign) {
  FakeServer s([](const Bytes&, const Header& h) {
    FakeServer::Reply r;
    NegotiateResponse n = Neg(kDialect210);
    n.security_mode = 0;
    r.frames.push_back(FakeServer::Response(h, status::kSuccess, n, 1));
    return r;
  });
  auto c = Connection::Open(Opts(s));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), make_error_code(client_errc::signing_not_supported));
}

TEST(ConnectionTest, OversizedFrameFailsTheConnection) {
  FakeServer s(ScriptFor(Mode::kSilent));
  auto c = OpenSigned(s, Opts(s));
  ASSERT_TRUE(c);
  auto p = std::make_shared<std::promise<Result<Response>>>();
  auto f = p->get_future();
  c->Send(TreeConnectReq(), [p](Result<Response> r) { p->set_value(std::move(r)); });
  for (int i = 0; i < 100 && s.requests().size() < 2; ++i) std::this_thread::sleep_for(10ms);
  s.SendRaw(Bytes{0, 0xff, 0xff, 0xff});  // 16 MiB: above max_read + headers
  ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(f.get().error(), make_error_code(errc::malformed_response));
}

TEST(ConnectionTest, CompoundIsOneFrameOfSignedAlignedMembers) {
  // The fake server sees one message per read only for plain frames; here
  // it records the raw compound and answers each member separately.
  std::vector<Bytes> frames;
  std::mutex mu;
  FakeServer s([&](const Bytes& msg, const Header& h) {
    FakeServer::Reply r;
    if (h.command == Command::kNegotiate) {
      r.frames.push_back(FakeServer::Response(h, status::kSuccess, Neg(kDialect210), 64));
      return r;
    }
    {
      std::lock_guard<std::mutex> l(mu);
      frames.push_back(msg);
    }
    auto parts = SplitCompound(msg);
    if (!parts) return r;
    for (ByteSpan part : *parts) {
      auto ph = DecodeHeader(part);
      Bytes m = FakeServer::Response(*ph, status::kSuccess, TcResp());
      SignAsServer(m, kDialect210, auth::SigningAlgorithm::kHmacSha256);
      r.frames.push_back(std::move(m));
    }
    return r;
  });
  auto c = OpenSigned(s, Opts(s));
  ASSERT_TRUE(c);
  std::vector<Request> reqs;
  for (int i = 0; i < 3; ++i) reqs.push_back(TreeConnectReq());
  auto p = std::make_shared<std::promise<std::vector<Result<Response>>>>();
  auto f = p->get_future();
  c->SendCompound(std::move(reqs), true, [p](std::vector<Result<Response>> r) { p->set_value(std::move(r)); });
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  auto results = f.get();
  ASSERT_EQ(results.size(), 3u);
  for (auto& r : results) {
    EXPECT_TRUE(r) << r.error().message();
  }

  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(frames.size(), 1u);  // one frame on the wire
  auto parts = SplitCompound(frames[0]);
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 3u);
  for (std::size_t i = 0; i < parts->size(); ++i) {
    ByteSpan part = (*parts)[i];
    auto h = DecodeHeader(part);
    ASSERT_TRUE(h);
    if (i < 2) {
      EXPECT_EQ(part.size() % 8, 0u);
    }
    EXPECT_EQ((h->flags & kFlagRelatedOperations) != 0, i > 0);
    ASSERT_TRUE(h->is_signed());
    // Each member's signature covers it with its padding (3.1.4.1).
    Bytes copy(part.begin(), part.end());
    std::memset(copy.data() + kSignatureOffset, 0, kSignatureSize);
    auto want = ComputeSignature(kDialect210, auth::SigningAlgorithm::kHmacSha256, ByteSpan(kKeyBytes, 16), copy);
    ASSERT_TRUE(want);
    EXPECT_EQ(0, std::memcmp(want->data(), part.data() + kSignatureOffset, 16));
  }
}

TEST(ConnectionTest, ConnectRefusedIsAConnectError) {
  // A port nobody listens on: bind one, close it.
  std::uint16_t port;
  {
    FakeServer s(ScriptFor(Mode::kSilent));
    port = s.port();
  }
  ConnectionOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  const char* step = nullptr;
  auto c = Connection::Open(o, &step);
  ASSERT_FALSE(c);
  EXPECT_STREQ(step, "connect");
}

}  // namespace
}  // namespace smbgate::smb2

namespace smbgate::smb2 {
namespace {

// 3.x requests carry the ChannelSequence set for the connection in the low
// 16 bits of Status, and replays SMB2_FLAGS_REPLAY_OPERATION (MS-SMB2
// 2.2.1.2); a lease break notification (unsolicited, unsigned, MS-SMB2
// 3.3.4.7) reaches the handler, an oplock break does not.
TEST(ConnectionTest, ChannelSequenceReplayFlagAndLeaseBreaks) {
  FakeServer s(ScriptFor(Mode::kGood, kDialect302));
  auto o = Opts(s);
  o.max_dialect = kDialect302;
  auto c = OpenSigned(s, o);
  ASSERT_TRUE(c);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<LeaseBreakNotification> breaks;
  c->SetLeaseBreakHandler([&](const LeaseBreakNotification& n) {
    std::lock_guard<std::mutex> l(mu);
    breaks.push_back(n);
    cv.notify_all();
  });
  ASSERT_TRUE(c->Call(TreeConnectReq()));
  c->SetChannelSequence(7);
  Request replay = TreeConnectReq();
  replay.replay = true;
  ASSERT_TRUE(c->Call(std::move(replay)));
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 3u);
  auto first = DecodeHeader(reqs[1]);
  auto second = DecodeHeader(reqs[2]);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->status, 0u);
  EXPECT_FALSE(first->flags & kFlagReplayOperation);
  EXPECT_EQ(second->status, 7u);
  EXPECT_TRUE(second->flags & kFlagReplayOperation);

  auto unsolicited = [](const auto& body) {
    Header h;
    h.command = Command::kOplockBreak;
    h.flags = kFlagServerToRedir;
    h.message_id = kUnsolicitedMessageId;
    Bytes m = EncodeMessage(h, body);
    Bytes frame = {0, 0, static_cast<std::uint8_t>(m.size() >> 8), static_cast<std::uint8_t>(m.size())};
    frame.insert(frame.end(), m.begin(), m.end());
    return frame;
  };
  OplockBreak ob;
  s.SendRaw(unsolicited(ob));
  LeaseBreakNotification n;
  n.flags = kNotifyBreakLeaseFlagAckRequired;
  n.lease_key[0] = 0x42;
  n.current_lease_state = kLeaseReadCaching | kLeaseHandleCaching;
  n.new_lease_state = kLeaseReadCaching;
  s.SendRaw(unsolicited(n));
  std::unique_lock<std::mutex> l(mu);
  ASSERT_TRUE(cv.wait_for(l, 5s, [&] { return !breaks.empty(); }));
  ASSERT_EQ(breaks.size(), 1u);
  EXPECT_EQ(breaks[0].lease_key[0], 0x42);
  EXPECT_EQ(breaks[0].new_lease_state, kLeaseReadCaching);
  EXPECT_TRUE(c->is_open());
}

}  // namespace
}  // namespace smbgate::smb2
