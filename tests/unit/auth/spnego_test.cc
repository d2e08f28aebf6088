#include "auth/spnego.h"

#include <gtest/gtest.h>

#include "auth/der.h"
#include "tests/unit/auth/fake_ntlm_server.h"
#include "tests/vectors/hex.h"

namespace smbgate::auth {
namespace {

using smbgate::testing::Hex;
using smbgate::testing::NormHex;
using smbgate::testing::ToHex;
using testing::CountingRandom;
using testing::FakeNtlmServer;
using testing::FixedClock;

Bytes Ntlmssp() {
  return Bytes(std::begin(oid::kNtlmssp), std::end(oid::kNtlmssp));
}
Bytes Krb5() {
  return Bytes(std::begin(oid::kKerberos5), std::end(oid::kKerberos5));
}
Bytes MsKrb5() {
  return Bytes(std::begin(oid::kMsKerberos5), std::end(oid::kMsKerberos5));
}

// ---- Real tokens from a Windows 10 client and server (the SMB 3.1.1 example
// of Microsoft's "anatomy of signing and cryptographic keys" blog) ----------

// NEGOTIATE response security buffer: NegTokenInit2 listing NEGOEX and
// NTLMSSP, with a NEGOEX mechToken.
const char kWinNegprot[] =
    "6082013C06062B0601050502A08201303082012CA01A3018060A2B06010401823702021E"
    "060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000"
    "60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C42"
    "96B26E51FD370471B235E15A50DAE15BD5489C8700000000000000006000000001000000"
    "00000000000000005C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000"
    "0100000040000000980000007C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4D"
    "B2EC4AE3786EC30840000000580000003056A05430523027802530233121301F06035504"
    "031318546F6B656E205369676E696E67205075626C6963204B6579302780253023312130"
    "1F06035504031318546F6B656E205369676E696E67205075626C6963204B6579";
// First SESSION_SETUP request: NegTokenInit{[NTLMSSP], NEGOTIATE}.
const char kWinInit[] =
    "604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A04284E54"
    "4C4D5353500001000000978208E200000000000000000000000000000000060380250000"
    "000F";
const char kWinNtlmNegotiate[] =
    "4E544C4D5353500001000000978208E20000000000000000000000000000000006038025"
    "0000000F";
// First SESSION_SETUP response: accept-incomplete, NTLMSSP, CHALLENGE.
const char kWinResp1[] =
    "A181B03081ADA0030A0101A10C060A2B06010401823702020AA281970481944E544C4D53"
    "535000020000000C000C003800000015828AE20D1D8BA31179D008000000000000000050"
    "005000440000000A0092270000000F53005500540033003100310002000C005300550054"
    "0033003100310001000C0053005500540033003100310004000C00530055005400330031"
    "00310003000C0053005500540033003100310007000800A1A1F5ADCBAED00100000000";
// Final SESSION_SETUP response: accept-completed with the mechListMIC.
const char kWinResp2[] =
    "A11B3019A0030A0100A3120410010000003B453CDC3524164200000000";

TEST(SpnegoWindowsTokens, NegotiateHint) {
  auto t = DecodeNegTokenInit(Hex(kWinNegprot));
  ASSERT_TRUE(t) << t.error().message();
  ASSERT_EQ(t->mech_types.size(), 2u);
  EXPECT_EQ(OidToString(t->mech_types[0]), "1.3.6.1.4.1.311.2.2.30");  // NEGOEX
  EXPECT_EQ(t->mech_types[1], Ntlmssp());
  ASSERT_TRUE(t->mech_token);
  EXPECT_EQ(t->mech_token->size(), 0x108u);
  EXPECT_FALSE(t->neg_hints_name);
  EXPECT_EQ(ToHex(EncodeNegTokenInit(*t)), NormHex(kWinNegprot));
}

TEST(SpnegoWindowsTokens, InitialTokenMatchesOurEncodingByteForByte) {
  NegTokenInit ours;
  ours.mech_types = {Ntlmssp()};
  ours.mech_token = Hex(kWinNtlmNegotiate);
  EXPECT_EQ(ToHex(EncodeNegTokenInit(ours)), NormHex(kWinInit));
  auto t = DecodeNegTokenInit(Hex(kWinInit));
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, ours);
  EXPECT_EQ(ToHex(EncodeMechTypeList(t->mech_types)),
            NormHex("300C060A2B06010401823702020A"));
}

TEST(SpnegoWindowsTokens, Responses) {
  auto r1 = DecodeNegTokenResp(Hex(kWinResp1));
  ASSERT_TRUE(r1) << r1.error().message();
  EXPECT_EQ(r1->neg_state, NegState::kAcceptIncomplete);
  EXPECT_EQ(r1->supported_mech, Ntlmssp());
  ASSERT_TRUE(r1->response_token);
  EXPECT_EQ(r1->response_token->size(), 0x94u);
  EXPECT_TRUE(DecodeChallenge(*r1->response_token));
  EXPECT_FALSE(r1->mech_list_mic);
  EXPECT_EQ(ToHex(EncodeNegTokenResp(*r1)), NormHex(kWinResp1));

  auto r2 = DecodeNegTokenResp(Hex(kWinResp2));
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->neg_state, NegState::kAcceptCompleted);
  EXPECT_FALSE(r2->response_token);
  EXPECT_EQ(r2->mech_list_mic, Hex("010000003B453CDC3524164200000000"));
  EXPECT_EQ(ToHex(EncodeNegTokenResp(*r2)), NormHex(kWinResp2));
}

