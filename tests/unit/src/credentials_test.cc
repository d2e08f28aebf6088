#include "src/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace smbgate {
namespace {

namespace fs = std::filesystem;

// A private directory removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (fs::temp_directory_path() / "smbgate-cred-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteFile(const fs::path& p, std::string_view content,
               mode_t mode = 0600) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  }
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

// A Secret volume laid out as the kubelet's AtomicWriter does it:
//   ..2026_11_28_10_00_00.123/{username,password,domain}   (mode 0644)
//   ..data -> ..2026_11_28_10_00_00.123
//   username -> ..data/username   (and so on for each key)
void WriteKubeVersion(
    const fs::path& dir, const std::string& stamp,
    const std::vector<std::pair<std::string, std::string>>& keys) {
  const fs::path version = dir / stamp;
  fs::create_directory(version);
  for (const auto& [k, v] : keys) WriteFile(version / k, v, 0644);
  // The kubelet swaps versions by creating ..data_tmp and renaming it.
  fs::create_directory_symlink(stamp, dir / "..data_tmp");
  fs::rename(dir / "..data_tmp", dir / "..data");
  for (const auto& [k, v] : keys) {
    if (!fs::is_symlink(dir / k))
      fs::create_symlink(fs::path("..data") / k, dir / k);
  }
}

struct Loaded {
  Result<Credentials> result;
  std::string error;
  std::vector<std::string> warnings;
};

Loaded Load(const fs::path& p) {
  std::vector<std::string> warnings;
  std::string error;
  auto r = LoadCredentials(p.string(), &warnings, &error);
  return Loaded{std::move(r), std::move(error), std::move(warnings)};
}

// Every message the loader produced, for "the password never appears" checks.
std::string AllMessages(const Loaded& l) {
  std::string all = l.error;
  for (const auto& w : l.warnings) all += "\n" + w;
  return all;
}

const std::vector<std::string> kHardPasswords = {
    "p@ss, w0rd;\\$\"=\\ x",
    "a=b=c",
    "=leading-equals",
    "back\\slash\\",
    "comma,semi;colon",
    "$HOME$(id)`id`",
    "\"quoted\" 'single'",
    "  leading and trailing spaces  ",
    "trailing tab\t",
    "#not-a-comment",
    "p\xC3\xA4ss w\xC3\xB6rd \xE2\x82\xAC \xF0\x9F\x98\x80",  // päss wörd € 😀
    "%user%password",
};

// ---- directory form ----

TEST(CredentialsDirTest, PlainDirectoryStripsOneNewline) {
  TempDir t;
  WriteFile(t.path() / "username", "alice\n");
  WriteFile(t.path() / "password", "secret\n");
  auto l = Load(t.path());
  ASSERT_TRUE(l.result) << l.error;
  EXPECT_EQ(l.result->user, "alice");
  EXPECT_EQ(l.result->domain, "");
  EXPECT_EQ(l.result->password.view(), "secret");
  EXPECT_TRUE(l.warnings.empty());
}

TEST(CredentialsDirTest, CrlfAndNoNewline) {
  TempDir t;
  WriteFile(t.path() / "username", "alice\r\n");
  WriteFile(t.path() / "password", "secret");
  WriteFile(t.path() / "domain", "CORP\r\n");
  auto l = Load(t.path());
  ASSERT_TRUE(l.result) << l.error;
  EXPECT_EQ(l.result->user, "alice");
  EXPECT_EQ(l.result->domain, "CORP");
  EXPECT_EQ(l.result->password.view(), "secret");
}

TEST(CredentialsDirTest, OnlyOneNewlineIsStripped) {
  TempDir t;
  WriteFile(t.path() / "username", "alice");
  WriteFile(t.path() / "password", "secret\n\n");
  auto l = Load(t.path());
  ASSERT_TRUE(l.result) << l.error;
  EXPECT_EQ(l.result->password.view(), "secret\n");
}

TEST(CredentialsDirTest, SpecialCharacterPasswordsAreKeptExactly) {
  for (const std::string& pw : kHardPasswords) {
    TempDir t;
    WriteFile(t.path() / "username", "alice\n");
    WriteFile(t.path() / "password", pw + "\n");
    auto l = Load(t.path());
    ASSERT_TRUE(l.result) << l.error;
    EXPECT_EQ(l.result->password.view(), pw);
  }
}

