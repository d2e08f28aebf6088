#include "src/mount_options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace smbgate {
namespace {

namespace fs = std::filesystem;

using Args = std::vector<std::string>;

// The minimal valid command line, with `extra` appended.
Args With(std::initializer_list<std::string> extra) {
  Args a = {"//fs1/data", "/mnt/data", "--credentials",
            "/etc/smbgate/data.cred"};
  a.insert(a.end(), extra);
  return a;
}

MountConfig MustParse(const Args& args) {
  std::string err;
  auto r = ParseMountArgs(args, &err);
  EXPECT_TRUE(r) << err;
  return r ? *r : MountConfig{};
}

std::string MustFail(const Args& args, std::error_code want = {}) {
  std::string err;
  auto r = ParseMountArgs(args, &err);
  EXPECT_FALSE(r);
  if (!r && want) {
    EXPECT_EQ(r.error(), want) << err;
  }
  EXPECT_EQ(err.find('\n') == std::string::npos ||
                err.find(kMountUsage) != std::string::npos,
            true)
      << "one line, or a line and the usage: " << err;
  return err;
}

class TempFile {
 public:
  explicit TempFile(std::string_view content) {
    std::string tmpl =
        (fs::temp_directory_path() / "smbgate-conf-XXXXXX").string();
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) std::abort();
    ::close(fd);
    path_ = tmpl;
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { fs::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(MountOptionsTest, Defaults) {
  const MountConfig c = MustParse(With({}));
  EXPECT_EQ(c.target, "//fs1/data");
  EXPECT_EQ(c.mountpoint, "/mnt/data");
  EXPECT_EQ(c.credentials, "/etc/smbgate/data.cred");
  EXPECT_EQ(c.config_path, "");
  EXPECT_FALSE(c.uid);
  EXPECT_FALSE(c.gid);
  EXPECT_EQ(c.file_mode, 0755u);
  EXPECT_EQ(c.dir_mode, 0755u);
  EXPECT_FALSE(c.read_only);
  EXPECT_EQ(c.domain, "");
  EXPECT_FALSE(c.vers);
  EXPECT_EQ(c.actimeo, 1.0);
  EXPECT_EQ(c.closetimeo, 1.0);
  EXPECT_EQ(c.cache, MountConfig::Cache::kStrict);
  EXPECT_EQ(c.rsize, 0u);
  EXPECT_EQ(c.wsize, 0u);
  EXPECT_FALSE(c.allow_other);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, MountConfig::LogFormat::kText);
  EXPECT_EQ(c.metrics_port, 0);
  EXPECT_FALSE(c.foreground);
  EXPECT_FALSE(c.seal);
  EXPECT_EQ(c.spn, "");  // DefaultSpn(target) at connect time
  EXPECT_TRUE(c.hard);   // requests wait for a lost server
  EXPECT_EQ(c.soft_timeout, 60.0);
}

TEST(MountOptionsTest, HardAndSoft) {
  const MountConfig soft = MustParse(With({"-o", "soft,soft_timeout=2.5"}));
  EXPECT_FALSE(soft.hard);
  EXPECT_DOUBLE_EQ(soft.soft_timeout, 2.5);
  // The last one given wins, as with mount(8) options.
  EXPECT_TRUE(MustParse(With({"-o", "soft,hard"})).hard);
  EXPECT_FALSE(MustParse(With({"-o", "hard,soft"})).hard);
}

TEST(MountOptionsTest, ArgumentForms) {
  MountConfig c =
      MustParse({"-o", "uid=1", "--credentials=/c", "//h/s", "-ogid=2",
                 "--config=/dev/null", "/m", "-f", "-o", "ro"});
  EXPECT_EQ(c.credentials, "/c");
  EXPECT_EQ(c.config_path, "/dev/null");
  EXPECT_EQ(c.uid, 1u);
  EXPECT_EQ(c.gid, 2u);
  EXPECT_TRUE(c.read_only);
  EXPECT_TRUE(c.foreground);
  EXPECT_EQ(c.target, "//h/s");
  EXPECT_EQ(c.mountpoint, "/m");

  c = MustParse(
      {"//h/s", "--foreground", "--credentials", "/c", "--", "-odd-dir"});
  EXPECT_EQ(c.mountpoint, "-odd-dir");
  EXPECT_TRUE(c.foreground);
  // -o credentials= works like mount.cifs (and cred=).
  c = MustParse({"//h/s", "/m", "-o", "uid=5,credentials=/etc/x.cred"});
  EXPECT_EQ(c.credentials, "/etc/x.cred");
  c = MustParse({"//h/s", "/m", "-o", "cred=/etc/y.cred"});
  EXPECT_EQ(c.credentials, "/etc/y.cred");
  // Later options win; empty items are skipped.
  c = MustParse(With({"-o", "ro,,uid=1", "-o", "rw,uid=2,"}));
  EXPECT_FALSE(c.read_only);
  EXPECT_EQ(c.uid, 2u);
}

TEST(MountOptionsTest, EveryOption) {
  const MountConfig c = MustParse(With(
      {"-o",
       "uid=1000,gid=100,file_mode=0644,dir_mode=750,ro,domain=CORP,vers=3.1.1,"
       "actimeo=2.5,cache=loose,rsize=1048576,wsize=65536,allow_other,log_"
       "level=debug,"
       "log_format=json,metrics=0.0.0.0:9100,seal,spn=cifs/fs1.corp.example"}));
  EXPECT_EQ(c.uid, 1000u);
  EXPECT_EQ(c.gid, 100u);
  EXPECT_EQ(c.file_mode, 0644u);
  EXPECT_EQ(c.dir_mode, 0750u);
  EXPECT_TRUE(c.read_only);
  EXPECT_EQ(c.domain, "CORP");
  EXPECT_EQ(c.vers, 0x0311);
  EXPECT_DOUBLE_EQ(c.actimeo, 2.5);
  EXPECT_EQ(c.cache, MountConfig::Cache::kLoose);
  EXPECT_EQ(c.rsize, 1048576u);
  EXPECT_EQ(c.wsize, 65536u);
  EXPECT_TRUE(c.allow_other);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.log_format, MountConfig::LogFormat::kJson);
  EXPECT_EQ(c.metrics_address, "0.0.0.0");
  EXPECT_EQ(c.metrics_port, 9100);
  EXPECT_TRUE(c.seal);
  EXPECT_EQ(c.spn, "cifs/fs1.corp.example");
}

TEST(MountOptionsTest, Values) {
  struct Case {
    std::string opt;
    std::function<bool(const MountConfig&)> check;
  };
  const std::vector<Case> cases = {
      {"uid=0", [](auto& c) { return c.uid == 0u; }},
      {"uid=root", [](auto& c) { return c.uid == 0u; }},
      {"gid=root", [](auto& c) { return c.gid == 0u; }},
      {"uid=4294967294", [](auto& c) { return c.uid == 4294967294u; }},
      {"file_mode=0", [](auto& c) { return c.file_mode == 0u; }},
      {"file_mode=07777", [](auto& c) { return c.file_mode == 07777u; }},
      {"file_mode=0o640", [](auto& c) { return c.file_mode == 0640u; }},
      {"vers=2.0", [](auto& c) { return c.vers == 0x0202; }},
      {"vers=2.1", [](auto& c) { return c.vers == 0x0210; }},
      {"vers=3", [](auto& c) { return c.vers == 0x0300; }},
      {"vers=3.0", [](auto& c) { return c.vers == 0x0300; }},
      {"vers=3.02", [](auto& c) { return c.vers == 0x0302; }},
      {"vers=3.11", [](auto& c) { return c.vers == 0x0311; }},
      {"vers=default", [](auto& c) { return !c.vers; }},
      {"actimeo=0", [](auto& c) { return c.actimeo == 0; }},
      {"actimeo=3600", [](auto& c) { return c.actimeo == 3600; }},
      {"closetimeo=0", [](auto& c) { return c.closetimeo == 0; }},
      {"closetimeo=5", [](auto& c) { return c.closetimeo == 5; }},
      {"actimeo=0.25", [](auto& c) { return c.actimeo == 0.25; }},
      {"cache=strict",
       [](auto& c) { return c.cache == MountConfig::Cache::kStrict; }},
      {"cache=none",
       [](auto& c) { return c.cache == MountConfig::Cache::kNone; }},
      {"rsize=0", [](auto& c) { return c.rsize == 0u; }},
      {"rsize=4096", [](auto& c) { return c.rsize == 4096u; }},
      {"wsize=16777216", [](auto& c) { return c.wsize == 16777216u; }},
      {"log_level=trace", [](auto& c) { return c.log_level == "trace"; }},
      {"log_level=warning", [](auto& c) { return c.log_level == "warn"; }},
      {"log_level=error", [](auto& c) { return c.log_level == "error"; }},
      {"log_format=text",
       [](auto& c) { return c.log_format == LogFormat::kText; }},
      {"metrics=9100",
       [](auto& c) {
         return c.metrics_address == "127.0.0.1" && c.metrics_port == 9100;
       }},
      {"metrics=[::1]:9101",
       [](auto& c) {
         return c.metrics_address == "::1" && c.metrics_port == 9101;
       }},
      {"metrics=localhost:80",
       [](auto& c) {
         return c.metrics_address == "127.0.0.1" && c.metrics_port == 80;
       }},
      {"metrics=off", [](auto& c) { return c.metrics_port == 0; }},
      {"domain=corp.example.com",
       [](auto& c) { return c.domain == "corp.example.com"; }},
      {"seal", [](auto& c) { return c.seal; }},
      {"spn=cifs/fs1", [](auto& c) { return c.spn == "cifs/fs1"; }},
      {"spn=CIFS/FS1.CORP.EXAMPLE.COM",
       [](auto& c) { return c.spn == "CIFS/FS1.CORP.EXAMPLE.COM"; }},
      {"spn=cifs/fd00::10", [](auto& c) { return c.spn == "cifs/fd00::10"; }},
      {"spn=cifs/fs1.corp.example:4450",
       [](auto& c) { return c.spn == "cifs/fs1.corp.example:4450"; }},
      {"spn=cifs/fs1@CORP.EXAMPLE",
       [](auto& c) { return c.spn == "cifs/fs1@CORP.EXAMPLE"; }},
      {"spn=cifs/f\xc3\xa4ller",
       [](auto& c) { return c.spn == "cifs/f\xc3\xa4ller"; }},
  };
  for (const auto& k : cases) {
    const MountConfig c = MustParse(With({"-o", k.opt}));
    EXPECT_TRUE(k.check(c)) << k.opt;
  }
}

TEST(MountOptionsTest, BadValuesNameTheOption) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"uid=-1", "uid"},
      {"uid=4294967295", "uid"},
      {"uid=no-such-user-xyz", "uid"},
      {"gid=no-such-group-xyz", "gid"},
      {"uid=", "uid"},
      {"uid", "uid"},
      {"file_mode=0999", "file_mode"},
      {"file_mode=010000", "file_mode"},
      {"dir_mode=rwx", "dir_mode"},
      {"dir_mode=", "dir_mode"},
      {"vers=1.0", "vers"},
      {"vers=4", "vers"},
      {"actimeo=-1", "actimeo"},
      {"actimeo=3601", "actimeo"},
      {"actimeo=nan", "actimeo"},
      {"actimeo=1s", "actimeo"},
      {"closetimeo=-1", "closetimeo"},
      {"closetimeo=x", "closetimeo"},
      {"cache=fast", "cache"},
      {"soft_timeout=0", "soft_timeout"},
      {"soft_timeout=3601", "soft_timeout"},
      {"soft_timeout=1m", "soft_timeout"},
      {"rsize=4095", "rsize"},
      {"rsize=16777217", "rsize"},
      {"wsize=1M", "wsize"},
      {"log_level=verbose", "log_level"},
      {"log_format=xml", "log_format"},
      {"metrics=0", "metrics"},
      {"metrics=65536", "metrics"},
      {"metrics=::1:9100", "metrics"},
      {"metrics=[::1]", "metrics"},
      {"metrics=myhost:9100", "metrics"},
      {"metrics=:9100", "metrics"},
      {"domain=", "domain"},
      {"domain=a\\b", "domain"},
      {"ro=1", "ro"},
      {"allow_other=yes", "allow_other"},
      {"credentials=", "credentials"},
      {"seal=1", "seal"},
      {"seal=yes", "seal"},
      {"spn", "spn"},
      {"spn=", "spn"},
      {"spn=fs1", "spn"},
      {"spn=/fs1", "spn"},
      {"spn=cifs/", "spn"},
      {"spn=cifs//fs1", "spn"},
      {"spn=cifs/fs 1", "spn"},
      {"spn=cifs/fs\t1", "spn"},
      {"spn=cifs/\xff\xfe", "spn"},
      {"spn=cifs/" + std::string(252, 'a'), "spn"},
  };
  for (const auto& [opt, name] : cases) {
    const std::string err =
        MustFail(With({"-o", opt}), mount_options_errc::bad_value);
    EXPECT_NE(err.find("option " + name), std::string::npos)
        << opt << " -> " << err;
    EXPECT_EQ(err.rfind("mount: option " + name, 0), 0u) << err;
  }
  const std::string err = MustFail(With({"-o", "file_mode=0999"}));
  EXPECT_EQ(err,
            "mount: option file_mode: \"0999\" is not an octal mode like "
            "0644 (0000 to "
            "07777)");
}

