// Known-answer tests for the primitives in auth/crypto.h, byte for byte from
// their specifications.
#include <gtest/gtest.h>

#include <string>

#include "auth/crypto.h"
#include "tests/vectors/hex.h"

namespace smbgate::auth {
namespace {

using smbgate::testing::Hex;
using smbgate::testing::NormHex;
using smbgate::testing::ToHex;
using smbgate::testing::ToHexOf;

// RFC 1320 A.5 test suite.
TEST(Md4Vectors, Rfc1320Suite) {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"", "31d6cfe0d16ae931b73c59d7e0c089c0"},
      {"a", "bde52cb31de33e46245e05fbdbd6fb24"},
      {"abc", "a448017aaf21d8525fc10ae87aa6729d"},
      {"message digest", "d9130a8164549fe818874806e1c7014b"},
      {"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "043f8582f241db351ce627e153e7f0e4"},
      {"1234567890123456789012345678901234567890123456789012345678901234567890"
       "1234567890",
       "e33b4ddc9c38f2199c3e7b164fcc0536"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ToHexOf(Md4(AsBytes(c.in))), c.out) << '"' << c.in << '"';
  }
}

// Lengths around the padding boundary (55/56 bytes: one or two tail blocks;
// 63/64: a full block) give distinct, repeatable digests. The RFC suite above
// pins the arithmetic; this guards the tail handling against reading past
// the input (run under ASan in the fuzz build).
TEST(Md4Vectors, PaddingBoundaries) {
  std::string s;
  std::string prev;
  for (int n = 50; n <= 70; ++n) {
    s.assign(static_cast<std::size_t>(n), 'x');
    const std::string h = ToHexOf(Md4(AsBytes(s)));
    EXPECT_NE(h, prev) << n;
    EXPECT_EQ(h, ToHexOf(Md4(AsBytes(s)))) << n;
    prev = h;
  }
}

// NT hash of "Password", MS-NLMP 4.2.2.1.2 (NTOWFv1 = MD4(UNICODE(Passwd))).
TEST(Md4Vectors, NtHashOfPassword) {
  const Bytes pw = Hex("50 00 61 00 73 00 73 00 77 00 6f 00 72 00 64 00");
  EXPECT_EQ(ToHexOf(Md4(pw)),
            NormHex("a4 f4 9c 40 65 10 bd ca b6 82 4e e7 c3 0f d8 52"));
}

TEST(Md5Vectors, Rfc1321) {
  EXPECT_EQ(ToHexOf(Md5(AsBytes(""))), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(ToHexOf(Md5(AsBytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
}

// RFC 6229 section 2, 40-bit key 0x0102030405: the keystream at offset 0.
TEST(Rc4Vectors, Rfc6229Key40Offset0) {
  const Bytes key = Hex("0102030405");
  Bytes zeros(16, 0), out(16);
  Rc4(key, zeros, out.data());
  EXPECT_EQ(ToHex(out),
            NormHex("b2 39 63 05 f0 3d c0 27 cc c3 52 4a 0a 11 18 a8"));
}

// The classic ARCFOUR examples (Key/Plaintext, Wiki/pedia, Secret/Attack at
// dawn).
TEST(Rc4Vectors, ClassicExamples) {
  struct Case {
    const char* key;
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"Key", "Plaintext", "bbf316e8d940af0ad3"},
      {"Wiki", "pedia", "1021bf0420"},
      {"Secret", "Attack at dawn", "45a01f645fc35b383552544b9bf5"},
  };
  for (const Case& c : cases) {
    const ByteSpan in = AsBytes(c.in);
    Bytes out(in.size());
    Rc4(AsBytes(c.key), in, out.data());
    EXPECT_EQ(ToHex(out), c.out) << c.key;
  }
}

// The stream state carries across Apply() calls: two halves equal one whole.
TEST(Rc4Vectors, StreamContinues) {
  const Bytes key = Hex("0102030405");
  Bytes zeros(16, 0), out(16);
  Rc4Stream rc4(key);
  rc4.Apply(ByteSpan(zeros).first(7), out.data());
  rc4.Apply(ByteSpan(zeros).subspan(7), out.data() + 7);
  EXPECT_EQ(ToHex(out),
            NormHex("b2 39 63 05 f0 3d c0 27 cc c3 52 4a 0a 11 18 a8"));

  // In place.
  Bytes buf(16, 0);
  Rc4(key, buf, buf.data());
  EXPECT_EQ(ToHex(buf), ToHex(out));
}

// RFC 2104 appendix / RFC 2202 test cases 1 and 2 for HMAC-MD5.
TEST(HmacMd5Vectors, Rfc2202) {
  EXPECT_EQ(ToHexOf(HmacMd5(Bytes(16, 0x0b), AsBytes("Hi There"))),
            "9294727a3638bb1c13f48ef8158bfc9d");
  EXPECT_EQ(ToHexOf(HmacMd5(AsBytes("Jefe"),
                            AsBytes("what do ya want for nothing?"))),
            "750c783e6ab0b503eaa86e310a5db738");
}

// RFC 4231 test cases 1, 2 and 6 (key longer than the block).
TEST(HmacSha256Vectors, Rfc4231) {
  EXPECT_EQ(ToHexOf(HmacSha256(Bytes(20, 0x0b), AsBytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(ToHexOf(HmacSha256(AsBytes("Jefe"),
                               AsBytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(
      ToHexOf(HmacSha256(
          Bytes(131, 0xaa),
          AsBytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // The SMB 2.x signature is the first half.
  EXPECT_EQ(ToHexOf(HmacSha256Trunc16(Bytes(20, 0x0b), AsBytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b");
}

// RFC 4493 section 4, examples 1-4.
TEST(AesCmacVectors, Rfc4493) {
  const Bytes key = Hex("2b7e1516 28aed2a6 abf71588 09cf4f3c");
  const Bytes m =
      Hex("6bc1bee2 2e409f96 e93d7e11 7393172a"
          "ae2d8a57 1e03ac9c 9eb76fac 45af8e51"
          "30c81c46 a35ce411 e5fbc119 1a0a52ef"
          "f69f2445 df4f9b17 ad2b417b e66c3710");
  struct Case {
    std::size_t len;
    const char* mac;
  };
  const Case cases[] = {
      {0, "bb1d6929e95937287fa37d129b756746"},
      {16, "070a16b46b4d4144f79bdd9dd04a287c"},
      {40, "dfa66747de9ae63030ca32611497c827"},
      {64, "51f0bebf7e3b9d92fc49741779363cfe"},
  };
  for (const Case& c : cases) {
    auto mac = AesCmac128(key, ByteSpan(m).first(c.len));
    ASSERT_TRUE(mac) << c.len;
    EXPECT_EQ(ToHexOf(*mac), c.mac) << c.len;
  }
}

TEST(AesCmacVectors, RejectsWrongKeySize) {
  EXPECT_EQ(AesCmac128(Bytes(15, 0), {}).error(), errc::crypto_failure);
  EXPECT_EQ(AesCmac128(Bytes(32, 0), {}).error(), errc::crypto_failure);
}

// GMAC as GCM with empty plaintext: McGrew & Viega test case 1 (no AAD) and
// the NIST CAVP gcmEncryptExtIV128 vector with PTlen = 0, AADlen = 128,
// Count = 0.
TEST(AesGmacVectors, GcmWithEmptyPlaintext) {
  auto t1 = AesGmac128(Bytes(16, 0), Bytes(12, 0), {});
  ASSERT_TRUE(t1);
  EXPECT_EQ(ToHexOf(*t1), "58e2fccefa7e3061367f1d57a4e7455a");

  auto t2 = AesGmac128(Hex("77be63708971c4e240d1cb79e8d77feb"),
                       Hex("e0e00f19fed7ba0136a797f3"),
                       Hex("7a43ec1d9c0a5a78a0b16533a6213cab"));
  ASSERT_TRUE(t2);
  EXPECT_EQ(ToHexOf(*t2), "209fcc8d3675ed938e9c7166709dd946");

  auto t3 = AesGmac128(Hex("7680c5d3ca6154758e510f4d25b98820"),
                       Hex("f8f105f9c3df4965780321f8"),
                       Hex("c94c410194c765e3dcc7964379758ed3"));
  ASSERT_TRUE(t3);
  EXPECT_EQ(ToHexOf(*t3), "94dca8edfcf90bb74b153c8d48a17930");
}

TEST(AesGmacVectors, RejectsBadSizes) {
  EXPECT_EQ(AesGmac128(Bytes(16, 0), Bytes(11, 0), {}).error(),
            errc::crypto_failure);
  EXPECT_EQ(AesGmac128(Bytes(24, 0), Bytes(12, 0), {}).error(),
            errc::crypto_failure);
}

TEST(ConstantTimeEqualTest, Basics) {
  EXPECT_TRUE(ConstantTimeEqual(Hex("0102"), Hex("0102")));
  EXPECT_FALSE(ConstantTimeEqual(Hex("0102"), Hex("0103")));
  EXPECT_FALSE(ConstantTimeEqual(Hex("0102"), Hex("010200")));
  EXPECT_TRUE(ConstantTimeEqual({}, {}));
}

TEST(KdfVectors, RejectsOddLengths) {
  EXPECT_TRUE(Sp800108Kdf(Bytes(16, 1), AsBytes("a"), AsBytes("b"), 0).empty());
  EXPECT_TRUE(
      Sp800108Kdf(Bytes(16, 1), AsBytes("a"), AsBytes("b"), 12).empty());
  EXPECT_EQ(Sp800108Kdf(Bytes(16, 1), AsBytes("a"), AsBytes("b"), 256).size(),
            32u);
  // More than one PRF block: the first 32 bytes differ from the L=256 output
  // because L is part of the input.
  EXPECT_EQ(Sp800108Kdf(Bytes(16, 1), AsBytes("a"), AsBytes("b"), 384).size(),
            48u);
}

TEST(FiletimeClockTest, IsAfter2020) {
  // 2020-01-01T00:00:00Z as FILETIME.
  EXPECT_GT(SystemFiletimeClock()(), 132223104000000000ull);
}

TEST(OsRandomTest, FillsBuffers) {
  Bytes a(32, 0), b(32, 0);
  OsRandom()(a);
  OsRandom()(b);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace smbgate::auth
