// WireReader / WireWriter: little-endian access to SMB2 frames over spans.
// Loads go through memcpy, never casts of buffers to packed structs. The
// reader's error is sticky: after the first out-of-bounds read every later
// read returns zero and ok() stays false, so one check at the end is enough
// and an unchecked read cannot produce data.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "auth/common/bytes.h"
#include "auth/common/utf16.h"

namespace smbgate::smb2 {

class WireReader {
 public:
  explicit WireReader(ByteSpan data) : data_(data) {}

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  std::size_t pos() const noexcept { return pos_; }
  std::size_t size() const noexcept { return data_.size(); }
  std::size_t remaining() const noexcept {
    return ok_ ? data_.size() - pos_ : 0;
  }
  ByteSpan data() const noexcept { return data_; }

  std::uint8_t U8() { return Load<std::uint8_t>(); }
  std::uint16_t U16() { return Load<std::uint16_t>(); }
  std::uint32_t U32() { return Load<std::uint32_t>(); }
  std::uint64_t U64() { return Load<std::uint64_t>(); }

  // A view of the next n bytes (into the frame, not a copy).
  ByteSpan Bytes(std::size_t n) {
    if (!ok_ || !InBounds(pos_, n, data_.size())) {
      ok_ = false;
      return {};
    }
    ByteSpan s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  void Skip(std::size_t n) { (void)Bytes(n); }
  // Moves to an absolute offset; past the end is an error.
  void Seek(std::size_t off) {
    if (!ok_ || off > data_.size()) {
      ok_ = false;
      return;
    }
    pos_ = off;
  }
  void Fail() noexcept { ok_ = false; }

  // A view of [off, off+len) of the whole buffer, checked; sets the sticky
  // error when out of range. Used for offset/length pairs in fixed parts.
  ByteSpan Slice(std::size_t off, std::size_t len) {
    if (!ok_ || !InBounds(off, len, data_.size())) {
      ok_ = false;
      return {};
    }
    return data_.subspan(off, len);
  }

 private:
  template <class T>
  T Load() {
    T v{};
    if (!ok_ || !InBounds(pos_, sizeof(T), data_.size())) {
      ok_ = false;
      return 0;
    }
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;  // SMB2 is little-endian, as is every host smbgate builds for.
  }

  ByteSpan data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

static_assert(std::endian::native == std::endian::little,
              "smbgate assumes a little-endian host");

class WireWriter {
 public:
  WireWriter() = default;
  explicit WireWriter(smbgate::Bytes* out) : out_(out) {}

  std::size_t pos() const noexcept { return buf().size(); }
  smbgate::Bytes& buf() noexcept { return out_ ? *out_ : own_; }
  const smbgate::Bytes& buf() const noexcept { return out_ ? *out_ : own_; }
  smbgate::Bytes Take() { return std::move(buf()); }

  void U8(std::uint8_t v) { Store(v); }
  void U16(std::uint16_t v) { Store(v); }
  void U32(std::uint32_t v) { Store(v); }
  void U64(std::uint64_t v) { Store(v); }
  void Bytes(ByteSpan s) { Append(s.data(), s.size()); }
  void Zeros(std::size_t n) { buf().insert(buf().end(), n, 0); }
  // Pads with zeros up to a multiple of `align` (a power of two).
  void Align(std::size_t align) {
    while (pos() % align) buf().push_back(0);
  }

  // Overwrite fields already written (offsets and lengths known later).
  void PutU16At(std::size_t off, std::uint16_t v) { Put(off, v); }
  void PutU32At(std::size_t off, std::uint32_t v) { Put(off, v); }
  void PutU64At(std::size_t off, std::uint64_t v) { Put(off, v); }

 private:
  template <class T>
  void Store(T v) {
    Append(&v, sizeof(T));
  }
  // resize and memcpy rather than vector::insert, whose inlined copy GCC 12 at -O3 takes for
  // an overflow (-Warray-bounds, -Wstringop-overflow false positives).
  // The source may lie in this very buffer (as vector::insert allows): it is copied from its
  // offset after the resize, which may move the buffer.
  void Append(const void* p, std::size_t n) {
    if (n == 0) return;
    smbgate::Bytes& b = buf();
    const auto* src = static_cast<const std::uint8_t*>(p);
    const std::size_t at = b.size();
    const bool inside = std::less_equal<>()(b.data(), src) && std::less<>()(src, b.data() + at);
    const std::size_t from = inside ? static_cast<std::size_t>(src - b.data()) : 0;
    b.resize(at + n);
    std::memcpy(b.data() + at, inside ? b.data() + from : src, n);
  }
  template <class T>
  void Put(std::size_t off, T v) {
    std::memcpy(buf().data() + off, &v, sizeof(T));
  }

  smbgate::Bytes* out_ = nullptr;
  smbgate::Bytes own_;
};

}  // namespace smbgate::smb2
