#include "src/target.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace smbgate {
namespace {

struct Good {
  std::string in;
  std::string host;
  std::uint16_t port;
  std::string share;
  std::string subdir;
};

TEST(TargetTest, ParsesValidTargets) {
  const std::vector<Good> cases = {
      {"//fs1/data", "fs1", 445, "data", ""},
      {"//fs1.corp.example.com/data/", "fs1.corp.example.com", 445, "data", ""},
      {"//fs1:4450/data", "fs1", 4450, "data", ""},
      {"//10.0.0.5:1/data", "10.0.0.5", 1, "data", ""},
      {"//10.0.0.5:65535/data", "10.0.0.5", 65535, "data", ""},
      {"//fs1/data/team/a b/c", "fs1", 445, "data", "team/a b/c"},
      {"//fs1/data//team///x/", "fs1", 445, "data", "team/x"},
      {"\\\\fs1\\data", "fs1", 445, "data", ""},
      {"\\\\fs1\\data\\team\\x", "fs1", 445, "data", "team/x"},
      {"\\\\fs1:139\\data/mixed\\sep", "fs1", 139, "data", "mixed/sep"},
      {"//[::1]/share", "::1", 445, "share", ""},
      {"//[fd00::1:2]:4450/share/sub", "fd00::1:2", 4450, "share", "sub"},
      {"\\\\[::1]\\share", "::1", 445, "share", ""},
      {"//NAS_01/Share$", "NAS_01", 445, "Share$", ""},
      {"//fs1/d\xC3\xA4ten/\xE2\x82\xAC", "fs1", 445, "d\xC3\xA4ten",
       "\xE2\x82\xAC"},
  };
  for (const auto& c : cases) {
    std::string err;
    auto t = ParseTarget(c.in, &err);
    ASSERT_TRUE(t) << c.in << ": " << err;
    EXPECT_EQ(t->host, c.host) << c.in;
    EXPECT_EQ(t->port, c.port) << c.in;
    EXPECT_EQ(t->share, c.share) << c.in;
    EXPECT_EQ(t->subdir, c.subdir) << c.in;
    // ToString reads back to the same target.
    auto again = ParseTarget(t->ToString(), &err);
    ASSERT_TRUE(again) << t->ToString() << ": " << err;
    EXPECT_EQ(*again, *t);
  }
}

TEST(TargetTest, Formatting) {
  std::string err;
  auto t = ParseTarget("\\\\fs1\\data\\a\\b", &err);
  ASSERT_TRUE(t) << err;
  EXPECT_EQ(t->ToString(), "//fs1:445/data/a/b");
  EXPECT_EQ(t->UncPath(), "\\\\fs1\\data");

  auto v6 = ParseTarget("//[fd00::1]:4450/s", &err);
  ASSERT_TRUE(v6) << err;
  EXPECT_EQ(v6->ToString(), "//[fd00::1]:4450/s");
  EXPECT_EQ(v6->HostForDisplay(), "[fd00::1]");
  EXPECT_EQ(v6->UncPath(), "\\\\fd00::1\\s");

  auto v4 = ParseTarget("//127.0.0.1:4450/share", &err);
  ASSERT_TRUE(v4) << err;
  EXPECT_EQ(v4->ToString(), "//127.0.0.1:4450/share");
  EXPECT_EQ(v4->UncPath(), "\\\\127.0.0.1\\share");
}

struct Bad {
  std::string in;
  target_errc code;
  std::string says;  // a part of the message
};

TEST(TargetTest, RejectsInvalidTargets) {
  const std::vector<Bad> cases = {
      {"", target_errc::malformed, "must start with"},
      {"fs1/data", target_errc::malformed, "must start with"},
      {"/fs1/data", target_errc::malformed, "must start with"},
      {"smb://fs1/data", target_errc::malformed, "must start with"},
      {"//", target_errc::bad_host, "no host"},
      {"///data", target_errc::bad_host, "no host"},
      {"//:445/data", target_errc::bad_host, "no host"},
      {"//fs1", target_errc::missing_share, "no share"},
      {"//fs1/", target_errc::missing_share, "no share"},
      {"//fs1:445", target_errc::missing_share, "no share"},
      {"//fs1:0/data", target_errc::bad_port, "1 to 65535"},
      {"//fs1:65536/data", target_errc::bad_port, "1 to 65535"},
      {"//fs1:99999999999/data", target_errc::bad_port, "1 to 65535"},
      {"//fs1:/data", target_errc::bad_port, "1 to 65535"},
      {"//fs1:44a/data", target_errc::bad_port, "1 to 65535"},
      {"//fs1:-1/data", target_errc::bad_port, "1 to 65535"},
      {"//fs1:+445/data", target_errc::bad_port, "1 to 65535"},
      {"//fd00::1/data", target_errc::bad_host, "brackets"},
      {"//[fd00::1/data", target_errc::bad_host, "]"},
      {"//[]/data", target_errc::bad_host, "IPv6"},
      {"//[not:v6:zz]/data", target_errc::bad_host, "IPv6"},
      {"//[::1]x/data", target_errc::malformed, "after ']'"},
      {"//300.1.1.1/data", target_errc::bad_host, "IPv4"},
      {"//1.2.3/data", target_errc::bad_host, "IPv4"},
      {"//fs 1/data", target_errc::bad_host, "host name"},
      {"//fs1@x/data", target_errc::bad_host, "host name"},
      {"//-fs1/data", target_errc::bad_host, "host name"},
      {"//fs1/da*ta", target_errc::bad_path, "not allowed"},
      {"//fs1/data/a?b", target_errc::bad_path, "not allowed"},
      {"//fs1/data/x\x01y", target_errc::bad_path, "not allowed"},
      {"//fs1/data/../etc", target_errc::bad_path, "'..'"},
      {"//fs1/./data", target_errc::bad_path, "'..'"},
  };
  for (const auto& c : cases) {
    std::string err;
    auto t = ParseTarget(c.in, &err);
    ASSERT_FALSE(t) << c.in;
    EXPECT_EQ(t.error(), c.code) << c.in << ": " << err;
    EXPECT_NE(err.find(c.says), std::string::npos) << c.in << ": " << err;
    std::string shown = c.in;  // control characters are shown as '?'
    for (char& ch : shown) {
      if (static_cast<unsigned char>(ch) < 0x20) ch = '?';
    }
    EXPECT_EQ(err.rfind("target '" + shown + "': ", 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

// The SPN sent by default is cifs/ and the host as the user wrote it: its
// case kept, no port, an IPv6 literal without brackets (Samba's client
// sends the same).
TEST(TargetTest, DefaultSpn) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"//fs1/data", "cifs/fs1"},
      {"//FS1.Corp.Example.com:4450/data/sub", "cifs/FS1.Corp.Example.com"},
      {"\\\\fs1\\data", "cifs/fs1"},
      {"//10.0.0.5:445/data", "cifs/10.0.0.5"},
      {"//[fd00::10]:4450/team", "cifs/fd00::10"},
  };
  for (const auto& [in, want] : cases) {
    auto t = ParseTarget(in, nullptr);
    ASSERT_TRUE(t) << in;
    EXPECT_EQ(DefaultSpn(*t), want) << in;
    EXPECT_TRUE(ValidateSpn(DefaultSpn(*t), nullptr)) << in;
  }
}

TEST(TargetTest, ValidateSpn) {
  for (const std::string& good : std::vector<std::string>{
           "cifs/fs1", "HOST/fs1.corp.example.com", "cifs/fs1:4450",
           "cifs/fs1/CORP.EXAMPLE", "cifs/fs1@CORP.EXAMPLE", "cifs/fd00::10",
           "cifs/f\xc3\xa4ller", "cifs/" + std::string(251, 'a')}) {
    std::string why;
    EXPECT_TRUE(ValidateSpn(good, &why)) << good << ": " << why;
  }
  for (const std::string& bad : std::vector<std::string>{
           "", "fs1", "/fs1", "cifs/", "cifs//fs1", "cifs/fs 1", " cifs/fs1",
           "cifs/fs1,uid=0", "cifs/fs1\n", std::string("cifs/a\0b", 8),
           "cifs/\x7f", "cifs/\xff", "cifs/" + std::string(252, 'a')}) {
    std::string why;
    EXPECT_FALSE(ValidateSpn(bad, &why)) << bad;
    EXPECT_NE(why.find("SERVICE/HOST"), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
    EXPECT_EQ(why.find('\0'), std::string::npos) << why;
  }
  EXPECT_FALSE(ValidateSpn("fs1", nullptr));
}

TEST(TargetTest, NullMessageIsAllowed) {
  EXPECT_FALSE(ParseTarget("nope", nullptr));
  EXPECT_TRUE(ParseTarget("//h/s", nullptr));
}

TEST(TargetTest, ErrorCategory) {
  std::error_code ec = target_errc::bad_port;
  EXPECT_STREQ(ec.category().name(), "target");
  EXPECT_FALSE(ec.message().empty());
}

}  // namespace
}  // namespace smbgate