// ---- Round trips ------------------------------------------------------------

TEST(SpnegoCodec, NegTokenInit2WithHintsRoundTrip) {
  // Samba's NEGOTIATE hint: NegTokenInit2 with negHints.hintName.
  NegTokenInit t;
  t.mech_types = {MsKrb5(), Krb5(), Ntlmssp()};
  t.neg_hints_name = "not_defined_in_RFC4178@please_ignore";
  const Bytes b = EncodeNegTokenInit(t);
  auto d = DecodeNegTokenInit(b);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(*d, t);

  t.neg_hints_address = Hex("0a000001");
  t.mech_list_mic = Hex("0102");
  t.req_flags = Hex("00 60");
  t.mech_token = Bytes(300, 0x5a);  // long-form lengths
  d = DecodeNegTokenInit(EncodeNegTokenInit(t));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, t);
}

TEST(SpnegoCodec, Rfc4178MicAtTag3RoundTrip) {
  NegTokenInit t;
  t.mech_types = {Ntlmssp()};
  t.mech_list_mic = Hex("01000000");
  const Bytes b = EncodeNegTokenInit(t);
  auto d = DecodeNegTokenInit(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, t);
}

TEST(SpnegoCodec, BareNegotiationTokenChoice) {
  // [0] NegTokenInit without the [APPLICATION 0] wrapper.
  NegTokenInit t;
  t.mech_types = {Ntlmssp()};
  const Bytes wrapped = EncodeNegTokenInit(t);
  der::Reader r(wrapped);
  auto app = r.Next();
  ASSERT_TRUE(app);
  der::Reader inner(app->value);
  ASSERT_TRUE(inner.Next());  // the SPNEGO OID
  auto choice = inner.Next();
  ASSERT_TRUE(choice);
  auto d = DecodeNegTokenInit(choice->encoded);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, t);
}

TEST(SpnegoCodec, NegTokenRespRoundTrips) {
  for (NegState s : {NegState::kAcceptCompleted, NegState::kAcceptIncomplete,
                     NegState::kReject, NegState::kRequestMic}) {
    NegTokenResp t;
    t.neg_state = s;
    t.supported_mech = Ntlmssp();
    t.response_token = Bytes(200, 1);
    t.mech_list_mic = Bytes(16, 2);
    auto d = DecodeNegTokenResp(EncodeNegTokenResp(t));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, t);
  }
  NegTokenResp empty;
  auto d = DecodeNegTokenResp(EncodeNegTokenResp(empty));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, empty);
  EXPECT_EQ(ToHex(EncodeNegTokenResp(empty)), "a1023000");
}

