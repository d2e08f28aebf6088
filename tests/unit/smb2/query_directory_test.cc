#include <gtest/gtest.h>

#include "smb2/codec/query_directory.h"
#include "tests/unit/smb2/codec_test_util.h"

namespace smbgate::smb2 {
namespace {

using test::B;
using test::Get16;
using test::Get32;
using test::Put16;
using test::Put32;

std::vector<DirEntry> SampleEntries() {
  DirEntry a;
  a.name = ".";
  a.file_attributes = 0x10;
  a.file_id = 1;
  DirEntry b;
  b.name = "r\xC3\xA9sum\xC3\xA9 \xF0\x9F\x98\x80.txt";  // non-BMP too
  b.creation_time = 100;
  b.last_access_time = 101;
  b.last_write_time = 102;
  b.change_time = 103;
  b.end_of_file = 12345;
  b.allocation_size = 16384;
  b.file_attributes = 0x20;
  b.file_id = 0xDEADBEEF;
  b.file_index = 4;
  b.short_name = "RESUME~1.TXT";
  DirEntry c;
  c.name = "z";
  c.file_id = 3;
  return {a, b, c};
}

TEST(QueryDirectory, RequestRoundTrip) {
  QueryDirectoryRequest q;
  q.flags = kRestartScans;
  q.file_id = {7, 8};
  q.file_name = "*";
  q.output_buffer_length = 65536;
  const Bytes m = test::Req(Command::kQueryDirectory, q);
  EXPECT_EQ(Get16(m, B(0)), 33);
  EXPECT_EQ(m[B(2)], kFileIdBothDirectoryInformation);
  EXPECT_EQ(Get16(m, B(24)), 0x60);  // FileNameOffset
  EXPECT_EQ(Get16(m, B(26)), 2);     // "*"
  auto d = DecodeQueryDirectoryRequest(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->flags, kRestartScans);
  EXPECT_EQ(d->file_id, (FileId{7, 8}));
  EXPECT_EQ(d->file_name, "*");
  EXPECT_EQ(d->output_buffer_length, 65536u);
}

TEST(QueryDirectory, IdBothRoundTrip) {
  const auto entries = SampleEntries();
  const Bytes buf = EncodeFileIdBothDirectoryInformation(entries);
  QueryDirectoryResponse p;
  p.buffer = buf;
  const Bytes m = test::Rsp(Command::kQueryDirectory, p);
  EXPECT_EQ(Get16(m, B(2)), 72);
  auto d = DecodeQueryDirectoryResponse(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(test::ToBytes(d->buffer), buf);
  auto parsed = ParseFileIdBothDirectoryInformation(d->buffer);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, entries);
}

TEST(QueryDirectory, IdFullRoundTrip) {
  auto entries = SampleEntries();
  for (DirEntry& e : entries) e.short_name.clear();  // not in this class
  const Bytes buf = EncodeFileIdFullDirectoryInformation(entries);
  auto parsed = ParseFileIdFullDirectoryInformation(buf);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, entries);
  // The entries are 8-aligned.
  EXPECT_EQ(Get32(buf, 0) % 8, 0u);
}

TEST(QueryDirectory, EmptyBuffer) {
  auto parsed = ParseFileIdBothDirectoryInformation({});
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->empty());
}

TEST(QueryDirectory, RejectsBadChains) {
  const Bytes good = EncodeFileIdBothDirectoryInformation(SampleEntries());
  const std::uint32_t first = Get32(good, 0);
  ASSERT_TRUE(ParseFileIdBothDirectoryInformation(good));

  Bytes unaligned = good;
  Put32(unaligned, 0, first + 4);
  EXPECT_ERRC(ParseFileIdBothDirectoryInformation(unaligned), malformed_response);
  Bytes overlapping = good;  // next entry inside this one's fixed part
  Put32(overlapping, 0, 8);
  EXPECT_ERRC(ParseFileIdBothDirectoryInformation(overlapping), malformed_response);
  Bytes into_name = good;  // points into this entry's own name
  Put32(into_name, 0, 104);
  EXPECT_ERRC(ParseFileIdBothDirectoryInformation(into_name), malformed_response);
  Bytes past_end = good;
  Put32(past_end, 0, 0x100000);
  EXPECT_ERRC(ParseFileIdBothDirectoryInformation(past_end), malformed_response);
  Bytes wrap = good;
  Put32(wrap, 0, 0xFFFFFFF8);
  EXPECT_ERRC(ParseFileIdBothDirectoryInformation(wrap), malformed_response);
  Bytes name_out = good;  // FileNameLength past the buffer
  Put32(name_out, 60, 0x7FFFFFFF);
  EXPECT_ERRC(ParseFileIdBothDirectoryInformation(name_out), malformed_response);
  Bytes short_name = good;
  short_name[68] = 26;  // ShortNameLength above 24
  EXPECT_ERRC(ParseFileIdBothDirectoryInformation(short_name), malformed_response);
  EXPECT_ERRC(ParseFileIdBothDirectoryInformation(ByteSpan(good).first(50)),
              malformed_response);
  // The last entry cut short.
  EXPECT_ERRC(ParseFileIdBothDirectoryInformation(
                  ByteSpan(good).first(good.size() - 1)),
              malformed_response);
  // A buffer of one class parsed as the other fails cleanly or parses.
  (void)ParseFileIdFullDirectoryInformation(good);
}

TEST(QueryDirectory, RejectsInvalidUtf16Names) {
  DirEntry e;
  e.name = "ab";
  Bytes buf = EncodeFileIdBothDirectoryInformation({e});
  buf[104] = 0x00;  // "a" -> lone high surrogate
  buf[105] = 0xD8;
  EXPECT_ERRC(ParseFileIdBothDirectoryInformation(buf), malformed_response);
  Bytes odd = EncodeFileIdFullDirectoryInformation({e});
  Put32(odd, 60, 3);
  EXPECT_ERRC(ParseFileIdFullDirectoryInformation(odd), malformed_response);
}

TEST(QueryDirectory, ResponseRejects) {
  const Bytes buf = EncodeFileIdBothDirectoryInformation(SampleEntries());
  QueryDirectoryResponse p;
  p.buffer = buf;
  Bytes m = test::Rsp(Command::kQueryDirectory, p);
  Put32(m, B(4), static_cast<std::uint32_t>(buf.size() + 1));
  EXPECT_ERRC(DecodeQueryDirectoryResponse(m), malformed_response);
  Put32(m, B(4), 0xFFFFFFFF);
  EXPECT_ERRC(DecodeQueryDirectoryResponse(m), malformed_response);
}

}  // namespace
}  // namespace smbgate::smb2
