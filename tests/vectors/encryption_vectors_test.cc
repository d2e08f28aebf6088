// SMB 3.x message encryption (MS-SMB2 3.1.4.3, 2.2.41 TRANSFORM_HEADER)
// against the exchanges Microsoft published on its Open Specifications blog:
//  - "Encryption in SMB 3.0: A protocol perspective" (2012), section "Test
//    vector": AES-128-CCM, dialect 3.0;
//  - "SMB 3.1.1 Encryption in Windows 10" (2015), Appendix A.1 "Test vector
//    with AES-GCM" and A.2 "Test vector with AES-CCM", dialect 3.1.1.
// Each exchange is checked from the session key on: the derived key, the AAD
// rebuilt from the header fields, the published ciphertext and Signature
// from sealing, and the message back from opening.
//
// No published SMB exchange with AES-256-CCM/GCM was found; those ciphers
// are checked with NIST vectors (GCM specification test cases 13 and 16,
// the CAVS CCM variable-nonce test with an 11-byte nonce) and with 32-byte
// keys from DeriveSmbKeys.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "auth/crypto.h"
#include "auth/smb_keys.h"
#include "tests/vectors/hex.h"

namespace smbgate::auth {
namespace {

using smbgate::testing::Hex;
using smbgate::testing::NormHex;
using smbgate::testing::ToHex;
using smbgate::testing::ToHexOf;

std::string H(const SecretBytes& b) { return ToHex(b.span()); }

// MS-SMB2 2.2.41: ProtocolId(4) Signature(16) Nonce(16)
// OriginalMessageSize(4) Reserved(2) Flags/EncryptionAlgorithm(2)
// SessionId(8), then the encrypted message.
constexpr std::size_t kSignatureOffset = 4;
constexpr std::size_t kAadOffset = 20;
constexpr std::size_t kAadSize = 32;
constexpr std::size_t kHeaderSize = kAadOffset + kAadSize;

std::uint64_t LoadLe(ByteSpan b, std::size_t off, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = v << 8 | b[off + i];
  return v;
}

// The AAD of 3.1.4.3, built from the fields rather than cut from a frame.
Bytes TransformAad(ByteSpan nonce_field, std::uint32_t original_size,
                   std::uint64_t session_id) {
  Bytes aad(nonce_field.begin(), nonce_field.end());
  for (int i = 0; i < 4; ++i) {
    aad.push_back(static_cast<std::uint8_t>(original_size >> (8 * i)));
  }
  aad.insert(aad.end(), {0x00, 0x00, 0x01, 0x00});  // Reserved, Flags = 1
  for (int i = 0; i < 8; ++i) {
    aad.push_back(static_cast<std::uint8_t>(session_id >> (8 * i)));
  }
  return aad;
}

// One published message: the whole transformed frame as it went on the wire
// and the SMB2 message inside it.
struct Exchange {
  const char* name;
  const char* transformed;
  const char* message;
};

void CheckExchange(AeadCipher c, ByteSpan key, std::uint64_t session_id,
                   const Exchange& e) {
  SCOPED_TRACE(e.name);
  const Bytes frame = Hex(e.transformed);
  const Bytes message = Hex(e.message);
  ASSERT_GT(frame.size(), kHeaderSize);
  const ByteSpan f(frame);
  EXPECT_EQ(ToHex(f.first(4)), "fd534d42");
  EXPECT_EQ(LoadLe(f, 36, 4), message.size());  // OriginalMessageSize
  EXPECT_EQ(LoadLe(f, 42, 2), 1u);              // Flags / EncryptionAlgorithm
  EXPECT_EQ(LoadLe(f, 44, 8), session_id);

  const ByteSpan signature = f.subspan(kSignatureOffset, 16);
  const ByteSpan aad = f.subspan(kAadOffset, kAadSize);
  const ByteSpan ciphertext = f.subspan(kHeaderSize);
  const ByteSpan nonce = f.subspan(kAadOffset, AeadNonceSize(c));
  ASSERT_EQ(ciphertext.size(), message.size());
  EXPECT_EQ(ToHex(TransformAad(f.subspan(kAadOffset, 16),
                               static_cast<std::uint32_t>(message.size()),
                               session_id)),
            ToHex(aad));

  Bytes sealed(message.size());
  auto tag = AeadSeal(c, key, nonce, aad, message, sealed.data());
  ASSERT_TRUE(tag) << tag.error().message();
  EXPECT_EQ(ToHex(sealed), ToHex(ciphertext));
  EXPECT_EQ(ToHexOf(*tag), ToHex(signature));

  Bytes opened(ciphertext.size());
  auto ok = AeadOpen(c, key, nonce, aad, ciphertext, signature, opened.data());
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ToHex(opened), ToHex(message));

