#include <gtest/gtest.h>

#include "smb2/codec/body.h"
#include "smb2/codec/session_setup.h"
#include "smb2/codec/tree.h"
#include "tests/unit/smb2/codec_test_util.h"

namespace smbgate::smb2 {
namespace {

using test::B;
using test::Get16;
using test::Put16;

const Bytes kBlob = {0xA1, 0x81, 0x01, 0x02, 0x03};

TEST(SessionSetup, RequestRoundTrip) {
  SessionSetupRequest q;
  q.flags = kSessionFlagBinding;
  q.security_mode = kSessionSecurityModeSigningRequired;
  q.capabilities = 1;
  q.previous_session_id = 0x77;
  q.security_buffer = kBlob;
  const Bytes m = test::Req(Command::kSessionSetup, q);
  EXPECT_EQ(Get16(m, B(0)), 25);
  EXPECT_EQ(Get16(m, B(12)), 88);  // SecurityBufferOffset
  auto d = DecodeSessionSetupRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->flags, q.flags);
  EXPECT_EQ(d->security_mode, q.security_mode);
  EXPECT_EQ(d->capabilities, q.capabilities);
  EXPECT_EQ(d->previous_session_id, q.previous_session_id);
  EXPECT_EQ(test::ToBytes(d->security_buffer), kBlob);
}

TEST(SessionSetup, ResponseRoundTrip) {
  SessionSetupResponse p;
  p.session_flags = kSessionFlagIsGuest;
  p.security_buffer = kBlob;
  const Bytes m = test::Rsp(Command::kSessionSetup, p);
  EXPECT_EQ(Get16(m, B(4)), 72);
  auto d = DecodeSessionSetupResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->session_flags, kSessionFlagIsGuest);
  EXPECT_EQ(test::ToBytes(d->security_buffer), kBlob);
  // The buffer span points into the message.
  EXPECT_EQ(d->security_buffer.data(), m.data() + 72);
}

TEST(SessionSetup, EmptyBuffer) {
  // A request's empty Buffer is one byte; a response has none.
  const Bytes q = test::Req(Command::kSessionSetup, SessionSetupRequest{});
  EXPECT_EQ(q.size(), 64u + 25u);
  EXPECT_TRUE(DecodeSessionSetupRequest(q));
  const Bytes m = test::Rsp(Command::kSessionSetup, SessionSetupResponse{});
  EXPECT_EQ(m.size(), 64u + 8u);
  auto d = DecodeSessionSetupResponse(m);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->security_buffer.empty());
  // With the byte (as some servers send it) too.
  Bytes padded = m;
  padded.push_back(0);
  EXPECT_TRUE(DecodeSessionSetupResponse(padded));
}

TEST(SessionSetup, Rejects) {
  SessionSetupResponse p;
  p.security_buffer = kBlob;
  const Bytes good = test::Rsp(Command::kSessionSetup, p);
  Bytes past_end = good;
  Put16(past_end, B(6), 6);  // one byte more than present
  EXPECT_ERRC(DecodeSessionSetupResponse(past_end), malformed_response);
  Bytes wrap = good;  // 0xFFFF + 2 wraps to 1 in 16 bits
  Put16(wrap, B(4), 0xFFFF);
  Put16(wrap, B(6), 2);
  EXPECT_ERRC(DecodeSessionSetupResponse(wrap), malformed_response);
  Bytes in_fixed = good;
  Put16(in_fixed, B(4), 66);
  EXPECT_ERRC(DecodeSessionSetupResponse(in_fixed), malformed_response);
  Bytes wrong_size = good;
  Put16(wrong_size, B(0), 8);
  EXPECT_ERRC(DecodeSessionSetupResponse(wrong_size), bad_structure_size);
  EXPECT_ERRC(DecodeSessionSetupResponse(ByteSpan(good).first(70)),
              malformed_response);
  EXPECT_ERRC(DecodeSessionSetupRequest(good), bad_structure_size);
  EXPECT_ERRC(DecodeTreeConnectResponse(good), unexpected_command);
}