TEST(SpnegoCodec, LongFormLengths) {
  // 0x82 two-byte length in the outer element, 0x81 in the inner.
  NegTokenResp t;
  t.response_token = Bytes(0x1234, 7);
  const Bytes b = EncodeNegTokenResp(t);
  EXPECT_EQ(ToHex(ByteSpan(b).first(4)), "a1821240");
  auto d = DecodeNegTokenResp(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->response_token->size(), 0x1234u);
  // BER's non-minimal long form (0x81 for a short length) is tolerated.
  auto ber = DecodeNegTokenResp(Hex("a18105 308102 a000"));
  EXPECT_FALSE(ber);  // [0] with nothing inside is still malformed
  auto ber_ok = DecodeNegTokenResp(Hex("a18107 308104 a0020a01"));
  EXPECT_FALSE(ber_ok);  // truncated ENUMERATED
  auto ber_good = DecodeNegTokenResp(Hex("a18108 308105 a0030a0101"));
  ASSERT_TRUE(ber_good);
  EXPECT_EQ(ber_good->neg_state, NegState::kAcceptIncomplete);
}

// ---- Rejections -------------------------------------------------------------

TEST(SpnegoCodec, EveryTruncationIsRejected) {
  for (const char* tok : {kWinNegprot, kWinInit}) {
    const Bytes b = Hex(tok);
    for (std::size_t n = 0; n < b.size(); ++n) {
      EXPECT_FALSE(DecodeNegTokenInit(ByteSpan(b).first(n))) << n;
    }
  }
  for (const char* tok : {kWinResp1, kWinResp2}) {
    const Bytes b = Hex(tok);
    for (std::size_t n = 0; n < b.size(); ++n) {
      EXPECT_FALSE(DecodeNegTokenResp(ByteSpan(b).first(n))) << n;
    }
  }
}

TEST(SpnegoCodec, BadLengths) {
  struct Case {
    const char* what;
    const char* hex;
  };
  const Case resp_cases[] = {
      {"indefinite length", "a180 3000 0000"},
      {"five length octets", "a185 0000000004 3002a000"},
      {"reserved length octet 0xff", "a1ff 3000"},
      {"length past the end", "a105 3000"},
      {"long-form length past the end", "a18201 00 3000"},
      {"long-form length octets missing", "a182 01"},
      {"inner length past the enclosing element", "a107 3006 a0030a0101"},
      {"nested element longer than its parent", "a107 3005 a0040a0101"},
      {"trailing bytes after the token", "a102 3000 00"},
      {"trailing bytes inside the sequence wrapper", "a104 3000 0000"},
      {"two elements inside an explicit tag", "a10a 3008 a0060a01010a0101"},
      {"fields out of order", "a10b 3009 a2020400 a0030a0101"},
      {"duplicate field", "a10c 300a a0030a0101 a0030a0101"},
      {"negState out of range", "a107 3005 a0030a0104"},
      {"negState two bytes", "a108 3006 a0040a020001"},
      {"negState wrong type", "a107 3005 a0030201 01"},
      {"supportedMech empty OID", "a106 3004 a1020600"},
      {"responseToken wrong type", "a106 3004 a2020300"},
      {"unknown field [4]", "a106 3004 a4020400"},
      {"primitive context tag", "a106 3004 80020400"},
      {"high tag number form", "a107 3005 bf1f020400"},
      {"not a sequence", "a102 0400"},
  };
  for (const Case& c : resp_cases) {
    auto r = DecodeNegTokenResp(Hex(c.hex));
    ASSERT_FALSE(r) << c.what;
    EXPECT_EQ(r.error(), errc::malformed_token) << c.what;
  }
  EXPECT_EQ(DecodeNegTokenResp(Hex("a002 3000")).error(),
            errc::unexpected_message);
  EXPECT_EQ(DecodeNegTokenResp({}).error(), errc::malformed_token);
}

