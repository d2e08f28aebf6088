#include "fuse/mfsymlink.h"

#include <gtest/gtest.h>

#include <string>

namespace smbgate::fuse {
namespace {

TEST(MfSymlinkTest, RoundTripAndLayout) {
  auto c = EncodeMfSymlink("../target dir/file");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), kMfSymlinkSize);
  const std::string s(c->begin(), c->end());
  EXPECT_EQ(s.substr(0, 10), "XSym\n0018\n");
  EXPECT_EQ(s[42], '\n');
  EXPECT_EQ(s.substr(43, 18), "../target dir/file");
  EXPECT_EQ(s.back(), ' ');
  EXPECT_EQ(DecodeMfSymlink(*c), "../target dir/file");
}

TEST(MfSymlinkTest, KnownMd5) {
  // MD5("a") = 0cc175b9c0f1b6a831c399e269772661 (RFC 1321 A.5).
  auto c = EncodeMfSymlink("a");
  ASSERT_TRUE(c);
  EXPECT_EQ(std::string(c->begin() + 10, c->begin() + 42), "0cc175b9c0f1b6a831c399e269772661");
}

TEST(MfSymlinkTest, RejectsDamagedOrForeignFiles) {
  auto c = EncodeMfSymlink("target");
  ASSERT_TRUE(c);
  Bytes bad = *c;
  bad[43] = 'T';  // md5 no longer matches
  EXPECT_FALSE(DecodeMfSymlink(bad));
  bad = *c;
  bad[5] = 'x';  // length not digits
  EXPECT_FALSE(DecodeMfSymlink(bad));
  bad = *c;
  bad.pop_back();  // wrong size
  EXPECT_FALSE(DecodeMfSymlink(bad));
  Bytes plain(kMfSymlinkSize, 'a');
  EXPECT_FALSE(DecodeMfSymlink(plain));
  EXPECT_FALSE(EncodeMfSymlink(""));
  EXPECT_FALSE(EncodeMfSymlink(std::string(1025, 'x')));
  EXPECT_TRUE(EncodeMfSymlink(std::string(1024, 'x')));
}

}  // namespace
}  // namespace smbgate::fuse
