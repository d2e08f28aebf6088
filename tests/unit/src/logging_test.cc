#include "src/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace smbgate {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

// 2026-11-28T10:00:00.123Z
const system_clock::time_point kTime =
    system_clock::time_point(milliseconds(1795860000123));

// Collects lines from the logger while alive; restores stderr and the
// default settings after.
class Capture {
 public:
  explicit Capture(LogFormat format, std::string_view level = "trace") {
    EXPECT_TRUE(InitLogging(level, format));
    SetLogSinkForTesting([this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~Capture() {
    SetLogSinkForTesting(nullptr);
    (void)InitLogging("info", LogFormat::kText);
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// A strict-enough JSON string check: every byte after a backslash is a
// valid escape, no raw control characters, and the line is one object.
bool LooksLikeOneJsonObject(const std::string& line) {
  if (line.size() < 3 || line.front() != '{' ||
      line.substr(line.size() - 2) != "}\n") {
    return false;
  }
  bool in_string = false;
  for (std::size_t i = 0; i + 1 < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x20) return false;
    if (!in_string) {
      if (c == '"') in_string = true;
      continue;
    }
    if (c == '"') {
      in_string = false;
    } else if (c == '\\') {
      const char e = line[++i];
      if (e == 'u') {
        for (int k = 0; k < 4; ++k) {
          if (!std::isxdigit(static_cast<unsigned char>(line[++i])))
            return false;
        }
      } else if (std::string_view("\"\\/bfnrt").find(e) ==
                 std::string_view::npos) {
        return false;
      }
    }
  }
  return !in_string;
}

TEST(JsonEscapeTest, NastyStrings) {
  EXPECT_EQ(JsonEscape(""), "");
  EXPECT_EQ(JsonEscape("plain text"), "plain text");
  EXPECT_EQ(JsonEscape("a\"b"), "a\\\"b");
  EXPECT_EQ(JsonEscape("C:\\share\\dir"), "C:\\\\share\\\\dir");
  EXPECT_EQ(JsonEscape("\\\""), "\\\\\\\"");
  EXPECT_EQ(JsonEscape("l1\nl2\r\n\t\b\f"), "l1\\nl2\\r\\n\\t\\b\\f");
  EXPECT_EQ(JsonEscape(std::string_view("nul\0x", 5)), "nul\\u0000x");
  EXPECT_EQ(JsonEscape("\x01\x1f\x7f"), "\\u0001\\u001f\\u007f");
  EXPECT_EQ(JsonEscape("\x1b[31mred"), "\\u001b[31mred");
  EXPECT_EQ(JsonEscape("/slash/"), "/slash/");
  // Valid UTF-8 passes through: 2, 3 and 4 byte forms.
  EXPECT_EQ(JsonEscape("d\xC3\xA4ten \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "d\xC3\xA4ten \xE2\x82\xAC \xF0\x9F\x98\x80");
  // Invalid UTF-8: each bad byte becomes U+FFFD.
  EXPECT_EQ(JsonEscape("\xFF"), "\\ufffd");
  EXPECT_EQ(JsonEscape("a\xC3"), "a\\ufffd");           // truncated
  EXPECT_EQ(JsonEscape("\xC0\xAF"), "\\ufffd\\ufffd");  // overlong '/'
  EXPECT_EQ(JsonEscape("\xE0\x80\xAF"), "\\ufffd\\ufffd\\ufffd");  // overlong
  EXPECT_EQ(JsonEscape("\xED\xA0\x80"), "\\ufffd\\ufffd\\ufffd");  // surrogate
  EXPECT_EQ(JsonEscape("\xF4\x90\x80\x80"),
            "\\ufffd\\ufffd\\ufffd\\ufffd");   // > U+10FFFF
  EXPECT_EQ(JsonEscape("\x80x"), "\\ufffdx");  // lone continuation
  EXPECT_EQ(JsonEscape("\xE2\x82"), "\\ufffd\\ufffd");
}

TEST(LoggingTest, ParseLevel) {
  EXPECT_EQ(ParseLogLevel("trace"), LogLevel::kTrace);
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("INFO"));
  EXPECT_FALSE(ParseLogLevel(""));
  EXPECT_EQ(LogLevelName(LogLevel::kWarn), "warn");
  EXPECT_FALSE(InitLogging("loud", LogFormat::kText));
}

TEST(LoggingTest, TextLine) {
  const LogField fields[] = {
      {"path", "/a b/c"}, {"bytes", 4096},       {"ok", true},  {"empty", ""},
      {"ms", 12.5},       {"q", "say \"hi\"\n"}, {"plain", "x"}};
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kTime, LogLevel::kInfo, "read done",
                          fields),
            "2026-11-28T10:00:00.123Z info  read done path=\"/a b/c\" "
            "bytes=4096 ok=true "
            "empty=\"\" ms=12.5 q=\"say \\\"hi\\\"\\n\" plain=x\n");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kTime, LogLevel::kError,
                          "two\nlines", {}),
            "2026-11-28T10:00:00.123Z error two\\nlines\n");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kTime, LogLevel::kWarn, "w", {}),
            "2026-11-28T10:00:00.123Z warn  w\n");
}