TEST(SpnegoCodec, NegTokenInitRejections) {
  struct Case {
    const char* what;
    const char* hex;
    errc want;
  };
  const Case cases[] = {
      {"no mechTypes", "a002 3000", errc::malformed_token},
      {"empty mechTypes", "a006 3004 a0023000", errc::malformed_token},
      {"mechTypes not OIDs", "a008 3006 a0043002 0400", errc::malformed_token},
      {"empty OID", "a008 3006 a0043002 0600", errc::malformed_token},
      {"mechToken wrong type", "a010 300e a0083006060405050202 a2020300",
       errc::malformed_token},
      {"two mechListMICs ([3] and [4])",
       "a014 3012 a0083006060405050202 a3020400 a4020400",
       errc::malformed_token},
      {"unknown field [5]", "a010 300e a0083006060405050202 a5020400",
       errc::malformed_token},
      {"negHints wrong inner type",
       "a014 3012 a0083006060405050202 a3063004a0020400",
       errc::malformed_token},
      {"wrapper with another mechanism's OID",
       "600f 06092a864886f712010202 a0023000", errc::unexpected_message},
      {"wrapper without OID", "6004 a0023000", errc::malformed_token},
      {"wrapper with a NegTokenResp", "600c 06062b0601050502 a1023000",
       errc::unexpected_message},
      {"a NegTokenResp", "a102 3000", errc::unexpected_message},
      {"raw NTLMSSP", "4e544c4d5353500001000000", errc::malformed_token},
  };
  for (const Case& c : cases) {
    auto r = DecodeNegTokenInit(Hex(c.hex));
    ASSERT_FALSE(r) << c.what;
    EXPECT_EQ(r.error(), c.want) << c.what;
  }
  // Too many mechanisms.
  NegTokenInit t;
  t.mech_types.assign(kMaxMechTypes + 1, Ntlmssp());
  EXPECT_EQ(DecodeNegTokenInit(EncodeNegTokenInit(t)).error(),
            errc::malformed_token);
  t.mech_types.pop_back();
  EXPECT_TRUE(DecodeNegTokenInit(EncodeNegTokenInit(t)));
}

TEST(SpnegoCodec, DeepNestingIsBoundedByTheGrammar) {
  // Nested SEQUENCEs where an OID is expected do not recurse: the decoder
  // reads a fixed grammar, so depth is rejected, not followed.
  Bytes nested = Hex("0600");
  for (int i = 0; i < 1000; ++i) nested = der::Encode(der::kSequence, nested);
  const Bytes token = der::Encode(
      der::Context(0),
      der::Encode(der::kSequence, der::Encode(der::Context(0), nested)));
  EXPECT_EQ(DecodeNegTokenInit(token).error(), errc::malformed_token);
}

TEST(OidToStringTest, Cases) {
  EXPECT_EQ(OidToString(Ntlmssp()), "1.3.6.1.4.1.311.2.2.10");
  EXPECT_EQ(OidToString(Krb5()), "1.2.840.113554.1.2.2");
  EXPECT_EQ(OidToString(MsKrb5()), "1.2.840.48018.1.2.2");
  EXPECT_EQ(OidToString(Hex("2b0601050502")), "1.3.6.1.5.5.2");
  EXPECT_EQ(OidToString(Hex("8838")), "2.1000");
  EXPECT_EQ(OidToString({}), "?");
  EXPECT_EQ(OidToString(Hex("2b86")), "?");    // truncated
  EXPECT_EQ(OidToString(Hex("2b8001")), "?");  // non-minimal
}

// ---- SpnegoNtlmClient against an in-test server -----------------------------

// The acceptor half of RFC 4178 3.2 with NTLMSSP, over FakeNtlmServer.
class FakeSpnegoServer {
 public:
  FakeNtlmServer ntlm;
  bool send_final_mic = true;
  bool corrupt_final_mic = false;

