#include "smb2/client/dfs_cache.h"

#include <gtest/gtest.h>

namespace smbgate::smb2 {
namespace {

using Clock = DfsReferralCache::Clock;

DfsReferralResponse Link(const std::string& path, std::vector<std::string> targets, std::uint32_t ttl = 300) {
  DfsReferralResponse r;
  r.path_consumed = static_cast<std::uint16_t>(2 * path.size());
  for (const auto& t : targets) {
    DfsReferralEntry e;
    e.time_to_live = ttl;
    e.dfs_path = path;
    e.network_address = t;
    r.referrals.push_back(e);
  }
  return r;
}

TEST(DfsCache, SplitAndJoin) {
  auto u = SplitUnc("\\srv\\dfs\\link\\a\\b");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->server, "srv");
  EXPECT_EQ(u->share, "dfs");
  EXPECT_EQ(u->rest, "link/a/b");
  EXPECT_FALSE(SplitUnc("\\srv"));
  EXPECT_EQ(JoinUnc("\\srv\\dfs\\", "a/b"), "\\srv\\dfs\\a\\b");
  EXPECT_TRUE(CoversPath("\\SRV\\dfs\\link", "\\srv\\DFS\\link\\x"));
  EXPECT_FALSE(CoversPath("\\srv\\dfs\\link", "\\srv\\dfs\\linkx"));
}

TEST(DfsCache, LongestPrefixRewritesAndSelfReferralIsNotKept) {
  DfsReferralCache c;
  const auto now = Clock::now();
  auto self = c.Insert("\\srv\\dfs", Link("\\srv\\dfs", {"\\srv\\dfs"}), now);
  ASSERT_TRUE(self);
  EXPECT_FALSE(*self);
  ASSERT_TRUE(c.Insert("\\srv\\dfs\\link\\x\\y", Link("\\srv\\dfs\\link", {"\\t1\\share1"}), now));
  ASSERT_TRUE(c.Insert("\\srv\\dfs\\link\\deep", Link("\\srv\\dfs\\link\\deep", {"\\t3\\s\\sub"}), now));
  auto e = c.Find("\\srv\\dfs\\link\\x\\y");
  ASSERT_TRUE(e);
  EXPECT_EQ(DfsReferralCache::Rewrite(*e, "\\srv\\dfs\\link\\x\\y"), "\\t1\\share1\\x\\y");
  e = c.Find("\\srv\\dfs\\link\\deep\\f");
  ASSERT_TRUE(e);
  EXPECT_EQ(DfsReferralCache::Rewrite(*e, "\\srv\\dfs\\link\\deep\\f"), "\\t3\\s\\sub\\f");
  EXPECT_FALSE(c.Find("\\srv\\dfs\\plain"));
}

TEST(DfsCache, PathConsumedWhenDfsPathDoesNotMatch) {
  DfsReferralCache c;
  auto r = Link("\\other", {"\\t\\s"});
  r.path_consumed = static_cast<std::uint16_t>(2 * std::string("\\srv\\dfs\\l").size());
  auto e = c.Insert("\\srv\\dfs\\l\\f", r, Clock::now());
  ASSERT_TRUE(e && *e);
  EXPECT_EQ((*e)->prefix, "\\srv\\dfs\\l");
  r.path_consumed = 3;  // odd: not UTF-16
  EXPECT_FALSE(c.Insert("\\srv\\dfs\\l\\f", r, Clock::now()));
  r.path_consumed = 400;  // past the request
  EXPECT_FALSE(c.Insert("\\srv\\dfs\\l\\f", r, Clock::now()));
}

TEST(DfsCache, FailoverGoesRoundAndRefreshKeepsTheActiveTarget) {
  DfsReferralCache c;
  const auto now = Clock::now();
  auto e = c.Insert("\\srv\\dfs\\ha", Link("\\srv\\dfs\\ha", {"\\a\\ha", "\\b\\ha"}, 60), now);
  ASSERT_TRUE(e && *e);
  EXPECT_EQ((*e)->target(), "\\a\\ha");
  EXPECT_FALSE((*e)->expired(now + std::chrono::seconds(59)));
  EXPECT_TRUE((*e)->expired(now + std::chrono::seconds(60)));
  auto f = c.Failover("\\srv\\dfs\\ha", (*e)->version);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->target(), "\\b\\ha");
  // A second request that saw the same failure does not move it again.
  EXPECT_EQ(c.Failover("\\srv\\dfs\\ha", (*e)->version)->target(), "\\b\\ha");
  // A refresh keeps b while it is still offered.
  auto again = c.Insert("\\srv\\dfs\\ha", Link("\\srv\\dfs\\ha", {"\\a\\ha", "\\b\\ha"}, 60), now);
  EXPECT_EQ((*again)->target(), "\\b\\ha");
  // And back round to a.
  EXPECT_EQ(c.Failover("\\srv\\dfs\\ha", (*again)->version)->target(), "\\a\\ha");
}

TEST(DfsCache, PutKeepsAnEntryLearntElsewhereAndItsRefreshStaysOnItsTarget) {
  DfsReferralCache c;
  const auto now = Clock::now();
  DfsReferralCache::Entry e;
  e.prefix = "\\corp.example\\ns\\";
  e.targets = {"\\dc1\\ns", "\\dc2\\ns"};
  e.active = 1;
  e.ttl_s = 60;
  ASSERT_TRUE(c.Put(e, now));
  auto f = c.Find("\\CORP.example\\ns\\team");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->prefix, "\\corp.example\\ns");
  EXPECT_EQ(DfsReferralCache::Rewrite(*f, "\\corp.example\\ns\\team"), "\\dc2\\ns\\team");
  EXPECT_FALSE(f->expired(now + std::chrono::seconds(59)));
  EXPECT_TRUE(f->expired(now + std::chrono::seconds(60)));
  // The root referral asked again at expiry keeps the server in use.
  auto again = c.Insert("\\corp.example\\ns", Link("\\corp.example\\ns", {"\\dc1\\ns", "\\dc2\\ns"}), now);
  ASSERT_TRUE(again && *again);
  EXPECT_EQ((*again)->target(), "\\dc2\\ns");
  EXPECT_EQ(c.Entries().size(), 1u);
  // Nothing to route to: refused.
  e.active = 2;
  EXPECT_FALSE(c.Put(e, now));
  e.targets.clear();
  e.active = 0;
  EXPECT_FALSE(c.Put(e, now));
  e.targets = {"\\dc1\\ns"};
  e.prefix = "\\corp.example";
  EXPECT_FALSE(c.Put(e, now));
}

}  // namespace
}  // namespace smbgate::smb2