TEST(CredentialsDirTest, KubernetesSecretLayout) {
  TempDir t;
  WriteKubeVersion(
      t.path(), "..2026_11_28_10_00_00.123",
      {{"username", "CORP\\svc-smb\n"}, {"password", "p@ss, w0rd;\\$\"=\\ x"}});
  ASSERT_TRUE(fs::is_symlink(t.path() / "..data"));
  ASSERT_TRUE(fs::is_symlink(t.path() / "password"));
  auto l = Load(t.path());
  ASSERT_TRUE(l.result) << l.error;
  EXPECT_EQ(l.result->user, "svc-smb");
  EXPECT_EQ(l.result->domain, "CORP");
  EXPECT_EQ(l.result->password.view(), "p@ss, w0rd;\\$\"=\\ x");
  // The kubelet's 0644 is not the operator's mistake: no warning.
  EXPECT_TRUE(l.warnings.empty()) << l.warnings.front();
}

TEST(CredentialsDirTest, KubernetesSecretRotationIsSeen) {
  TempDir t;
  WriteKubeVersion(t.path(), "..2026_11_28_10_00_00.123",
                   {{"username", "alice"}, {"password", "old"}});
  WriteKubeVersion(t.path(), "..2026_11_28_11_00_00.456",
                   {{"username", "alice"}, {"password", "new"}});
  fs::remove_all(t.path() / "..2026_11_28_10_00_00.123");
  auto l = Load(t.path());
  ASSERT_TRUE(l.result) << l.error;
  EXPECT_EQ(l.result->password.view(), "new");
}

TEST(CredentialsDirTest, KubernetesSecretFileGivenDirectly) {
  // --credentials pointing at one key of a Secret volume mounted as a
  // mount.cifs-style file (a Secret with a single `credentials` key).
  TempDir t;
  WriteKubeVersion(t.path(), "..2026_11_28_10_00_00.123",
                   {{"credentials", "username=alice\npassword=pw\n"}});
  auto l = Load(t.path() / "credentials");
  ASSERT_TRUE(l.result) << l.error;
  EXPECT_EQ(l.result->user, "alice");
  EXPECT_TRUE(l.warnings.empty());
}

TEST(CredentialsDirTest, LooseModeWarnsOutsideKubernetes) {
  TempDir t;
  WriteFile(t.path() / "username", "alice");
  WriteFile(t.path() / "password", "hunter2", 0640);
  auto l = Load(t.path());
  ASSERT_TRUE(l.result) << l.error;
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_NE(l.warnings[0].find("chmod 600"), std::string::npos)
      << l.warnings[0];
  EXPECT_NE(l.warnings[0].find((t.path() / "password").string()),
            std::string::npos);
  EXPECT_NE(l.warnings[0].find("0640"), std::string::npos);
  EXPECT_EQ(AllMessages(l).find("hunter2"), std::string::npos);
}

TEST(CredentialsDirTest, MissingKeys) {
  TempDir t;
  WriteFile(t.path() / "password", "hunter2");
  auto l = Load(t.path());
  EXPECT_EQ(l.result.error(), credentials_errc::missing_username);
  EXPECT_NE(l.error.find("no 'username' file"), std::string::npos) << l.error;
  EXPECT_NE(l.error.find(t.path().string()), std::string::npos);

  TempDir t2;
  WriteFile(t2.path() / "username", "alice");
  auto l2 = Load(t2.path());
  EXPECT_EQ(l2.result.error(), credentials_errc::missing_password);
  EXPECT_NE(l2.error.find("no 'password' file"), std::string::npos) << l2.error;
}

TEST(CredentialsDirTest, EmptyUserName) {
  TempDir t;
  WriteFile(t.path() / "username", "\n");
  WriteFile(t.path() / "password", "hunter2");
  auto l = Load(t.path());
  EXPECT_EQ(l.result.error(), credentials_errc::empty_username);
  EXPECT_NE(l.error.find("empty"), std::string::npos) << l.error;
}

TEST(CredentialsDirTest, UserNameWithTwoLinesIsRefused) {
  TempDir t;
  WriteFile(t.path() / "username", "alice\n\n");
  WriteFile(t.path() / "password", "hunter2");
  auto l = Load(t.path());
  EXPECT_EQ(l.result.error(), credentials_errc::malformed);
  EXPECT_NE(l.error.find("line break"), std::string::npos) << l.error;
}