TEST(MountOptionsTest, BadSpnIsOneClearLine) {
  EXPECT_EQ(MustFail(With({"-o", "spn=fs1"}), mount_options_errc::bad_value),
            "mount: option spn: \"fs1\" is not a service principal name "
            "(write SERVICE/HOST, like cifs/filer.example.com)");
  EXPECT_EQ(MustFail(With({"-o", "spn=cifs/a b"})),
            "mount: option spn: \"cifs/a b\" holds a space, comma or control "
            "character (write SERVICE/HOST, like cifs/filer.example.com)");
  // A control character is shown, not written raw.
  const std::string err = MustFail(With({"-o", "spn=cifs/a\nb"}));
  EXPECT_NE(err.find("\"cifs/a?b\""), std::string::npos) << err;
  // The longest accepted is 256 bytes.
  EXPECT_EQ(
      MustParse(With({"-o", "spn=cifs/" + std::string(251, 'a')})).spn.size(),
      256u);
  // The config file says the same, with its path and line.
  MountConfig c;
  std::string e;
  EXPECT_FALSE(ApplyConfigYaml("uid: 1\nspn: fs1\n", "a.yaml", &c, &e));
  EXPECT_EQ(e.rfind("config a.yaml:2: spn: \"fs1\" is not a service", 0), 0u)
      << e;
}

