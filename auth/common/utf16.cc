#include "auth/common/utf16.h"

#include <cstdint>

namespace smbgate {
namespace {

void Put16(Bytes* out, std::uint32_t u) {
  out->push_back(static_cast<std::uint8_t>(u & 0xff));
  out->push_back(static_cast<std::uint8_t>(u >> 8));
}

}  // namespace

bool Utf8ToUtf16le(std::string_view in, Bytes* out) {
  std::size_t i = 0;
  while (i < in.size()) {
    const auto b0 = static_cast<std::uint8_t>(in[i]);
    std::uint32_t cp;
    std::size_t len;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if ((b0 & 0xe0) == 0xc0) {
      cp = b0 & 0x1f;
      len = 2;
    } else if ((b0 & 0xf0) == 0xe0) {
      cp = b0 & 0x0f;
      len = 3;
    } else if ((b0 & 0xf8) == 0xf0) {
      cp = b0 & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (len > in.size() - i) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<std::uint8_t>(in[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    // Overlong forms, surrogates and out-of-range values are invalid UTF-8.
    static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      Put16(out, 0xd800 + (cp >> 10));
      Put16(out, 0xdc00 + (cp & 0x3ff));
    } else {
      Put16(out, cp);
    }
    i += len;
  }
  return true;
}

bool Utf16leToUtf8(ByteSpan in, std::string* out) {
  if (in.size() % 2) return false;
  for (std::size_t i = 0; i < in.size(); i += 2) {
    std::uint32_t cp = in[i] | (in[i + 1] << 8);
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (i + 3 >= in.size()) return false;
      const std::uint32_t lo = in[i + 2] | (in[i + 3] << 8);
      if (lo < 0xdc00 || lo > 0xdfff) return false;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      i += 2;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      return false;
    }
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  return true;
}

}  // namespace smbgate
