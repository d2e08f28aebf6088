#include "src/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <syslog.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

namespace smbgate {
namespace {

// The fields of the line being logged on this thread. The logger is
// synchronous, so the sink runs on the caller's thread while these are set;
// lines from direct spdlog calls have none.
thread_local std::span<const LogField> t_fields;

spdlog::level::level_enum ToSpdlog(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

LogLevel FromSpdlog(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return LogLevel::kTrace;
    case spdlog::level::debug:
      return LogLevel::kDebug;
    case spdlog::level::info:
      return LogLevel::kInfo;
    case spdlog::level::warn:
      return LogLevel::kWarn;
    default:
      return LogLevel::kError;
  }
}

void WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Formats every line itself (ignoring spdlog's pattern) and writes it with
// one write(2), so lines from several processes sharing stderr stay whole.
class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void SetFormat(LogFormat f) {
    std::lock_guard<std::mutex> lock(mutex_);
    format_ = f;
  }
  void SetTestSink(std::function<void(std::string_view)> fn) {
    std::lock_guard<std::mutex> lock(mutex_);
    test_sink_ = std::move(fn);
  }
  void SetSyslog(bool on) {
    std::lock_guard<std::mutex> lock(mutex_);
    syslog_ = on;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string line = FormatLogLine(
        format_, msg.time, FromSpdlog(msg.level),
        std::string_view(msg.payload.data(), msg.payload.size()), t_fields);
    if (test_sink_) {
      test_sink_(line);
    } else if (syslog_) {
      // syslog adds its own time stamp and newline.
      std::string_view body = line;
      while (!body.empty() && body.back() == '\n') body.remove_suffix(1);
      ::syslog(SyslogPriority(FromSpdlog(msg.level)), "%.*s", static_cast<int>(body.size()), body.data());
    } else {
      WriteAll(STDERR_FILENO, line);
    }
  }
  void flush_() override {}

 private:
  static int SyslogPriority(LogLevel l) {
    switch (l) {
      case LogLevel::kTrace:
      case LogLevel::kDebug: return LOG_DEBUG;
      case LogLevel::kInfo: return LOG_INFO;
      case LogLevel::kWarn: return LOG_WARNING;
      case LogLevel::kError: return LOG_ERR;
    }
    return LOG_INFO;
  }

  LogFormat format_ = LogFormat::kText;
  bool syslog_ = false;
  std::function<void(std::string_view)> test_sink_;
};

struct LogState {
  std::shared_ptr<LineSink> sink;
  std::shared_ptr<spdlog::logger> logger;
};

// Created once and never destroyed, so logging works during static
// destruction too. It also becomes spdlog's default logger, so direct
// spdlog::info(...) calls elsewhere come out in the same format.
LogState& State() {
  static LogState* state = [] {
    auto* s = new LogState;
    s->sink = std::make_shared<LineSink>();
    s->logger = std::make_shared<spdlog::logger>("smbgate", s->sink);
    s->logger->set_level(spdlog::level::info);
    s->logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(s->logger);
    return s;
  }();
  return *state;
}

// Installs the logger before main() runs, in case another module logs
// through spdlog before InitLogging.
[[maybe_unused]] const bool kInstalled = (State(), true);

void AppendTimestamp(std::chrono::system_clock::time_point t,
                     std::string* out) {
  using namespace std::chrono;
  const auto ms_total =
      duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms_total / 1000);
  auto ms = static_cast<int>(ms_total % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, ms);
  *out += buf;
}

// Length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF).
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) {
    return static_cast<unsigned char>(s[k]);
  };
  const unsigned char c = b(i);
  const std::size_t left = s.size() - i;
  auto cont = [&](std::size_t k) {
    return k < s.size() && (b(k) & 0xC0) == 0x80;
  };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(i + 1) > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(i + 1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void AppendJsonEscaped(std::string_view s, std::string* out) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = Utf8Length(s, i);
      if (n == 0) {
        *out += "\\ufffd";
        ++i;
      } else {
        out->append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          *out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

// Text lines: control characters are escaped so one call is one line.
void AppendTextMessage(std::string_view s, std::string* out) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      AppendJsonEscaped(std::string_view(&ch, 1), out);
    } else {
      *out += ch;
    }
  }
}