  // In place, both ways: the transport decrypts inside its receive buffer.
  Bytes buf = message;
  tag = AeadSeal(c, key, nonce, aad, buf, buf.data());
  ASSERT_TRUE(tag);
  EXPECT_EQ(ToHex(buf), ToHex(ciphertext));
  ok = AeadOpen(c, key, nonce, aad, buf, signature, buf.data());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ToHex(buf), ToHex(message));
}

// ---- "Encryption in SMB 3.0: A protocol perspective", Test vector ----------

constexpr std::uint64_t kSession300 = 0x0008e40014000011;

const Exchange kSmb300Write = {
    "3.0 WRITE request",
    "FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A"
    "744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD5"
    "2DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897996625A4"
    "4C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5"
    "AA1DB43050B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6"
    "C627297075D84B7803912D0A9639634453595EF3E33FFE4E7AC2AB",
    "FE534D4240000100000000000900400008000000000000000400000000000000"
    "FFFE0000010000001100001400E4080000000000000000000000000000000000"
    "3100700017000000000000000000000015010000390000020100000039020000"
    "00000000000000007000000000000000536D623320656E6372797074696F6E20"
    "74657374696E67"};
const Exchange kSmb300WriteResponse = {
    "3.0 WRITE response",
    "FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014"
    "00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079"
    "E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787"
    "1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1"
    "77309E5B",
    "FE534D4240000100000000000900210009000000000000000400000000000000"
    "FFFE0000010000001100001400E4080000000000000000000000000000000000"
    "11000000170000000000000000000000"};
const Exchange kSmb300Read = {
    "3.0 READ request",
    "FD534D42E93601498B76D6F7A72D5EF9B6C79FAFA5123A25F983E245983F413B"
    "8B429AF271000000000001001100001400E408009A464F709AA663F8C2FC3907"
    "D63CBF6F98B1E3DD649ED366009FD0B40A365224718E5440E053F6E01AE462FD"
    "B721BF91C3A6E52E14F9EFF005F445761289FF1272908B52754C8FCB949F228A"
    "C104A66204289A205BCBC47509D04AF9A907002B96863358B3B7CBA5E3779300"
    "74FCDF3550",
    "FE534D4240000100000000000800400008000000000000000500000000000000"
    "FFFE0000010000001100001400E4080000000000000000000000000000000000"
    "3100000017000000000000000000000015010000390000020100000039020000"
    "0000000000000000000000000000000000"};
const Exchange kSmb300ReadResponse = {
    "3.0 READ response",
    "FD534D42ABD518B68C2F04D7879F482B689EB83F870000000000000011000014"
    "00E4080067000000000001001100001400E40800493D6FE2BDBEB435CF5F5469"
    "70C7BB57BF20E713C75A3D045507E0D68E5C0346659D6FFB8AC1504A786CA2BB"
    "89C9E7FE4F313E910A04180D2D0EA7DF636329E5A3285984500EF86FE9D55DA4"
    "FAB9531CFDD4C551D47F3C73124BB4590A45052B694048B991CCF5",
    "FE534D4240000100000000000800210009000000000000000500000000000000"
    "FFFE0000010000001100001400E4080000000000000000000000000000000000"
    "11005000170000000000000000000000536D623320656E6372797074696F6E20"
    "74657374696E67"};

