// `smbgate check`'s command line: what it refuses before connecting
// anywhere (exit 2, one line). Its report is tested against a real server
// in tests/integration.
#include "src/check.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace smbgate {
namespace {

struct Outcome {
  int rc;
  std::string out;
  std::string err;
};

Outcome Check(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int rc = RunCheck(args, out, err);
  return {rc, out.str(), err.str()};
}

TEST(CheckArgsTest, BadSpnIsOneLineAndExit2) {
  const Outcome o = Check(
      {"//127.0.0.1:1/s", "--credentials", "/nonexistent", "--spn", "fs1"});
  EXPECT_EQ(o.rc, 2);
  EXPECT_EQ(o.err,
            "check: --spn \"fs1\" is not a service principal name (write "
            "SERVICE/HOST, like "
            "cifs/filer.example.com)\n");
  EXPECT_EQ(o.out, "");
  for (const std::string bad : {"--spn=cifs/a b", "--spn=", "--spn=cifs/"}) {
    const Outcome b =
        Check({"//127.0.0.1:1/s", "--credentials", "/nonexistent", bad});
    EXPECT_EQ(b.rc, 2) << bad;
    EXPECT_EQ(b.err.rfind("check: --spn \"", 0), 0u) << b.err;
    EXPECT_EQ(b.err.find('\n'), b.err.size() - 1) << b.err;
  }
  // --spn needs its value.
  EXPECT_EQ(Check({"//127.0.0.1:1/s", "--credentials", "/c", "--spn"}).rc, 2);
}

TEST(CheckArgsTest, SealAndSpnAreAccepted) {
  // Both parse: the next complaint is the missing credentials file, which
  // is read before anything connects.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"//127.0.0.1:1/s", "--seal", "--credentials",
                                 "/nonexistent/c"},
        std::vector<std::string>{"//127.0.0.1:1/s", "--spn",
                                 "cifs/fs1.example.com", "--credentials",
                                 "/nonexistent/c"},
        std::vector<std::string>{"//127.0.0.1:1/s", "--spn=cifs/fs1", "--seal",
                                 "--credentials=/nonexistent/c"}}) {
    const Outcome o = Check(args);
    EXPECT_EQ(o.rc, 2);
    EXPECT_EQ(o.err.find("unknown option"), std::string::npos) << o.err;
    EXPECT_EQ(o.err.find("--spn"), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("/nonexistent/c"), std::string::npos) << o.err;
  }
}

TEST(CheckArgsTest, SealTakesNoValue) {
  const Outcome o =
      Check({"//127.0.0.1:1/s", "--credentials", "/c", "--seal=yes"});
  EXPECT_EQ(o.rc, 2);
  EXPECT_NE(o.err.find("unknown option --seal=yes"), std::string::npos)
      << o.err;
}

TEST(CheckArgsTest, UsageNamesTheNewOptions) {
  const Outcome o = Check({"//127.0.0.1:1/s"});
  EXPECT_EQ(o.rc, 2);
  EXPECT_NE(o.err.find("[--seal] [--spn SPN]"), std::string::npos) << o.err;
}

}  // namespace
}  // namespace smbgate
