#include <gtest/gtest.h>

#include "smb2/codec/create.h"
#include "tests/unit/smb2/codec_test_util.h"

namespace smbgate::smb2 {
namespace {

using test::B;
using test::Get16;
using test::Get32;
using test::Put16;
using test::Put32;

CreateRequest SampleRequest() {
  CreateRequest q;
  q.requested_oplock_level = kOplockLevelLease;
  q.desired_access = kFileReadData | kFileReadAttributes | kSynchronize;
  q.file_attributes = kFileAttributeNormal;
  q.share_access = kFileShareRead | kFileShareWrite | kFileShareDelete;
  q.create_disposition = kFileOpenIf;
  q.create_options = kFileNonDirectoryFile;
  q.name = "dir\\f\xC3\xBCr.txt";
  q.contexts.push_back({kCreateQueryMaximalAccess, {}});
  q.contexts.push_back({kCreateQueryOnDiskId, {}});
  Lease l;
  l.lease_key[0] = 0xAB;
  l.lease_state = kLeaseReadCaching | kLeaseHandleCaching;
  l.v2 = true;
  l.epoch = 3;
  q.contexts.push_back({kCreateRequestLease, EncodeLease(l)});
  DurableHandleRequestV2 dh;
  dh.timeout = 60000;
  dh.create_guid[15] = 0x42;
  q.contexts.push_back({kCreateDurableHandleRequestV2,
                        EncodeDurableHandleRequestV2(dh)});
  return q;
}

TEST(Create, RequestRoundTrip) {
  const CreateRequest q = SampleRequest();
  const Bytes m = test::Req(Command::kCreate, q);
  EXPECT_EQ(Get16(m, B(0)), 57);
  EXPECT_EQ(Get16(m, B(44)), 0x78);  // NameOffset
  const std::uint32_t ctx_off = Get32(m, B(48));
  EXPECT_EQ(ctx_off % 8, 0u);
  auto d = DecodeCreateRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->requested_oplock_level, q.requested_oplock_level);
  EXPECT_EQ(d->impersonation_level, kImpersonationImpersonation);
  EXPECT_EQ(d->desired_access, q.desired_access);
  EXPECT_EQ(d->file_attributes, q.file_attributes);
  EXPECT_EQ(d->share_access, q.share_access);
  EXPECT_EQ(d->create_disposition, q.create_disposition);
  EXPECT_EQ(d->create_options, q.create_options);
  EXPECT_EQ(d->name, q.name);
  ASSERT_EQ(d->contexts.size(), q.contexts.size());
  for (std::size_t i = 0; i < q.contexts.size(); ++i) {
    EXPECT_EQ(d->contexts[i].name, q.contexts[i].name);
    EXPECT_EQ(d->contexts[i].data, q.contexts[i].data);
  }
  auto lease = ParseLease(d->contexts[2].data);
  ASSERT_TRUE(lease);
  EXPECT_TRUE(lease->v2);
  EXPECT_EQ(lease->lease_key[0], 0xAB);
  EXPECT_EQ(lease->epoch, 3);
  auto dh = ParseDurableHandleRequestV2(d->contexts[3].data);
  ASSERT_TRUE(dh);
  EXPECT_EQ(dh->timeout, 60000u);
  EXPECT_EQ(dh->create_guid[15], 0x42);
}

TEST(Create, EmptyNameOpensRoot) {
  CreateRequest q;
  q.desired_access = kFileReadAttributes;
  const Bytes m = test::Req(Command::kCreate, q);
  // NameOffset still points at the buffer; the buffer holds one byte.
  EXPECT_EQ(Get16(m, B(44)), 0x78);
  EXPECT_EQ(Get16(m, B(46)), 0);
  EXPECT_EQ(m.size(), 64u + 57u);
  auto d = DecodeCreateRequest(m);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->name.empty());
  EXPECT_TRUE(d->contexts.empty());
}

CreateResponse SampleResponse(const std::vector<Bytes>& payloads) {
  CreateResponse p;
  p.oplock_level = kOplockLevelLease;
  p.create_action = kFileCreated;
  p.creation_time = 1;
  p.last_access_time = 2;
  p.last_write_time = 3;
  p.change_time = 4;
  p.allocation_size = 4096;
  p.end_of_file = 10;
  p.file_attributes = kFileAttributeArchive;
  p.file_id = {0x1111, 0x2222};
  p.contexts.push_back({kCreateQueryMaximalAccess, payloads[0]});
  p.contexts.push_back({kCreateQueryOnDiskId, payloads[1]});
  return p;
}

TEST(Create, ResponseRoundTrip) {
  const std::vector<Bytes> payloads = {
      EncodeMaximalAccessResponse({0, 0x001F01FF}),
      EncodeQueryOnDiskIdResponse({0x1234, 0x5678})};
  const CreateResponse p = SampleResponse(payloads);
  const Bytes m = test::Rsp(Command::kCreate, p);
  EXPECT_EQ(Get16(m, B(0)), 89);
  EXPECT_EQ(Get32(m, B(80)), 0x98u);  // contexts right after the fixed part
  auto d = DecodeCreateResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->oplock_level, kOplockLevelLease);
  EXPECT_EQ(d->create_action, kFileCreated);
  EXPECT_EQ(d->creation_time, 1u);
  EXPECT_EQ(d->change_time, 4u);
  EXPECT_EQ(d->allocation_size, 4096u);
  EXPECT_EQ(d->end_of_file, 10u);
  EXPECT_EQ(d->file_attributes, kFileAttributeArchive);
  EXPECT_EQ(d->file_id, (FileId{0x1111, 0x2222}));
  ASSERT_EQ(d->contexts.size(), 2u);
  const CreateContextView* mx = FindCreateContext(d->contexts, "MxAc");
  ASSERT_NE(mx, nullptr);
  auto ma = ParseMaximalAccessResponse(mx->data);
  ASSERT_TRUE(ma);
  EXPECT_EQ(ma->maximal_access, 0x001F01FFu);
  auto qfid = ParseQueryOnDiskIdResponse(
      FindCreateContext(d->contexts, "QFid")->data);
  ASSERT_TRUE(qfid);
  EXPECT_EQ(qfid->disk_file_id, 0x1234u);
  EXPECT_EQ(qfid->volume_id, 0x5678u);
  EXPECT_EQ(FindCreateContext(d->contexts, "RqLs"), nullptr);
}

