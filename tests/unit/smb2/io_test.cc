// CLOSE, FLUSH, READ, WRITE, LOCK, CANCEL.
#include <gtest/gtest.h>

#include "smb2/codec/cancel.h"
#include "smb2/codec/close.h"
#include "smb2/codec/lock.h"
#include "smb2/codec/read.h"
#include "smb2/codec/write.h"
#include "tests/unit/smb2/codec_test_util.h"

namespace smbgate::smb2 {
namespace {

using test::B;
using test::Get16;
using test::Get32;
using test::Put16;
using test::Put32;

const FileId kFid{0x0123456789ABCDEFull, 0xFEDCBA9876543210ull};

TEST(Close, RoundTrips) {
  const Bytes q = test::Req(Command::kClose, CloseRequest{kCloseFlagPostqueryAttrib, kFid});
  EXPECT_EQ(q.size(), 64u + 24u);
  auto dq = DecodeCloseRequest(q);
  ASSERT_TRUE(dq);
  EXPECT_EQ(dq->flags, kCloseFlagPostqueryAttrib);
  EXPECT_EQ(dq->file_id, kFid);

  CloseResponse p;
  p.flags = kCloseFlagPostqueryAttrib;
  p.creation_time = 11;
  p.last_access_time = 12;
  p.last_write_time = 13;
  p.change_time = 14;
  p.allocation_size = 15;
  p.end_of_file = 16;
  p.file_attributes = 0x20;
  const Bytes m = test::Rsp(Command::kClose, p);
  EXPECT_EQ(m.size(), 64u + 60u);
  auto d = DecodeCloseResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->flags, p.flags);
  EXPECT_EQ(d->last_write_time, 13u);
  EXPECT_EQ(d->end_of_file, 16u);
  EXPECT_EQ(d->file_attributes, 0x20u);
  EXPECT_ERRC(DecodeCloseResponse(ByteSpan(m).first(64 + 59)), malformed_response);
  Bytes wrong = m;
  Put16(wrong, B(0), 61);
  EXPECT_ERRC(DecodeCloseResponse(wrong), bad_structure_size);
}

TEST(Flush, RoundTrips) {
  auto d = DecodeFlushRequest(test::Req(Command::kFlush, FlushRequest{kFid}));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->file_id, kFid);
  EXPECT_TRUE(DecodeFlushResponse(test::Rsp(Command::kFlush, FlushResponse{})));
}

TEST(Read, RequestLayoutAndRoundTrip) {
  ReadRequest q;
  q.length = 1 << 20;
  q.offset = 0x100000000ull;
  q.file_id = kFid;
  q.minimum_count = 1;
  const Bytes m = test::Req(Command::kRead, q);
  // StructureSize 49 with the one-byte Buffer present.
  EXPECT_EQ(m.size(), 64u + 49u);
  EXPECT_EQ(Get16(m, B(0)), 49);
  EXPECT_EQ(m[B(2)], 0x50);
  auto d = DecodeReadRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->length, q.length);
  EXPECT_EQ(d->offset, q.offset);
  EXPECT_EQ(d->file_id, kFid);
  EXPECT_EQ(d->minimum_count, 1u);
}

TEST(Read, ResponseRoundTrip) {
  const Bytes data = {'h', 'e', 'l', 'l', 'o'};
  ReadResponse p;
  p.data = data;
  p.data_remaining = 0;
  const Bytes m = test::Rsp(Command::kRead, p);
  EXPECT_EQ(m[B(2)], 0x50);
  EXPECT_EQ(m.size(), 0x50u + 5u);
  auto d = DecodeReadResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->data_offset, 0x50);
  EXPECT_EQ(d->data_length, 5u);
  EXPECT_EQ(test::ToBytes(d->data), data);
  EXPECT_EQ(d->data.data(), m.data() + 0x50);
}

TEST(Read, EmptyResponse) {
  const Bytes m = test::Rsp(Command::kRead, ReadResponse{});
  auto d = DecodeReadResponse(m);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->data.empty());
  // DataOffset 0 with DataLength 0 is accepted.
  Bytes zero = m;
  zero[B(2)] = 0;
  EXPECT_TRUE(DecodeReadResponse(zero));
}