// Windows 8 / Server 2012 fill all 16 bytes of the Nonce field; only the
// first 11 are the CCM nonce, but the AAD carries the whole field.
TEST(SmbEncryptionVectors, Smb300Aes128Ccm) {
  const auto k = DeriveSmbKeys(smb2::kDialect300,
                               Hex("B4546771B515F766A86735532DD6C4F0"), {});
  EXPECT_EQ(H(k.signing_key), NormHex("F773CD23C18FD1E08EE510CADA7CF852"));
  EXPECT_EQ(H(k.encryption_key), NormHex("261B72350558F2E9DCF613070383EDBF"));
  EXPECT_EQ(H(k.decryption_key), NormHex("8FE2B57EC34D2DB5B1A9727F526BBDB5"));
  EXPECT_EQ(H(k.application_key), NormHex("77432F808CE99156B5BC6A3676D730D1"));

  // The blog also prints the WRITE request's AAD and CCM nonce separately.
  const Bytes frame = Hex(kSmb300Write.transformed);
  EXPECT_EQ(ToHex(ByteSpan(frame).subspan(kAadOffset, kAadSize)),
            NormHex("66E69A111892584FB5ED524A744DA3EE"
                    "87000000000001001100001400E40800"));
  EXPECT_EQ(ToHex(ByteSpan(frame).subspan(kAadOffset, 11)),
            NormHex("66E69A111892584FB5ED52"));

  const AeadCipher c = AeadCipher::kAes128Ccm;
  CheckExchange(c, k.encryption_key.span(), kSession300, kSmb300Write);
  CheckExchange(c, k.decryption_key.span(), kSession300, kSmb300WriteResponse);
  CheckExchange(c, k.encryption_key.span(), kSession300, kSmb300Read);
  CheckExchange(c, k.decryption_key.span(), kSession300, kSmb300ReadResponse);
}

// ---- "SMB 3.1.1 Encryption in Windows 10", Appendix A.1 (AES-GCM) ----------

constexpr std::uint64_t kSessionGcm = 0x0000100000000025;
const char kPreauthGcm[] =
    "B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDB"
    "A7DB256BA2EA30E977F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770";

const Exchange kGcmWrite = {
    "3.1.1 GCM WRITE request",
    "FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C"
    "00000000870000000000010025000000001000006ECDD2A7AFC7B47763057A04"
    "1B8FD4DAFFE990B70C9E09D36C084E02D14EF247F8BDE38ACF6256F8B1D3B56F"
    "77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB44576545567C24D4C"
    "014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9"
    "1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8",
    "FE534D4240000100000000000900010008000000000000000500000000000000"
    "FFFE000001000000250000000010000000000000000000000000000000000000"
    "3100700017000000000000000000000006000000040000000100000004000000"
    "00000000000000007000000000000000536D623320656E6372797074696F6E20"
    "74657374696E67"};
const Exchange kGcmWriteResponse = {
    "3.1.1 GCM WRITE response",
    "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B400000000"
    "000000005000000000000100250000000010000026BBBF949983A6C1C796559D"
    "0F2C510CB651D1F7B6AC8DED32A2A0B8F2D793A815C6F6B848D69767A215841A"
    "42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B82E03C9E18A050FF"
    "0EA1C967",
    "FE534D4240000100000000000900010001000000000000000500000000000000"
    "FFFE000001000000250000000010000000000000000000000000000000000000"
    "11000000170000000000000000000000"};
const Exchange kGcmRead = {
    "3.1.1 GCM READ request",
    "FD534D426DAC0B6FD85A3ED42BB917DA38FE0386D7AA8C6D36859243B715E0A6"
    "000000007100000000000100250000000010000088A47BF09CA3C3141CDD7306"
    "BE9D9475AB24FCCB833D77461C041F8FB983D0C188F0729272B31D9D3D0DC6B6"
    "87C069EEE0CC8EACA2C536D019ACC9E185D1EB630E0FCB793EEECEB06D82A1D7"
    "7706E700DBEBFB4FEB54D7AD2D97E7288804F90757FE4D08D6A84A3FF433E745"
    "1E768E4699",
    "FE534D4240000100000000000800010008000000000000000600000000000000"
    "FFFE000001000000250000000010000000000000000000000000000000000000"
    "3100000017000000000000000000000006000000040000000100000004000000"
    "0000000000000000000000000000000000"};
const Exchange kGcmReadResponse = {
    "3.1.1 GCM READ response",
    "FD534D427F714B3B9D8FA1198584E71C2BAA1CB6E16831DD2E8EB7B400000000"
    "0000000067000000000001002500000000100000FECEDF4D03BB11A6CC5D8A53"
    "BE33D6D8701986342B4197D306E16F9CBB218E92F7F8281F51CE68BB85A20D87"
    "DE90EBBF80538066D1C37513C0A58D70936D537B624F5500202A612B6CD30D44"
    "8A82791A0B2E049ED512AFAEFB06E98AB3D6F931D7D50DB2DBD36A",
    "FE534D4240000100000000000800010001000000000000000600000000000000"
    "FFFE000001000000250000000010000000000000000000000000000000000000"
    "11005000170000000000000000000000536D623320656E6372797074696F6E20"
    "74657374696E67"};

