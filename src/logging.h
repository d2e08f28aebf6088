// Logging to stderr, as text or one JSON object a line, with structured
// fields. spdlog does the work behind this header; callers need not include
// it (calls to spdlog's default logger end up in the same place).
//
// Nothing here takes a password: there is no credentials type among the
// parameters, and callers must not put a password, hash, key or NTLM message
// into a message or field. Log the user, domain and server instead.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "auth/common/result.h"

namespace smbgate {

enum class LogFormat { kText, kJson };
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };

// "trace", "debug", "info", "warn" ("warning" too) or "error"; nullopt else.
std::optional<LogLevel> ParseLogLevel(std::string_view name) noexcept;
// "trace", "debug", "info", "warn", "error".
std::string_view LogLevelName(LogLevel level) noexcept;

// Sets the level and format of every later line; until it is first called,
// logging is at info level in text format. Errors: std::errc::invalid_argument
// for a level ParseLogLevel does not know (nothing changes). Thread-safe, but
// meant for start-up; may be called again.
Result<void> InitLogging(std::string_view level, LogFormat format);

// Whether a line at `level` would be written; lets a caller skip building
// costly fields. Thread-safe.
bool LogEnabled(LogLevel level) noexcept;

// One `key=value` of a log line. Strings are written quoted and escaped as
// needed; integers, floating-point numbers and booleans as JSON numbers and
// booleans. Keys should be plain snake_case names. Holds views: build it in
// the call (`{"bytes", n}`, `{"path", path}`), do not keep it.
class LogField {
 public:
  LogField(std::string_view key, std::string_view value)
      : key_(key), text_(value) {}
  LogField(std::string_view key, const char* value) : key_(key), text_(value) {}
  LogField(std::string_view key, const std::string& value)
      : key_(key), text_(value) {}
  LogField(std::string_view key, bool value)
      : key_(key), text_(value ? "true" : "false"), raw_(true) {}
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>)
      LogField(std::string_view key, T value)
      : key_(key), owned_(std::to_string(value)), raw_(true) {
    text_ = owned_;
  }
  LogField(std::string_view key, double value);

  LogField(const LogField& other)
      : key_(other.key_),
        owned_(other.owned_),
        text_(other.text_),
        raw_(other.raw_) {
    if (!owned_.empty()) text_ = owned_;
  }
  LogField& operator=(const LogField&) = delete;

  std::string_view key() const noexcept { return key_; }
  std::string_view text() const noexcept { return text_; }
  // True for numbers and booleans: written unquoted in JSON.
  bool raw() const noexcept { return raw_; }

 private:
  std::string_view key_;
  std::string owned_;  // the formatted number, when there is one
  std::string_view text_;
  bool raw_ = false;
};

using LogFields = std::initializer_list<LogField>;

// Writes one line at `level` if enabled: text `2026-11-28T10:00:00.123Z info
// message key=value ...` or JSON `{"ts":"...","level":"info","msg":"...",
// "key":"value",...}`. Never throws; thread-safe (lines never interleave).
void Log(LogLevel level, std::string_view msg, LogFields fields = {}) noexcept;
void LogTrace(std::string_view msg, LogFields fields = {}) noexcept;
void LogDebug(std::string_view msg, LogFields fields = {}) noexcept;
void LogInfo(std::string_view msg, LogFields fields = {}) noexcept;
void LogWarn(std::string_view msg, LogFields fields = {}) noexcept;
void LogError(std::string_view msg, LogFields fields = {}) noexcept;

// One authentication attempt, for the one line the issue asks for.
struct AuthEvent {
  std::string user;
  std::string domain;
  std::string server;      // host:port
  std::string dialect;     // "3.1.1", or empty if negotiation did not finish
  std::string signing;     // "AES-128-GMAC", ...
  std::string encryption;  // "AES-128-GCM", ... when the session is
                           // encrypted, else "none"
  std::string result;      // "success", or the NTSTATUS or error name
  double duration_ms = 0;
  std::string failure_class = "success";  // AuthFailureClass (src/connect.h)
  bool reached_session_setup = true;      // false: connect or negotiate failed
};

// Logs `authentication` with the event's fields: at info on success, at warn
// otherwise. Thread-safe.
void LogAuthentication(const AuthEvent& event) noexcept;

// JSON string contents for `s` (without the surrounding quotes): `"` and `\`
// escaped, control characters as \n, \t, ... or \u00XX, DEL as \u007f, and
// each byte that is not part of valid UTF-8 replaced by \ufffd, so the line
// is always valid JSON. Thread-safe.
std::string JsonEscape(std::string_view s);

// Formats one line (with its trailing "\n") as Log writes it. Exposed for
// tests. Thread-safe.
std::string FormatLogLine(LogFormat format,
                          std::chrono::system_clock::time_point time,
                          LogLevel level, std::string_view msg,
                          std::span<const LogField> fields);

// Sends every later line to `sink` instead of stderr (an empty function goes
// back to stderr). For tests. Thread-safe.
// Sends every later line to syslog (facility daemon) instead of stderr:
// for a daemon in the background, whose stderr is /dev/null.
void LogToSyslog(const char* ident) noexcept;

void SetLogSinkForTesting(std::function<void(std::string_view line)> sink);

}  // namespace smbgate
