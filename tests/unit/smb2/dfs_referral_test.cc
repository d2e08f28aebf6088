// MS-DFSC 2.2.2-2.2.5 referral payloads, checked against byte vectors laid out
// by hand from the specification's field tables (not from the encoder).
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "smb2/codec/dfs_referral.h"
#include "smb2/codec/errors.h"

namespace smbgate::smb2 {
namespace {

// A little-endian byte builder for the vectors.
struct V {
  Bytes b;
  V& u16(std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    return *this;
  }
  V& u32(std::uint32_t v) { return u16(static_cast<std::uint16_t>(v)).u16(static_cast<std::uint16_t>(v >> 16)); }
  // ASCII as UTF-16LE with the terminating NUL.
  V& sz(const std::string& s) {
    for (char c : s) u16(static_cast<std::uint8_t>(c));
    return u16(0);
  }
  V& zeros(std::size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

std::uint16_t W(const std::string& s) { return static_cast<std::uint16_t>(2 * s.size() + 2); }

TEST(DfsReferral, RequestLayout) {
  // 2.2.2: MaxReferralLevel, then RequestFileName with its NUL.
  DfsReferralRequest q;
  q.max_referral_level = 4;
  q.request_file_name = "\\srv\\dfs\\link";
  const Bytes want = V().u16(4).sz("\\srv\\dfs\\link").b;
  EXPECT_EQ(EncodeDfsReferralRequest(q), want);
  auto d = DecodeDfsReferralRequest(want);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->max_referral_level, 4);
  EXPECT_EQ(d->request_file_name, q.request_file_name);
}

TEST(DfsReferral, RequestWithoutNulIsMalformed) {
  Bytes b = V().u16(4).u16('a').b;
  EXPECT_EQ(DecodeDfsReferralRequest(b).error(), errc::malformed_response);
  EXPECT_FALSE(DecodeDfsReferralRequest(Bytes{4}));
}

TEST(DfsReferral, RequestExLayout) {
  // 2.2.3 + 2.2.3.1: lengths in bytes, strings without NUL.
  DfsReferralRequestEx q;
  q.max_referral_level = 4;
  q.request_flags = kDfsRequestFlagSiteName;
  q.request_file_name = "\\a\\b";
  q.site_name = "S1";
  V v;
  v.u16(4).u16(1).u32(2 + 8 + 2 + 4).u16(8);
  for (char c : std::string("\\a\\b")) v.u16(static_cast<std::uint8_t>(c));
  v.u16(4).u16('S').u16('1');
  EXPECT_EQ(EncodeDfsReferralRequestEx(q), v.b);
  auto d = DecodeDfsReferralRequestEx(v.b);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->request_file_name, "\\a\\b");
  EXPECT_EQ(d->site_name, "S1");
  // RequestDataLength past the buffer; a file name length past RequestData.
  Bytes bad = v.b;
  bad[4] = 0xFF;
  EXPECT_FALSE(DecodeDfsReferralRequestEx(bad));
  bad = v.b;
  bad[8] = 0x40;
  EXPECT_FALSE(DecodeDfsReferralRequestEx(bad));
}

// A link with two targets as a V3 response (2.2.4 + 2.2.5.3), strings after
// both entries, offsets from each entry's own start.
Bytes TwoTargetsV3() {
  const std::string path = "\\srv\\dfs\\ha";
  const std::string t1 = "\\127.0.0.2\\ha", t2 = "\\127.0.0.3\\ha";
  V v;
  v.u16(static_cast<std::uint16_t>(2 * path.size())).u16(2).u32(kDfsStorageServers);
  // Entry 0 at 8, entry 1 at 42, strings at 76: path, path (alternate), t1, t2.
  const std::uint16_t strings = 76;
  const std::uint16_t p_at = strings, t1_at = strings + 2 * W(path), t2_at = t1_at + W(t1);
  // Entry 0: Version 3, Size 34, ServerType 0 (link), Flags 0, TTL 300.
  v.u16(3).u16(34).u16(0).u16(0).u32(300);
  v.u16(p_at - 8).u16(p_at + W(path) - 8).u16(t1_at - 8).zeros(16);
  // Entry 1 shares the DFSPath strings (as Windows does).
  v.u16(3).u16(34).u16(0).u16(0).u32(300);
  v.u16(p_at - 42).u16(p_at + W(path) - 42).u16(t2_at - 42).zeros(16);
  v.sz(path).sz(path).sz(t1).sz(t2);
  return v.b;
}

TEST(DfsReferral, ResponseV3TwoTargets) {
  const Bytes b = TwoTargetsV3();
  auto d = DecodeDfsReferralResponse(b);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->path_consumed, 22);
  EXPECT_EQ(d->referral_header_flags, kDfsStorageServers);
  ASSERT_EQ(d->referrals.size(), 2u);
  EXPECT_EQ(d->referrals[0].version_number, 3);
  EXPECT_EQ(d->referrals[0].time_to_live, 300u);
  EXPECT_EQ(d->referrals[0].dfs_path, "\\srv\\dfs\\ha");
  EXPECT_EQ(d->referrals[0].network_address, "\\127.0.0.2\\ha");
  EXPECT_EQ(d->referrals[1].network_address, "\\127.0.0.3\\ha");
  EXPECT_EQ(d->referrals[1].server_type, kDfsServerTypeLink);
  // The canonical encoding reads back to the same values.
  auto again = DecodeDfsReferralResponse(EncodeDfsReferralResponse(*d));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->referrals[1].network_address, "\\127.0.0.3\\ha");
  EXPECT_EQ(EncodeDfsReferralResponse(*again), EncodeDfsReferralResponse(*d));
}

