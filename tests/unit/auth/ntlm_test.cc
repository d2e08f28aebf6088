#include "auth/ntlm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "tests/unit/auth/fake_ntlm_server.h"
#include "tests/vectors/hex.h"

namespace smbgate::auth {
namespace {

using smbgate::testing::Hex;
using smbgate::testing::ToHex;
using testing::CountingRandom;
using testing::FakeNtlmServer;
using testing::FixedClock;
using testing::Utf16le;

void Put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v);
  b[at + 1] = static_cast<std::uint8_t>(v >> 8);
}
void Put32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[at + static_cast<std::size_t>(i)] =
        static_cast<std::uint8_t>(v >> (8 * i));
}
// Rewrites the Len/MaxLen/Offset triple at `at`.
void SetField(Bytes& b, std::size_t at, std::uint16_t len, std::uint32_t off) {
  Put16(b, at, len);
  Put16(b, at + 2, len);
  Put32(b, at + 4, off);
}

NtlmCredentials Alice(std::string password = "secret") {
  return {"alice", "EXAMPLE", SecretString(password), "WS01"};
}

Bytes ServerChallengeBytes(FakeNtlmServer& server) {
  NtlmClient probe(Alice(), CountingRandom(), FixedClock(1));
  return server.Challenge(probe.Negotiate());
}

// ---- NEGOTIATE --------------------------------------------------------------

TEST(NtlmNegotiate, FlagsAndLayout) {
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  const Bytes neg = client.Negotiate();
  ASSERT_EQ(neg.size(), 40u);
  EXPECT_EQ(std::memcmp(neg.data(), "NTLMSSP\0\1\0\0\0", 12), 0);
  auto m = DecodeNegotiate(neg);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->negotiate_flags, ntlmssp::kClientNegotiateFlags);
  EXPECT_EQ(m->negotiate_flags, 0xe2088215u);
  EXPECT_EQ(m->negotiate_flags & ntlmssp::kNegotiateLmKey, 0u);
  EXPECT_EQ(m->negotiate_flags & ntlmssp::kNegotiateOem, 0u);
  EXPECT_TRUE(m->domain_name.empty());
  EXPECT_TRUE(m->workstation.empty());
  ASSERT_TRUE(m->version);
  EXPECT_EQ(EncodeNegotiate(*m), neg);
}

TEST(NtlmNegotiate, RoundTripWithStrings) {
  NegotiateMessage m;
  m.negotiate_flags = ntlmssp::kNegotiateOemDomainSupplied |
                      ntlmssp::kNegotiateOemWorkstationSupplied;
  m.domain_name = Hex("444f4d");
  m.workstation = Hex("5753");
  const Bytes b = EncodeNegotiate(m);
  auto d = DecodeNegotiate(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, m);
}

// ---- AV pairs ---------------------------------------------------------------

TEST(NtlmAvPairs, RoundTripAndTrailingBytes) {
  const std::vector<AvPair> pairs = {
      {ntlmssp::kMsvAvNbComputerName, Utf16le("X")},
      {ntlmssp::kMsvAvDnsTreeName, {}}};
  Bytes b = EncodeAvPairs(pairs);
  auto d = DecodeAvPairs(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, pairs);
  b.push_back(0xff);  // after MsvAvEOL: not part of the list
  EXPECT_TRUE(DecodeAvPairs(b));
}

TEST(NtlmAvPairs, Rejections) {
  EXPECT_EQ(DecodeAvPairs({}).error(), errc::malformed_token);
  EXPECT_EQ(DecodeAvPairs(Hex("0000")).error(),
            errc::malformed_token);  // short EOL
  EXPECT_EQ(DecodeAvPairs(Hex("01000400aabb")).error(),
            errc::malformed_token);  // value past end
  EXPECT_EQ(DecodeAvPairs(Hex("01000200aabb")).error(),
            errc::malformed_token);  // no EOL
  EXPECT_EQ(DecodeAvPairs(Hex("0100ffff00000000")).error(),
            errc::malformed_token);
  EXPECT_EQ(DecodeAvPairs(Hex("07000400010203040000 0000")).error(),
            errc::malformed_token);  // 4-byte timestamp
  EXPECT_EQ(DecodeAvPairs(Hex("0600020001000000 0000")).error(),
            errc::malformed_token);  // 2-byte MsvAvFlags
  std::vector<AvPair> many(ntlmssp::kMaxAvPairs + 1,
                           AvPair{ntlmssp::kMsvAvDnsTreeName, {}});
  EXPECT_EQ(DecodeAvPairs(EncodeAvPairs(many)).error(), errc::malformed_token);
  many.pop_back();
  EXPECT_TRUE(DecodeAvPairs(EncodeAvPairs(many)));
}

