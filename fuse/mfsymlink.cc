#include "fuse/mfsymlink.h"

#include <cstdio>
#include <cstring>

#include "auth/crypto.h"

namespace smbgate::fuse {
namespace {

constexpr std::size_t kHeaderSize = 5 + 5 + 33;  // magic, length, md5 lines

std::string Md5Hex(std::string_view s) {
  const auto d = auth::Md5(AsBytes(s));
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : d) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace

std::optional<Bytes> EncodeMfSymlink(std::string_view target) {
  if (target.empty() || target.size() > kMfSymlinkMaxTarget) return std::nullopt;
  char head[kHeaderSize + 1];
  std::snprintf(head, sizeof head, "XSym\n%04u\n%s\n", static_cast<unsigned>(target.size()), Md5Hex(target).c_str());
  Bytes out(kMfSymlinkSize, ' ');
  std::memcpy(out.data(), head, kHeaderSize);
  std::memcpy(out.data() + kHeaderSize, target.data(), target.size());
  return out;
}

std::optional<std::string> DecodeMfSymlink(ByteSpan c) {
  if (c.size() != kMfSymlinkSize || std::memcmp(c.data(), "XSym\n", 5) != 0 || c[9] != '\n' || c[42] != '\n') {
    return std::nullopt;
  }
  std::size_t len = 0;
  for (std::size_t i = 5; i < 9; ++i) {
    if (c[i] < '0' || c[i] > '9') return std::nullopt;
    len = len * 10 + (c[i] - '0');
  }
  if (len == 0 || len > kMfSymlinkMaxTarget) return std::nullopt;
  std::string target(reinterpret_cast<const char*>(c.data()) + kHeaderSize, len);
  const std::string md5(reinterpret_cast<const char*>(c.data()) + 10, 32);
  if (Md5Hex(target) != md5) return std::nullopt;
  return target;
}

}  // namespace smbgate::fuse
