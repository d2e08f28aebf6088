#include <gtest/gtest.h>

#include "smb2/codec/negotiate.h"
#include "tests/unit/smb2/codec_test_util.h"

namespace smbgate::smb2 {
namespace {

using test::B;
using test::Get16;
using test::Get32;
using test::Put16;
using test::Put32;

NegotiateRequest Request311() {
  NegotiateRequest q;
  q.security_mode = kSecurityModeSigningEnabled | kSecurityModeSigningRequired;
  q.capabilities = kCapLargeMtu | kCapEncryption | kCapLeasing;
  for (std::size_t i = 0; i < 16; ++i) q.client_guid[i] = static_cast<std::uint8_t>(i);
  q.dialects = {kDialect202, kDialect210, kDialect300, kDialect302, kDialect311};
  q.preauth.salt.assign(32, 0x5A);
  q.cipher_ids = {kCipherAes128Gcm, kCipherAes128Ccm};
  q.signing_algorithm_ids = {kSigningAesGmac, kSigningAesCmac, kSigningHmacSha256};
  return q;
}

TEST(Negotiate, Request311RoundTrip) {
  const NegotiateRequest q = Request311();
  const Bytes m = test::Req(Command::kNegotiate, q);
  EXPECT_EQ(Get16(m, B(0)), 36);
  EXPECT_EQ(Get16(m, B(2)), 5);  // DialectCount
  const std::uint32_t ctx_off = Get32(m, B(28));
  EXPECT_EQ(ctx_off % 8, 0u);
  EXPECT_EQ(ctx_off, 112u);  // 64 + 36 + 10 dialect bytes = 110, aligned
  EXPECT_EQ(Get16(m, B(32)), 3);  // NegotiateContextCount
  EXPECT_EQ(Get16(m, ctx_off), kPreauthIntegrityCapabilities);
  auto d = DecodeNegotiateRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->security_mode, q.security_mode);
  EXPECT_EQ(d->capabilities, q.capabilities);
  EXPECT_EQ(d->client_guid, q.client_guid);
  EXPECT_EQ(d->dialects, q.dialects);
  EXPECT_EQ(d->preauth.hash_algorithms, q.preauth.hash_algorithms);
  EXPECT_EQ(d->preauth.salt, q.preauth.salt);
  EXPECT_EQ(d->cipher_ids, q.cipher_ids);
  EXPECT_EQ(d->signing_algorithm_ids, q.signing_algorithm_ids);
  EXPECT_TRUE(d->other_contexts.empty());
}

TEST(Negotiate, RequestWithoutSmb311HasNoContexts) {
  NegotiateRequest q = Request311();
  q.dialects = {kDialect202, kDialect210, kDialect300, kDialect302};
  const Bytes m = test::Req(Command::kNegotiate, q);
  EXPECT_EQ(m.size(), 64u + 36u + 8u);
  auto d = DecodeNegotiateRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->dialects, q.dialects);
  EXPECT_TRUE(d->cipher_ids.empty());
  EXPECT_TRUE(d->preauth.salt.empty());
}

TEST(Negotiate, RequestOpaqueContextSurvives) {
  NegotiateRequest q = Request311();
  const Bytes netname = {'h', 0, 'o', 0, 's', 0, 't', 0};
  q.other_contexts.push_back({kNetnameNegotiateContextId, netname});
  const Bytes m = test::Req(Command::kNegotiate, q);
  auto d = DecodeNegotiateRequest(m);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->other_contexts.size(), 1u);
  EXPECT_EQ(d->other_contexts[0].context_type, kNetnameNegotiateContextId);
  EXPECT_EQ(test::ToBytes(d->other_contexts[0].data), netname);
}

TEST(Negotiate, RequestRejectsHugeDialectCount) {
  Bytes m = test::Req(Command::kNegotiate, Request311());
  Put16(m, B(2), 0xFFFF);
  EXPECT_ERRC(DecodeNegotiateRequest(m), malformed_response);
  Put16(m, B(2), 0);
  EXPECT_ERRC(DecodeNegotiateRequest(m), malformed_response);
}

