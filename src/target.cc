#include "src/target.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "auth/common/utf16.h"

namespace smbgate {
namespace {

class TargetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "target"; }
  std::string message(int ev) const override {
    switch (static_cast<target_errc>(ev)) {
      case target_errc::malformed:
        return "malformed target";
      case target_errc::bad_host:
        return "invalid host in target";
      case target_errc::bad_port:
        return "invalid port in target";
      case target_errc::missing_share:
        return "no share in target";
      case target_errc::bad_path:
        return "invalid share or directory name in target";
    }
    return "unknown target error";
  }
};

constexpr std::string_view kForm = "//HOST[:PORT]/SHARE[/DIR...]";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool IsControl(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c < 0x20 || c == 0x7F;
}

// Input quoted back in a message, control characters shown as '?' so the
// message stays one printable line.
std::string Visible(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (IsControl(c)) c = '?';
  }
  return out;
}

// Characters Windows refuses in a share or file name ([MS-FSCC] 2.1.5.2),
// plus control characters. UTF-8 beyond ASCII passes.
bool IsBadNameChar(char ch) {
  return IsControl(ch) ||
         std::string_view("\"*:<>?|").find(ch) != std::string_view::npos;
}

// A DNS or NetBIOS host name: letters, digits, '-', '.', '_' (seen in
// NetBIOS names and some internal DNS).
bool IsHostName(std::string_view h) {
  if (h.empty() || h.size() > 253 || h.front() == '.' || h.front() == '-')
    return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return IsAlnum(c) || c == '-' || c == '.' || c == '_';
  });
}

bool LooksLikeIpv4(std::string_view h) {
  return !h.empty() && std::all_of(h.begin(), h.end(), [](char c) {
    return IsDigit(c) || c == '.';
  });
}

}  // namespace

const std::error_category& target_category() noexcept {
  static const TargetCategory c;
  return c;
}

std::string Target::HostForDisplay() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]";
  return host;
}

std::string Target::ToString() const {
  std::string s =
      "//" + HostForDisplay() + ":" + std::to_string(port) + "/" + share;
  if (!subdir.empty()) s += "/" + subdir;
  return s;
}

std::string Target::UncPath() const {
  // The host goes in as given, an IPv6 literal without brackets: servers
  // take the share from after the third backslash (Samba 4.17's
  // smbd_smb2_tree_connect skips the server part without checking it).
  return "\\\\" + host + "\\" + share;
}

std::string DefaultSpn(const Target& t) { return "cifs/" + t.host; }

bool ValidateSpn(std::string_view spn, std::string* why) {
  auto fail = [&](const std::string& what) {
    if (why)
      *why = "\"" + Visible(spn) + "\" " + what +
             " (write SERVICE/HOST, like cifs/filer.example.com)";
    return false;
  };
  if (spn.empty()) return fail("is empty");
  // MsvAvTargetName is an AV pair of a 16-bit length; real SPNs are short.
  if (spn.size() > 256) return fail("is longer than 256 bytes");
  Bytes utf16;
  if (!Utf8ToUtf16le(spn, &utf16)) return fail("is not valid UTF-8");
  const bool bad = std::any_of(spn.begin(), spn.end(), [](char c) {
    return IsControl(c) || c == ' ' || c == ',';
  });
  if (bad) return fail("holds a space, comma or control character");
  const auto slash = spn.find('/');
  if (slash == std::string_view::npos || slash == 0 ||
      slash + 1 == spn.size() || spn[slash + 1] == '/') {
    return fail("is not a service principal name");
  }
  return true;
}

