// MS-NLMP 4.2.4 NTLMv2 vectors byte for byte (common values of 4.2.1: user
// "User", domain "Domain", password "Password", workstation "COMPUTER",
// server challenge 0123456789abcdef, client challenge aa..aa, random session
// key 55..55, time 0), plus a real Windows NTLM exchange from Microsoft's
// SMB 3.1.1 key-derivation example (blog "SMB 2 and SMB 3 security in
// Windows 10: the anatomy of signing and cryptographic keys"), whose
// ExportedSessionKey is published, so its MIC and mechListMICs can be
// recomputed.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <vector>

#include "auth/ntlm.h"
#include "tests/vectors/hex.h"

namespace smbgate::auth {
namespace {

using smbgate::testing::Hex;
using smbgate::testing::NormHex;
using smbgate::testing::ToHex;
using smbgate::testing::ToHexOf;

Bytes Utf16(std::string_view ascii) {
  Bytes out;
  for (char c : ascii) {
    out.push_back(static_cast<std::uint8_t>(c));
    out.push_back(0);
  }
  return out;
}

const std::array<std::uint8_t, 8> kClientChallenge = {0xaa, 0xaa, 0xaa, 0xaa,
                                                      0xaa, 0xaa, 0xaa, 0xaa};
const char kServerChallenge[] = "0123456789abcdef";
const char kRandomSessionKey[] = "55555555555555555555555555555555";

// 4.2.4.3: the CHALLENGE_MESSAGE.
const char kSpecChallenge[] =
    "4e 54 4c 4d 53 53 50 00 02 00 00 00 0c 00 0c 00"
    "38 00 00 00 33 82 8a e2 01 23 45 67 89 ab cd ef"
    "00 00 00 00 00 00 00 00 24 00 24 00 44 00 00 00"
    "06 00 70 17 00 00 00 0f 53 00 65 00 72 00 76 00"
    "65 00 72 00 02 00 0c 00 44 00 6f 00 6d 00 61 00"
    "69 00 6e 00 01 00 0c 00 53 00 65 00 72 00 76 00"
    "65 00 72 00 00 00 00 00";

// 4.2.4.3: the AUTHENTICATE_MESSAGE.
const char kSpecAuthenticate[] =
    "4e 54 4c 4d 53 53 50 00 03 00 00 00 18 00 18 00"
    "6c 00 00 00 54 00 54 00 84 00 00 00 0c 00 0c 00"
    "48 00 00 00 08 00 08 00 54 00 00 00 10 00 10 00"
    "5c 00 00 00 10 00 10 00 d8 00 00 00 35 82 88 e2"
    "05 01 28 0a 00 00 00 0f 44 00 6f 00 6d 00 61 00"
    "69 00 6e 00 55 00 73 00 65 00 72 00 43 00 4f 00"
    "4d 00 50 00 55 00 54 00 45 00 52 00 86 c3 50 97"
    "ac 9c ec 10 25 54 76 4a 57 cc cc 19 aa aa aa aa"
    "aa aa aa aa 68 cd 0a b8 51 e5 1c 96 aa bc 92 7b"
    "eb ef 6a 1c 01 01 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 aa aa aa aa aa aa aa aa 00 00 00 00"
    "02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00"
    "01 00 0c 00 53 00 65 00 72 00 76 00 65 00 72 00"
    "00 00 00 00 00 00 00 00 c5 da d2 54 4f c9 79 90"
    "94 ce 1c e9 0b c9 d0 3e";

// 4.2.4.1.3: temp.
const char kSpecTemp[] =
    "01 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "aa aa aa aa aa aa aa aa 00 00 00 00 02 00 0c 00"
    "44 00 6f 00 6d 00 61 00 69 00 6e 00 01 00 0c 00"
    "53 00 65 00 72 00 76 00 65 00 72 00 00 00 00 00"
    "00 00 00 00";

// 4.2.4.1.1
TEST(NtlmV2Vectors, ResponseKeyNt) {
  EXPECT_EQ(ToHexOf(NtowfV2("Password", "User", "Domain")),
            NormHex("0c 86 8a 40 3b fd 7a 93 a3 00 1e f2 2e f0 2e 3f"));
  // The user name is upper-cased, the domain is not.
  EXPECT_EQ(ToHexOf(NtowfV2("Password", "user", "Domain")),
            NormHex("0c 86 8a 40 3b fd 7a 93 a3 00 1e f2 2e f0 2e 3f"));
  EXPECT_NE(ToHexOf(NtowfV2("Password", "User", "DOMAIN")),
            NormHex("0c 86 8a 40 3b fd 7a 93 a3 00 1e f2 2e f0 2e 3f"));
}

TEST(NtlmV2Vectors, DecodeSpecChallenge) {
  auto ch = DecodeChallenge(Hex(kSpecChallenge));
  ASSERT_TRUE(ch) << ch.error().message();
  EXPECT_EQ(ch->negotiate_flags, 0xe28a8233u);
  EXPECT_EQ(ToHexOf(ch->server_challenge), kServerChallenge);
  EXPECT_EQ(ch->target_name, Utf16("Server"));
  ASSERT_EQ(ch->target_info.size(), 2u);
  EXPECT_EQ(ch->target_info[0].av_id, ntlmssp::kMsvAvNbDomainName);
  EXPECT_EQ(ch->target_info[0].value, Utf16("Domain"));
  EXPECT_EQ(ch->target_info[1].av_id, ntlmssp::kMsvAvNbComputerName);
  EXPECT_EQ(ch->target_info[1].value, Utf16("Server"));
  ASSERT_TRUE(ch->version);
  EXPECT_EQ(ch->version->product_major_version, 6);
  EXPECT_EQ(ch->version->product_minor_version, 0);
  EXPECT_EQ(ch->version->product_build, 6000);
  EXPECT_EQ(ch->version->ntlm_revision_current, 15);
  // And it encodes back to the same bytes.
  EXPECT_EQ(ToHex(EncodeChallenge(*ch)), NormHex(kSpecChallenge));
}

// 4.2.4.1.2, 4.2.4.1.3, 4.2.4.2.1-3.
TEST(NtlmV2Vectors, ResponsesAndKeys) {
  const auto key = NtowfV2("Password", "User", "Domain");
  const Bytes sc = Hex(kServerChallenge);
  const Bytes av =
      EncodeAvPairs({{ntlmssp::kMsvAvNbDomainName, Utf16("Domain")},
                     {ntlmssp::kMsvAvNbComputerName, Utf16("Server")}});
  const Bytes temp = NtlmV2Temp(0, kClientChallenge, av);
  EXPECT_EQ(ToHex(temp), NormHex(kSpecTemp));

  const Digest16 proof = NtProofStr(key, sc, temp);
  EXPECT_EQ(ToHexOf(proof),
            NormHex("68 cd 0a b8 51 e5 1c 96 aa bc 92 7b eb ef 6a 1c"));

  EXPECT_EQ(ToHex(LmV2Response(key, sc, kClientChallenge)),
            NormHex("86 c3 50 97 ac 9c ec 10 25 54 76 4a 57 cc cc 19"
                    "aa aa aa aa aa aa aa aa"));

  const Digest16 base = SessionBaseKeyV2(key, proof);
  EXPECT_EQ(ToHexOf(base),
            NormHex("8d e4 0c ca db c1 4a 82 f1 5c b0 ad 0d e9 5c a3"));

  // KeyExchangeKey = SessionBaseKey; EncryptedRandomSessionKey =
  // RC4K(KeyExchangeKey, RandomSessionKey).
  const Bytes random_key = Hex(kRandomSessionKey);
  Bytes encrypted(16);
  Rc4(base, random_key, encrypted.data());
  EXPECT_EQ(ToHex(encrypted),
            NormHex("c5 da d2 54 4f c9 79 90 94 ce 1c e9 0b c9 d0 3e"));
}

// 4.2.4.3: the whole AUTHENTICATE_MESSAGE, rebuilt from the pieces.
TEST(NtlmV2Vectors, AuthenticateMessageByteForByte) {
  const auto key = NtowfV2("Password", "User", "Domain");
  const Bytes sc = Hex(kServerChallenge);
  const Bytes av =
      EncodeAvPairs({{ntlmssp::kMsvAvNbDomainName, Utf16("Domain")},
                     {ntlmssp::kMsvAvNbComputerName, Utf16("Server")}});
  const Bytes temp = NtlmV2Temp(0, kClientChallenge, av);
  const Digest16 proof = NtProofStr(key, sc, temp);
  const Digest16 base = SessionBaseKeyV2(key, proof);

  AuthenticateMessage am;
  am.negotiate_flags = 0xe2888235;
  am.lm_challenge_response = LmV2Response(key, sc, kClientChallenge);
  am.nt_challenge_response.assign(proof.begin(), proof.end());
  am.nt_challenge_response.insert(am.nt_challenge_response.end(), temp.begin(),
                                  temp.end());
  am.domain_name = Utf16("Domain");
  am.user_name = Utf16("User");
  am.workstation = Utf16("COMPUTER");
  am.encrypted_random_session_key.resize(16);
  Rc4(base, Hex(kRandomSessionKey), am.encrypted_random_session_key.data());
  am.version = NtlmVersion{5, 1, 2600, 15};
  EXPECT_EQ(ToHex(EncodeAuthenticate(am)), NormHex(kSpecAuthenticate));

  auto decoded = DecodeAuthenticate(Hex(kSpecAuthenticate));
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, am);
  EXPECT_FALSE(decoded->mic);
}

// 4.2.4.4: SEALKEY, SIGNKEY and a sealed message with its signature.
TEST(NtlmV2Vectors, GssWrapEx) {
  const Bytes exported = Hex(kRandomSessionKey);
  const std::uint32_t flags = 0xe2888235;
  EXPECT_EQ(
      ToHexOf(NtlmSealKey(exported, flags, NtlmDirection::kClientToServer)),
      NormHex("59 f6 00 97 3c c4 96 0a 25 48 0a 7c 19 6e 4c 58"));
  EXPECT_EQ(ToHexOf(NtlmSignKey(exported, NtlmDirection::kClientToServer)),
            NormHex("47 88 dc 86 1b 47 82 f3 5d 43 fd 98 fe 1a 2d 39"));

  NtlmDirectionKeys keys(exported, flags, NtlmDirection::kClientToServer);
  Bytes msg = Utf16("Plaintext");
  const auto sig = keys.Seal(msg);
  EXPECT_EQ(ToHex(msg),
            NormHex("54 e5 01 65 bf 19 36 dc 99 60 20 c1 81 1b 0f 06 fb 5f"));
  EXPECT_EQ(ToHexOf(sig),
            NormHex("01 00 00 00 7f b3 8e c5 c5 5d 49 76 00 00 00 00"));
  EXPECT_EQ(keys.sequence_number(), 1u);
}

// NtlmClient against the spec's CHALLENGE with the spec's randomness: what
// does not depend on the AV pairs the client adds must match 4.2.4.
TEST(NtlmV2Vectors, ClientAgainstSpecChallenge) {
  // Client challenge, the MachineID of MsvAvSingleHost, RandomSessionKey.
  std::deque<Bytes> randomness = {Bytes(8, 0xaa), Bytes(32, 0x5c),
                                  Hex(kRandomSessionKey)};
  auto random = [&randomness](MutableByteSpan out) {
    ASSERT_FALSE(randomness.empty());
    ASSERT_EQ(out.size(), randomness.front().size());
    std::memcpy(out.data(), randomness.front().data(), out.size());
    randomness.pop_front();
  };
  NtlmClient client({"User", "Domain", SecretString("Password"), "COMPUTER"},
                    random, [] { return std::uint64_t{0}; });
  const Bytes negotiate = client.Negotiate();
  auto auth = client.Authenticate(Hex(kSpecChallenge));
  ASSERT_TRUE(auth) << auth.error().message();
  auto am = DecodeAuthenticate(*auth);
  ASSERT_TRUE(am) << am.error().message();

  // No MsvAvTimestamp in the spec challenge, so the LMv2 response is sent.
  EXPECT_EQ(ToHex(am->lm_challenge_response),
            NormHex("86 c3 50 97 ac 9c ec 10 25 54 76 4a 57 cc cc 19"
                    "aa aa aa aa aa aa aa aa"));
  // The NTProofStr covers the client's AV pairs too, so it and the keys
  // differ from 4.2.4.2.2/3; recompute them as a server would.
  const auto key = NtowfV2("Password", "User", "Domain");
  const ByteSpan nt_span(am->nt_challenge_response);
  const Digest16 proof =
      NtProofStr(key, Hex(kServerChallenge), nt_span.subspan(16));
  EXPECT_EQ(ToHex(nt_span.first(16)), ToHexOf(proof));
  const Digest16 base = SessionBaseKeyV2(key, proof);
  Bytes exported(16);
  ASSERT_EQ(am->encrypted_random_session_key.size(), 16u);
  Rc4(base, am->encrypted_random_session_key, exported.data());
  EXPECT_EQ(ToHex(exported), NormHex(kRandomSessionKey));
  EXPECT_EQ(ToHex(client.session_key().span()), NormHex(kRandomSessionKey));
  EXPECT_EQ(am->user_name, Utf16("User"));
  EXPECT_EQ(am->domain_name, Utf16("Domain"));
  EXPECT_EQ(am->workstation, Utf16("COMPUTER"));
  // Flags: the intersection of ours and the challenge's; its SEAL, OEM and
  // TARGET_TYPE_SERVER bits are not ours, and it lacks REQUEST_TARGET.
  EXPECT_EQ(am->negotiate_flags, 0xe2888211u);
  EXPECT_EQ(client.negotiated_flags(), 0xe2888211u);

  // The blob starts like the spec's temp (time 0, client challenge aa..),
  // then the server's two pairs, then the client's additions.
  const Bytes& nt = am->nt_challenge_response;
  ASSERT_GT(nt.size(), 16u + 28u + 36u);
  EXPECT_EQ(ToHex(ByteSpan(nt).subspan(16, 28 + 32)),
            ToHex(ByteSpan(Hex(kSpecTemp)).first(28 + 32)));
  // The client's additions in the order Windows sends them (the
  // WindowsExchangeVectors blob below): MsvAvFlags, MsvAvSingleHost,
  // MsvAvChannelBindings (no SPN was set, so no MsvAvTargetName).
  auto pairs = DecodeAvPairs(ByteSpan(nt).subspan(16 + 28));
  ASSERT_TRUE(pairs);
  std::vector<std::uint16_t> ids;
  for (const AvPair& p : *pairs) ids.push_back(p.av_id);
  EXPECT_EQ(ids, (std::vector<std::uint16_t>{
                     ntlmssp::kMsvAvNbDomainName, ntlmssp::kMsvAvNbComputerName,
                     ntlmssp::kMsvAvFlags, ntlmssp::kMsvAvSingleHost,
                     ntlmssp::kMsvAvChannelBindings}));
  const AvPair* single_host = FindAvPair(*pairs, ntlmssp::kMsvAvSingleHost);
  ASSERT_TRUE(single_host);
  EXPECT_EQ(
      ToHex(single_host->value),
      NormHex("30000000 00000000 0000000000000000") + ToHex(Bytes(32, 0x5c)));
  EXPECT_TRUE(randomness.empty()) << "every random draw was used";

  // The MIC verifies over the three messages.
  ASSERT_TRUE(am->mic);
  const Digest16 mic = ComputeMic(client.session_key().span(), negotiate,
                                  Hex(kSpecChallenge), *auth);
  EXPECT_EQ(ToHexOf(*am->mic), ToHexOf(mic));
}

// ---- A real Windows exchange (SMB 3.1.1 example of the anatomy blog) --------

const char kWinNegotiate[] =
    "4E544C4D5353500001000000978208E20000000000000000000000000000000006038025"
    "0000000F";
const char kWinChallenge[] =
    "4E544C4D53535000020000000C000C003800000015828AE20D1D8BA31179D00800000000"
    "0000000050005000440000000A0092270000000F53005500540033003100310002000C00"
    "53005500540033003100310001000C0053005500540033003100310004000C0053005500"
    "540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001"
    "00000000";
const char kWinAuthenticate[] =
    "4E544C4D53535000030000001800180090000000EE00EE00A80000000C000C0058000000"
    "1A001A0064000000120012007E0000001000100096010000158288E2060380250000000F"
    "ECAC77A5F385A8BF9C38C706EEEDDCD3530055005400330031003100610064006D006900"
    "6E006900730074007200610074006F007200440052004900560045005200330031003100"
    "00000000000000000000000000000000000000000000000063078EB639FE03E20A231C3A"
    "E3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F0000000002000C00"
    "53005500540033003100310001000C0053005500540033003100310004000C0053005500"
    "540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001"
    "06000400020000000800300030000000000000000000000000300000B61FEFCAA857EA57"
    "BF1EDCEBF8974B8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A0010000000000000000000"
    "00000000000000000900160063006900660073002F005300550054003300310031000000"
    "000000000000000000003B9BDFF38F5EE8F9663F11A0F4C03A78";
const char kWinExportedSessionKey[] = "270E1BA896585EEB7AF3472D3B4C75A7";
// DER of the client's MechTypeList ({NTLMSSP}), the mechListMIC input.
const char kWinMechTypes[] = "300C060A2B06010401823702020A";

TEST(WindowsExchangeVectors, DecodeChallenge) {
  auto ch = DecodeChallenge(Hex(kWinChallenge));
  ASSERT_TRUE(ch) << ch.error().message();
  EXPECT_EQ(ch->negotiate_flags, 0xe28a8215u);
  EXPECT_EQ(ch->target_name, Utf16("SUT311"));
  ASSERT_EQ(ch->target_info.size(), 5u);
  const auto ts = FindAvTimestamp(ch->target_info);
  ASSERT_TRUE(ts);
  EXPECT_EQ(*ts, 0x01D0AECBADF5A1A1ull);
  EXPECT_EQ(ToHex(EncodeChallenge(*ch)), NormHex(kWinChallenge));
}

TEST(WindowsExchangeVectors, DecodeAuthenticate) {
  auto am = DecodeAuthenticate(Hex(kWinAuthenticate));
  ASSERT_TRUE(am) << am.error().message();
  EXPECT_EQ(am->negotiate_flags, 0xe2888215u);
  EXPECT_EQ(am->domain_name, Utf16("SUT311"));
  EXPECT_EQ(am->user_name, Utf16("administrator"));
  EXPECT_EQ(am->workstation, Utf16("DRIVER311"));
  // MsvAvTimestamp was in the challenge: LmChallengeResponse is Z(24).
  EXPECT_EQ(am->lm_challenge_response, Bytes(24, 0));
  ASSERT_TRUE(am->mic);
  EXPECT_EQ(ToHexOf(*am->mic), NormHex("ECAC77A5F385A8BF9C38C706EEEDDCD3"));
  ASSERT_TRUE(am->version);
  EXPECT_EQ(am->version->product_build, 9600);
  EXPECT_EQ(ToHex(EncodeAuthenticate(*am)), NormHex(kWinAuthenticate));

  // The client blob carries MsvAvFlags with the MIC bit.
  const Bytes& nt = am->nt_challenge_response;
  auto pairs = DecodeAvPairs(ByteSpan(nt).subspan(16 + 28));
  ASSERT_TRUE(pairs);
  const AvPair* flags = FindAvPair(*pairs, ntlmssp::kMsvAvFlags);
  ASSERT_TRUE(flags);
  EXPECT_EQ(ToHex(flags->value), "02000000");
}

// Windows' MIC over NEGOTIATE || CHALLENGE || AUTHENTICATE.
TEST(WindowsExchangeVectors, Mic) {
  const Digest16 mic =
      ComputeMic(Hex(kWinExportedSessionKey), Hex(kWinNegotiate),
                 Hex(kWinChallenge), Hex(kWinAuthenticate));
  EXPECT_EQ(ToHexOf(mic), NormHex("ECAC77A5F385A8BF9C38C706EEEDDCD3"));
}

// The SPNEGO mechListMICs both sides sent (sequence number 0 each way).
TEST(WindowsExchangeVectors, MechListMics) {
  const std::uint32_t flags = 0xe2888215;
  NtlmDirectionKeys c2s(Hex(kWinExportedSessionKey), flags,
                        NtlmDirection::kClientToServer);
  EXPECT_EQ(ToHexOf(c2s.Sign(Hex(kWinMechTypes))),
            NormHex("0100000063775A9A5FD97F0600000000"));
  NtlmDirectionKeys s2c(Hex(kWinExportedSessionKey), flags,
                        NtlmDirection::kServerToClient);
  EXPECT_TRUE(
      s2c.Verify(Hex(kWinMechTypes), Hex("010000003B453CDC3524164200000000")));
}

}  // namespace
}  // namespace smbgate::auth
