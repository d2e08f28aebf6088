// CHANGE_NOTIFY, FILE_NOTIFY_INFORMATION and the OPLOCK_BREAK bodies.
#include <gtest/gtest.h>

#include "smb2/codec/create.h"
#include "smb2/codec/notify.h"
#include "tests/unit/smb2/codec_test_util.h"

namespace smbgate::smb2 {
namespace {

using test::B;
using test::Get16;
using test::Get32;
using test::Put16;
using test::Put32;

TEST(ChangeNotify, RoundTrips) {
  ChangeNotifyRequest q;
  q.flags = kWatchTree;
  q.output_buffer_length = 4096;
  q.file_id = {1, 2};
  q.completion_filter = kFileNotifyChangeFileName | kFileNotifyChangeDirName;
  const Bytes m = test::Req(Command::kChangeNotify, q);
  EXPECT_EQ(m.size(), 64u + 32u);
  auto d = DecodeChangeNotifyRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->flags, kWatchTree);
  EXPECT_EQ(d->output_buffer_length, 4096u);
  EXPECT_EQ(d->completion_filter, 3u);

  const std::vector<FileNotifyInformation> entries = {
      {kFileActionRenamedOldName, "old"},
      {kFileActionRenamedNewName, "n\xC3\xA9w"},
      {kFileActionAdded, "x"}};
  const Bytes buf = EncodeFileNotifyInformation(entries);
  ChangeNotifyResponse p;
  p.buffer = buf;
  const Bytes r = test::Rsp(Command::kChangeNotify, p);
  auto dr = DecodeChangeNotifyResponse(r);
  ASSERT_TRUE(dr);
  auto parsed = ParseFileNotifyInformation(dr->buffer);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, entries);
}

TEST(ChangeNotify, RejectsBadChains) {
  const Bytes good = EncodeFileNotifyInformation({{1, "abc"}, {2, "d"}});
  ASSERT_TRUE(ParseFileNotifyInformation(good));
  const std::uint32_t next = Get32(good, 0);
  EXPECT_EQ(next % 4, 0u);
  Bytes unaligned = good;
  Put32(unaligned, 0, next + 2);
  EXPECT_ERRC(ParseFileNotifyInformation(unaligned), malformed_response);
  Bytes overlapping = good;
  Put32(overlapping, 0, 12);  // inside this entry's name
  EXPECT_ERRC(ParseFileNotifyInformation(overlapping), malformed_response);
  Bytes past_end = good;
  Put32(past_end, 0, 0x1000);
  EXPECT_ERRC(ParseFileNotifyInformation(past_end), malformed_response);
  Bytes name_out = good;
  Put32(name_out, 8, 0xFFFFFFFE);
  EXPECT_ERRC(ParseFileNotifyInformation(name_out), malformed_response);
  Bytes bad_utf16 = good;
  bad_utf16[12] = 0x00;
  bad_utf16[13] = 0xDC;
  EXPECT_ERRC(ParseFileNotifyInformation(bad_utf16), malformed_response);
}

Bytes Unsolicited(Bytes m) {
  test::Put32(m, 24, 0xFFFFFFFF);  // MessageId 0xFFFF...FF
  test::Put32(m, 28, 0xFFFFFFFF);
  return m;
}

TEST(OplockBreak, OplockNotificationAndAck) {
  OplockBreak b;
  b.oplock_level = kOplockLevelII;
  b.file_id = {5, 6};
  const Bytes m = Unsolicited(test::Rsp(Command::kOplockBreak, b));
  auto kind = ClassifyOplockBreak(m);
  ASSERT_TRUE(kind);
  EXPECT_EQ(*kind, OplockBreakKind::kOplock);
  auto d = DecodeOplockBreak(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->oplock_level, kOplockLevelII);
  EXPECT_EQ(d->file_id, (FileId{5, 6}));
  EXPECT_ERRC(DecodeLeaseBreakNotification(m), bad_structure_size);
  const Bytes ack = test::Req(Command::kOplockBreak, *d);
  EXPECT_EQ(ack.size(), 64u + 24u);
  EXPECT_TRUE(DecodeOplockBreak(ack));
}

TEST(OplockBreak, LeaseNotificationAndAck) {
  LeaseBreakNotification n;
  n.new_epoch = 2;
  n.flags = kNotifyBreakLeaseFlagAckRequired;
  n.lease_key[0] = 0x11;
  n.lease_key[15] = 0xFF;
  n.current_lease_state = 7;
  n.new_lease_state = 1;
  const Bytes m = Unsolicited(test::Rsp(Command::kOplockBreak, n));
  EXPECT_EQ(m.size(), 64u + 44u);
  auto kind = ClassifyOplockBreak(m);
  ASSERT_TRUE(kind);
  EXPECT_EQ(*kind, OplockBreakKind::kLease);
  auto d = DecodeLeaseBreakNotification(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->new_epoch, 2);
  EXPECT_EQ(d->flags, kNotifyBreakLeaseFlagAckRequired);
  EXPECT_EQ(d->lease_key, n.lease_key);
  EXPECT_EQ(d->current_lease_state, 7u);
  EXPECT_EQ(d->new_lease_state, 1u);
  EXPECT_ERRC(DecodeOplockBreak(m), bad_structure_size);

  LeaseBreakAck a;
  a.lease_key = n.lease_key;
  a.lease_state = 1;
  const Bytes am = test::Req(Command::kOplockBreak, a);
  EXPECT_EQ(am.size(), 64u + 36u);
  auto ak = ClassifyOplockBreak(am);
  ASSERT_TRUE(ak);
  EXPECT_EQ(*ak, OplockBreakKind::kLeaseAck);
  auto ad = DecodeLeaseBreakAck(am);
  ASSERT_TRUE(ad);
  EXPECT_EQ(ad->lease_key, n.lease_key);
  EXPECT_EQ(ad->lease_state, 1u);
}

TEST(OplockBreak, ClassifyRejects) {
  Bytes m = test::Rsp(Command::kOplockBreak, OplockBreak{});
  Put16(m, B(0), 30);
  EXPECT_ERRC(ClassifyOplockBreak(m), bad_structure_size);
  EXPECT_ERRC(ClassifyOplockBreak(ByteSpan(m).first(65)), malformed_response);
  Put16(m, 12, static_cast<std::uint16_t>(Command::kRead));
  EXPECT_ERRC(ClassifyOplockBreak(m), malformed_response);
  const Bytes lease = test::Rsp(Command::kOplockBreak, LeaseBreakNotification{});
  EXPECT_ERRC(DecodeLeaseBreakNotification(ByteSpan(lease).first(64 + 43)),
              malformed_response);
}

}  // namespace
}  // namespace smbgate::smb2
