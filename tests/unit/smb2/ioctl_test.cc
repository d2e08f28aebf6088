#include <gtest/gtest.h>

#include "smb2/codec/ioctl.h"
#include "smb2/codec/negotiate.h"
#include "tests/unit/smb2/codec_test_util.h"

namespace smbgate::smb2 {
namespace {

using test::B;
using test::Get16;
using test::Get32;
using test::Put16;
using test::Put32;

ValidateNegotiateInfoRequest SampleVni() {
  ValidateNegotiateInfoRequest v;
  v.capabilities = kCapLargeMtu | kCapLeasing;
  v.guid[0] = 0xCC;
  v.security_mode = kSecurityModeSigningEnabled;
  v.dialects = {kDialect202, kDialect210, kDialect300, kDialect302};
  return v;
}

TEST(Ioctl, ValidateNegotiateRequestRoundTrip) {
  const Bytes payload = EncodeValidateNegotiateInfoRequest(SampleVni());
  EXPECT_EQ(payload.size(), 24u + 8u);
  IoctlRequest q;
  q.ctl_code = kFsctlValidateNegotiateInfo;
  q.file_id = kAllOnesFileId;
  q.input = payload;
  q.max_output_response = 24;
  const Bytes m = test::Req(Command::kIoctl, q);
  EXPECT_EQ(Get16(m, B(0)), 57);
  EXPECT_EQ(Get32(m, B(4)), 0x00140204u);
  EXPECT_EQ(Get32(m, B(24)), 0x78u);  // InputOffset
  EXPECT_EQ(Get32(m, B(48)), kIoctlIsFsctl);
  auto d = DecodeIoctlRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->ctl_code, kFsctlValidateNegotiateInfo);
  EXPECT_EQ(d->file_id, kAllOnesFileId);
  EXPECT_EQ(d->max_output_response, 24u);
  EXPECT_EQ(d->flags, kIoctlIsFsctl);
  auto v = DecodeValidateNegotiateInfoRequest(d->input);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->capabilities, SampleVni().capabilities);
  EXPECT_EQ(v->guid, SampleVni().guid);
  EXPECT_EQ(v->security_mode, SampleVni().security_mode);
  EXPECT_EQ(v->dialects, SampleVni().dialects);
}

TEST(Ioctl, ValidateNegotiateResponseRoundTrip) {
  ValidateNegotiateInfoResponse v;
  v.capabilities = kCapDfs;
  v.guid[15] = 1;
  v.security_mode = kSecurityModeSigningRequired;
  v.dialect = kDialect302;
  const Bytes out = EncodeValidateNegotiateInfoResponse(v);
  IoctlResponse p;
  p.ctl_code = kFsctlValidateNegotiateInfo;
  p.file_id = kAllOnesFileId;
  p.output = out;
  const Bytes m = test::Rsp(Command::kIoctl, p);
  auto d = DecodeIoctlResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->ctl_code, kFsctlValidateNegotiateInfo);
  EXPECT_TRUE(d->input.empty());
  auto dv = DecodeValidateNegotiateInfoResponse(d->output);
  ASSERT_TRUE(dv);
  EXPECT_EQ(dv->capabilities, kCapDfs);
  EXPECT_EQ(dv->guid, v.guid);
  EXPECT_EQ(dv->security_mode, v.security_mode);
  EXPECT_EQ(dv->dialect, kDialect302);
  EXPECT_ERRC(DecodeValidateNegotiateInfoResponse(ByteSpan(out).first(23)),
              malformed_response);
}

TEST(Ioctl, ValidateNegotiateRejectsCounts) {
  Bytes payload = EncodeValidateNegotiateInfoRequest(SampleVni());
  Put16(payload, 22, 0xFFFF);
  EXPECT_ERRC(DecodeValidateNegotiateInfoRequest(payload), malformed_response);
  Put16(payload, 22, 5);  // one more dialect than present
  EXPECT_ERRC(DecodeValidateNegotiateInfoRequest(payload), malformed_response);
  Put16(payload, 22, 0);
  EXPECT_ERRC(DecodeValidateNegotiateInfoRequest(payload), malformed_response);
}

TEST(Ioctl, ResponseWithInputAndOutput) {
  const Bytes in = {1, 2, 3};
  const Bytes out = {4, 5, 6, 7, 8};
  IoctlResponse p;
  p.ctl_code = kFsctlPipeTransceive;
  p.file_id = {1, 2};
  p.input = in;
  p.output = out;
  const Bytes m = test::Rsp(Command::kIoctl, p);
  EXPECT_EQ(Get32(m, B(24)), 0x70u);  // InputOffset
  EXPECT_EQ(Get32(m, B(32)) % 8, 0u);  // OutputOffset aligned
  auto d = DecodeIoctlResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(test::ToBytes(d->input), in);
  EXPECT_EQ(test::ToBytes(d->output), out);
  EXPECT_EQ(d->file_id, (FileId{1, 2}));
}

TEST(Ioctl, ResponseRejectsBadBuffers) {
  IoctlResponse p;
  const Bytes out(24, 9);
  p.output = out;
  const Bytes good = test::Rsp(Command::kIoctl, p);
  Bytes past_end = good;
  Put32(past_end, B(36), 25);
  EXPECT_ERRC(DecodeIoctlResponse(past_end), malformed_response);
  Bytes wrap = good;  // 32-bit offset + count that would wrap
  Put32(wrap, B(32), 0xFFFFFFF0);
  Put32(wrap, B(36), 0x20);
  EXPECT_ERRC(DecodeIoctlResponse(wrap), malformed_response);
  Bytes in_header = good;
  Put32(in_header, B(32), 8);
  EXPECT_ERRC(DecodeIoctlResponse(in_header), malformed_response);
  Bytes wrong = good;
  Put16(wrong, B(0), 57);
  EXPECT_ERRC(DecodeIoctlResponse(wrong), bad_structure_size);
}

TEST(Ioctl, SymlinkReparseBuffer) {
  SymlinkReparseBuffer s;
  s.substitute_name = "..\\target\xE2\x82\xAC";
  s.print_name = "..\\target\xE2\x82\xAC";
  s.flags = 1;
  const Bytes b = EncodeSymlinkReparseBuffer(s);
  auto d = DecodeSymlinkReparseBuffer(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->substitute_name, s.substitute_name);
  EXPECT_EQ(d->print_name, s.print_name);
  EXPECT_EQ(d->flags, 1u);
  Bytes bad_tag = b;
  Put32(bad_tag, 0, 0xA0000003);  // mount point
  EXPECT_ERRC(DecodeSymlinkReparseBuffer(bad_tag), malformed_response);
  Bytes name_out = b;
  Put16(name_out, 8, 0xFFFF);  // SubstituteNameOffset past PathBuffer
  EXPECT_ERRC(DecodeSymlinkReparseBuffer(name_out), malformed_response);
  Bytes data_len = b;
  Put16(data_len, 4, 0xFFFF);  // ReparseDataLength past the buffer
  EXPECT_ERRC(DecodeSymlinkReparseBuffer(data_len), malformed_response);
  EXPECT_ERRC(DecodeSymlinkReparseBuffer(ByteSpan(b).first(19)),
              malformed_response);
}

}  // namespace
}  // namespace smbgate::smb2