TEST(MountOptionsTest, UnknownOptionIsAnError) {
  std::string err = MustFail(With({"-o", "uid=1,cahce=loose"}),
                             mount_options_errc::unknown_option);
  EXPECT_NE(err.find("unknown option \"cahce\""), std::string::npos) << err;
  EXPECT_NE(err.find("did you mean \"cache\""), std::string::npos) << err;
  EXPECT_EQ(err.find("loose"), std::string::npos) << "value echoed: " << err;
  err =
      MustFail(With({"-o", "sec=ntlmssp"}), mount_options_errc::unknown_option);
  EXPECT_NE(err.find("\"sec\""), std::string::npos) << err;
  err = MustFail(With({"-o", "username=bob"}),
                 mount_options_errc::unknown_option);
  EXPECT_NE(err.find("credentials file"), std::string::npos) << err;
  // Config-file-only keys are not -o names.
  MustFail(With({"-o", "share=//a/b"}), mount_options_errc::unknown_option);
  MustFail(With({"-o", "foreground"}), mount_options_errc::unknown_option);
}

TEST(MountOptionsTest, PasswordIsRefusedWithoutEchoingIt) {
  for (const std::string opt :
       {"password=Secr3t!", "pass=Secr3t!", "passwd=Secr3t!",
        "PASSWORD=Secr3t!", "password2=Secr3t!", "password"}) {
    const std::string err = MustFail(With({"-o", "uid=1," + opt}),
                                     mount_options_errc::password_refused);
    EXPECT_EQ(err.find("Secr3t"), std::string::npos) << err;
    EXPECT_NE(err.find("credentials file"), std::string::npos) << err;
  }
}