// ---- CHALLENGE --------------------------------------------------------------

TEST(NtlmChallenge, RoundTrip) {
  FakeNtlmServer server;
  const Bytes b = ServerChallengeBytes(server);
  auto ch = DecodeChallenge(b);
  ASSERT_TRUE(ch) << ch.error().message();
  EXPECT_EQ(ch->negotiate_flags, server.flags);
  EXPECT_EQ(ch->server_challenge, server.server_challenge);
  EXPECT_EQ(ch->target_name, Utf16le("EXAMPLE"));
  EXPECT_EQ(ch->target_info, server.TargetInfo());
  EXPECT_EQ(FindAvTimestamp(ch->target_info), server.timestamp);
  EXPECT_EQ(EncodeChallenge(*ch), b);

  // Without version and target name.
  ChallengeMessage m;
  m.negotiate_flags = ntlmssp::kNegotiateUnicode;
  m.target_info = {{ntlmssp::kMsvAvNbComputerName, Utf16le("S")}};
  auto d = DecodeChallenge(EncodeChallenge(m));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, m);
}

TEST(NtlmChallenge, EveryTruncationIsRejected) {
  FakeNtlmServer server;
  const Bytes b = ServerChallengeBytes(server);
  for (std::size_t n = 0; n < b.size(); ++n) {
    auto r = DecodeChallenge(ByteSpan(b).first(n));
    EXPECT_FALSE(r) << "length " << n;
  }
}

TEST(NtlmChallenge, HeaderRejections) {
  FakeNtlmServer server;
  Bytes b = ServerChallengeBytes(server);
  Bytes bad = b;
  bad[0] = 'X';
  EXPECT_EQ(DecodeChallenge(bad).error(), errc::malformed_token);
  bad = b;
  Put32(bad, 8, 3);
  EXPECT_EQ(DecodeChallenge(bad).error(), errc::unexpected_message);
  Bytes huge = b;
  huge.resize(ntlmssp::kMaxMessageSize + 1);
  EXPECT_EQ(DecodeChallenge(huge).error(), errc::malformed_token);
}

TEST(NtlmChallenge, FieldRejections) {
  FakeNtlmServer server;
  const Bytes b = ServerChallengeBytes(server);
  auto ch = DecodeChallenge(b);
  ASSERT_TRUE(ch);
  const std::uint16_t name_len =
      static_cast<std::uint16_t>(ch->target_name.size());
  const std::size_t info_off = b[44] | (b[45] << 8);
  const std::uint16_t info_len =
      static_cast<std::uint16_t>(b[40] | (b[41] << 8));

  struct Case {
    const char* what;
    std::size_t field;
    std::uint16_t len;
    std::uint32_t off;
  };
  const Case cases[] = {
      {"target info past the end", 40, info_len,
       static_cast<std::uint32_t>(b.size() - 4)},
      {"target info offset far past the end", 40, 4, 0xfffffff0u},
      {"target info length past the end", 40,
       static_cast<std::uint16_t>(info_len + 1),
       static_cast<std::uint32_t>(info_off)},
      {"target info inside the fixed header", 40, 8, 16},
      {"target name overlapping target info", 12,
       static_cast<std::uint16_t>(name_len + 4),
       static_cast<std::uint32_t>(info_off - name_len)},
      {"target name offset wraps 32 bits", 12, 0xffff, 0xffffffffu},
  };
  for (const Case& c : cases) {
    Bytes bad = b;
    SetField(bad, c.field, c.len, c.off);
    EXPECT_EQ(DecodeChallenge(bad).error(), errc::malformed_token) << c.what;
  }
  // An AV pair whose length runs past the TargetInfo field (but not past the
  // message) is caught too.
  Bytes bad = b;
  Put16(bad, info_off + 2, static_cast<std::uint16_t>(info_len));
  EXPECT_EQ(DecodeChallenge(bad).error(), errc::malformed_token);
  // Empty fields may point anywhere (Windows sends offset 0).
  Bytes ok = b;
  SetField(ok, 12, 0, 0);
  EXPECT_TRUE(DecodeChallenge(ok));
}