TEST(DfsReferral, ResponseV1V2V4) {
  V v;
  v.u16(8).u16(3).u32(kDfsReferralServers);
  // V1 (2.2.5.1): Version 1, Size 8 + name, ServerType 1, Flags 0, ShareName.
  const std::string share = "\\s1\\root";
  v.u16(1).u16(8 + W(share)).u16(1).u16(0).sz(share);
  // V2 (2.2.5.2): 22 bytes, Proximity, TTL, three offsets from the entry.
  const std::size_t v2 = v.b.size();
  const std::size_t v4 = v2 + 22;
  const std::size_t strings = v4 + 34;
  v.u16(2).u16(22).u16(0).u16(0).u32(7).u32(600);
  const std::string a = "\\s\\ns\\l", b = "\\t\\share";
  v.u16(static_cast<std::uint16_t>(strings - v2))
      .u16(static_cast<std::uint16_t>(strings - v2))
      .u16(static_cast<std::uint16_t>(strings + W(a) - v2));
  // V4 (2.2.5.4): as V3, TargetSetBoundary.
  v.u16(4).u16(34).u16(0).u16(kDfsTargetSetBoundary).u32(60);
  v.u16(static_cast<std::uint16_t>(strings - v4))
      .u16(static_cast<std::uint16_t>(strings - v4))
      .u16(static_cast<std::uint16_t>(strings + W(a) - v4))
      .zeros(16);
  v.sz(a).sz(b);
  auto d = DecodeDfsReferralResponse(v.b);
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_EQ(d->referrals.size(), 3u);
  EXPECT_EQ(d->referrals[0].version_number, 1);
  EXPECT_EQ(d->referrals[0].network_address, share);
  EXPECT_EQ(d->referrals[0].server_type, kDfsServerTypeRoot);
  EXPECT_EQ(d->referrals[1].proximity, 7u);
  EXPECT_EQ(d->referrals[1].time_to_live, 600u);
  EXPECT_EQ(d->referrals[1].dfs_path, a);
  EXPECT_EQ(d->referrals[1].network_address, b);
  EXPECT_EQ(d->referrals[2].version_number, 4);
  EXPECT_EQ(d->referrals[2].referral_entry_flags, kDfsTargetSetBoundary);
  EXPECT_EQ(d->referrals[2].network_address, b);
  auto again = DecodeDfsReferralResponse(EncodeDfsReferralResponse(*d));
  ASSERT_TRUE(again);
  EXPECT_EQ(EncodeDfsReferralResponse(*again), EncodeDfsReferralResponse(*d));
}

TEST(DfsReferral, NameListReferral) {
  // 2.2.5.3 with NameListReferral: a domain referral's DC names.
  V v;
  v.u16(0).u16(1).u32(0);
  v.u16(3).u16(34).u16(0).u16(kDfsNameListReferral).u32(900);
  // Special name at 34 from the entry, two expanded names after it.
  const std::string dom = "\\CORP", dc1 = "\\dc1.corp", dc2 = "\\dc2.corp";
  v.u16(34).u16(2).u16(static_cast<std::uint16_t>(34 + W(dom))).zeros(16);
  v.sz(dom).sz(dc1).sz(dc2);
  auto d = DecodeDfsReferralResponse(v.b);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->referrals[0].special_name, dom);
  ASSERT_EQ(d->referrals[0].expanded_names.size(), 2u);
  EXPECT_EQ(d->referrals[0].expanded_names[1], dc2);
  auto again = DecodeDfsReferralResponse(EncodeDfsReferralResponse(*d));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->referrals[0].expanded_names, d->referrals[0].expanded_names);
}

TEST(DfsReferral, HostileResponsesAreMalformed) {
  const Bytes good = TwoTargetsV3();
  auto bad = [](Bytes b) { return DecodeDfsReferralResponse(b).error() == errc::malformed_response; };
  // Short header; a count no buffer could hold; more entries than present.
  EXPECT_TRUE(bad(Bytes(7, 0)));
  Bytes b = good;
  b[2] = 0xFF, b[3] = 0xFF;
  EXPECT_TRUE(bad(b));
  b = good;
  b[2] = 3;
  EXPECT_TRUE(bad(b));
  // An entry Size past the end; a Size below the version's fixed part.
  b = good;
  b[8 + 2] = 0xFF, b[8 + 3] = 0x7F;
  EXPECT_TRUE(bad(b));
  b = good;
  b[8 + 2] = 20;
  EXPECT_TRUE(bad(b));
  // A string offset past the end (0xFFFF, which a 16-bit sum could wrap).
  b = good;
  b[8 + 16] = 0xFF, b[8 + 17] = 0xFF;
  EXPECT_TRUE(bad(b));
  // The last string without its NUL.
  b = good;
  b.resize(b.size() - 2);
  EXPECT_TRUE(bad(b));
  // An unknown version.
  b = good;
  b[8] = 5;
  EXPECT_TRUE(bad(b));
  // An unpaired surrogate in a string.
  b = good;
  b[b.size() - 4] = 0x00, b[b.size() - 3] = 0xD8;
  EXPECT_TRUE(bad(b));
  // A V1 ShareName that runs past its entry.
  V v;
  v.u16(0).u16(1).u32(0).u16(1).u16(10).u16(0).u16(0).u16('x').u16('y').u16(0);
  EXPECT_TRUE(bad(v.b));
}

}  // namespace
}  // namespace smbgate::smb2
