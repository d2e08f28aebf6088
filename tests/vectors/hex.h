// Hex helpers for the auth tests: spaces and line breaks in the input are
// ignored so vectors can be pasted as the specifications print them.
#pragma once

#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "auth/common/bytes.h"

namespace smbgate::testing {

inline Bytes Hex(std::string_view s) {
  Bytes out;
  int hi = -1;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      throw std::invalid_argument("bad hex digit");
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  if (hi >= 0) throw std::invalid_argument("odd number of hex digits");
  return out;
}

inline std::string ToHex(ByteSpan b) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (std::uint8_t c : b) {
    s.push_back(kDigits[c >> 4]);
    s.push_back(kDigits[c & 15]);
  }
  return s;
}

// Lower-case hex of the input with separators removed, for comparisons that
// print readably when they fail.
inline std::string NormHex(std::string_view s) { return ToHex(Hex(s)); }

template <class C>
std::string ToHexOf(const C& c) {
  return ToHex(ByteSpan(c.data(), c.size()));
}

}  // namespace smbgate::testing
