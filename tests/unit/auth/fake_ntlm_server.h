// A small NTLMv2 acceptor for the tests, built from the same primitives as
// the client but following MS-NLMP 3.2.5 (server side) independently: it
// issues a CHALLENGE, then checks an AUTHENTICATE the way a server would
// (NTProofStr from the password it knows, the MIC over the three messages,
// MsvAvFlags, the timestamp, the LM response) and recovers the
// ExportedSessionKey.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>

#include "auth/common/utf16.h"
#include "auth/ntlm.h"

namespace smbgate::auth::testing {

inline Bytes Utf16le(std::string_view utf8) {
  Bytes out;
  EXPECT_TRUE(Utf8ToUtf16le(utf8, &out));
  return out;
}

class FakeNtlmServer {
 public:
  // The account the server knows.
  std::string user = "alice";
  std::string domain = "EXAMPLE";
  std::string password = "secret";

  std::array<std::uint8_t, 8> server_challenge = {1, 2, 3, 4, 5, 6, 7, 8};
  // Sent as MsvAvTimestamp when set (Windows and Samba always send one).
  std::optional<std::uint64_t> timestamp = 0x01d0aecbadf5a1a1ull;
  std::uint32_t flags = ntlmssp::kNegotiateUnicode | ntlmssp::kRequestTarget |
                        ntlmssp::kNegotiateSign | ntlmssp::kNegotiateNtlm |
                        ntlmssp::kNegotiateAlwaysSign |
                        ntlmssp::kTargetTypeServer |
                        ntlmssp::kNegotiateExtendedSessionSecurity |
                        ntlmssp::kNegotiateTargetInfo |
                        ntlmssp::kNegotiateVersion | ntlmssp::kNegotiate128 |
                        ntlmssp::kNegotiateKeyExch | ntlmssp::kNegotiate56;
  // Extra pairs appended to the TargetInfo (e.g. a server MsvAvFlags).
  std::vector<AvPair> extra_pairs;

  // What the exchange produced.
  Bytes negotiate;
  Bytes challenge;
  AuthenticateMessage authenticate;
  std::vector<AvPair> client_pairs;  // from the NTLMv2 blob
  std::uint64_t client_time = 0;
  SecretBytes exported_session_key;

  std::vector<AvPair> TargetInfo() const {
    std::vector<AvPair> info = {
        {ntlmssp::kMsvAvNbDomainName, Utf16le("EXAMPLE")},
        {ntlmssp::kMsvAvNbComputerName, Utf16le("FILER")},
        {ntlmssp::kMsvAvDnsDomainName, Utf16le("example.test")},
        {ntlmssp::kMsvAvDnsComputerName, Utf16le("filer.example.test")},
    };
    if (timestamp) {
      Bytes ts(8);
      for (int i = 0; i < 8; ++i) {
        ts[static_cast<std::size_t>(i)] =
            static_cast<std::uint8_t>(*timestamp >> (8 * i));
      }
      info.push_back({ntlmssp::kMsvAvTimestamp, ts});
    }
    info.insert(info.end(), extra_pairs.begin(), extra_pairs.end());
    return info;
  }

  // MS-NLMP 3.2.5.1.1: answer a NEGOTIATE with a CHALLENGE.
  Bytes Challenge(ByteSpan negotiate_message) {
    negotiate.assign(negotiate_message.begin(), negotiate_message.end());
    auto neg = DecodeNegotiate(negotiate_message);
    EXPECT_TRUE(neg);
    if (neg) {
      // The client must never ask for LM_KEY or datagram mode.
      EXPECT_EQ(neg->negotiate_flags & ntlmssp::kNegotiateLmKey, 0u);
      EXPECT_EQ(neg->negotiate_flags & ntlmssp::kNegotiateDatagram, 0u);
    }
    ChallengeMessage ch;
    ch.negotiate_flags = flags;
    ch.server_challenge = server_challenge;
    ch.target_name = Utf16le("EXAMPLE");
    ch.target_info = TargetInfo();
    ch.version = NtlmVersion{10, 0, 20348, 15};
    challenge = EncodeChallenge(ch);
    return challenge;
  }

