// QUERY_INFO, SET_INFO and the MS-FSCC structures.
#include <gtest/gtest.h>

#include "smb2/codec/fscc.h"
#include "smb2/codec/query_info.h"
#include "smb2/codec/set_info.h"
#include "tests/unit/smb2/codec_test_util.h"

namespace smbgate::smb2 {
namespace {

using test::B;
using test::Get16;
using test::Get32;
using test::Put16;
using test::Put32;

TEST(QueryInfo, RequestRoundTrip) {
  QueryInfoRequest q;
  q.info_type = kInfoFile;
  q.file_info_class = kFileAllInformation;
  q.output_buffer_length = 4096;
  q.file_id = {3, 4};
  const Bytes m = test::Req(Command::kQueryInfo, q);
  EXPECT_EQ(m.size(), 64u + 41u);
  EXPECT_EQ(Get16(m, B(8)), 0);  // no input: InputBufferOffset 0
  auto d = DecodeQueryInfoRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->info_type, kInfoFile);
  EXPECT_EQ(d->file_info_class, kFileAllInformation);
  EXPECT_EQ(d->output_buffer_length, 4096u);
  EXPECT_EQ(d->file_id, (FileId{3, 4}));
  EXPECT_TRUE(d->input_buffer.empty());

  const Bytes input = {1, 2, 3, 4};
  q.info_type = kInfoSecurity;
  q.additional_information = kOwnerSecurityInformation | kDaclSecurityInformation;
  q.input_buffer = input;
  const Bytes wire2 = test::Req(Command::kQueryInfo, q);  // the decoded view points into it
  auto d2 = DecodeQueryInfoRequest(wire2);
  ASSERT_TRUE(d2);
  EXPECT_EQ(d2->additional_information, 5u);
  EXPECT_EQ(test::ToBytes(d2->input_buffer), input);
}

TEST(QueryInfo, ResponseRoundTripAndRejects) {
  const Bytes payload = Encode(FileStandardInformation{4096, 10, 1, false, false});
  QueryInfoResponse p;
  p.buffer = payload;
  const Bytes m = test::Rsp(Command::kQueryInfo, p);
  auto d = DecodeQueryInfoResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(test::ToBytes(d->buffer), payload);
  Bytes past_end = m;
  Put32(past_end, B(4), 25);
  EXPECT_ERRC(DecodeQueryInfoResponse(past_end), malformed_response);
  Bytes wrap = m;  // 0xFFFF + 2 would wrap in 16 bits
  Put16(wrap, B(2), 0xFFFF);
  Put32(wrap, B(4), 2);
  EXPECT_ERRC(DecodeQueryInfoResponse(wrap), malformed_response);
  EXPECT_ERRC(DecodeSetInfoResponse(m), unexpected_command);
}

TEST(SetInfo, RoundTrip) {
  FileRenameInformation rn;
  rn.replace_if_exists = true;
  rn.file_name = "dir\\new name.txt";
  const Bytes payload = Encode(rn);
  SetInfoRequest q;
  q.info_type = kInfoFile;
  q.file_info_class = kFileRenameInformation;
  q.buffer = payload;
  q.file_id = {9, 9};
  const Bytes m = test::Req(Command::kSetInfo, q);
  EXPECT_EQ(Get16(m, B(0)), 33);
  EXPECT_EQ(Get16(m, B(8)), 0x60);  // BufferOffset
  auto d = DecodeSetInfoRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->file_info_class, kFileRenameInformation);
  EXPECT_EQ(d->file_id, (FileId{9, 9}));
  auto r = ParseFileRenameInformation(d->buffer);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->replace_if_exists);
  EXPECT_EQ(r->root_directory, 0u);
  EXPECT_EQ(r->file_name, rn.file_name);
  const Bytes resp = test::Rsp(Command::kSetInfo, SetInfoResponse{});
  EXPECT_EQ(resp.size(), 66u);
  EXPECT_TRUE(DecodeSetInfoResponse(resp));
}