TEST(CredentialsDirTest, InvalidUtf8) {
  TempDir t;
  WriteFile(t.path() / "username", "alice");
  WriteFile(t.path() / "password", "bad\xFF\xFEpw");
  auto l = Load(t.path());
  EXPECT_EQ(l.result.error(), credentials_errc::invalid_utf8);
  EXPECT_NE(l.error.find((t.path() / "password").string()), std::string::npos)
      << l.error;
  EXPECT_NE(l.error.find("UTF-8"), std::string::npos);
  EXPECT_EQ(l.error.find("bad"), std::string::npos);
}

TEST(CredentialsDirTest, OverlongUtf8AndSurrogatesAndNulAreRefused) {
  for (std::string_view bad :
       {std::string_view("\xC0\xAF"), std::string_view("\xED\xA0\x80"),
        std::string_view("\xF4\x90\x80\x80"), std::string_view("a\0b", 3),
        std::string_view("\xE2\x82")}) {
    TempDir t;
    WriteFile(t.path() / "username", "alice");
    WriteFile(t.path() / "password", bad);
    auto l = Load(t.path());
    EXPECT_EQ(l.result.error(), credentials_errc::invalid_utf8);
  }
}

TEST(CredentialsDirTest, OversizedFile) {
  TempDir t;
  WriteFile(t.path() / "username", "alice");
  WriteFile(t.path() / "password",
            std::string(kMaxCredentialsFileSize + 1, 'x'));
  auto l = Load(t.path());
  EXPECT_EQ(l.result.error(), credentials_errc::too_large);
  EXPECT_NE(l.error.find("64 KiB"), std::string::npos) << l.error;

  // Exactly at the limit is accepted.
  WriteFile(t.path() / "password", std::string(kMaxCredentialsFileSize, 'x'));
  auto ok = Load(t.path());
  ASSERT_TRUE(ok.result) << ok.error;
  EXPECT_EQ(ok.result->password.view().size(), kMaxCredentialsFileSize);
}

TEST(CredentialsDirTest, FifoIsRefusedWithoutBlocking) {
  TempDir t;
  WriteFile(t.path() / "username", "alice");
  ASSERT_EQ(::mkfifo((t.path() / "password").c_str(), 0600), 0);
  auto l = Load(t.path());
  EXPECT_EQ(l.result.error(), credentials_errc::unreadable);
  EXPECT_NE(l.error.find("not a regular file"), std::string::npos) << l.error;
}

// ---- user name forms and domains ----

struct UserCase {
  std::string username;
  std::string domain_file;  // empty: no domain file
  std::string want_user;
  std::string want_domain;
};

TEST(CredentialsUserTest, ThreeForms) {
  const std::vector<UserCase> cases = {
      {"alice", "", "alice", ""},
      {"alice", "CORP", "alice", "CORP"},
      {"CORP\\alice", "", "alice", "CORP"},
      {"CORP/alice", "", "alice", "CORP"},
      // A UPN goes whole, without a domain (the DC resolves it).
      {"alice@corp.example.com", "", "alice@corp.example.com", ""},
      {"alice@corp.example.com", "corp.example.com", "alice@corp.example.com", ""},
      {"CORP\\alice", "corp", "alice", "CORP"},  // same domain, case aside
      {"CORP\\a@b", "", "a@b", "CORP"},
      {"first@last@corp", "", "first@last@corp", ""},
  };
  for (const auto& c : cases) {
    TempDir t;
    WriteFile(t.path() / "username", c.username + "\n");
    WriteFile(t.path() / "password", "pw\n");
    if (!c.domain_file.empty())
      WriteFile(t.path() / "domain", c.domain_file + "\n");
    auto l = Load(t.path());
    ASSERT_TRUE(l.result) << c.username << ": " << l.error;
    EXPECT_EQ(l.result->user, c.want_user) << c.username;
    EXPECT_EQ(l.result->domain, c.want_domain) << c.username;
  }
}