TEST(LogoffEcho, RoundTrips) {
  EXPECT_TRUE(DecodeLogoffRequest(test::Req(Command::kLogoff, LogoffRequest{})));
  EXPECT_TRUE(DecodeLogoffResponse(test::Rsp(Command::kLogoff, LogoffResponse{})));
  EXPECT_TRUE(DecodeEchoRequest(test::Req(Command::kEcho, EchoRequest{})));
  const Bytes echo = test::Rsp(Command::kEcho, EchoResponse{});
  EXPECT_EQ(echo.size(), 68u);
  EXPECT_TRUE(DecodeEchoResponse(echo));
  EXPECT_ERRC(DecodeEchoResponse(ByteSpan(echo).first(66)), malformed_response);
  EXPECT_ERRC(DecodeLogoffResponse(echo), unexpected_command);
}

TEST(TreeConnect, RequestRoundTrip) {
  TreeConnectRequest q;
  q.path = "\\\\server\\sh\xC3\xA4re";  // "share" with a-umlaut
  const Bytes m = test::Req(Command::kTreeConnect, q);
  EXPECT_EQ(Get16(m, B(4)), 72);       // PathOffset
  EXPECT_EQ(Get16(m, B(6)), 2 * 14);   // 14 UTF-16 code units
  auto d = DecodeTreeConnectRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->path, q.path);
}

TEST(TreeConnect, RejectsInvalidUtf16Path) {
  TreeConnectRequest q;
  q.path = "\\\\h\\s";
  Bytes m = test::Req(Command::kTreeConnect, q);
  // Lone high surrogate as the last code unit.
  m[m.size() - 2] = 0x00;
  m[m.size() - 1] = 0xD8;
  EXPECT_ERRC(DecodeTreeConnectRequest(m), malformed_response);
  Bytes odd = test::Req(Command::kTreeConnect, q);
  Put16(odd, B(6), 5);
  EXPECT_ERRC(DecodeTreeConnectRequest(odd), malformed_response);
}

TEST(TreeConnect, InvalidUtf8IsNotSentAsAnotherName) {
  EXPECT_FALSE(IsValidName("a\xFF" "b"));
  EXPECT_TRUE(IsValidName("a\xC3\xA4"));
  TreeConnectRequest q;
  q.path = "a\xFF" "b";
  const Bytes m = test::Req(Command::kTreeConnect, q);
  auto d = DecodeTreeConnectRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->path, std::string("a\0b", 3));
}

TEST(TreeConnect, ResponseRoundTrip) {
  TreeConnectResponse p;
  p.share_type = kShareTypeDisk;
  p.share_flags = kShareFlagEncryptData | kShareFlagNoCaching;
  p.capabilities = kShareCapContinuousAvailability;
  p.maximal_access = 0x001F01FF;
  const Bytes m = test::Rsp(Command::kTreeConnect, p);
  EXPECT_EQ(m.size(), 64u + 16u);
  auto d = DecodeTreeConnectResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->share_type, kShareTypeDisk);
  EXPECT_EQ(d->share_flags, p.share_flags);
  EXPECT_EQ(d->capabilities, p.capabilities);
  EXPECT_EQ(d->maximal_access, p.maximal_access);
  EXPECT_ERRC(DecodeTreeConnectResponse(ByteSpan(m).first(79)),
              malformed_response);
  // MS-SMB2 2.2.10: SMB2_SHAREFLAG_ENCRYPT_DATA.
  EXPECT_EQ(kShareFlagEncryptData, 0x00008000u);
}

TEST(TreeDisconnect, RoundTrips) {
  EXPECT_TRUE(DecodeTreeDisconnectRequest(
      test::Req(Command::kTreeDisconnect, TreeDisconnectRequest{})));
  EXPECT_TRUE(DecodeTreeDisconnectResponse(
      test::Rsp(Command::kTreeDisconnect, TreeDisconnectResponse{})));
}

}  // namespace
}  // namespace smbgate::smb2
