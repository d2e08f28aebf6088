// Runs deploy/mount.smbgate (the mount(8) helper) with a fake smbgate that
// records its arguments, and checks the command line it would exec.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace smbgate {
namespace {

namespace fs = std::filesystem;

// The script beside the sources: tests/unit/src/ -> deploy/.
fs::path HelperPath() {
  return fs::path(__FILE__).parent_path() / ".." / ".." / ".." / "deploy" /
         "mount.smbgate";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class MountHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(HelperPath())) GTEST_SKIP() << "no " << HelperPath();
    std::string tmpl =
        (fs::temp_directory_path() / "smbgate-helper-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directory(dir_ / "bin");
    // The fake writes one argument a line (NUL-free by construction) and
    // exits with $FAKE_STATUS.
    fake_ = dir_ / "bin" / "smbgate";
    std::ofstream(fake_) << "#!/bin/sh\n"
                            ": > \"$FAKE_OUT\"\n"
                            "for a in \"$@\"; do printf '%s\\n' \"$a\" >> "
                            "\"$FAKE_OUT\"; done\n"
                            "exit \"${FAKE_STATUS:-0}\"\n";
    ::chmod(fake_.c_str(), 0755);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  struct Run {
    int status = -1;                // exit status of the helper
    bool ran = false;               // whether the fake smbgate ran
    std::vector<std::string> argv;  // its arguments
    std::string stderr_text;
  };

  // Runs the helper with `args`; `via_path` finds the fake through PATH
  // instead of SMBGATE_BIN.
  Run Helper(const std::vector<std::string>& args, bool via_path = false,
             int fake_status = 0) {
    const fs::path out = dir_ / "argv";
    const fs::path err = dir_ / "stderr";
    fs::remove(out);
    std::string cmd = "env -u SMBGATE_BIN FAKE_OUT=" + ShellQuote(out) +
                      " FAKE_STATUS=" + std::to_string(fake_status);
    if (via_path) {
      cmd += " PATH=" + ShellQuote((dir_ / "bin").string() + ":/usr/bin:/bin");
    } else {
      cmd += " SMBGATE_BIN=" + ShellQuote(fake_);
    }
    cmd += " sh " + ShellQuote(HelperPath());
    for (const auto& a : args) cmd += " " + ShellQuote(a);
    cmd += " 2>" + ShellQuote(err);
    Run r;
    const int rc = std::system(cmd.c_str());
    r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    r.stderr_text = ReadFile(err);
    r.ran = fs::exists(out);
    std::istringstream lines(ReadFile(out));
    for (std::string l; std::getline(lines, l);) r.argv.push_back(l);
    return r;
  }

  fs::path dir_;
  fs::path fake_;
};

using Argv = std::vector<std::string>;

TEST_F(MountHelperTest, TakesCredentialsOutOfTheOptions) {
  const Run r = Helper({"//fs1/data", "/mnt/data", "-o",
                        "credentials=/etc/smbgate/data.cred,uid=1000"});
  EXPECT_EQ(r.status, 0) << r.stderr_text;
  EXPECT_EQ(r.argv, (Argv{"mount", "//fs1/data", "/mnt/data", "--credentials",
                          "/etc/smbgate/data.cred", "-o", "uid=1000"}));
}

TEST_F(MountHelperTest, WhatMountPassesFromFstab) {
  // mount(8) puts the flags after SPEC and DIR and may add -t.
  const Run r = Helper(
      {"//[fd00::1]:4450/team/sub", "/mnt/my team", "-n", "-o",
       "rw,_netdev,nofail,x-systemd.automount,cred=/etc/c d.cred,uid=1000",
       "-t", "smbgate"});
  EXPECT_EQ(r.status, 0) << r.stderr_text;
  EXPECT_EQ(r.argv, (Argv{"mount", "//[fd00::1]:4450/team/sub", "/mnt/my team",
                          "--credentials", "/etc/c d.cred", "-o",
                          "rw,_netdev,nofail,x-systemd.automount,uid=1000"}));
}

TEST_F(MountHelperTest, NoOptions) {
  const Run r = Helper({"//h/s", "/m"});
  EXPECT_EQ(r.argv, (Argv{"mount", "//h/s", "/m"}));
  // Only credentials.
  EXPECT_EQ(Helper({"//h/s", "/m", "-ocredentials=/c"}).argv,
            (Argv{"mount", "//h/s", "/m", "--credentials", "/c"}));
}

TEST_F(MountHelperTest, SeveralOptionListsAndGlobCharacters) {
  const Run r = Helper({"-o", "uid=1", "//h/s", "/m", "-o", "gid=*,,ro"});
  EXPECT_EQ(r.argv, (Argv{"mount", "//h/s", "/m", "-o", "uid=1,gid=*,ro"}));
}

TEST_F(MountHelperTest, VerboseRaisesTheLogLevel) {
  const Run r =
      Helper({"//h/s", "/m", "-v", "-o", "credentials=/c,log_level=warn"});
  EXPECT_EQ(r.argv, (Argv{"mount", "//h/s", "/m", "--credentials", "/c", "-o",
                          "log_level=warn,log_level=debug"}));
  EXPECT_NE(r.stderr_text.find("mount //h/s /m"), std::string::npos);
  EXPECT_EQ(Helper({"//h/s", "/m", "-sv"}).argv,
            (Argv{"mount", "//h/s", "/m", "-o", "log_level=debug"}));
}

TEST_F(MountHelperTest, FakeDoesNotMount) {
  Run r = Helper({"//h/s", "/m", "-f", "-o", "credentials=/c"});
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.ran);
  r = Helper({"//h/s", "/m", "-sfnv"});
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.ran);
}

TEST_F(MountHelperTest, PasswordRefusedAndNotEchoed) {
  for (const std::string opt :
       {"password=Secr3t!", "pass=Secr3t!", "PASSWD=Secr3t!", "password"}) {
    const Run r = Helper({"//h/s", "/m", "-o", "uid=1," + opt + ",gid=2"});
    EXPECT_NE(r.status, 0) << opt;
    EXPECT_FALSE(r.ran) << opt;
    EXPECT_EQ(r.stderr_text.find("Secr3t"), std::string::npos) << r.stderr_text;
    EXPECT_NE(r.stderr_text.find("credentials file"), std::string::npos)
        << r.stderr_text;
  }
}

TEST_F(MountHelperTest, UsageErrors) {
  for (const Argv& args :
       {Argv{}, Argv{"//h/s"}, Argv{"//h/s", "/m", "/x"},
        Argv{"//h/s", "/m", "-q"}, Argv{"//h/s", "/m", "-o"}}) {
    const Run r = Helper(args);
    EXPECT_EQ(r.status, 1);
    EXPECT_FALSE(r.ran);
    EXPECT_NE(r.stderr_text.find("usage: mount.smbgate"), std::string::npos)
        << r.stderr_text;
  }
}

TEST_F(MountHelperTest, ExitStatusIsSmbgates) {
  const Run r = Helper({"//h/s", "/m"}, false, 32);
  EXPECT_TRUE(r.ran);
  EXPECT_EQ(r.status, 32);
}

TEST_F(MountHelperTest, FindsSmbgateOnPath) {
  const Run r = Helper({"//h/s", "/m", "-o", "credentials=/c"}, true);
  EXPECT_EQ(r.status, 0) << r.stderr_text;
  EXPECT_EQ(r.argv, (Argv{"mount", "//h/s", "/m", "--credentials", "/c"}));
}

}  // namespace
}  // namespace smbgate