TEST(CredentialsUserTest, ConflictingDomainsNameBothSources) {
  TempDir t;
  WriteFile(t.path() / "username", "CORP\\alice\n");
  WriteFile(t.path() / "password", "hunter2\n");
  WriteFile(t.path() / "domain", "OTHER\n");
  auto l = Load(t.path());
  EXPECT_EQ(l.result.error(), credentials_errc::domain_conflict);
  EXPECT_NE(l.error.find((t.path() / "username").string()), std::string::npos)
      << l.error;
  EXPECT_NE(l.error.find((t.path() / "domain").string()), std::string::npos)
      << l.error;
  EXPECT_NE(l.error.find("CORP"), std::string::npos);
  EXPECT_NE(l.error.find("OTHER"), std::string::npos);

  TempDir f;
  WriteFile(f.path() / "creds",
            "username=alice@corp\npassword=hunter2\ndomain=OTHER\n");
  auto lf = Load(f.path() / "creds");
  EXPECT_EQ(lf.result.error(), credentials_errc::domain_conflict);
  EXPECT_NE(lf.error.find("line 1"), std::string::npos) << lf.error;
  EXPECT_NE(lf.error.find("line 3"), std::string::npos) << lf.error;
}

TEST(CredentialsUserTest, EmptyParts) {
  for (std::string_view u : {"CORP\\", "\\alice", "@corp", "alice@"}) {
    TempDir t;
    WriteFile(t.path() / "username", u);
    WriteFile(t.path() / "password", "pw");
    auto l = Load(t.path());
    EXPECT_EQ(l.result.error(), credentials_errc::empty_username) << u;
  }
}

TEST(CredentialsUserTest, SplitUserName) {
  std::string user, domain;
  EXPECT_TRUE(SplitUserName("bob", &user, &domain));
  EXPECT_EQ(user, "bob");
  EXPECT_EQ(domain, "");
  EXPECT_TRUE(SplitUserName("D\\bob", &user, &domain));
  EXPECT_EQ(user, "bob");
  EXPECT_EQ(domain, "D");
  EXPECT_TRUE(SplitUserName("bob@d.example", &user, &domain));
  EXPECT_EQ(user, "bob");
  EXPECT_EQ(domain, "d.example");
  EXPECT_FALSE(SplitUserName("", &user, &domain));
  EXPECT_FALSE(SplitUserName("D\\", &user, &domain));
}

// ---- mount.cifs-style file ----

TEST(CredentialsFileTest, Basic) {
  TempDir t;
  WriteFile(t.path() / "creds",
            "username=alice\npassword=hunter2\ndomain=CORP\n");
  auto l = Load(t.path() / "creds");
  ASSERT_TRUE(l.result) << l.error;
  EXPECT_EQ(l.result->user, "alice");
  EXPECT_EQ(l.result->domain, "CORP");
  EXPECT_EQ(l.result->password.view(), "hunter2");
  EXPECT_TRUE(l.warnings.empty());
}

TEST(CredentialsFileTest, ShortKeysCommentsBlankLinesCrlf) {
  const std::vector<std::string> files = {
      "# comment\r\n\r\nuser=alice\r\npass=hunter2\r\ndom=CORP\r\n",
      "USER=alice\nPassWord=hunter2\nworkgroup=CORP",
      "  username =alice\n\tpasswd=hunter2\n\n# password=nope\nDomain=CORP\n",
  };
  for (const auto& content : files) {
    TempDir t;
    WriteFile(t.path() / "creds", content);
    auto l = Load(t.path() / "creds");
    ASSERT_TRUE(l.result) << l.error;
    EXPECT_EQ(l.result->user, "alice");
    EXPECT_EQ(l.result->domain, "CORP");
    EXPECT_EQ(l.result->password.view(), "hunter2");
  }
}

TEST(CredentialsFileTest, ValuesAreNotTrimmedButSpacesInNamesWarn) {
  TempDir t;
  WriteFile(t.path() / "creds", "username = alice\npassword= pw \n");
  auto l = Load(t.path() / "creds");
  ASSERT_TRUE(l.result) << l.error;
  EXPECT_EQ(l.result->user, " alice");
  EXPECT_EQ(l.result->password.view(), " pw ");
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_NE(l.warnings[0].find("space"), std::string::npos) << l.warnings[0];
}

TEST(CredentialsFileTest, SpecialCharacterPasswordsAreKeptExactly) {
  for (const std::string& pw : kHardPasswords) {
    for (const char* eol : {"\n", "\r\n", ""}) {
      TempDir t;
      WriteFile(t.path() / "creds", "username=alice\npassword=" + pw + eol);
      auto l = Load(t.path() / "creds");
      ASSERT_TRUE(l.result) << l.error;
      EXPECT_EQ(l.result->password.view(), pw);
    }
  }
}