TEST(Fscc, FixedSizeStructures) {
  const FileBasicInformation basic{1, 2, 3, 4, 0x22};
  const Bytes bb = Encode(basic);
  ASSERT_EQ(bb.size(), 40u);
  auto b = ParseFileBasicInformation(bb);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->creation_time, 1u);
  EXPECT_EQ(b->change_time, 4u);
  EXPECT_EQ(b->file_attributes, 0x22u);
  EXPECT_ERRC(ParseFileBasicInformation(ByteSpan(bb).first(39)), malformed_response);

  const Bytes sb = Encode(FileStandardInformation{8192, 5000, 2, true, true});
  ASSERT_EQ(sb.size(), 24u);
  auto s = ParseFileStandardInformation(sb);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->allocation_size, 8192u);
  EXPECT_EQ(s->end_of_file, 5000u);
  EXPECT_EQ(s->number_of_links, 2u);
  EXPECT_TRUE(s->delete_pending);
  EXPECT_TRUE(s->directory);

  const Bytes nb = Encode(FileNetworkOpenInformation{1, 2, 3, 4, 4096, 100, 0x80});
  ASSERT_EQ(nb.size(), 56u);
  auto n = ParseFileNetworkOpenInformation(nb);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->allocation_size, 4096u);
  EXPECT_EQ(n->end_of_file, 100u);
  EXPECT_EQ(n->file_attributes, 0x80u);
  EXPECT_ERRC(ParseFileNetworkOpenInformation(ByteSpan(nb).first(50)),
              malformed_response);

  auto i = ParseFileInternalInformation(Encode(FileInternalInformation{77}));
  ASSERT_TRUE(i);
  EXPECT_EQ(i->index_number, 77u);
  auto e = ParseFileEndOfFileInformation(Encode(FileEndOfFileInformation{1u << 31}));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->end_of_file, 1u << 31);
  EXPECT_EQ(Encode(FileEndOfFileInformation{}).size(), 8u);
  auto a = ParseFileAllocationInformation(Encode(FileAllocationInformation{64}));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->allocation_size, 64u);
  const Bytes db = Encode(FileDispositionInformation{true});
  ASSERT_EQ(db, Bytes{1});
  auto d = ParseFileDispositionInformation(db);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->delete_pending);
  EXPECT_ERRC(ParseFileDispositionInformation({}), malformed_response);

  const Bytes fs = Encode(FileFsSizeInformation{1000, 500, 8, 512});
  ASSERT_EQ(fs.size(), 24u);
  auto f = ParseFileFsSizeInformation(fs);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->total_allocation_units, 1000u);
  EXPECT_EQ(f->available_allocation_units, 500u);
  EXPECT_EQ(f->sectors_per_allocation_unit, 8u);
  EXPECT_EQ(f->bytes_per_sector, 512u);
  const Bytes ffs = Encode(FileFsFullSizeInformation{1000, 400, 500, 8, 512});
  ASSERT_EQ(ffs.size(), 32u);
  auto ff = ParseFileFsFullSizeInformation(ffs);
  ASSERT_TRUE(ff);
  EXPECT_EQ(ff->caller_available_allocation_units, 400u);
  EXPECT_EQ(ff->actual_available_allocation_units, 500u);
  EXPECT_ERRC(ParseFileFsFullSizeInformation(ByteSpan(ffs).first(31)),
              malformed_response);
}

TEST(Fscc, AllInformation) {
  FileAllInformation v;
  v.basic = {10, 20, 30, 40, 0x20};
  v.standard = {4096, 123, 1, false, false};
  v.internal.index_number = 0xABCDEF;
  v.ea_size = 0;
  v.access_flags = 0x0012019F;
  v.mode = 0;
  v.alignment_requirement = 0;
  v.name = "\\dir\file.txt";
  const Bytes b = Encode(v);
  EXPECT_EQ(b.size(), 100u + 2 * v.name.size());
  auto d = ParseFileAllInformation(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->basic.last_write_time, 30u);
  EXPECT_EQ(d->standard.end_of_file, 123u);
  EXPECT_EQ(d->internal.index_number, 0xABCDEFu);
  EXPECT_EQ(d->access_flags, 0x0012019Fu);
  EXPECT_EQ(d->name, v.name);
  // Servers answer with a truncated name (STATUS_BUFFER_OVERFLOW) whose
  // FileNameLength says more than is present: rejected, not over-read.
  EXPECT_ERRC(ParseFileAllInformation(ByteSpan(b).first(104)), malformed_response);
  Bytes huge = b;
  test::Put32(huge, 96, 0xFFFFFFFF);
  EXPECT_ERRC(ParseFileAllInformation(huge), malformed_response);
}

TEST(Fscc, RenameAndLink) {
  FileLinkInformation l;
  l.file_name = "a";
  const Bytes b = Encode(l);
  // 20 fixed bytes, the name, and a NUL not counted in FileNameLength.
  EXPECT_EQ(b.size(), 24u);
  EXPECT_EQ(Get32(b, 16), 2u);
  auto d = ParseFileRenameInformation(b);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->replace_if_exists);
  EXPECT_EQ(d->file_name, "a");
  Bytes bad = b;
  test::Put32(bad, 16, 6);
  EXPECT_ERRC(ParseFileRenameInformation(bad), malformed_response);
  bad[16] = 3;  // odd length: not UTF-16
  bad[17] = 0;
  EXPECT_ERRC(ParseFileRenameInformation(bad), malformed_response);
}

TEST(Fscc, FileSystemNames) {
  FileFsAttributeInformation a;
  a.file_system_attributes = kFileCaseSensitiveSearch | kFileCasePreservedNames |
                             kFileUnicodeOnDisk;
  a.maximum_component_name_length = 255;
  a.file_system_name = "NTFS";
  const Bytes ab = Encode(a);
  EXPECT_EQ(ab.size(), 12u + 8u);
  auto ad = ParseFileFsAttributeInformation(ab);
  ASSERT_TRUE(ad);
  EXPECT_EQ(ad->file_system_attributes, a.file_system_attributes);
  EXPECT_EQ(ad->maximum_component_name_length, 255u);
  EXPECT_EQ(ad->file_system_name, "NTFS");
  EXPECT_ERRC(ParseFileFsAttributeInformation(ByteSpan(ab).first(19)),
              malformed_response);

  FileFsVolumeInformation v;
  v.volume_creation_time = 5;
  v.volume_serial_number = 0x1234;
  v.supports_objects = true;
  v.volume_label = "data";
  const Bytes vb = Encode(v);
  EXPECT_EQ(vb.size(), 18u + 8u);
  auto vd = ParseFileFsVolumeInformation(vb);
  ASSERT_TRUE(vd);
  EXPECT_EQ(vd->volume_serial_number, 0x1234u);
  EXPECT_TRUE(vd->supports_objects);
  EXPECT_EQ(vd->volume_label, "data");
  Bytes bad = vb;
  test::Put32(bad, 12, 0x80000000);
  EXPECT_ERRC(ParseFileFsVolumeInformation(bad), malformed_response);
}

}  // namespace
}  // namespace smbgate::smb2