  // MS-NLMP 3.2.5.1.2: check the AUTHENTICATE.
  ::testing::AssertionResult Accept(ByteSpan message) {
    auto am = DecodeAuthenticate(message);
    if (!am)
      return ::testing::AssertionFailure()
             << "decode: " << am.error().message();
    authenticate = *am;
    if (am->user_name != Utf16le(user)) {
      return ::testing::AssertionFailure() << "unexpected user";
    }
    if (am->domain_name != Utf16le(domain)) {
      return ::testing::AssertionFailure() << "unexpected domain";
    }
    const Bytes& nt = am->nt_challenge_response;
    // NTProofStr (16) + the fixed part of the blob (28) + at least MsvAvEOL
    // + Z(4).
    if (nt.size() < 16 + 28 + 4 + 4) {
      return ::testing::AssertionFailure()
             << "NT response too short for NTLMv2";
    }
    if (nt[16] != 1 || nt[17] != 1) {
      return ::testing::AssertionFailure() << "bad blob version";
    }
    client_time = 0;
    for (int i = 0; i < 8; ++i) {
      client_time |=
          static_cast<std::uint64_t>(nt[24 + static_cast<std::size_t>(i)])
          << (8 * i);
    }
    auto pairs = DecodeAvPairs(ByteSpan(nt).subspan(16 + 28));
    if (!pairs)
      return ::testing::AssertionFailure() << "blob AV pairs malformed";
    client_pairs = *pairs;

    // The server's own pairs must come back unchanged, in order, except
    // MsvAvFlags (the client sets bits, once) and the pairs only a client
    // asserts (MS-NLMP 2.2.2.1), which a client never echoes.
    std::vector<AvPair> info;
    bool flags_seen = false;
    for (const AvPair& p : TargetInfo()) {
      if (p.av_id == ntlmssp::kMsvAvSingleHost ||
          p.av_id == ntlmssp::kMsvAvTargetName ||
          p.av_id == ntlmssp::kMsvAvChannelBindings) {
        continue;
      }
      if (p.av_id == ntlmssp::kMsvAvFlags) {
        if (flags_seen) continue;
        flags_seen = true;
      }
      info.push_back(p);
    }
    for (std::size_t i = 0; i < info.size(); ++i) {
      if (i >= client_pairs.size() || (client_pairs[i] != info[i] &&
                                       info[i].av_id != ntlmssp::kMsvAvFlags)) {
        return ::testing::AssertionFailure()
               << "server AV pair " << i << " altered";
      }
    }
    if (timestamp && client_time != *timestamp) {
      return ::testing::AssertionFailure() << "blob time is not the server's";
    }

    // NTProofStr with the password we know. The account's user name is
    // upper-cased by NTOWFv2, so any case the client sent works.
    const auto key = NtowfV2(password, user, domain);
    const Digest16 proof =
        NtProofStr(key, server_challenge, ByteSpan(nt).subspan(16));
    if (std::memcmp(proof.data(), nt.data(), 16) != 0) {
      return ::testing::AssertionFailure()
             << "NTProofStr mismatch (wrong password?)";
    }
    if (timestamp) {
      if (am->lm_challenge_response != Bytes(24, 0)) {
        return ::testing::AssertionFailure()
               << "LM response must be Z(24) with a timestamp";
      }
    } else {
      std::array<std::uint8_t, 8> cc;
      std::memcpy(cc.data(), nt.data() + 32, 8);
      if (am->lm_challenge_response !=
          LmV2Response(key, server_challenge, cc)) {
        return ::testing::AssertionFailure() << "LMv2 response mismatch";
      }
    }

    // Session key.
    const Digest16 base = SessionBaseKeyV2(key, proof);
    exported_session_key = SecretBytes(16);
    if (am->negotiate_flags & ntlmssp::kNegotiateKeyExch) {
      if (am->encrypted_random_session_key.size() != 16) {
        return ::testing::AssertionFailure() << "no EncryptedRandomSessionKey";
      }
      Rc4(base, am->encrypted_random_session_key, exported_session_key.data());
    } else {
      std::memcpy(exported_session_key.data(), base.data(), 16);
    }

    // MIC: required when MsvAvFlags says so; we require it always.
    const AvPair* av_flags = FindAvPair(client_pairs, ntlmssp::kMsvAvFlags);
    if (!av_flags || av_flags->value.size() != 4 ||
        !(av_flags->value[0] & ntlmssp::kAvFlagMicPresent)) {
      return ::testing::AssertionFailure() << "MsvAvFlags without the MIC bit";
    }
    if (!am->mic) return ::testing::AssertionFailure() << "no MIC field";
    const Digest16 mic =
        ComputeMic(exported_session_key.span(), negotiate, challenge, message);
    if (!ConstantTimeEqual(mic, *am->mic)) {
      return ::testing::AssertionFailure() << "MIC mismatch";
    }
    c2s_.emplace(exported_session_key.span(), am->negotiate_flags,
                 NtlmDirection::kClientToServer);
    s2c_.emplace(exported_session_key.span(), am->negotiate_flags,
                 NtlmDirection::kServerToClient);
    return ::testing::AssertionSuccess();
  }

  // The server's mechListMIC (server->client direction).
  Bytes SignMic(ByteSpan data) {
    const auto sig = s2c_->Sign(data);
    return Bytes(sig.begin(), sig.end());
  }
  // Checks the client's mechListMIC.
  bool VerifyMic(ByteSpan data, ByteSpan sig) {
    return c2s_->Verify(data, sig);
  }

 private:
  std::optional<NtlmDirectionKeys> c2s_;
  std::optional<NtlmDirectionKeys> s2c_;
};

// A deterministic random source: a counter-derived byte stream.
inline RandomSource CountingRandom(std::uint8_t seed = 0x40) {
  return [seed, n = std::uint8_t{0}](MutableByteSpan out) mutable {
    for (auto& b : out) b = static_cast<std::uint8_t>(seed + n++);
  };
}

inline FiletimeClock FixedClock(std::uint64_t t) {
  return [t] { return t; };
}

}  // namespace smbgate::auth::testing
