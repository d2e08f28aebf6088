#include <gtest/gtest.h>

#include "smb2/codec/compound.h"
#include "smb2/codec/header.h"
#include "smb2/codec/session_setup.h"
#include "tests/unit/smb2/codec_test_util.h"

namespace smbgate::smb2 {
namespace {

using test::Get32;
using test::Put16;
using test::Put32;

Header SampleHeader() {
  Header h;
  h.credit_charge = 3;
  h.status = 0xC0000022;
  h.command = Command::kRead;
  h.credits = 31;
  h.flags = kFlagServerToRedir | kFlagSigned;
  h.next_command = 0;
  h.message_id = 0x0102030405060708ull;
  h.process_id = 0xFEFF;
  h.tree_id = 0x11223344;
  h.session_id = 0xAABBCCDDEEFF0011ull;
  for (std::size_t i = 0; i < h.signature.size(); ++i) {
    h.signature[i] = static_cast<std::uint8_t>(i + 1);
  }
  return h;
}

TEST(Header, RoundTripSync) {
  const Header h = SampleHeader();
  WireWriter w;
  Encode(h, w);
  ASSERT_EQ(w.pos(), kHeaderSize);
  const Bytes b = w.Take();
  // MS-SMB2 2.2.1: 0xFE 'S' 'M' 'B', StructureSize 64.
  EXPECT_EQ(b[0], 0xFE);
  EXPECT_EQ(b[1], 'S');
  EXPECT_EQ(test::Get16(b, 4), 64);
  EXPECT_EQ(Get32(b, 36), 0x11223344u);  // TreeId
  auto d = DecodeHeader(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->credit_charge, h.credit_charge);
  EXPECT_EQ(d->status, h.status);
  EXPECT_EQ(d->command, h.command);
  EXPECT_EQ(d->credits, h.credits);
  EXPECT_EQ(d->flags, h.flags);
  EXPECT_EQ(d->message_id, h.message_id);
  EXPECT_EQ(d->process_id, h.process_id);
  EXPECT_EQ(d->tree_id, h.tree_id);
  EXPECT_EQ(d->session_id, h.session_id);
  EXPECT_EQ(d->signature, h.signature);
  EXPECT_TRUE(d->is_response());
  EXPECT_TRUE(d->is_signed());
  EXPECT_FALSE(d->is_async());
}

TEST(Header, RoundTripAsync) {
  Header h = SampleHeader();
  h.flags |= kFlagAsyncCommand;
  h.status = 0x00000103;  // STATUS_PENDING interim
  h.async_id = 0x5566778899AABBCCull;
  WireWriter w;
  Encode(h, w);
  const Bytes b = w.Take();
  auto d = DecodeHeader(b);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->is_async());
  EXPECT_EQ(d->async_id, h.async_id);
  EXPECT_EQ(d->session_id, h.session_id);
}

TEST(Header, Rejects) {
  WireWriter w;
  Encode(SampleHeader(), w);
  Bytes b = w.Take();
  EXPECT_ERRC(DecodeHeader(ByteSpan(b).first(63)), malformed_response);
  Bytes bad_proto = b;
  bad_proto[0] = 0xFF;  // SMB1
  EXPECT_ERRC(DecodeHeader(bad_proto), malformed_response);
  Bytes bad_size = b;
  Put16(bad_size, 4, 65);
  EXPECT_ERRC(DecodeHeader(bad_size), bad_structure_size);
  EXPECT_ERRC(DecodeHeader(ByteSpan()), malformed_response);
}

Bytes Echo(std::uint64_t mid) {
  Header h;
  h.command = Command::kEcho;
  h.message_id = mid;
  WireWriter w;
  Encode(h, w);
  Encode(EchoRequest{}, w);
  return w.Take();
}

TEST(Compound, BuildAndSplit) {
  const Bytes frame = BuildCompound({Echo(1), Echo(2), Echo(3)});
  // 68-byte messages are padded to 72.
  ASSERT_EQ(frame.size(), 72u + 72u + 68u);
  EXPECT_EQ(Get32(frame, 20), 72u);
  EXPECT_EQ(Get32(frame, 72 + 20), 72u);
  EXPECT_EQ(Get32(frame, 144 + 20), 0u);
  auto parts = SplitCompound(frame);
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    auto h = DecodeHeader((*parts)[i]);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->message_id, i + 1);
    EXPECT_TRUE(DecodeEchoRequest((*parts)[i]));
  }
  EXPECT_EQ((*parts)[0].size(), 72u);
  EXPECT_EQ((*parts)[2].size(), 68u);
}