TEST(SmbEncryptionVectors, Smb311Aes128Gcm) {
  const auto k =
      DeriveSmbKeys(smb2::kDialect311, Hex("419FDDF34C1E001909D362AE7FB6AF79"),
                    Hex(kPreauthGcm), smb2::kCipherAes128Gcm);
  EXPECT_EQ(H(k.signing_key), NormHex("8765949DFEAEE105CE9118B45BE988F0"));
  EXPECT_EQ(H(k.encryption_key), NormHex("A2F5E80E5D59103034F32E52F698E5EC"));
  EXPECT_EQ(H(k.decryption_key), NormHex("748C50868C90F302962A5C35F5F9A8BF"));
  EXPECT_EQ(H(k.application_key), NormHex("099D610789FBE82055B313601C3E8CC4"));

  const AeadCipher c = AeadCipher::kAes128Gcm;
  CheckExchange(c, k.encryption_key.span(), kSessionGcm, kGcmWrite);
  CheckExchange(c, k.decryption_key.span(), kSessionGcm, kGcmWriteResponse);
  CheckExchange(c, k.encryption_key.span(), kSessionGcm, kGcmRead);
  CheckExchange(c, k.decryption_key.span(), kSessionGcm, kGcmReadResponse);
}

// ---- "SMB 3.1.1 Encryption in Windows 10", Appendix A.2 (AES-CCM) ----------

constexpr std::uint64_t kSessionCcm = 0x0000100000000021;
const char kPreauthCcm[] =
    "DECF98A420718718F22090D3580FCC5E484BD310FA1268210C6E86335A8891E7"
    "67F5BCD99FA5A7859D665AD07A73EA94E1BCDB7CFA69A6962A28A244138340B1";

const Exchange kCcmWrite = {
    "3.1.1 CCM WRITE request",
    "FD534D42E89551D666DAB8993488F5A97103116C9F6F1EAAD7E9F24AACD38F00"
    "000000008700000000000100210000000010000056A74778199A9D2B6E9C3A37"
    "6FD88D27680694FED253A313BEB07381AE8689F973ACDB8D716E4477803BCE53"
    "A92E1B81FA3E965AD9AF2C89C08CE66A344664453B8FC88118EDC9814CF58E92"
    "AA465E6EFB09958A9FDAD96FBD55B36A710C30D5E7C64AD7B9449F9F17EDD024"
    "FE8BA79154F340A82740D1D5180C69B0A2DE6A4BA893BD55D3210E",
    "FE534D4240000100000000000900010008000000000000000500000000000000"
    "FFFE000001000000210000000010000000000000000000000000000000000000"
    "3100700017000000000000000000000005000000040000000100000004000000"
    "00000000000000007000000000000000536D623320656E6372797074696F6E20"
    "74657374696E67"};
const Exchange kCcmWriteResponse = {
    "3.1.1 CCM WRITE response",
    "FD534D42DD33EC41A927DD51476FE887C2D3C136D96831DD2E8EB7B400000000"
    "0000000050000000000001002100000000100000F783157E0F6F1C055D746753"
    "CA16D20C21088E2A67564E056C2F68A7F14F226C3BD809B7A2D52E5FE4ECF498"
    "21BC6001733430CF174E2764B3CCB213AAD8BB9FBAF6C15E13D9120965390E00"
    "4A96A3F7",
    "FE534D4240000100000000000900010001000000000000000500000000000000"
    "FFFE000001000000210000000010000000000000000000000000000000000000"
    "11000000170000000000000000000000"};
const Exchange kCcmRead = {
    "3.1.1 CCM READ request",
    "FD534D4235BF9600C841F0CDA9BD1BC3727B7E36A0F92E964EDC3049B86E1900"
    "0000000071000000000001002100000000100000C4CCD3EB483A0638E69C99E3"
    "91E7F64BCC10D6BEE46FEEA258C4BCAF792CB5A6E69283924081806DAB64827E"
    "9D14A5345D5221AB6DAFCB0E89FC2606B63D92163F4F6C93D1213D86ABF123B9"
    "3EAD3AEF9A3471EFD68A423A00A6E0064D9AE3C842EFFFAD236A3BF25D37F4CD"
    "054C97DE18",
    "FE534D4240000100000000000800010008000000000000000600000000000000"
    "FFFE000001000000210000000010000000000000000000000000000000000000"
    "3100000017000000000000000000000005000000040000000100000004000000"
    "0000000000000000000000000000000000"};
