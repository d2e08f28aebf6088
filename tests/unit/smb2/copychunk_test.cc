#include "smb2/codec/copychunk.h"

#include <gtest/gtest.h>

#include "smb2/codec/errors.h"

namespace smbgate::smb2 {
namespace {

TEST(CopyChunk, ResumeKeyResponseIsTheFirst24Bytes) {
  // MS-SMB2 2.2.32.3: ResumeKey (24), ContextLength (4), Context.
  Bytes out(24 + 4 + 4, 0);
  for (int i = 0; i < 24; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i + 1);
  out[24] = 4;  // ContextLength
  auto k = ParseResumeKeyResponse(out);
  ASSERT_TRUE(k);
  EXPECT_EQ((*k)[0], 1);
  EXPECT_EQ((*k)[23], 24);
  // Shorter than key and length: refused, never read past the end.
  for (std::size_t n : {0u, 23u, 24u, 27u}) {
    auto bad = ParseResumeKeyResponse(ByteSpan(out.data(), n));
    ASSERT_FALSE(bad) << n;
    EXPECT_EQ(bad.error(), make_error_code(errc::malformed_response));
  }
}

TEST(CopyChunk, CopyRequestLayout) {
  // MS-SMB2 2.2.31.1: SourceKey (24), ChunkCount (4), Reserved (4), then
  // per chunk SourceOffset (8), TargetOffset (8), Length (4), Reserved (4).
  ResumeKey key{};
  key[0] = 0xAA;
  key[23] = 0xBB;
  const Bytes b = EncodeCopyChunkCopy(key, {{0x0102030405060708ull, 0x10, 0x100000}, {1, 2, 3}});
  ASSERT_EQ(b.size(), 24u + 8 + 2 * 24);
  EXPECT_EQ(b[0], 0xAA);
  EXPECT_EQ(b[23], 0xBB);
  EXPECT_EQ(b[24], 2);  // ChunkCount, little-endian
  EXPECT_EQ(b[32], 0x08);
  EXPECT_EQ(b[39], 0x01);
  EXPECT_EQ(b[40], 0x10);
  EXPECT_EQ(b[48], 0x00);
  EXPECT_EQ(b[50], 0x10);  // 0x100000
  EXPECT_EQ(b[56], 1);
  EXPECT_EQ(b[64], 2);
  EXPECT_EQ(b[72], 3);
}

TEST(CopyChunk, ResponseCounts) {
  const Bytes out = {2, 0, 0, 0, 0, 0, 16, 0, 0, 0, 32, 0};
  auto r = ParseCopyChunkResponse(out);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->chunks_written, 2u);
  EXPECT_EQ(r->chunk_bytes_written, 1u << 20);
  EXPECT_EQ(r->total_bytes_written, 2u << 20);
  EXPECT_FALSE(ParseCopyChunkResponse(ByteSpan(out.data(), 11)));
}

}  // namespace
}  // namespace smbgate::smb2