const Bytes kToken = {0x60, 0x28, 0x06, 0x06, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x02};
const Bytes kSalt(32, 0xA5);

NegotiateResponse Response311() {
  NegotiateResponse p;
  p.security_mode = kSecurityModeSigningEnabled;
  p.dialect_revision = kDialect311;
  p.server_guid[0] = 0x99;
  p.capabilities = kCapDfs | kCapLeasing | kCapLargeMtu | kCapEncryption;
  p.max_transact_size = 8 << 20;
  p.max_read_size = 8 << 20;
  p.max_write_size = 8 << 20;
  p.system_time = 133000000000000000ull;
  p.server_start_time = 0;
  p.security_buffer = kToken;
  p.preauth_hash_algorithm = kHashAlgorithmSha512;
  p.preauth_salt = kSalt;
  p.cipher = kCipherAes128Gcm;
  p.signing_algorithm = kSigningAesCmac;
  return p;
}

TEST(Negotiate, Response311RoundTrip) {
  const Bytes m = test::Rsp(Command::kNegotiate, Response311());
  EXPECT_EQ(Get16(m, B(0)), 65);
  EXPECT_EQ(Get16(m, B(56)), 128);  // SecurityBufferOffset
  EXPECT_EQ(Get16(m, B(58)), kToken.size());
  EXPECT_EQ(Get32(m, B(60)) % 8, 0u);
  EXPECT_EQ(Get16(m, B(6)), 3);  // NegotiateContextCount
  auto d = DecodeNegotiateResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->security_mode, kSecurityModeSigningEnabled);
  EXPECT_EQ(d->dialect_revision, kDialect311);
  EXPECT_EQ(d->server_guid[0], 0x99);
  EXPECT_EQ(d->capabilities, Response311().capabilities);
  EXPECT_EQ(d->max_read_size, 8u << 20);
  EXPECT_EQ(d->system_time, 133000000000000000ull);
  EXPECT_EQ(test::ToBytes(d->security_buffer), kToken);
  EXPECT_EQ(d->preauth_hash_algorithm, kHashAlgorithmSha512);
  EXPECT_EQ(test::ToBytes(d->preauth_salt), kSalt);
  EXPECT_EQ(d->cipher, kCipherAes128Gcm);
  EXPECT_EQ(d->signing_algorithm, kSigningAesCmac);
}

TEST(Negotiate, Response302IgnoresContextFields) {
  NegotiateResponse p = Response311();
  p.dialect_revision = kDialect302;
  Bytes m = test::Rsp(Command::kNegotiate, p);
  // Reserved fields below 3.1.1: garbage there must not matter.
  Put16(m, B(6), 0xFFFF);
  Put32(m, B(60), 0xFFFFFFFF);
  auto d = DecodeNegotiateResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->dialect_revision, kDialect302);
  EXPECT_FALSE(d->preauth_hash_algorithm);
  EXPECT_FALSE(d->cipher);
  EXPECT_EQ(test::ToBytes(d->security_buffer), kToken);
}

TEST(Negotiate, ResponseWithoutSecurityBuffer) {
  NegotiateResponse p = Response311();
  p.security_buffer = {};
  const Bytes m = test::Rsp(Command::kNegotiate, p);
  auto d = DecodeNegotiateResponse(m);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->security_buffer.empty());
  EXPECT_EQ(d->cipher, kCipherAes128Gcm);
}

TEST(Negotiate, ResponseRequiresPreauth) {
  NegotiateResponse p = Response311();
  p.preauth_hash_algorithm.reset();
  EXPECT_ERRC(DecodeNegotiateResponse(test::Rsp(Command::kNegotiate, p)),
              malformed_response);
}