const Exchange kCcmReadResponse = {
    "3.1.1 CCM READ response",
    "FD534D42E241A13C7E1EE42ECF1FD69F3B8668C6DA6831DD2E8EB7B400000000"
    "000000006700000000000100210000000010000015D67234FC8358D7BA1BF037"
    "ABC8EFD41A0A8F9BB04B16DEB1E85606BD8C2770823FE6239A286CB3E3D5762A"
    "BBD53FD8DE11ED491FE905E146A8FFCE09414AB741103D637E28B19C6BA759B3"
    "99DCC21FAE24CF2A455A13B215FC2857ABB513927F9F271D1C208B",
    "FE534D4240000100000000000800010001000000000000000600000000000000"
    "FFFE000001000000210000000010000000000000000000000000000000000000"
    "11005000170000000000000000000000536D623320656E6372797074696F6E20"
    "74657374696E67"};

TEST(SmbEncryptionVectors, Smb311Aes128Ccm) {
  const auto k =
      DeriveSmbKeys(smb2::kDialect311, Hex("07B7F69C1E2581662DF6987E88F9E891"),
                    Hex(kPreauthCcm), smb2::kCipherAes128Ccm);
  EXPECT_EQ(H(k.signing_key), NormHex("3DCC82C5795AE27F383242761078C59B"));
  EXPECT_EQ(H(k.encryption_key), NormHex("DFAAA31AAE40A2485D47AC4DF09FDA1D"));
  EXPECT_EQ(H(k.decryption_key), NormHex("95C544AEF6072680DA1CE49A68A97FA6"));
  EXPECT_EQ(H(k.application_key), NormHex("7A2F0F73EC2D530879B2913BBFCE242F"));

  const AeadCipher c = AeadCipher::kAes128Ccm;
  CheckExchange(c, k.encryption_key.span(), kSessionCcm, kCcmWrite);
  CheckExchange(c, k.decryption_key.span(), kSessionCcm, kCcmWriteResponse);
  CheckExchange(c, k.encryption_key.span(), kSessionCcm, kCcmRead);
  CheckExchange(c, k.decryption_key.span(), kSessionCcm, kCcmReadResponse);
}

// ---- AES-256: NIST vectors and derived 32-byte keys -------------------------

struct Kat {
  AeadCipher cipher;
  const char* key;
  const char* nonce;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

void CheckKat(const Kat& v) {
  const Bytes key = Hex(v.key), nonce = Hex(v.nonce), aad = Hex(v.aad);
  const Bytes plain = Hex(v.plaintext), cipher = Hex(v.ciphertext);
  Bytes out(plain.size());
  auto tag = AeadSeal(v.cipher, key, nonce, aad, plain, out.data());
  ASSERT_TRUE(tag) << tag.error().message();
  EXPECT_EQ(ToHex(out), ToHex(cipher));
  EXPECT_EQ(ToHexOf(*tag), NormHex(v.tag));
  Bytes back(cipher.size());
  auto ok =
      AeadOpen(v.cipher, key, nonce, aad, cipher, Hex(v.tag), back.data());
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ToHex(back), ToHex(plain));
}

// McGrew and Viega, "The Galois/Counter Mode of Operation", test case 16:
// a 60-byte plaintext (partial last block) and 20 bytes of AAD.
TEST(AeadVectors, GcmSpecAes256TestCase16) {
  CheckKat({AeadCipher::kAes256Gcm,
            "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            "cafebabefacedbaddecaf888",
            "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b"});
}

// The same specification's empty-message cases (1: AES-128, 13: AES-256),
// all-zero key and nonce, no AAD.
TEST(AeadVectors, GcmSpecEmptyMessages) {
  CheckKat({AeadCipher::kAes128Gcm, "00000000000000000000000000000000",
            "000000000000000000000000", "", "", "",
            "58e2fccefa7e3061367f1d57a4e7455a"});
  CheckKat({AeadCipher::kAes256Gcm,
            "0000000000000000000000000000000000000000000000000000000000000000",
            "000000000000000000000000", "", "", "",
            "530f8afbc74536b9a963b4f1c4cb738b"});
}