// ---- AUTHENTICATE -----------------------------------------------------------

AuthenticateMessage SampleAuthenticate() {
  AuthenticateMessage m;
  m.negotiate_flags = ntlmssp::kClientNegotiateFlags;
  m.lm_challenge_response = Bytes(24, 0);
  m.nt_challenge_response = Bytes(70, 0x11);
  m.domain_name = Utf16le("EXAMPLE");
  m.user_name = Utf16le("alice");
  m.workstation = Utf16le("WS01");
  m.encrypted_random_session_key = Bytes(16, 0x22);
  m.version = NtlmVersion{10, 0, 1, 15};
  m.mic = std::array<std::uint8_t, 16>{1, 2,  3,  4,  5,  6,  7,  8,
                                       9, 10, 11, 12, 13, 14, 15, 16};
  return m;
}

TEST(NtlmAuthenticate, RoundTrips) {
  AuthenticateMessage m = SampleAuthenticate();
  Bytes b = EncodeAuthenticate(m);
  EXPECT_EQ(b[ntlmssp::kAuthenticateMicOffset], 1);
  auto d = DecodeAuthenticate(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, m);

  // Without MIC.
  m.mic.reset();
  d = DecodeAuthenticate(EncodeAuthenticate(m));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, m);

  // Without version either (and without the VERSION flag).
  m.version.reset();
  m.negotiate_flags &= ~ntlmssp::kNegotiateVersion;
  d = DecodeAuthenticate(EncodeAuthenticate(m));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, m);
  EXPECT_EQ(EncodeAuthenticate(m).size(), 64u + 24 + 70 + 14 + 10 + 8 + 16);
}

TEST(NtlmAuthenticate, EveryTruncationIsRejected) {
  const Bytes b = EncodeAuthenticate(SampleAuthenticate());
  for (std::size_t n = 0; n < b.size(); ++n) {
    EXPECT_FALSE(DecodeAuthenticate(ByteSpan(b).first(n))) << "length " << n;
  }
}

TEST(NtlmAuthenticate, FieldRejections) {
  const Bytes b = EncodeAuthenticate(SampleAuthenticate());
  const auto field = [&b](std::size_t at) {
    return std::pair<std::uint16_t, std::uint32_t>(
        static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8)),
        static_cast<std::uint32_t>(b[at + 4] | (b[at + 5] << 8) |
                                   (b[at + 6] << 16) | (b[at + 7] << 24)));
  };
  const auto [lm_len, lm_off] = field(12);
  const auto [nt_len, nt_off] = field(20);
  (void)nt_len;

  Bytes bad = b;
  SetField(bad, 20, 30, lm_off + 4);  // NT overlaps LM
  EXPECT_EQ(DecodeAuthenticate(bad).error(), errc::malformed_token);
  bad = b;
  SetField(bad, 36, 10, 60);  // user name over the flags
  EXPECT_EQ(DecodeAuthenticate(bad).error(), errc::malformed_token);
  bad = b;
  SetField(bad, 52, 16,
           static_cast<std::uint32_t>(b.size() - 8));  // key past end
  EXPECT_EQ(DecodeAuthenticate(bad).error(), errc::malformed_token);
  bad = b;
  SetField(bad, 12, lm_len, 0xffffffffu);  // offset wraps
  EXPECT_EQ(DecodeAuthenticate(bad).error(), errc::malformed_token);
  bad = b;
  SetField(bad, 28, 0xffff, nt_off);  // oversized length
  EXPECT_EQ(DecodeAuthenticate(bad).error(), errc::malformed_token);
  bad = b;
  Put32(bad, 8, 2);
  EXPECT_EQ(DecodeAuthenticate(bad).error(), errc::unexpected_message);
}

// ---- NTOWFv2 and the upper-case table ---------------------------------------