TEST(MountOptionsTest, GenericMountOptionsAreIgnored) {
  const MountConfig c = MustParse(With(
      {"-o",
       "defaults,auto,noauto,user,users,nouser,_netdev,nofail,x-systemd."
       "automount,"
       "x-systemd.mount-timeout=30,x-systemd.requires=network-online.target,"
       "comment=systemd.automount,exec,noexec,suid,nosuid,dev,nodev,relatime,"
       "noatime,"
       "user=alice,uid=7"}));
  EXPECT_EQ(c.uid, 7u);
  MountConfig want = MustParse(With({"-o", "uid=7"}));
  EXPECT_EQ(c.file_mode, want.file_mode);
  EXPECT_EQ(c.read_only, want.read_only);
  // But a generic flag with a value is not generic.
  MustFail(With({"-o", "nodev=1"}), mount_options_errc::unknown_option);
}

TEST(MountOptionsTest, UsageErrors) {
  std::string err = MustFail({"/mnt", "--credentials", "/c"});
  // "/mnt" is taken as the share and is not one.
  EXPECT_NE(err.find("mount:"), std::string::npos);
  err = MustFail({"--credentials", "/c"}, mount_options_errc::usage);
  EXPECT_NE(err.find("share"), std::string::npos) << err;
  EXPECT_NE(err.find(kMountUsage), std::string::npos) << err;
  err = MustFail({"//h/s", "--credentials", "/c"}, mount_options_errc::usage);
  EXPECT_NE(err.find("MOUNTPOINT is missing"), std::string::npos) << err;
  err = MustFail({"//h/s", "/m"}, mount_options_errc::usage);
  EXPECT_NE(err.find("--credentials PATH is missing"), std::string::npos)
      << err;
  err = MustFail({"//h/s", "/m", "--credentials"}, mount_options_errc::usage);
  EXPECT_NE(err.find("--credentials needs a PATH"), std::string::npos) << err;
  err = MustFail(With({"-o"}), mount_options_errc::usage);
  err = MustFail(With({"/extra"}), mount_options_errc::usage);
  EXPECT_NE(err.find("unexpected argument \"/extra\""), std::string::npos)
      << err;
  err = MustFail(With({"--verbose=yes"}), mount_options_errc::usage);
  EXPECT_NE(err.find("unknown argument --verbose"), std::string::npos) << err;
  EXPECT_EQ(err.find("yes"), std::string::npos) << err;
  err = MustFail({"host/share", "/m", "--credentials", "/c"},
                 mount_options_errc::bad_value);
  err = MustFail(With({"--config", "/nonexistent/smbgate.yaml"}),
                 mount_options_errc::config_unreadable);
  EXPECT_NE(err.find("/nonexistent/smbgate.yaml"), std::string::npos) << err;
}