// logfmt-style: bare when safe, else quoted with JSON escapes.
void AppendTextValue(const LogField& f, std::string* out) {
  const std::string_view v = f.text();
  bool bare = f.raw() || !v.empty();
  if (!f.raw()) {
    for (char ch : v) {
      const auto c = static_cast<unsigned char>(ch);
      if (c <= 0x20 || c == 0x7f || ch == '"' || ch == '=' || ch == '\\') {
        bare = false;
        break;
      }
    }
  }
  if (bare) {
    *out += v;
  } else {
    *out += '"';
    AppendJsonEscaped(v, out);
    *out += '"';
  }
}

}  // namespace

LogField::LogField(std::string_view key, double value) : key_(key) {
  if (std::isfinite(value)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    owned_ = buf;
    raw_ = true;
  } else {
    owned_ = std::isnan(value) ? "NaN" : (value > 0 ? "+Inf" : "-Inf");
  }
  text_ = owned_;
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) noexcept {
  if (name == "trace") return LogLevel::kTrace;
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

std::string_view LogLevelName(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  AppendJsonEscaped(s, &out);
  return out;
}

std::string FormatLogLine(LogFormat format,
                          std::chrono::system_clock::time_point time,
                          LogLevel level, std::string_view msg,
                          std::span<const LogField> fields) {
  std::string out;
  out.reserve(64 + msg.size() + fields.size() * 24);
  const std::string_view level_name = LogLevelName(level);
  if (format == LogFormat::kJson) {
    out += "{\"ts\":\"";
    AppendTimestamp(time, &out);
    out += "\",\"level\":\"";
    out += level_name;
    out += "\",\"msg\":\"";
    AppendJsonEscaped(msg, &out);
    out += '"';
    for (const LogField& f : fields) {
      out += ",\"";
      AppendJsonEscaped(f.key(), &out);
      out += "\":";
      if (f.raw()) {
        out += f.text();
      } else {
        out += '"';
        AppendJsonEscaped(f.text(), &out);
        out += '"';
      }
    }
    out += "}\n";
    return out;
  }
  AppendTimestamp(time, &out);
  out += ' ';
  out += level_name;
  out.append(6 - level_name.size(), ' ');  // levels line up: "info  ", "error "
  AppendTextMessage(msg, &out);
  for (const LogField& f : fields) {
    out += ' ';
    AppendTextMessage(f.key(), &out);
    out += '=';
    AppendTextValue(f, &out);
  }
  out += '\n';
  return out;
}

Result<void> InitLogging(std::string_view level, LogFormat format) {
  const auto l = ParseLogLevel(level);
  if (!l) return std::make_error_code(std::errc::invalid_argument);
  LogState& s = State();
  s.sink->SetFormat(format);
  s.logger->set_level(ToSpdlog(*l));
  return {};
}

bool LogEnabled(LogLevel level) noexcept {
  return State().logger->should_log(ToSpdlog(level));
}

void Log(LogLevel level, std::string_view msg, LogFields fields) noexcept {
  try {
    LogState& s = State();
    const auto l = ToSpdlog(level);
    if (!s.logger->should_log(l)) return;
    t_fields = std::span<const LogField>(fields.begin(), fields.size());
    s.logger->log(l, spdlog::string_view_t(msg.data(), msg.size()));
    t_fields = {};
  } catch (...) {
    t_fields = {};  // out of memory: the line is lost, the program goes on
  }
}

void LogTrace(std::string_view msg, LogFields fields) noexcept {
  Log(LogLevel::kTrace, msg, fields);
}
void LogDebug(std::string_view msg, LogFields fields) noexcept {
  Log(LogLevel::kDebug, msg, fields);
}
void LogInfo(std::string_view msg, LogFields fields) noexcept {
  Log(LogLevel::kInfo, msg, fields);
}
void LogWarn(std::string_view msg, LogFields fields) noexcept {
  Log(LogLevel::kWarn, msg, fields);
}
void LogError(std::string_view msg, LogFields fields) noexcept {
  Log(LogLevel::kError, msg, fields);
}

void LogAuthentication(const AuthEvent& e) noexcept {
  try {
    const bool ok = e.result == "success";
    Log(ok ? LogLevel::kInfo : LogLevel::kWarn, "authentication",
        {{"user", e.user},
         {"domain", e.domain},
         {"server", e.server},
         {"dialect", e.dialect},
         {"signing", e.signing},
         {"encryption", e.encryption},
         {"result", e.result},
         {"duration_ms", e.duration_ms}});
  } catch (...) {
  }
}

void LogToSyslog(const char* ident) noexcept {
  ::openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
  State().sink->SetSyslog(true);
}

void SetLogSinkForTesting(std::function<void(std::string_view line)> sink) {
  State().sink->SetTestSink(std::move(sink));
}

}  // namespace smbgate