// NIST CAVS CCM "Variable Nonce" test for AES-256 with Nlen = 11 and
// Tlen = 16, the sizes SMB uses; its AAD is 32 bytes like a transform
// header's.
TEST(AeadVectors, CcmCavsAes256Nonce11) {
  CheckKat({AeadCipher::kAes256Ccm,
            "97bc7482a87ba005475dfa3448f59d4b3f9c4c969d08b39b1b21ef965c0f5125",
            "0bcf78103ec52d6df28887",
            "049c10f0cb37ae08eae2d0766563b7c5a8454f841c2061a4f71a0a2158ae6ce5",
            "b99bf4dc781795fc4d3a8467b06e1665d4e543657f23129f",
            "0d3891fa0caac1f7ebe41b480920ffd34d4155064c24f3b1",
            "7a483163dd8f228d1f20cd4f86cf38fd"});
}

// With AES-256-CCM/GCM negotiated the derived cipher keys are 32 bytes, which
// is what the 256-bit ciphers take; a 128-bit key is refused by them.
TEST(AeadVectors, DerivedAes256KeysFitTheCiphers) {
  for (const AeadCipher c : {AeadCipher::kAes256Ccm, AeadCipher::kAes256Gcm}) {
    const std::uint16_t id =
        c == AeadCipher::kAes256Ccm ? smb2::kCipherAes256Ccm : smb2::kCipherAes256Gcm;
    const auto k =
        DeriveSmbKeys(smb2::kDialect311, Hex("419FDDF34C1E001909D362AE7FB6AF79"),
                      Hex(kPreauthGcm), id);
    ASSERT_EQ(k.encryption_key.size(), AeadKeySize(c));
    ASSERT_EQ(k.decryption_key.size(), AeadKeySize(c));

    const Bytes message = Hex(kGcmWrite.message);
    const Bytes aad =
        TransformAad(Hex("C7D6822D269CAF48904C664C00000000"),
                     static_cast<std::uint32_t>(message.size()), kSessionGcm);
    const ByteSpan nonce = ByteSpan(aad).first(AeadNonceSize(c));
    Bytes sealed(message.size());
    auto tag = AeadSeal(c, k.encryption_key.span(), nonce, aad, message,
                        sealed.data());
    ASSERT_TRUE(tag);
    EXPECT_NE(ToHex(sealed), ToHex(message));
    Bytes back(sealed.size());
    EXPECT_TRUE(AeadOpen(c, k.encryption_key.span(), nonce, aad, sealed, *tag,
                         back.data()));
    EXPECT_EQ(back, message);
    // The peer's key is the other direction's: it must not open this.
    EXPECT_EQ(AeadOpen(c, k.decryption_key.span(), nonce, aad, sealed, *tag,
                       back.data())
                  .error(),
              errc::aead_tag_mismatch);

    const auto k128 =
        DeriveSmbKeys(smb2::kDialect311, Hex("419FDDF34C1E001909D362AE7FB6AF79"),
                      Hex(kPreauthGcm), smb2::kCipherAes128Gcm);
    EXPECT_EQ(AeadSeal(c, k128.encryption_key.span(), nonce, aad, message,
                       sealed.data())
                  .error(),
              errc::crypto_failure);
  }
}

// ---- Failure cases
// -----------------------------------------------------------

const AeadCipher kAllCiphers[] = {
    AeadCipher::kAes128Ccm, AeadCipher::kAes128Gcm, AeadCipher::kAes256Ccm,
    AeadCipher::kAes256Gcm};

Bytes Pattern(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) {
    b[i] = static_cast<std::uint8_t>(seed + 31 * i + (i >> 8));
  }
  return b;
}

TEST(Aead, SizesPerCipher) {
  EXPECT_EQ(AeadNonceSize(AeadCipher::kAes128Ccm), 11u);
  EXPECT_EQ(AeadNonceSize(AeadCipher::kAes256Ccm), 11u);
  EXPECT_EQ(AeadNonceSize(AeadCipher::kAes128Gcm), 12u);
  EXPECT_EQ(AeadNonceSize(AeadCipher::kAes256Gcm), 12u);
  EXPECT_EQ(AeadKeySize(AeadCipher::kAes128Ccm), 16u);
  EXPECT_EQ(AeadKeySize(AeadCipher::kAes128Gcm), 16u);
  EXPECT_EQ(AeadKeySize(AeadCipher::kAes256Ccm), 32u);
  EXPECT_EQ(AeadKeySize(AeadCipher::kAes256Gcm), 32u);
}