// --- the config file ---

std::string YamlError(std::string_view yaml, std::error_code want = {}) {
  MountConfig c;
  std::string err;
  auto r = ApplyConfigYaml(yaml, "/etc/smbgate/a.yaml", &c, &err);
  EXPECT_FALSE(r) << yaml;
  if (!r && want) {
    EXPECT_EQ(r.error(), want) << err;
  }
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  return err;
}

TEST(MountConfigFileTest, AllKeys) {
  MountConfig c;
  std::string err;
  ASSERT_TRUE(ApplyConfigYaml(R"(# smbgate config
share: //fs1.example.com:4450/data/team
mountpoint: /mnt/team
credentials: /etc/smbgate/team.cred
foreground: true
uid: 1000
gid: 1000
file_mode: 0644
dir_mode: "0750"
ro: yes
domain: CORP
vers: 3.02
actimeo: 0.5
cache: none
rsize: 4194304
wsize: 1048576
allow_other: on
log_level: warn
log_format: json
metrics: "[::1]:9100"
seal: true
spn: cifs/fs1.example.com
)",
                              "a.yaml", &c, &err))
      << err;
  EXPECT_EQ(c.target, "//fs1.example.com:4450/data/team");
  EXPECT_EQ(c.mountpoint, "/mnt/team");
  EXPECT_EQ(c.credentials, "/etc/smbgate/team.cred");
  EXPECT_TRUE(c.foreground);
  EXPECT_EQ(c.uid, 1000u);
  EXPECT_EQ(c.gid, 1000u);
  EXPECT_EQ(c.file_mode, 0644u);
  EXPECT_EQ(c.dir_mode, 0750u);
  EXPECT_TRUE(c.read_only);
  EXPECT_EQ(c.domain, "CORP");
  EXPECT_EQ(c.vers, 0x0302);
  EXPECT_DOUBLE_EQ(c.actimeo, 0.5);
  EXPECT_EQ(c.cache, MountConfig::Cache::kNone);
  EXPECT_EQ(c.rsize, 4194304u);
  EXPECT_EQ(c.wsize, 1048576u);
  EXPECT_TRUE(c.allow_other);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.log_format, LogFormat::kJson);
  EXPECT_EQ(c.metrics_address, "::1");
  EXPECT_EQ(c.metrics_port, 9100);
  EXPECT_TRUE(c.seal);
  EXPECT_EQ(c.spn, "cifs/fs1.example.com");

  // Flags take booleans both ways.
  ASSERT_TRUE(ApplyConfigYaml(
      "ro: false\nallow_other: false\nforeground: no\nseal: false\n", "a.yaml",
      &c, &err))
      << err;
  EXPECT_FALSE(c.read_only);
  EXPECT_FALSE(c.allow_other);
  EXPECT_FALSE(c.foreground);
  EXPECT_FALSE(c.seal);
  ASSERT_TRUE(ApplyConfigYaml("rw: false", "a.yaml", &c, &err)) << err;
  EXPECT_TRUE(c.read_only);
}