TEST(LoggingTest, JsonLine) {
  const LogField fields[] = {
      {"path", "C:\\x\"y"}, {"bytes", std::uint64_t{1} << 40},
      {"neg", -3},          {"ok", false},
      {"ms", 0.25},         {"inf", 1.0 / 0.0}};
  const std::string line = FormatLogLine(LogFormat::kJson, kTime,
                                         LogLevel::kDebug, "m\x01\"", fields);
  EXPECT_EQ(line,
            "{\"ts\":\"2026-11-28T10:00:00.123Z\",\"level\":\"debug\",\"msg\":"
            "\"m\\u0001\\\"\","
            "\"path\":\"C:\\\\x\\\"y\",\"bytes\":1099511627776,\"neg\":-3,"
            "\"ok\":false,"
            "\"ms\":0.25,\"inf\":\"+Inf\"}\n");
  EXPECT_TRUE(LooksLikeOneJsonObject(line));
}

TEST(LoggingTest, TimestampBeforeEpochAndMillis) {
  const auto t = system_clock::time_point(milliseconds(-1));
  EXPECT_EQ(FormatLogLine(LogFormat::kText, t, LogLevel::kInfo, "x", {}),
            "1969-12-31T23:59:59.999Z info  x\n");
}

TEST(LoggingTest, LevelsFilterAndFieldsArrive) {
  Capture cap(LogFormat::kJson, "warn");
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kWarn));
  LogInfo("hidden");
  LogDebug("hidden");
  LogTrace("hidden");
  LogWarn("shown", {{"k", "v"}});
  LogError("also", {{"n", 1}});
  // Direct spdlog calls come out in the same format, without fields.
  spdlog::error("from spdlog {}", 42);
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("\"level\":\"warn\",\"msg\":\"shown\",\"k\":\"v\"}"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("\"level\":\"error\",\"msg\":\"also\",\"n\":1}"),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find("\"level\":\"error\",\"msg\":\"from spdlog 42\"}"),
            std::string::npos)
      << lines[2];
  for (const auto& l : lines) EXPECT_TRUE(LooksLikeOneJsonObject(l)) << l;
}

TEST(LoggingTest, AuthenticationLine) {
  Capture cap(LogFormat::kText, "info");
  LogAuthentication({"alice", "CORP", "fs1:445", "3.1.1", "AES-128-GMAC",
                     "AES-128-GCM", "success", 12.5});
  LogAuthentication({"bob", "", "fs1:445", "3.1.1", "AES-128-GMAC", "none",
                     "STATUS_LOGON_FAILURE", 2003.25});
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].substr(24),
            " info  authentication user=alice domain=CORP server=fs1:445 "
            "dialect=3.1.1 "
            "signing=AES-128-GMAC encryption=AES-128-GCM result=success "
            "duration_ms=12.5\n");
  EXPECT_EQ(
      lines[1].substr(24),
      " warn  authentication user=bob domain=\"\" server=fs1:445 dialect=3.1.1 "
      "signing=AES-128-GMAC encryption=none result=STATUS_LOGON_FAILURE "
      "duration_ms=2003.25\n");
}

TEST(LoggingTest, ConcurrentLinesStayWhole) {
  Capture cap(LogFormat::kJson, "info");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) LogInfo("line", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 800u);
  for (const auto& l : lines) ASSERT_TRUE(LooksLikeOneJsonObject(l)) << l;
}

}  // namespace
}  // namespace smbgate