TEST(NtlmUpcaseTest, Ranges) {
  EXPECT_EQ(NtlmUpcase(u'a'), u'A');
  EXPECT_EQ(NtlmUpcase(u'z'), u'Z');
  EXPECT_EQ(NtlmUpcase(u'A'), u'A');
  EXPECT_EQ(NtlmUpcase(u'1'), u'1');
  EXPECT_EQ(NtlmUpcase(u'\u00e9'), u'\u00c9');  // é
  EXPECT_EQ(NtlmUpcase(u'\u00fe'), u'\u00de');  // þ
  EXPECT_EQ(NtlmUpcase(u'\u00ff'), u'\u0178');  // ÿ
  EXPECT_EQ(NtlmUpcase(u'\u00f7'), u'\u00f7');  // ÷
  EXPECT_EQ(NtlmUpcase(u'\u00df'), u'\u00df');  // ß
  EXPECT_EQ(NtlmUpcase(u'\u00b5'), u'\u00b5');  // µ
  EXPECT_EQ(NtlmUpcase(u'\u0101'), u'\u0100');  // ā
  EXPECT_EQ(NtlmUpcase(u'\u0100'), u'\u0100');
  EXPECT_EQ(NtlmUpcase(u'\u0142'), u'\u0141');  // ł
  EXPECT_EQ(NtlmUpcase(u'\u0141'), u'\u0141');
  EXPECT_EQ(NtlmUpcase(u'\u017e'), u'\u017d');  // ž
  EXPECT_EQ(NtlmUpcase(u'\u0151'), u'\u0150');  // ő
  EXPECT_EQ(NtlmUpcase(u'\u0131'), u'\u0131');  // dotless i: unchanged
  EXPECT_EQ(NtlmUpcase(u'\u03b1'), u'\u0391');  // α
  EXPECT_EQ(NtlmUpcase(u'\u03c2'), u'\u03a3');  // ς
  EXPECT_EQ(NtlmUpcase(u'\u03c3'), u'\u03a3');  // σ
  EXPECT_EQ(NtlmUpcase(u'\u044f'), u'\u042f');  // я
  EXPECT_EQ(NtlmUpcase(u'\u0451'), u'\u0401');  // ё
  EXPECT_EQ(NtlmUpcase(u'\u4e2d'), u'\u4e2d');  // no case
}

TEST(NtowfV2Test, UserCaseFoldsDomainDoesNot) {
  EXPECT_EQ(NtowfV2("pw", "\u00e9lise", "D"), NtowfV2("pw", "\u00c9LISE", "D"));
  EXPECT_NE(NtowfV2("pw", "elise", "d"), NtowfV2("pw", "elise", "D"));
  EXPECT_NE(NtowfV2("pw", "elise", "D"), NtowfV2("PW", "elise", "D"));
  // Invalid UTF-8 yields the all-zero key.
  EXPECT_EQ(NtowfV2("\xff", "u", "d"), (std::array<std::uint8_t, 16>{}));
}

// ---- NtlmClient -------------------------------------------------------------

TEST(NtlmClientTest, FullExchangeWithTimestamp) {
  FakeNtlmServer server;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(42));
  const Bytes challenge = server.Challenge(client.Negotiate());
  auto auth = client.Authenticate(challenge);
  ASSERT_TRUE(auth) << auth.error().message();
  ASSERT_TRUE(server.Accept(*auth));
  // MsvAvTimestamp from the server, not the clock; LM response Z(24).
  EXPECT_EQ(server.client_time, *server.timestamp);
  EXPECT_EQ(server.authenticate.lm_challenge_response, Bytes(24, 0));
  EXPECT_EQ(ToHex(client.session_key().span()),
            ToHex(server.exported_session_key.span()));
  EXPECT_EQ(client.session_key().size(), 16u);
  // The client's additions: MsvAvFlags (MIC present) and channel bindings.
  const AvPair* flags = FindAvPair(server.client_pairs, ntlmssp::kMsvAvFlags);
  ASSERT_TRUE(flags);
  EXPECT_EQ(ToHex(flags->value), "02000000");
  const AvPair* cb =
      FindAvPair(server.client_pairs, ntlmssp::kMsvAvChannelBindings);
  ASSERT_TRUE(cb);
  EXPECT_EQ(cb->value, Bytes(16, 0));
  EXPECT_TRUE(FindAvPair(server.client_pairs, ntlmssp::kMsvAvSingleHost));
  EXPECT_FALSE(FindAvPair(server.client_pairs, ntlmssp::kMsvAvTargetName));
  EXPECT_EQ(server.authenticate.workstation, Utf16le("WS01"));
  // KEY_EXCH: the session key is not the key-exchange key.
  EXPECT_EQ(server.authenticate.encrypted_random_session_key.size(), 16u);
  EXPECT_TRUE(server.authenticate.negotiate_flags & ntlmssp::kNegotiateKeyExch);
}

