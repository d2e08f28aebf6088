// The sliver of ASN.1 DER (ITU-T X.690) that SPNEGO tokens need: one-byte
// tags, definite lengths, bounds-checked reading of nested elements, and
// writing. Hand-written so that every length is checked against what
// encloses it.
//
// Thread-safety: Reader is a value over a span; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "auth/common/bytes.h"

namespace smbgate::auth::der {

inline constexpr std::uint8_t kBitString = 0x03;
inline constexpr std::uint8_t kOctetString = 0x04;
inline constexpr std::uint8_t kOid = 0x06;
inline constexpr std::uint8_t kEnumerated = 0x0a;
inline constexpr std::uint8_t kGeneralString = 0x1b;
inline constexpr std::uint8_t kSequence = 0x30;
inline constexpr std::uint8_t kApplication0 =
    0x60;  // [APPLICATION 0], constructed

// [n] EXPLICIT, context-specific and constructed (n < 31).
constexpr std::uint8_t Context(unsigned n) {
  return static_cast<std::uint8_t>(0xa0 | n);
}

// Longest length the reader accepts in long form, in bytes (4 bytes covers
// anything an SMB security buffer can hold).
inline constexpr std::size_t kMaxLengthOctets = 4;

// One element: its tag, its contents, and the whole encoding (tag and length
// included), both views into the reader's input.
struct Element {
  std::uint8_t tag = 0;
  ByteSpan value;
  ByteSpan encoded;
};

// Reads consecutive elements of a buffer. The error is sticky: after the
// first malformed element Next() keeps returning nullopt and ok() is false.
// Rejected: high-tag-number form, indefinite lengths (0x80), lengths of more
// than kMaxLengthOctets bytes, and lengths past the end of the buffer (for
// a nested reader: past the end of the enclosing element). Long-form lengths
// with leading zero octets (BER, not DER) are accepted: peers differ, and
// nothing here is signed over the peer's encoding.
class Reader {
 public:
  explicit Reader(ByteSpan data) : data_(data) {}

  bool ok() const { return ok_; }
  bool empty() const { return pos_ == data_.size(); }
  // Tag of the next element without consuming it (nullopt at the end).
  std::optional<std::uint8_t> PeekTag() const;
  // The next element, or nullopt (at the end, or sticky error).
  std::optional<Element> Next();
  // The next element if its tag is `tag`; otherwise nullopt and, unless
  // `optional`, the sticky error.
  std::optional<Element> Expect(std::uint8_t tag, bool optional = false);
  void Fail() { ok_ = false; }

 private:
  ByteSpan data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Appends tag || length || value in DER (minimal length).
void Append(Bytes* out, std::uint8_t tag, ByteSpan value);
// tag || length || value as a new buffer.
Bytes Encode(std::uint8_t tag, ByteSpan value);

}  // namespace smbgate::auth::der