TEST(MountConfigFileTest, EmptyFileChangesNothing) {
  for (std::string_view y : {"", "# only a comment\n", "---\n", "~\n"}) {
    MountConfig c;
    std::string err;
    EXPECT_TRUE(ApplyConfigYaml(y, "a.yaml", &c, &err)) << err;
    EXPECT_EQ(c.file_mode, 0755u);
  }
}

TEST(MountConfigFileTest, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(
      YamlError("uid: 1\ngid: 2\n\n# x\nro: true\ncache: loose\ncahce: none\n",
                mount_options_errc::unknown_option),
      "config /etc/smbgate/a.yaml:7: unknown key \"cahce\" (did you mean "
      "\"cache\"?); "
      "known keys: actimeo, allow_other, cache, closetimeo, credentials, dir_mode, domain, "
      "file_mode, "
      "foreground, gid, hard, log_format, log_level, metrics, mountpoint, ro, rsize, "
      "rw, seal, share, soft, soft_timeout, spn, "
      "uid, vers, wsize");
  EXPECT_EQ(YamlError("uid: 1\n\nfile_mode: \"0999\"\n",
                      mount_options_errc::bad_value),
            "config /etc/smbgate/a.yaml:3: file_mode: \"0999\" is not an octal "
            "mode like 0644 "
            "(0000 to 07777)");
  // A list where a scalar belongs: the line of the value.
  std::string err =
      YamlError("uid:\n  - 1\n  - 2\n", mount_options_errc::bad_value);
  EXPECT_EQ(err.rfind("config /etc/smbgate/a.yaml:2: uid: a list", 0), 0u)
      << err;
  err = YamlError("cache: {a: 1}\n", mount_options_errc::bad_value);
  EXPECT_NE(err.find(":1: cache: a mapping"), std::string::npos) << err;
  err = YamlError("ro: maybe\n", mount_options_errc::bad_value);
  EXPECT_NE(err.find(":1: ro: \"maybe\" is not a boolean"), std::string::npos)
      << err;
  err = YamlError("uid: 1\nro:\n", mount_options_errc::bad_value);
  EXPECT_NE(err.find(":2: ro: needs a value"), std::string::npos) << err;
  err = YamlError("- uid\n- gid\n", mount_options_errc::config_syntax);
  EXPECT_NE(err.find(":1: the file must be a mapping"), std::string::npos)
      << err;
  err = YamlError("just a string\n", mount_options_errc::config_syntax);
  EXPECT_NE(err.find("mapping"), std::string::npos) << err;
  err = YamlError("uid: 1\nuid: 2\n", mount_options_errc::config_syntax);
  EXPECT_NE(err.find(":2: key \"uid\" appears twice (first on line 1)"),
            std::string::npos)
      << err;
  err = YamlError("uid: 1\ngid: [1, 2\n", mount_options_errc::config_syntax);
  EXPECT_NE(err.find("not valid YAML"), std::string::npos) << err;
  EXPECT_EQ(err.rfind("config /etc/smbgate/a.yaml:", 0), 0u) << err;
  err = YamlError("[a]: 1\n", mount_options_errc::config_syntax);
  err = YamlError("share: not-a-share\n", mount_options_errc::bad_value);
  EXPECT_NE(err.find(":1: share: "), std::string::npos) << err;
  // Command-line generic options are not config keys.
  YamlError("_netdev: true\n", mount_options_errc::unknown_option);
}