TEST(NtlmClientTest, ClockUsedWithoutServerTimestamp) {
  FakeNtlmServer server;
  server.timestamp.reset();
  NtlmClient client(Alice(), CountingRandom(),
                    FixedClock(0x01d9000000000000ull));
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  ASSERT_TRUE(server.Accept(*auth));  // also checks the LMv2 response
  EXPECT_EQ(server.client_time, 0x01d9000000000000ull);
  EXPECT_NE(server.authenticate.lm_challenge_response, Bytes(24, 0));
}

TEST(NtlmClientTest, MicCoversAllThreeMessages) {
  FakeNtlmServer server;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  const Bytes negotiate = client.Negotiate();
  const Bytes challenge = server.Challenge(negotiate);
  auto auth = client.Authenticate(challenge);
  ASSERT_TRUE(auth);
  auto am = DecodeAuthenticate(*auth);
  ASSERT_TRUE(am && am->mic);
  const auto key = client.session_key().span();
  EXPECT_EQ(ComputeMic(key, negotiate, challenge, *auth), *am->mic);
  // Any change to any of the three messages changes the MIC.
  Bytes n2 = negotiate;
  n2[12] ^= 1;
  EXPECT_NE(ComputeMic(key, n2, challenge, *auth), *am->mic);
  Bytes c2 = challenge;
  c2.back() ^= 1;
  EXPECT_NE(ComputeMic(key, negotiate, c2, *auth), *am->mic);
  Bytes a2 = *auth;
  a2[60] ^= 1;
  EXPECT_NE(ComputeMic(key, negotiate, challenge, a2), *am->mic);
  // The MIC field itself is excluded.
  Bytes a3 = *auth;
  a3[ntlmssp::kAuthenticateMicOffset] ^= 0xff;
  EXPECT_EQ(ComputeMic(key, negotiate, challenge, a3), *am->mic);
  // A server that sees a modified NEGOTIATE (downgrade) rejects.
  FakeNtlmServer tampered;
  NtlmClient c(Alice(), CountingRandom(), FixedClock(1));
  Bytes neg = c.Negotiate();
  const Bytes ch = tampered.Challenge(neg);
  auto a = c.Authenticate(ch);
  ASSERT_TRUE(a);
  tampered.negotiate[12] &= static_cast<std::uint8_t>(~ntlmssp::kNegotiateSign);
  EXPECT_FALSE(tampered.Accept(*a));
}

TEST(NtlmClientTest, ServerMsvAvFlagsAreKeptAndExtended) {
  FakeNtlmServer server;
  Bytes v(4, 0);
  v[0] = ntlmssp::kAvFlagAccountConstrained;
  server.extra_pairs = {{ntlmssp::kMsvAvFlags, v}};
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  ASSERT_TRUE(server.Accept(*auth));
  std::size_t count = 0;
  for (const AvPair& p : server.client_pairs)
    count += p.av_id == ntlmssp::kMsvAvFlags;
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(ToHex(FindAvPair(server.client_pairs, ntlmssp::kMsvAvFlags)->value),
            "03000000");
}

TEST(NtlmClientTest, TargetSpn) {
  FakeNtlmServer server;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  client.SetTargetSpn("cifs/filer.example.test");
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  ASSERT_TRUE(server.Accept(*auth));
  const AvPair* spn =
      FindAvPair(server.client_pairs, ntlmssp::kMsvAvTargetName);
  ASSERT_TRUE(spn);
  EXPECT_EQ(spn->value, Utf16le("cifs/filer.example.test"));
}

std::size_t CountAvPairs(const std::vector<AvPair>& pairs, std::uint16_t id) {
  return static_cast<std::size_t>(
      std::count_if(pairs.begin(), pairs.end(),
                    [id](const AvPair& p) { return p.av_id == id; }));
}