TEST(Read, ResponseRejectsBadData) {
  ReadResponse p;
  const Bytes data(100, 0x33);
  p.data = data;
  const Bytes good = test::Rsp(Command::kRead, p);
  Bytes past_end = good;
  Put32(past_end, B(4), 101);
  EXPECT_ERRC(DecodeReadResponse(past_end), malformed_response);
  Bytes huge = good;
  Put32(huge, B(4), 0xFFFFFFFF);
  EXPECT_ERRC(DecodeReadResponse(huge), malformed_response);
  Bytes in_fixed = good;
  in_fixed[B(2)] = 0x40;  // inside the header
  EXPECT_ERRC(DecodeReadResponse(in_fixed), malformed_response);
  Bytes wrong = good;
  Put16(wrong, B(0), 16);
  EXPECT_ERRC(DecodeReadResponse(wrong), bad_structure_size);
}

TEST(Write, RoundTrips) {
  const Bytes data(300, 0x7E);
  WriteRequest q;
  q.offset = 42;
  q.file_id = kFid;
  q.flags = kWriteFlagWriteThrough;
  q.data = data;
  const Bytes m = test::Req(Command::kWrite, q);
  EXPECT_EQ(Get16(m, B(2)), 0x70);  // DataOffset
  EXPECT_EQ(Get32(m, B(4)), 300u);  // Length
  EXPECT_EQ(m.size(), 0x70u + 300u);
  auto d = DecodeWriteRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->offset, 42u);
  EXPECT_EQ(d->file_id, kFid);
  EXPECT_EQ(d->flags, kWriteFlagWriteThrough);
  EXPECT_EQ(test::ToBytes(d->data), data);
  Bytes past_end = m;
  Put32(past_end, B(4), 301);
  EXPECT_ERRC(DecodeWriteRequest(past_end), malformed_response);

  const Bytes r = test::Rsp(Command::kWrite, WriteResponse{300, 0});
  auto dr = DecodeWriteResponse(r);
  ASSERT_TRUE(dr);
  EXPECT_EQ(dr->count, 300u);
  EXPECT_TRUE(DecodeWriteResponse(ByteSpan(r).first(64 + 16)));
  EXPECT_ERRC(DecodeWriteResponse(ByteSpan(r).first(64 + 15)), malformed_response);
}

TEST(Lock, RoundTrip) {
  LockRequest q;
  q.lock_sequence_number = 0xA;
  q.lock_sequence_index = 0x1234567;
  q.file_id = kFid;
  q.locks = {{0, 100, kLockFlagExclusiveLock | kLockFlagFailImmediately},
             {200, 50, kLockFlagSharedLock}};
  const Bytes m = test::Req(Command::kLock, q);
  EXPECT_EQ(m.size(), 64u + 24u + 48u);
  EXPECT_EQ(Get32(m, B(4)), 0x1234567Au);
  auto d = DecodeLockRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->lock_sequence_number, 0xA);
  EXPECT_EQ(d->lock_sequence_index, 0x1234567u);
  ASSERT_EQ(d->locks.size(), 2u);
  EXPECT_EQ(d->locks[1].offset, 200u);
  EXPECT_EQ(d->locks[1].length, 50u);
  EXPECT_EQ(d->locks[1].flags, kLockFlagSharedLock);
  EXPECT_TRUE(DecodeLockResponse(test::Rsp(Command::kLock, LockResponse{})));
}

TEST(Lock, RejectsCounts) {
  LockRequest q;
  q.locks = {{0, 1, kLockFlagUnlock}};
  Bytes m = test::Req(Command::kLock, q);
  Put16(m, B(2), 0);
  EXPECT_ERRC(DecodeLockRequest(m), malformed_response);
  Put16(m, B(2), 0xFFFF);  // far more elements than the message holds
  EXPECT_ERRC(DecodeLockRequest(m), malformed_response);
  Put16(m, B(2), 2);
  EXPECT_ERRC(DecodeLockRequest(m), malformed_response);
}

TEST(Cancel, RoundTrip) {
  const Bytes m = test::Req(Command::kCancel, CancelRequest{});
  EXPECT_EQ(m.size(), 68u);
  EXPECT_TRUE(DecodeCancelRequest(m));
}

}  // namespace
}  // namespace smbgate::smb2