TEST(MountConfigFileTest, PasswordKeyRefused) {
  const std::string err = YamlError("uid: 1\npassword: Secr3t!\n",
                                    mount_options_errc::password_refused);
  EXPECT_EQ(err.find("Secr3t"), std::string::npos) << err;
  EXPECT_NE(err.find(":2:"), std::string::npos) << err;
}

TEST(MountConfigFileTest, BadKeyLeavesConfigUntouched) {
  MountConfig c;
  std::string err;
  EXPECT_FALSE(ApplyConfigYaml("uid: 5\nbogus: 1\n", "a.yaml", &c, &err));
  EXPECT_FALSE(c.uid);
}

TEST(MountConfigFileTest, PrecedenceCommandLineOverFileOverDefaults) {
  TempFile f(
      "share: //file-host/share\n"
      "mountpoint: /mnt/from-file\n"
      "credentials: /etc/file.cred\n"
      "uid: 1000\n"
      "file_mode: 0600\n"
      "ro: true\n"
      "cache: loose\n"
      "metrics: 9100\n");
  // Only the file: it supplies share, mountpoint and credentials.
  MountConfig c = MustParse({"--config", f.path()});
  EXPECT_EQ(c.target, "//file-host/share");
  EXPECT_EQ(c.mountpoint, "/mnt/from-file");
  EXPECT_EQ(c.credentials, "/etc/file.cred");
  EXPECT_EQ(c.config_path, f.path());
  EXPECT_EQ(c.uid, 1000u);
  EXPECT_EQ(c.file_mode, 0600u);
  EXPECT_TRUE(c.read_only);
  EXPECT_EQ(c.cache, MountConfig::Cache::kLoose);
  EXPECT_EQ(c.metrics_port, 9100);
  EXPECT_EQ(c.dir_mode, 0755u);  // default

  // The command line wins over the file, whatever the order of arguments.
  c = MustParse({"-o", "uid=2000,rw,metrics=off", "//cli-host/s", "/mnt/cli",
                 "--config", f.path(), "--credentials", "/etc/cli.cred", "-o",
                 "cache=strict"});
  EXPECT_EQ(c.target, "//cli-host/s");
  EXPECT_EQ(c.mountpoint, "/mnt/cli");
  EXPECT_EQ(c.credentials, "/etc/cli.cred");
  EXPECT_EQ(c.uid, 2000u);
  EXPECT_FALSE(c.read_only);
  EXPECT_EQ(c.cache, MountConfig::Cache::kStrict);
  EXPECT_EQ(c.metrics_port, 0);
  EXPECT_EQ(c.file_mode, 0600u);  // from the file
  c = MustParse({"--config", f.path(), "-o", "credentials=/etc/o.cred"});
  EXPECT_EQ(c.credentials, "/etc/o.cred");

  TempFile bad("uid: 1\ncahce: loose\n");
  const std::string err =
      MustFail({"--config", bad.path()}, mount_options_errc::unknown_option);
  EXPECT_EQ(
      err.rfind("mount: config " + bad.path() + ":2: unknown key \"cahce\"", 0),
      0u)
      << err;
}

TEST(MountConfigFileTest, ConfigIsADirectory) {
  const std::string err = MustFail(With({"--config", "/"}));
  EXPECT_NE(err.find("config /:"), std::string::npos) << err;
}

}  // namespace
}  // namespace smbgate
