// `smbgate check` as the first step of a runbook, against a real smbd: each
// stage with its time, and on failure the stage, the NTSTATUS, its class and
// the likely fix, in text and as one JSON object.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "src/check.h"
#include "tests/integration/smbd_fixture.h"

namespace smbgate::test {
namespace {

namespace fs = std::filesystem;

class CheckJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMBGATE_REQUIRE_SMBD();
    std::string err;
    server_ = SharedSmbdServer(Dialect::kSmb3_11, &err);
    ASSERT_NE(server_, nullptr) << err;
    creds_ = server_->CredentialsFile(&err).string();
    ASSERT_FALSE(creds_.empty()) << err;
  }
  SmbdServer* server_ = nullptr;
  std::string creds_;
};

TEST_F(CheckJsonTest, EveryStageIsTimed) {
  std::ostringstream out, err;
  ASSERT_EQ(RunCheck({server_->Target(), "--credentials", creds_}, out, err), 0) << err.str();
  for (const char* stage : {"dns_ms: ", "connect_ms: ", "negotiate_ms: ", "session_setup_ms: ", "tree_connect_ms: "}) {
    EXPECT_NE(out.str().find(stage), std::string::npos) << stage << " missing in\n" << out.str();
  }
  std::ostringstream jout, jerr;
  ASSERT_EQ(RunCheck({server_->Target(), "--credentials", creds_, "--output", "json"}, jout, jerr), 0) << jerr.str();
  const std::string j = jout.str();
  EXPECT_EQ(j.rfind("{\"result\":\"ok\",", 0), 0u) << j;
  EXPECT_EQ(std::count(j.begin(), j.end(), '\n'), 1) << j;
  for (const char* key : {"\"dialect\":\"3.1.1\"", "\"signing\":\"AES-128-GMAC\"", "\"encryption\":\"none\"",
                          "\"dns_ms\":", "\"connect_ms\":", "\"negotiate_ms\":", "\"session_setup_ms\":",
                          "\"tree_connect_ms\":"}) {
    EXPECT_NE(j.find(key), std::string::npos) << key << " missing in " << j;
  }
}

TEST_F(CheckJsonTest, WrongPasswordNamesStageStatusClassAndFix) {
  fs::path dir = server_->dir() / "check-json";
  fs::create_directories(dir);
  std::string e;
  ASSERT_TRUE(WriteCredentialsFile(dir / "cred", {server_->user(), "not it", server_->domain()}, &e));
  std::ostringstream out, err;
  EXPECT_EQ(RunCheck({server_->Target(), "--credentials", (dir / "cred").string(), "--output", "json"}, out, err),
            1);
  const std::string j = out.str();
  for (const char* key : {"\"result\":\"failed\"", "\"stage\":\"session_setup\"",
                          "\"ntstatus\":\"STATUS_LOGON_FAILURE\"", "\"class\":\"wrong_password\"",
                          "\"likely_fix\":\"check the user name, domain and password", "\"negotiate_ms\":"}) {
    EXPECT_NE(j.find(key), std::string::npos) << key << " missing in " << j;
  }
  EXPECT_EQ(j.find("session_setup_ms"), std::string::npos) << "a failed stage has no time: " << j;
  EXPECT_EQ(j.find("not it"), std::string::npos);

  // Text: still one line, now with the fix.
  std::ostringstream tout, terr;
  EXPECT_EQ(RunCheck({server_->Target(), "--credentials", (dir / "cred").string()}, tout, terr), 1);
  const std::string t = terr.str();
  EXPECT_EQ(std::count(t.begin(), t.end(), '\n'), 1) << t;
  EXPECT_NE(t.find("STATUS_LOGON_FAILURE"), std::string::npos) << t;
  EXPECT_NE(t.find("likely fix: check the user name"), std::string::npos) << t;
}

TEST_F(CheckJsonTest, UnreachableServerIsTheConnectStage) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCheck({"//127.0.0.1:1/share", "--credentials", creds_, "--output", "json", "--timeout", "5"}, out, err),
            1);
  const std::string j = out.str();
  EXPECT_NE(j.find("\"stage\":\"connect\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"class\":\"unreachable\""), std::string::npos) << j;
}

}  // namespace
}  // namespace smbgate::test