// Any single flipped bit of ciphertext, AAD or tag fails with
// aead_tag_mismatch, and no unauthenticated plaintext is left in `out`.
TEST(Aead, TamperingIsDetected) {
  const Bytes message = Hex(kGcmWrite.message);
  for (const AeadCipher c : kAllCiphers) {
    SCOPED_TRACE(static_cast<int>(c));
    const Bytes key = Pattern(AeadKeySize(c), 1);
    const Bytes nonce = Pattern(AeadNonceSize(c), 2);
    const Bytes aad = Pattern(kAadSize, 3);
    Bytes sealed(message.size());
    auto tag = AeadSeal(c, key, nonce, aad, message, sealed.data());
    ASSERT_TRUE(tag);
    const Bytes tag_bytes(tag->begin(), tag->end());
    Bytes out(sealed.size());
    ASSERT_TRUE(AeadOpen(c, key, nonce, aad, sealed, tag_bytes, out.data()));
    ASSERT_EQ(out, message);

    auto expect_rejected = [&](const Bytes& ct, const Bytes& a, const Bytes& t,
                               const char* what) {
      Bytes o(ct.size(), 0xee);
      auto r = AeadOpen(c, key, nonce, a, ct, t, o.data());
      EXPECT_EQ(r.error(), errc::aead_tag_mismatch) << what;
      EXPECT_TRUE(std::all_of(o.begin(), o.end(), [](std::uint8_t b) {
        return b == 0;
      })) << what;
    };
    for (const std::size_t pos :
         {std::size_t{0}, sealed.size() / 2, sealed.size() - 1}) {
      Bytes ct = sealed;
      ct[pos] ^= 0x01;
      expect_rejected(ct, aad, tag_bytes, "ciphertext");
    }
    for (const std::size_t pos :
         {std::size_t{0}, std::size_t{16}, kAadSize - 1}) {
      Bytes a = aad;
      a[pos] ^= 0x80;
      expect_rejected(sealed, a, tag_bytes, "aad");
    }
    for (const std::size_t pos : {std::size_t{0}, std::size_t{15}}) {
      Bytes t = tag_bytes;
      t[pos] ^= 0x10;
      expect_rejected(sealed, aad, t, "tag");
    }
    Bytes wrong_key = key;
    wrong_key[0] ^= 0x01;
    Bytes o(sealed.size());
    EXPECT_EQ(
        AeadOpen(c, wrong_key, nonce, aad, sealed, tag_bytes, o.data()).error(),
        errc::aead_tag_mismatch);
  }
}

// A changed bit in a published frame: the 3.1.1 GCM READ response with one
// ciphertext bit flipped no longer opens under the published key.
TEST(Aead, TamperedPublishedFrameIsRejected) {
  Bytes frame = Hex(kGcmReadResponse.transformed);
  frame[kHeaderSize + 70] ^= 0x04;
  const ByteSpan f(frame);
  Bytes out(frame.size() - kHeaderSize);
  EXPECT_EQ(
      AeadOpen(AeadCipher::kAes128Gcm, Hex("748C50868C90F302962A5C35F5F9A8BF"),
               f.subspan(kAadOffset, 12), f.subspan(kAadOffset, kAadSize),
               f.subspan(kHeaderSize), f.subspan(kSignatureOffset, 16),
               out.data())
          .error(),
      errc::aead_tag_mismatch);
}