  // The NEGOTIATE response's security buffer (Samba's shape).
  Bytes Hint(std::vector<Bytes> mechs = {MsKrb5(), Krb5(), Ntlmssp()}) const {
    NegTokenInit t;
    t.mech_types = std::move(mechs);
    t.neg_hints_name = "not_defined_in_RFC4178@please_ignore";
    return EncodeNegTokenInit(t);
  }

  ::testing::AssertionResult Round1(ByteSpan token, Bytes* reply) {
    auto init = DecodeNegTokenInit(token);
    if (!init)
      return ::testing::AssertionFailure()
             << "init: " << init.error().message();
    if (init->mech_types.empty() || init->mech_types[0] != Ntlmssp()) {
      return ::testing::AssertionFailure() << "NTLMSSP not first";
    }
    if (!init->mech_token)
      return ::testing::AssertionFailure() << "no mechToken";
    mech_types_der_ = EncodeMechTypeList(init->mech_types);
    NegTokenResp r;
    r.neg_state = NegState::kAcceptIncomplete;
    r.supported_mech = Ntlmssp();
    r.response_token = ntlm.Challenge(*init->mech_token);
    *reply = EncodeNegTokenResp(r);
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult Round2(ByteSpan token, Bytes* reply) {
    auto resp = DecodeNegTokenResp(token);
    if (!resp)
      return ::testing::AssertionFailure()
             << "resp: " << resp.error().message();
    if (!resp->response_token)
      return ::testing::AssertionFailure() << "no AUTHENTICATE";
    auto accepted = ntlm.Accept(*resp->response_token);
    if (!accepted) return accepted;
    if (!resp->mech_list_mic)
      return ::testing::AssertionFailure() << "no mechListMIC";
    if (!ntlm.VerifyMic(mech_types_der_, *resp->mech_list_mic)) {
      return ::testing::AssertionFailure()
             << "client mechListMIC does not verify";
    }
    NegTokenResp r;
    r.neg_state = NegState::kAcceptCompleted;
    if (send_final_mic) {
      r.mech_list_mic = ntlm.SignMic(mech_types_der_);
      if (corrupt_final_mic) (*r.mech_list_mic)[6] ^= 0x40;
    }
    *reply = EncodeNegTokenResp(r);
    return ::testing::AssertionSuccess();
  }

 private:
  Bytes mech_types_der_;
};

SpnegoNtlmClient MakeClient(std::string password = "secret") {
  return SpnegoNtlmClient(
      NtlmClient({"alice", "EXAMPLE", SecretString(password), "WS01"},
                 CountingRandom(), FixedClock(7)));
}

TEST(SpnegoNtlmClientTest, FullExchange) {
  FakeSpnegoServer server;
  SpnegoNtlmClient client = MakeClient();
  auto t1 = client.Start(server.Hint());
  ASSERT_TRUE(t1) << t1.error().message();
  Bytes r1;
  ASSERT_TRUE(server.Round1(*t1, &r1));
  auto t2 = client.Continue(r1);
  ASSERT_TRUE(t2) << t2.error().message();
  Bytes r2;
  ASSERT_TRUE(server.Round2(*t2, &r2));
  EXPECT_FALSE(client.complete());
  auto done = client.Finish(r2);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_TRUE(client.complete());
  EXPECT_EQ(ToHex(client.session_key().span()),
            ToHex(server.ntlm.exported_session_key.span()));
}

TEST(SpnegoNtlmClientTest, PasswordsWithSpecialCharacters) {
  for (const char* pw :
       {", ; \\ $ = \"", "two words", " padded ", "a=b;c=d", "C:\\path\\$x",
        "\"quoted, with comma\"", "tab\there"}) {
    FakeSpnegoServer server;
    server.ntlm.password = pw;
    SpnegoNtlmClient client = MakeClient(pw);
    auto t1 = client.Start(server.Hint());
    ASSERT_TRUE(t1);
    Bytes r1, r2;
    ASSERT_TRUE(server.Round1(*t1, &r1));
    auto t2 = client.Continue(r1);
    ASSERT_TRUE(t2);
    ASSERT_TRUE(server.Round2(*t2, &r2)) << pw;
    EXPECT_TRUE(client.Finish(r2)) << pw;
  }
}

TEST(SpnegoNtlmClientTest, EmptyHintAndEmptyFinalToken) {
  FakeSpnegoServer server;
  SpnegoNtlmClient client = MakeClient();
  auto t1 = client.Start({});
  ASSERT_TRUE(t1);
  Bytes r1, r2;
  ASSERT_TRUE(server.Round1(*t1, &r1));
  auto t2 = client.Continue(r1);
  ASSERT_TRUE(t2);
  ASSERT_TRUE(server.Round2(*t2, &r2));
  EXPECT_TRUE(client.Finish({}));
  EXPECT_TRUE(client.complete());
}

TEST(SpnegoNtlmClientTest, FinalWithoutMicIsAccepted) {
  FakeSpnegoServer server;
  server.send_final_mic = false;
  SpnegoNtlmClient client = MakeClient();
  Bytes r1, r2;
  ASSERT_TRUE(server.Round1(*client.Start(server.Hint()), &r1));
  ASSERT_TRUE(server.Round2(*client.Continue(r1), &r2));
  EXPECT_TRUE(client.Finish(r2));
}

TEST(SpnegoNtlmClientTest, BadFinalMicIsRejected) {
  FakeSpnegoServer server;
  server.corrupt_final_mic = true;
  SpnegoNtlmClient client = MakeClient();
  Bytes r1, r2;
  ASSERT_TRUE(server.Round1(*client.Start(server.Hint()), &r1));
  ASSERT_TRUE(server.Round2(*client.Continue(r1), &r2));
  EXPECT_EQ(client.Finish(r2).error(), errc::mic_mismatch);
  EXPECT_FALSE(client.complete());
}

TEST(SpnegoNtlmClientTest, WrongPasswordFailsAtTheServer) {
  FakeSpnegoServer server;
  SpnegoNtlmClient client = MakeClient("wrong");
  Bytes r1, r2;
  ASSERT_TRUE(server.Round1(*client.Start(server.Hint()), &r1));
  EXPECT_FALSE(server.Round2(*client.Continue(r1), &r2));
}

TEST(SpnegoNtlmClientTest, HintWithoutNtlmssp) {
  FakeSpnegoServer server;
  SpnegoNtlmClient client = MakeClient();
  EXPECT_EQ(client.Start(server.Hint({MsKrb5(), Krb5()})).error(),
            errc::mechanism_rejected);
  SpnegoNtlmClient c2 = MakeClient();
  EXPECT_EQ(c2.Start(Hex("0102")).error(), errc::malformed_token);
}

TEST(SpnegoNtlmClientTest, ServerRejectsOrPicksAnotherMech) {
  FakeSpnegoServer server;
  {
    SpnegoNtlmClient client = MakeClient();
    ASSERT_TRUE(client.Start(server.Hint()));
    NegTokenResp r;
    r.neg_state = NegState::kReject;
    EXPECT_EQ(client.Continue(EncodeNegTokenResp(r)).error(),
              errc::mechanism_rejected);
  }
  {
    SpnegoNtlmClient client = MakeClient();
    ASSERT_TRUE(client.Start(server.Hint()));
    NegTokenResp r;
    r.neg_state = NegState::kAcceptIncomplete;
    r.supported_mech = Krb5();
    r.response_token = Hex("00");
    EXPECT_EQ(client.Continue(EncodeNegTokenResp(r)).error(),
              errc::mechanism_rejected);
  }
  {
    SpnegoNtlmClient client = MakeClient();
    ASSERT_TRUE(client.Start(server.Hint()));
    NegTokenResp r;
    r.neg_state = NegState::kAcceptCompleted;
    EXPECT_EQ(client.Continue(EncodeNegTokenResp(r)).error(),
              errc::unexpected_message);
  }
  {
    SpnegoNtlmClient client = MakeClient();
    ASSERT_TRUE(client.Start(server.Hint()));
    NegTokenResp r;
    r.neg_state = NegState::kAcceptIncomplete;
    EXPECT_EQ(client.Continue(EncodeNegTokenResp(r)).error(),
              errc::unexpected_message);
  }
  {
    // A challenge without TargetInfo inside a good NegTokenResp.
    SpnegoNtlmClient client = MakeClient();
    ASSERT_TRUE(client.Start(server.Hint()));
    ChallengeMessage ch;
    ch.negotiate_flags =
        ntlmssp::kNegotiateUnicode | ntlmssp::kNegotiateExtendedSessionSecurity;
    NegTokenResp r;
    r.neg_state = NegState::kAcceptIncomplete;
    r.response_token = EncodeChallenge(ch);
    EXPECT_EQ(client.Continue(EncodeNegTokenResp(r)).error(),
              errc::ntlmv2_unavailable);
  }
}

TEST(SpnegoNtlmClientTest, RequestMicIsAnswered) {
  FakeSpnegoServer server;
  SpnegoNtlmClient client = MakeClient();
  Bytes r1, r2;
  ASSERT_TRUE(server.Round1(*client.Start(server.Hint()), &r1));
  auto resp = DecodeNegTokenResp(r1);
  ASSERT_TRUE(resp);
  resp->neg_state = NegState::kRequestMic;
  auto t2 = client.Continue(EncodeNegTokenResp(*resp));
  ASSERT_TRUE(t2);
  auto out = DecodeNegTokenResp(*t2);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->mech_list_mic);
  ASSERT_TRUE(server.Round2(*t2, &r2));
  EXPECT_TRUE(client.Finish(r2));
}