TEST(Compound, SingleMessage) {
  const Bytes m = Echo(9);
  auto parts = SplitCompound(m);
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].size(), m.size());
}

TEST(Compound, PrepareMember) {
  Bytes m = Echo(1);
  PrepareCompoundMember(m, false);
  EXPECT_EQ(m.size(), 72u);
  EXPECT_EQ(Get32(m, 20), 72u);
  PrepareCompoundMember(m, true);
  EXPECT_EQ(Get32(m, 20), 0u);
}

TEST(Compound, RejectsBadNextCommand) {
  const Bytes good = BuildCompound({Echo(1), Echo(2)});
  Bytes unaligned = good;
  Put32(unaligned, 20, 68);  // not a multiple of 8
  EXPECT_ERRC(SplitCompound(unaligned), malformed_response);
  Bytes past_end = good;
  Put32(past_end, 20, 0x1000);
  EXPECT_ERRC(SplitCompound(past_end), malformed_response);
  Bytes huge = good;
  Put32(huge, 20, 0xFFFFFFF8u);  // off + next would wrap a 32-bit sum
  EXPECT_ERRC(SplitCompound(huge), malformed_response);
  Bytes small = good;
  Put32(small, 20, 8);  // shorter than a header
  EXPECT_ERRC(SplitCompound(small), malformed_response);
  Bytes no_room = good;
  Put32(no_room, 20, 80);  // leaves 60 bytes: no room for a header
  EXPECT_ERRC(SplitCompound(no_room), malformed_response);
  Bytes bad_second = good;
  bad_second[72] = 0xFD;  // second member is not an SMB2 header
  EXPECT_ERRC(SplitCompound(bad_second), malformed_response);
  EXPECT_ERRC(SplitCompound(ByteSpan(good).first(40)), malformed_response);
  EXPECT_ERRC(SplitCompound(ByteSpan()), malformed_response);
}

TEST(Transform, RoundTripAndClassify) {
  TransformHeader t;
  for (std::size_t i = 0; i < 16; ++i) {
    t.signature[i] = static_cast<std::uint8_t>(0xA0 + i);
    t.nonce[i] = static_cast<std::uint8_t>(i);
  }
  t.original_message_size = 5;
  t.session_id = 0x42;
  WireWriter w;
  Encode(t, w);
  ASSERT_EQ(w.pos(), kTransformHeaderSize);
  w.Bytes(Bytes{1, 2, 3, 4, 5});  // "ciphertext"
  const Bytes frame = w.Take();
  EXPECT_EQ(ClassifyFrame(frame), FrameKind::kTransform);
  auto d = DecodeTransformHeader(frame);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->signature, t.signature);
  EXPECT_EQ(d->nonce, t.nonce);
  EXPECT_EQ(d->original_message_size, 5u);
  EXPECT_EQ(d->flags, kTransformFlagEncrypted);
  EXPECT_EQ(d->session_id, 0x42u);
  // A transform frame is not split as plain SMB2.
  EXPECT_ERRC(SplitCompound(frame), malformed_response);
  // OriginalMessageSize must match the ciphertext.
  EXPECT_ERRC(DecodeTransformHeader(ByteSpan(frame).first(55)),
              malformed_response);
  EXPECT_ERRC(DecodeTransformHeader(ByteSpan(frame).first(30)),
              malformed_response);
}

TEST(Transform, CompressedIsRecognisedAndRejected) {
  Bytes frame = Echo(1);
  Put32(frame, 0, kCompressionProtocolId);
  EXPECT_EQ(ClassifyFrame(frame), FrameKind::kCompressed);
  EXPECT_ERRC(SplitCompound(frame), malformed_response);
  EXPECT_ERRC(DecodeTransformHeader(frame), malformed_response);
  EXPECT_EQ(ClassifyFrame(Echo(1)), FrameKind::kSmb2);
  EXPECT_EQ(ClassifyFrame(Bytes{0xFE, 'S'}), FrameKind::kUnknown);
}

}  // namespace
}  // namespace smbgate::smb2

namespace smbgate::smb2 {
namespace {

TEST(Header, EncodeMessage) {
  Header h;
  h.command = Command::kEcho;
  h.message_id = 5;
  const Bytes m = EncodeMessage(h, EchoRequest{});
  ASSERT_EQ(m.size(), 68u);
  EXPECT_TRUE(DecodeEchoRequest(m));
  EXPECT_EQ(DecodeHeader(m)->message_id, 5u);
}

}  // namespace
}  // namespace smbgate::smb2