TEST(CredentialsFileTest, UserNameForms) {
  TempDir t;
  WriteFile(t.path() / "a", "username=CORP\\alice\npassword=x\n");
  WriteFile(t.path() / "b", "username=alice@corp.example\npassword=x\n");
  WriteFile(t.path() / "c", "username=CORP\\alice\npassword=x\ndomain=corp\n");
  auto a = Load(t.path() / "a");
  ASSERT_TRUE(a.result) << a.error;
  EXPECT_EQ(a.result->user, "alice");
  EXPECT_EQ(a.result->domain, "CORP");
  auto b = Load(t.path() / "b");
  ASSERT_TRUE(b.result) << b.error;
  EXPECT_EQ(b.result->user, "alice@corp.example");  // a UPN, whole
  EXPECT_EQ(b.result->domain, "");
  auto c = Load(t.path() / "c");
  ASSERT_TRUE(c.result) << c.error;
  EXPECT_EQ(c.result->domain, "CORP");
}

TEST(CredentialsFileTest, EmptyPasswordIsAllowed) {
  TempDir t;
  WriteFile(t.path() / "creds", "username=alice\npassword=\n");
  auto l = Load(t.path() / "creds");
  ASSERT_TRUE(l.result) << l.error;
  EXPECT_TRUE(l.result->password.empty());
}

TEST(CredentialsFileTest, MissingLines) {
  TempDir t;
  WriteFile(t.path() / "nouser", "password=hunter2\n");
  WriteFile(t.path() / "nopass", "username=alice\n");
  WriteFile(t.path() / "emptyuser", "username=\npassword=hunter2\n");
  auto nu = Load(t.path() / "nouser");
  EXPECT_EQ(nu.result.error(), credentials_errc::missing_username);
  EXPECT_NE(nu.error.find("username="), std::string::npos) << nu.error;
  auto np = Load(t.path() / "nopass");
  EXPECT_EQ(np.result.error(), credentials_errc::missing_password);
  EXPECT_NE(np.error.find("password="), std::string::npos) << np.error;
  auto eu = Load(t.path() / "emptyuser");
  EXPECT_EQ(eu.result.error(), credentials_errc::empty_username);
  for (const auto* l : {&nu, &np, &eu}) {
    EXPECT_EQ(l->error.rfind("credentials: " + t.path().string(), 0), 0u)
        << l->error;
    EXPECT_EQ(l->error.find('\n'), std::string::npos);
    EXPECT_EQ(l->error.find("hunter2"), std::string::npos);
  }
}

TEST(CredentialsFileTest, DuplicateKeyIsAnError) {
  TempDir t;
  WriteFile(t.path() / "creds",
            "username=alice\npassword=pw-first\npass=pw-second\n");
  auto l = Load(t.path() / "creds");
  EXPECT_EQ(l.result.error(), credentials_errc::malformed);
  EXPECT_NE(l.error.find("line 3"), std::string::npos) << l.error;
  EXPECT_NE(l.error.find("line 2"), std::string::npos) << l.error;
  EXPECT_EQ(l.error.find("pw-"), std::string::npos);
}

TEST(CredentialsFileTest, UnknownAndKeylessLinesWarnWithoutQuotingThem) {
  TempDir t;
  WriteFile(t.path() / "creds",
            "username=alice\nhunter2\nsecret=hunter3\npassword=hunter4\n");
  auto l = Load(t.path() / "creds");
  ASSERT_TRUE(l.result) << l.error;
  EXPECT_EQ(l.result->password.view(), "hunter4");
  ASSERT_EQ(l.warnings.size(), 2u);
  EXPECT_NE(l.warnings[0].find("line 2"), std::string::npos) << l.warnings[0];
  EXPECT_NE(l.warnings[1].find("line 3"), std::string::npos) << l.warnings[1];
  EXPECT_EQ(AllMessages(l).find("hunter"), std::string::npos) << AllMessages(l);
  EXPECT_EQ(AllMessages(l).find("secret"), std::string::npos) << AllMessages(l);
}