TEST(Aead, WrongSizesAreErrors) {
  const Bytes message = Pattern(40, 9);
  const Bytes aad = Pattern(kAadSize, 3);
  const Bytes tag16(16, 0);
  Bytes out(message.size());
  for (const AeadCipher c : kAllCiphers) {
    SCOPED_TRACE(static_cast<int>(c));
    const std::size_t ks = AeadKeySize(c), ns = AeadNonceSize(c);
    const Bytes nonce = Pattern(ns, 2);
    for (const std::size_t bad :
         {std::size_t{0}, ks - 1, ks + 1,
          ks == 16 ? std::size_t{32} : std::size_t{16}}) {
      const Bytes key = Pattern(bad, 1);
      EXPECT_EQ(AeadSeal(c, key, nonce, aad, message, out.data()).error(),
                errc::crypto_failure)
          << bad;
      EXPECT_EQ(
          AeadOpen(c, key, nonce, aad, message, tag16, out.data()).error(),
          errc::crypto_failure)
          << bad;
    }
    const Bytes key = Pattern(ks, 1);
    for (const std::size_t bad :
         {std::size_t{0}, std::size_t{16},
          ns == 11 ? std::size_t{12} : std::size_t{11}}) {
      const Bytes n = Pattern(bad, 2);
      EXPECT_EQ(AeadSeal(c, key, n, aad, message, out.data()).error(),
                errc::crypto_failure)
          << bad;
      EXPECT_EQ(AeadOpen(c, key, n, aad, message, tag16, out.data()).error(),
                errc::crypto_failure)
          << bad;
    }
    for (const std::size_t bad :
         {std::size_t{0}, std::size_t{12}, std::size_t{15}, std::size_t{17}}) {
      EXPECT_EQ(AeadOpen(c, key, nonce, aad, message, Bytes(bad, 0), out.data())
                    .error(),
                errc::crypto_failure)
          << bad;
    }
    // A non-empty message needs somewhere to go.
    EXPECT_EQ(AeadSeal(c, key, nonce, aad, message, nullptr).error(),
              errc::crypto_failure);
  }
}

// An empty message still gets (and needs) a tag over the AAD.
TEST(Aead, EmptyPlaintext) {
  for (const AeadCipher c : kAllCiphers) {
    SCOPED_TRACE(static_cast<int>(c));
    const Bytes key = Pattern(AeadKeySize(c), 1);
    const Bytes nonce = Pattern(AeadNonceSize(c), 2);
    const Bytes aad = Pattern(kAadSize, 3);
    auto tag = AeadSeal(c, key, nonce, aad, {}, nullptr);
    ASSERT_TRUE(tag) << tag.error().message();
    const Bytes tag_bytes(tag->begin(), tag->end());
    EXPECT_TRUE(AeadOpen(c, key, nonce, aad, {}, tag_bytes, nullptr));

    auto again = AeadSeal(c, key, nonce, Bytes(kAadSize - 1, 0), {}, nullptr);
    ASSERT_TRUE(again);
    EXPECT_NE(ToHexOf(*again), ToHexOf(*tag));
    Bytes t = tag_bytes;
    t[7] ^= 0x02;
    EXPECT_EQ(AeadOpen(c, key, nonce, aad, {}, t, nullptr).error(),
              errc::aead_tag_mismatch);
    Bytes a = aad;
    a[31] ^= 0x02;
    EXPECT_EQ(AeadOpen(c, key, nonce, a, {}, tag_bytes, nullptr).error(),
              errc::aead_tag_mismatch);
  }
}

// An 8 MiB READ payload plus its header, the size the transfers use: sealing
// in place gives the same bytes and tag as sealing into a second buffer, and
// opening in place restores the message.
TEST(Aead, LargeMessageInPlace) {
  const Bytes message = Pattern(8 * 1024 * 1024 + 80, 5);
  for (const AeadCipher c : kAllCiphers) {
    SCOPED_TRACE(static_cast<int>(c));
    const Bytes key = Pattern(AeadKeySize(c), 1);
    const Bytes nonce = Pattern(AeadNonceSize(c), 2);
    const Bytes aad = Pattern(kAadSize, 3);
    Bytes copy(message.size());
    auto tag = AeadSeal(c, key, nonce, aad, message, copy.data());
    ASSERT_TRUE(tag);
    Bytes buf = message;
    auto tag2 = AeadSeal(c, key, nonce, aad, buf, buf.data());
    ASSERT_TRUE(tag2);
    EXPECT_EQ(ToHexOf(*tag2), ToHexOf(*tag));
    EXPECT_TRUE(buf == copy);
    EXPECT_FALSE(buf == message);
    ASSERT_TRUE(AeadOpen(c, key, nonce, aad, buf, *tag, buf.data()));
    EXPECT_TRUE(buf == message);
  }
}

}  // namespace
}  // namespace smbgate::auth
