// Little-endian loads and stores and a bounds-checked reader for the auth
// module's wire formats (NTLMSSP). Internal to auth/; the SMB2 codec has its
// own WireReader and auth may not depend on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#include "auth/common/bytes.h"

namespace smbgate::auth::detail {

using ::smbgate::InBounds;

inline std::uint16_t Le16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t Le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) |
         (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) |
         (static_cast<std::uint32_t>(p[3]) << 24);
}
inline std::uint64_t Le64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(Le32(p)) |
         (static_cast<std::uint64_t>(Le32(p + 4)) << 32);
}

inline void PutLe16(Bytes* out, std::uint16_t v) {
  out->push_back(static_cast<std::uint8_t>(v));
  out->push_back(static_cast<std::uint8_t>(v >> 8));
}
inline void PutLe32(Bytes* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out->push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void PutLe64(Bytes* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void StoreLe16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
inline void StoreLe32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
// resize and memcpy rather than vector::insert, whose inlined copy GCC 12 at -O3 takes for an
// overflow (-Warray-bounds false positive).
// The source may lie in *out itself (as vector::insert allows): it is copied from its offset
// after the resize, which may move the buffer.
inline void Append(Bytes* out, ByteSpan b) {
  if (b.empty()) return;
  const std::size_t at = out->size();
  const bool inside =
      std::less_equal<>()(out->data(), b.data()) && std::less<>()(b.data(), out->data() + at);
  const std::size_t from = inside ? static_cast<std::size_t>(b.data() - out->data()) : 0;
  out->resize(at + b.size());
  std::memcpy(out->data() + at, inside ? out->data() + from : b.data(), b.size());
}

}  // namespace smbgate::auth::detail