TEST(CredentialsFileTest, LooseModeWarning) {
  TempDir t;
  WriteFile(t.path() / "creds", "username=alice\npassword=hunter2\n", 0644);
  auto l = Load(t.path() / "creds");
  ASSERT_TRUE(l.result) << l.error;
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_NE(l.warnings[0].find("chmod 600 " + (t.path() / "creds").string()),
            std::string::npos)
      << l.warnings[0];
  EXPECT_EQ(l.warnings[0].find("hunter2"), std::string::npos);

  WriteFile(t.path() / "creds", "username=alice\npassword=hunter2\n", 0600);
  auto quiet = Load(t.path() / "creds");
  EXPECT_TRUE(quiet.warnings.empty());
}

TEST(CredentialsFileTest, InvalidUtf8NamesTheLine) {
  TempDir t;
  WriteFile(t.path() / "creds", "username=alice\npassword=x\xC3(\n");
  auto l = Load(t.path() / "creds");
  EXPECT_EQ(l.result.error(), credentials_errc::invalid_utf8);
  EXPECT_NE(l.error.find("line 2"), std::string::npos) << l.error;
}

TEST(CredentialsFileTest, Oversized) {
  TempDir t;
  WriteFile(t.path() / "creds",
            std::string(kMaxCredentialsFileSize + 100, '#'));
  auto l = Load(t.path() / "creds");
  EXPECT_EQ(l.result.error(), credentials_errc::too_large);
}

// ---- the path itself ----

TEST(CredentialsPathTest, MissingPath) {
  auto l = Load("/nonexistent/smbgate/creds");
  EXPECT_EQ(l.result.error(), credentials_errc::not_found);
  EXPECT_EQ(l.error,
            "credentials: /nonexistent/smbgate/creds: no such file or "
            "directory (give "
            "--credentials a Secret directory or a mount.cifs-style file)");
  std::string msg;
  auto empty = LoadCredentials("", nullptr, &msg);
  EXPECT_EQ(empty.error(), credentials_errc::not_found);
  EXPECT_FALSE(msg.empty());
}

TEST(CredentialsPathTest, NullOutParamsAreAllowed) {
  TempDir t;
  WriteFile(t.path() / "creds", "username=alice\npassword=hunter2\n", 0644);
  auto r = LoadCredentials((t.path() / "creds").string(), nullptr, nullptr);
  ASSERT_TRUE(r);
  auto bad = LoadCredentials((t.path() / "nope").string(), nullptr, nullptr);
  EXPECT_FALSE(bad);
}

TEST(CredentialsPathTest, ErrorCategory) {
  std::error_code ec = credentials_errc::domain_conflict;
  EXPECT_STREQ(ec.category().name(), "credentials");
  EXPECT_FALSE(ec.message().empty());
}

// A file the process may not read. Root reads everything, so as root the
// check runs in a child that has dropped to the `nobody` uid.
TEST(CredentialsPathTest, UnreadableFile) {
  TempDir t;
  ASSERT_EQ(::chmod(t.path().c_str(), 0755), 0);
  WriteFile(t.path() / "creds", "username=alice\npassword=hunter2\n", 0600);
  WriteFile(t.path() / "username", "alice\n", 0644);
  WriteFile(t.path() / "password", "hunter2\n", 0600);
  auto check = [&](std::string* why) {
    auto f = Load(t.path() / "creds");
    if (f.result.error() != credentials_errc::unreadable ||
        f.error.find("permission denied") == std::string::npos) {
      *why = "file form: " + f.error;
      return false;
    }
    auto d = Load(t.path());
    if (d.result.error() != credentials_errc::unreadable ||
        d.error.find((t.path() / "password").string() +
                     ": permission denied") == std::string::npos) {
      *why = "directory form: " + d.error;
      return false;
    }
    return true;
  };
  if (::geteuid() != 0) {
    ASSERT_EQ(::chmod((t.path() / "creds").c_str(), 0), 0);
    ASSERT_EQ(::chmod((t.path() / "password").c_str(), 0), 0);
    std::string why;
    EXPECT_TRUE(check(&why)) << why;
    return;
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(3);
    }
    std::string why;
    const bool ok = check(&why);
    if (!ok) std::fprintf(stderr, "%s\n", why.c_str());
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "see the child's message above (3: cannot drop root)";
}

}  // namespace
}  // namespace smbgate