// What a hostile or broken server might put in its TargetInfo: the pairs
// only a client asserts (MS-NLMP 2.2.2.1), and MsvAvFlags with the
// client's UNTRUSTED_SPN bit.
std::vector<AvPair> ClientOnlyPairsFromServer() {
  Bytes single_host = Hex("30000000 00000000 1111111111111111");
  single_host.insert(single_host.end(), 32, 0xdd);
  Bytes flags(4, 0);
  flags[0] = ntlmssp::kAvFlagAccountConstrained | ntlmssp::kAvFlagUntrustedSpn;
  return {
      {ntlmssp::kMsvAvTargetName, Utf16le("cifs/attacker.example.test")},
      {ntlmssp::kMsvAvChannelBindings, Bytes(16, 0xee)},
      {ntlmssp::kMsvAvSingleHost, single_host},
      {ntlmssp::kMsvAvFlags, flags},
  };
}

TEST(NtlmClientTest, ServerClientOnlyPairsAreReplacedByTheClients) {
  FakeNtlmServer server;
  server.extra_pairs = ClientOnlyPairsFromServer();
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  client.SetTargetSpn("cifs/filer.example.test");
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth) << auth.error().message();
  ASSERT_TRUE(server.Accept(*auth));
  const auto& pairs = server.client_pairs;
  for (std::uint16_t id :
       {ntlmssp::kMsvAvFlags, ntlmssp::kMsvAvSingleHost,
        ntlmssp::kMsvAvTargetName, ntlmssp::kMsvAvChannelBindings}) {
    EXPECT_EQ(CountAvPairs(pairs, id), 1u) << "AvId " << id;
  }
  // The client's SPN, not the server's.
  EXPECT_EQ(FindAvPair(pairs, ntlmssp::kMsvAvTargetName)->value,
            Utf16le("cifs/filer.example.test"));
  // No channel binding: Z(16), not the server's bytes.
  EXPECT_EQ(FindAvPair(pairs, ntlmssp::kMsvAvChannelBindings)->value,
            Bytes(16, 0));
  // Single_Host_Data (2.2.2.2): Size 48, Z4, CustomData Z(8), and the
  // MachineID from the random source (after the 8-byte client challenge:
  // CountingRandom's bytes 0x48..0x67), not the server's.
  Bytes want = Hex("30000000 00000000 0000000000000000");
  for (std::uint8_t i = 0; i < 32; ++i)
    want.push_back(static_cast<std::uint8_t>(0x48 + i));
  EXPECT_EQ(ToHex(FindAvPair(pairs, ntlmssp::kMsvAvSingleHost)->value),
            ToHex(want));
  // The server's flags keep ACCOUNT_CONSTRAINED and gain the MIC bit;
  // UNTRUSTED_SPN is the client's to say, and it does not.
  EXPECT_EQ(ToHex(FindAvPair(pairs, ntlmssp::kMsvAvFlags)->value), "03000000");
}

TEST(NtlmClientTest, ServerTargetNameIsNotEchoedWithoutAnSpn) {
  FakeNtlmServer server;
  server.extra_pairs = ClientOnlyPairsFromServer();
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  ASSERT_TRUE(server.Accept(*auth));
  EXPECT_EQ(CountAvPairs(server.client_pairs, ntlmssp::kMsvAvTargetName), 0u);
  EXPECT_EQ(CountAvPairs(server.client_pairs, ntlmssp::kMsvAvChannelBindings),
            1u);
  EXPECT_EQ(CountAvPairs(server.client_pairs, ntlmssp::kMsvAvSingleHost), 1u);
}

TEST(NtlmClientTest, DuplicateServerMsvAvFlagsBecomeOne) {
  FakeNtlmServer server;
  Bytes v(4, 0);
  server.extra_pairs = {{ntlmssp::kMsvAvFlags, v}, {ntlmssp::kMsvAvFlags, v}};
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  ASSERT_TRUE(server.Accept(*auth));
  EXPECT_EQ(CountAvPairs(server.client_pairs, ntlmssp::kMsvAvFlags), 1u);
}