TEST(Negotiate, ResponseRejectsDuplicateContexts) {
  NegotiateResponse p = Response311();
  const Bytes cipher = {1, 0, 2, 0};  // CipherCount 1, AES-128-GCM
  p.other_contexts.push_back({kEncryptionCapabilities, cipher});
  // The encoder skips typed contexts in other_contexts; splice by hand:
  // duplicate the ENCRYPTION context by rewriting the NETNAME type.
  p.other_contexts = {{kNetnameNegotiateContextId, cipher}};
  Bytes m = test::Rsp(Command::kNegotiate, p);
  ASSERT_TRUE(DecodeNegotiateResponse(m));
  // Find the last context (NETNAME) and turn it into a second ENCRYPTION.
  const std::size_t last = m.size() - 8 - cipher.size();
  ASSERT_EQ(Get16(m, last), kNetnameNegotiateContextId);
  Put16(m, last, kEncryptionCapabilities);
  EXPECT_ERRC(DecodeNegotiateResponse(m), malformed_response);
}

TEST(Negotiate, ResponseRejectsTwoCiphers) {
  NegotiateResponse p = Response311();
  p.cipher.reset();
  const Bytes netname{2, 0, 1, 0, 2, 0};  // other_contexts holds a view of it
  p.other_contexts = {{kNetnameNegotiateContextId, netname}};
  Bytes m = test::Rsp(Command::kNegotiate, p);
  const std::size_t last = m.size() - 8 - 6;
  Put16(m, last, kEncryptionCapabilities);
  EXPECT_ERRC(DecodeNegotiateResponse(m), malformed_response);
}

TEST(Negotiate, ResponseRejectsBadContextOffsets) {
  const Bytes good = test::Rsp(Command::kNegotiate, Response311());
  const std::uint32_t off = Get32(good, B(60));
  Bytes unaligned = good;
  Put32(unaligned, B(60), off + 2);
  EXPECT_ERRC(DecodeNegotiateResponse(unaligned), malformed_response);
  Bytes past_end = good;
  Put32(past_end, B(60), static_cast<std::uint32_t>(good.size() + 8));
  EXPECT_ERRC(DecodeNegotiateResponse(past_end), malformed_response);
  Bytes inside_buffer = good;
  Put32(inside_buffer, B(60), 128);  // overlaps the security buffer
  EXPECT_ERRC(DecodeNegotiateResponse(inside_buffer), malformed_response);
  Bytes too_many = good;
  Put16(too_many, B(6), 0xFFFF);  // huge count: capped before allocation
  EXPECT_ERRC(DecodeNegotiateResponse(too_many), malformed_response);
  Bytes count_past_end = good;
  Put16(count_past_end, B(6), 4);  // one more context than present
  EXPECT_ERRC(DecodeNegotiateResponse(count_past_end), malformed_response);
  Bytes data_past_end = good;
  Put16(data_past_end, off + 2, 0x4000);  // first DataLength past the end
  EXPECT_ERRC(DecodeNegotiateResponse(data_past_end), malformed_response);
}

// Adding two 16-bit wire fields before comparing can wrap (a bug other
// decoders had). Here
// SecurityBufferOffset 0xFFFF + SecurityBufferLength 2 is 1 in 16 bits.
TEST(Negotiate, SecurityBufferOffsetLengthWrapRegression) {
  Bytes m = test::Rsp(Command::kNegotiate, Response311());
  Put16(m, B(56), 0xFFFF);
  Put16(m, B(58), 0x0002);
  EXPECT_ERRC(DecodeNegotiateResponse(m), malformed_response);
  Put16(m, B(56), 0x0010);  // inside the header
  Put16(m, B(58), 0x0004);
  EXPECT_ERRC(DecodeNegotiateResponse(m), malformed_response);
}

TEST(Negotiate, ResponseRejectsShapeErrors) {
  const Bytes good = test::Rsp(Command::kNegotiate, Response311());
  Bytes wrong_size = good;
  Put16(wrong_size, B(0), 64);
  EXPECT_ERRC(DecodeNegotiateResponse(wrong_size), bad_structure_size);
  Bytes wrong_cmd = good;
  Put16(wrong_cmd, 12, static_cast<std::uint16_t>(Command::kSessionSetup));
  EXPECT_ERRC(DecodeNegotiateResponse(wrong_cmd), unexpected_command);
  for (std::size_t n : {0u, 10u, 64u, 65u, 100u, 127u}) {
    EXPECT_FALSE(DecodeNegotiateResponse(ByteSpan(good).first(n))) << n;
  }
}

}  // namespace
}  // namespace smbgate::smb2