TEST(SpnegoNtlmClientTest, FinalStateErrors) {
  FakeSpnegoServer server;
  SpnegoNtlmClient client = MakeClient();
  Bytes r1, r2;
  ASSERT_TRUE(server.Round1(*client.Start(server.Hint()), &r1));
  ASSERT_TRUE(server.Round2(*client.Continue(r1), &r2));
  NegTokenResp incomplete;
  incomplete.neg_state = NegState::kAcceptIncomplete;
  EXPECT_EQ(client.Finish(EncodeNegTokenResp(incomplete)).error(),
            errc::unexpected_message);
  NegTokenResp reject;
  reject.neg_state = NegState::kReject;
  EXPECT_EQ(client.Finish(EncodeNegTokenResp(reject)).error(),
            errc::mechanism_rejected);
  EXPECT_EQ(client.Finish(Hex("a1")).error(), errc::malformed_token);
  ASSERT_TRUE(client.Finish(r2));
  EXPECT_EQ(client.Finish(r2).error(), errc::invalid_state);
}

TEST(SpnegoNtlmClientTest, OutOfOrderCalls) {
  SpnegoNtlmClient client = MakeClient();
  EXPECT_EQ(client.Continue(Hex("a1023000")).error(), errc::invalid_state);
  EXPECT_EQ(client.Finish({}).error(), errc::invalid_state);
  ASSERT_TRUE(client.Start({}));
  EXPECT_EQ(client.Start({}).error(), errc::invalid_state);
  EXPECT_EQ(client.Finish({}).error(), errc::invalid_state);
  EXPECT_TRUE(client.session_key().empty());
}

TEST(SpnegoNtlmClientTest, StartTokenShape) {
  SpnegoNtlmClient client = MakeClient();
  auto t1 = client.Start(Hex(kWinNegprot));  // Windows' hint lists NTLMSSP
  ASSERT_TRUE(t1);
  auto init = DecodeNegTokenInit(*t1);
  ASSERT_TRUE(init);
  EXPECT_EQ(init->mech_types, std::vector<Bytes>{Ntlmssp()});
  ASSERT_TRUE(init->mech_token);
  auto neg = DecodeNegotiate(*init->mech_token);
  ASSERT_TRUE(neg);
  EXPECT_EQ(neg->negotiate_flags, ntlmssp::kClientNegotiateFlags);
  EXPECT_FALSE(init->mech_list_mic);
  EXPECT_FALSE(init->req_flags);
}

}  // namespace
}  // namespace smbgate::auth