// The client's pairs come after the server's, in the order Windows sends
// them: MsvAvFlags, MsvAvSingleHost, MsvAvChannelBindings, MsvAvTargetName.
TEST(NtlmClientTest, ClientPairsInWindowsOrder) {
  FakeNtlmServer server;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  client.SetTargetSpn("cifs/filer.example.test");
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  ASSERT_TRUE(server.Accept(*auth));
  const std::size_t n = server.TargetInfo().size();
  ASSERT_EQ(server.client_pairs.size(), n + 4);
  EXPECT_EQ(server.client_pairs[n].av_id, ntlmssp::kMsvAvFlags);
  EXPECT_EQ(server.client_pairs[n + 1].av_id, ntlmssp::kMsvAvSingleHost);
  EXPECT_EQ(server.client_pairs[n + 2].av_id, ntlmssp::kMsvAvChannelBindings);
  EXPECT_EQ(server.client_pairs[n + 3].av_id, ntlmssp::kMsvAvTargetName);
}

TEST(NtlmClientTest, WithoutKeyExchange) {
  FakeNtlmServer server;
  server.flags &= ~ntlmssp::kNegotiateKeyExch;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  ASSERT_TRUE(server.Accept(*auth));
  EXPECT_TRUE(server.authenticate.encrypted_random_session_key.empty());
  EXPECT_EQ(client.negotiated_flags() & ntlmssp::kNegotiateKeyExch, 0u);
  EXPECT_EQ(ToHex(client.session_key().span()),
            ToHex(server.exported_session_key.span()));
  // Signatures still agree (checksum not RC4-encrypted).
  const Bytes data = Hex("300c060a2b06010401823702020a");
  EXPECT_TRUE(server.VerifyMic(data, client.SignMic(data)));
  EXPECT_TRUE(client.VerifyMic(data, server.SignMic(data)));
}

TEST(NtlmClientTest, WrongPasswordIsRejectedByTheServer) {
  FakeNtlmServer server;
  NtlmClient client(Alice("not-the-password"), CountingRandom(), FixedClock(1));
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  EXPECT_FALSE(server.Accept(*auth));
}

TEST(NtlmClientTest, PasswordsWithSpecialCharacters) {
  for (const char* pw :
       {"a,b;c", "back\\slash", "$dollar=sign", "quote\"d", "with spaces ",
        " lead", ", ; \\ $ = \" all", "p\u00e4ssw\u00f6rd\u20ac", ""}) {
    FakeNtlmServer server;
    server.password = pw;
    NtlmClient client(Alice(pw), CountingRandom(), FixedClock(1));
    auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
    ASSERT_TRUE(auth) << pw;
    EXPECT_TRUE(server.Accept(*auth)) << pw;
  }
}

TEST(NtlmClientTest, UserNameCaseDoesNotMatter) {
  FakeNtlmServer server;
  server.user = "Alice";
  NtlmCredentials creds = Alice();
  creds.user = "Alice";
  NtlmClient client(std::move(creds), CountingRandom(), FixedClock(1));
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  EXPECT_TRUE(server.Accept(*auth));
}

TEST(NtlmClientTest, RefusesChallengeWithoutTargetInfo) {
  ChallengeMessage ch;
  ch.negotiate_flags = ntlmssp::kNegotiateUnicode |
                       ntlmssp::kNegotiateExtendedSessionSecurity |
                       ntlmssp::kNegotiateNtlm | ntlmssp::kNegotiateSign;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  client.Negotiate();
  EXPECT_EQ(client.Authenticate(EncodeChallenge(ch)).error(),
            errc::ntlmv2_unavailable);
  EXPECT_TRUE(client.session_key().empty());
  EXPECT_TRUE(client.SignMic(Hex("00")).empty());
}

TEST(NtlmClientTest, RefusesChallengeWithoutExtendedSessionSecurity) {
  FakeNtlmServer server;
  server.flags &= ~ntlmssp::kNegotiateExtendedSessionSecurity;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  EXPECT_EQ(client.Authenticate(server.Challenge(client.Negotiate())).error(),
            errc::ntlmv2_unavailable);
}

TEST(NtlmClientTest, RefusesChallengeWithoutUnicode) {
  FakeNtlmServer server;
  server.flags &= ~ntlmssp::kNegotiateUnicode;
  server.flags |= ntlmssp::kNegotiateOem;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  EXPECT_EQ(client.Authenticate(server.Challenge(client.Negotiate())).error(),
            errc::ntlmv2_unavailable);
}