Result<Target> ParseTarget(std::string_view input, std::string* error_message) {
  const std::string quoted = "'" + Visible(input) + "'";
  auto fail = [&](target_errc e, const std::string& why) -> std::error_code {
    if (error_message) *error_message = "target " + quoted + ": " + why;
    return e;
  };

  std::string s(input);
  std::replace(s.begin(), s.end(), '\\', '/');
  if (s.rfind("//", 0) != 0) {
    return fail(target_errc::malformed, "must start with // or \\\\ (write " +
                                            std::string(kForm) + ")");
  }
  std::string_view rest = std::string_view(s).substr(2);

  Target t;
  // HOST: a bracketed IPv6 literal, or everything up to ':' or '/'.
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return fail(target_errc::bad_host,
                  "no ']' after the IPv6 address (write //[ADDR]/SHARE)");
    }
    t.host = std::string(rest.substr(1, close - 1));
    in6_addr a6{};
    if (t.host.empty() || ::inet_pton(AF_INET6, t.host.c_str(), &a6) != 1) {
      return fail(target_errc::bad_host,
                  "'" + Visible(t.host) +
                      "' is not an IPv6 address (write //[fd00::1]/SHARE)");
    }
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest.front() != ':' && rest.front() != '/') {
      return fail(target_errc::malformed,
                  "unexpected text after ']' (write //[ADDR]:PORT/SHARE)");
    }
  } else {
    const std::size_t end = rest.find_first_of(":/");
    const std::string_view host = rest.substr(0, end);
    if (host.empty()) {
      return fail(target_errc::bad_host,
                  "no host (write " + std::string(kForm) + ")");
    }
    // An unbracketed IPv6 address: more than one ':' before the first '/'.
    const std::string_view authority = rest.substr(0, rest.find('/'));
    if (std::count(authority.begin(), authority.end(), ':') > 1) {
      return fail(
          target_errc::bad_host,
          "an IPv6 address must be in brackets (write //[ADDR]:PORT/SHARE)");
    }
    t.host = std::string(host);
    if (LooksLikeIpv4(host)) {
      in_addr a4{};
      if (::inet_pton(AF_INET, t.host.c_str(), &a4) != 1) {
        return fail(target_errc::bad_host,
                    "'" + Visible(t.host) + "' is not an IPv4 address");
      }
    } else if (!IsHostName(host)) {
      return fail(target_errc::bad_host,
                  "'" + Visible(t.host) +
                      "' is not a host name (letters, digits, '-', '.', '_')");
    }
    rest.remove_prefix(host.size());
  }

  // :PORT
  if (!rest.empty() && rest.front() == ':') {
    rest.remove_prefix(1);
    const std::string_view digits = rest.substr(0, rest.find('/'));
    unsigned port = 0;
    const bool numeric = !digits.empty() && digits.size() <= 5 &&
                         std::all_of(digits.begin(), digits.end(), IsDigit);
    if (numeric) {
      std::from_chars(digits.data(), digits.data() + digits.size(), port);
    }
    if (!numeric || port < 1 || port > 65535) {
      return fail(
          target_errc::bad_port,
          "port '" + Visible(digits) + "' is not a number from 1 to 65535");
    }
    t.port = static_cast<std::uint16_t>(port);
    rest.remove_prefix(digits.size());
  }

  // /SHARE[/DIR...]
  std::vector<std::string_view> parts;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const std::size_t end = rest.find('/');
    const std::string_view part = rest.substr(0, end);
    if (!part.empty()) parts.push_back(part);
    rest.remove_prefix(part.size());
  }
  if (parts.empty()) {
    return fail(target_errc::missing_share,
                "no share name (write " + std::string(kForm) + ")");
  }
  for (std::string_view part : parts) {
    if (part == "." || part == "..") {
      return fail(target_errc::bad_path,
                  "'.' and '..' are not allowed in the path");
    }
    if (std::any_of(part.begin(), part.end(), IsBadNameChar)) {
      return fail(target_errc::bad_path,
                  "'" + Visible(part) +
                      "' holds a character not allowed in a share "
                      "or file name (\" * : < > ? | or a control "
                      "character)");
    }
  }
  t.share = std::string(parts.front());
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (i > 1) t.subdir += '/';
    t.subdir += parts[i];
  }
  return t;
}

}  // namespace smbgate