TEST(Create, ResponseWithoutContexts) {
  CreateResponse p;
  p.file_id = {1, 2};
  const Bytes m = test::Rsp(Command::kCreate, p);
  auto d = DecodeCreateResponse(m);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->contexts.empty());
  // Without the trailing Buffer byte too.
  EXPECT_TRUE(DecodeCreateResponse(ByteSpan(m).first(64 + 88)));
  EXPECT_ERRC(DecodeCreateResponse(ByteSpan(m).first(64 + 87)),
              malformed_response);
}

TEST(Create, RejectsBadContextChains) {
  const std::vector<Bytes> payloads = {
      EncodeMaximalAccessResponse({0, 1}), EncodeQueryOnDiskIdResponse({2, 3})};
  const Bytes good = test::Rsp(Command::kCreate, SampleResponse(payloads));
  const std::size_t chain = Get32(good, B(80));
  const std::uint32_t next = Get32(good, chain);
  ASSERT_EQ(next % 8, 0u);
  ASSERT_TRUE(DecodeCreateResponse(good));

  Bytes unaligned = good;
  Put32(unaligned, chain, next + 4);
  EXPECT_ERRC(DecodeCreateResponse(unaligned), malformed_response);
  Bytes past_end = good;
  Put32(past_end, chain, 0x10000);
  EXPECT_ERRC(DecodeCreateResponse(past_end), malformed_response);
  Bytes overlapping = good;  // Next smaller than a context header
  Put32(overlapping, chain, 8);
  EXPECT_ERRC(DecodeCreateResponse(overlapping), malformed_response);
  Bytes name_out = good;
  Put16(name_out, chain + 4, 0xFFF0);  // NameOffset outside the context
  EXPECT_ERRC(DecodeCreateResponse(name_out), malformed_response);
  Bytes data_out = good;
  Put32(data_out, chain + 12, 0x100);  // DataLength past this context
  EXPECT_ERRC(DecodeCreateResponse(data_out), malformed_response);
  Bytes data_wrap = good;  // DataOffset 0xFFF8 + small length wraps 16 bits
  Put16(data_wrap, chain + 10, 0xFFF8);
  Put32(data_wrap, chain + 12, 0x10);
  EXPECT_ERRC(DecodeCreateResponse(data_wrap), malformed_response);
  Bytes len_out = good;  // CreateContextsLength past the message
  Put32(len_out, B(84), 0x7FFFFFFF);
  EXPECT_ERRC(DecodeCreateResponse(len_out), malformed_response);
  Bytes off_wrap = good;  // 32-bit offset + length that wraps
  Put32(off_wrap, B(80), 0xFFFFFFF8);
  Put32(off_wrap, B(84), 0x10);
  EXPECT_ERRC(DecodeCreateResponse(off_wrap), malformed_response);
}

TEST(Create, ContextCountIsCapped) {
  std::vector<CreateContextView> many;
  for (std::size_t i = 0; i <= kMaxCreateContexts; ++i) {
    many.push_back({"XXXX", {}});
  }
  WireWriter w;
  EncodeCreateContexts(many, w);
  const Bytes chain = w.Take();
  EXPECT_ERRC(ParseCreateContexts(chain), malformed_response);
  many.pop_back();
  WireWriter w2;
  EncodeCreateContexts(many, w2);
  auto ok = ParseCreateContexts(w2.buf());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), kMaxCreateContexts);
}

TEST(Create, RejectsInvalidUtf16Name) {
  CreateRequest q;
  q.name = "ab";
  Bytes m = test::Req(Command::kCreate, q);
  m[0x78 + 2] = 0x00;  // second code unit: lone low surrogate
  m[0x78 + 3] = 0xDC;
  EXPECT_ERRC(DecodeCreateRequest(m), malformed_response);
}

TEST(Create, PayloadHelpers) {
  Lease v1;
  v1.lease_key[3] = 7;
  v1.lease_state = kLeaseReadCaching;
  const Bytes b1 = EncodeLease(v1);
  EXPECT_EQ(b1.size(), 32u);
  auto l1 = ParseLease(b1);
  ASSERT_TRUE(l1);
  EXPECT_FALSE(l1->v2);
  EXPECT_EQ(l1->lease_key[3], 7);
  EXPECT_ERRC(ParseLease(ByteSpan(b1).first(31)), malformed_response);

  DurableHandleReconnectV2 rc;
  rc.file_id = {5, 6};
  rc.flags = kDurableHandleFlagPersistent;
  auto rcd = ParseDurableHandleReconnectV2(EncodeDurableHandleReconnectV2(rc));
  ASSERT_TRUE(rcd);
  EXPECT_EQ(rcd->file_id, rc.file_id);
  EXPECT_EQ(rcd->flags, rc.flags);

  auto dr = ParseDurableHandleResponseV2(EncodeDurableHandleResponseV2({1, 2}));
  ASSERT_TRUE(dr);
  EXPECT_EQ(dr->timeout, 1u);
  EXPECT_ERRC(ParseMaximalAccessResponse(Bytes{1, 2, 3}), malformed_response);
}

}  // namespace
}  // namespace smbgate::smb2