TEST(NtlmClientTest, NeverAsksForLmKeyEvenIfTheServerOffersIt) {
  FakeNtlmServer server;
  server.flags |= ntlmssp::kNegotiateLmKey | ntlmssp::kNegotiateDatagram;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  EXPECT_EQ(client.negotiated_flags() & ntlmssp::kNegotiateLmKey, 0u);
  EXPECT_EQ(client.negotiated_flags() & ntlmssp::kNegotiateDatagram, 0u);
}

TEST(NtlmClientTest, StateAndCredentialErrors) {
  FakeNtlmServer server;
  const Bytes challenge = ServerChallengeBytes(server);
  {
    NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
    EXPECT_EQ(client.Authenticate(challenge).error(), errc::invalid_state);
    EXPECT_EQ(client.VerifyMic(Hex("00"), Bytes(16)).error(),
              errc::invalid_state);
    client.Negotiate();
    ASSERT_TRUE(client.Authenticate(challenge));
    EXPECT_EQ(client.Authenticate(challenge).error(), errc::invalid_state);
  }
  {
    NtlmClient client({"", "D", SecretString("p"), ""}, CountingRandom(),
                      FixedClock(1));
    client.Negotiate();
    EXPECT_EQ(client.Authenticate(challenge).error(),
              errc::invalid_credentials);
  }
  {
    NtlmClient client({"u", "D", SecretString("bad\xc3"), ""}, CountingRandom(),
                      FixedClock(1));
    client.Negotiate();
    EXPECT_EQ(client.Authenticate(challenge).error(),
              errc::invalid_credentials);
  }
  {
    NtlmClient client({"u\xff", "D", SecretString("p"), ""}, CountingRandom(),
                      FixedClock(1));
    client.Negotiate();
    EXPECT_EQ(client.Authenticate(challenge).error(),
              errc::invalid_credentials);
  }
  {
    NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
    const Bytes negotiate = client.Negotiate();
    EXPECT_EQ(client.Authenticate(negotiate).error(), errc::unexpected_message);
    EXPECT_EQ(client.Authenticate(Hex("0102")).error(), errc::malformed_token);
    // Errors leave the client ready for a (valid) challenge.
    EXPECT_TRUE(client.Authenticate(challenge));
  }
}

TEST(NtlmClientTest, MechListMicBothWays) {
  FakeNtlmServer server;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth);
  ASSERT_TRUE(server.Accept(*auth));
  const Bytes data = Hex("300c060a2b06010401823702020a");
  const Bytes sig = client.SignMic(data);
  ASSERT_EQ(sig.size(), 16u);
  EXPECT_EQ(ToHex(ByteSpan(sig).first(4)), "01000000");
  EXPECT_EQ(ToHex(ByteSpan(sig).last(4)), "00000000");  // sequence number 0
  EXPECT_TRUE(server.VerifyMic(data, sig));

  const Bytes server_sig = server.SignMic(data);
  EXPECT_TRUE(client.VerifyMic(data, server_sig));
  // The next client signature uses sequence number 1.
  EXPECT_EQ(ToHex(ByteSpan(client.SignMic(data)).last(4)), "01000000");
}

TEST(NtlmClientTest, VerifyMicRejectsTampering) {
  FakeNtlmServer server;
  NtlmClient client(Alice(), CountingRandom(), FixedClock(1));
  auto auth = client.Authenticate(server.Challenge(client.Negotiate()));
  ASSERT_TRUE(auth && server.Accept(*auth));
  const Bytes data = Hex("300c060a2b06010401823702020a");
  Bytes sig = server.SignMic(data);
  sig[5] ^= 1;
  EXPECT_EQ(client.VerifyMic(data, sig).error(), errc::mic_mismatch);
  EXPECT_EQ(client.VerifyMic(data, Bytes(3)).error(), errc::mic_mismatch);
}

TEST(NtlmClientTest, MovedClientContinues) {
  FakeNtlmServer server;
  NtlmClient first(Alice(), CountingRandom(), FixedClock(1));
  const Bytes challenge = server.Challenge(first.Negotiate());
  NtlmClient second = std::move(first);
  auto auth = second.Authenticate(challenge);
  ASSERT_TRUE(auth);
  EXPECT_TRUE(server.Accept(*auth));
}

}  // namespace
}  // namespace smbgate::auth
