// Helpers for the codec unit tests: whole messages (header + body) built with
// the codec's own encoders, and little-endian patching of fields so a test can
// corrupt exactly one of them.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>

#include "auth/common/bytes.h"
#include "smb2/codec/errors.h"
#include "smb2/codec/header.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2::test {

inline Bytes HeaderOnly(Command cmd, bool response,
                        std::uint32_t status = 0) {
  Header h;
  h.command = cmd;
  h.status = status;
  h.flags = response ? kFlagServerToRedir : 0;
  h.message_id = 7;
  h.session_id = 0x1122334455667788ull;
  h.tree_id = 5;
  WireWriter w;
  Encode(h, w);
  return w.Take();
}

// Header for `cmd`, then the body of `pdu`.
template <class T>
Bytes Msg(Command cmd, const T& pdu, bool response) {
  Bytes b = HeaderOnly(cmd, response);
  WireWriter w(&b);
  Encode(pdu, w);
  return b;
}
template <class T>
Bytes Req(Command cmd, const T& pdu) {
  return Msg(cmd, pdu, false);
}
template <class T>
Bytes Rsp(Command cmd, const T& pdu) {
  return Msg(cmd, pdu, true);
}

inline void Put16(Bytes& b, std::size_t off, std::uint16_t v) {
  std::memcpy(b.data() + off, &v, 2);
}
inline void Put32(Bytes& b, std::size_t off, std::uint32_t v) {
  std::memcpy(b.data() + off, &v, 4);
}
inline std::uint16_t Get16(const Bytes& b, std::size_t off) {
  std::uint16_t v;
  std::memcpy(&v, b.data() + off, 2);
  return v;
}
inline std::uint32_t Get32(const Bytes& b, std::size_t off) {
  std::uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

// Body-relative offset -> message offset.
constexpr std::size_t B(std::size_t body_off) { return kHeaderSize + body_off; }

inline Bytes ToBytes(ByteSpan s) { return Bytes(s.begin(), s.end()); }
inline ByteSpan Span(const std::string& s) { return AsBytes(s); }

template <class R>
std::error_code ErrorOf(const R& r) {
  return r.error();
}

}  // namespace smbgate::smb2::test

// Expects `expr` (a Result) to fail with smb2::errc `code`.
#define EXPECT_ERRC(expr, code)                                    \
  do {                                                             \
    auto smbgate_r_ = (expr);                                      \
    EXPECT_FALSE(smbgate_r_.has_value());                          \
    EXPECT_EQ(smbgate_r_.error(), ::smbgate::smb2::make_error_code( \
                                      ::smbgate::smb2::errc::code)); \
  } while (0)
