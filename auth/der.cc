#include "auth/der.h"

#include "auth/byte_order.h"

namespace smbgate::auth::der {

std::optional<std::uint8_t> Reader::PeekTag() const {
  if (!ok_ || pos_ >= data_.size()) return std::nullopt;
  return data_[pos_];
}

std::optional<Element> Reader::Next() {
  if (!ok_ || pos_ >= data_.size()) return std::nullopt;
  const std::size_t start = pos_;
  const std::size_t n = data_.size();
  std::size_t p = pos_;
  const std::uint8_t tag = data_[p++];
  // X.690 8.1.2.4: tag number 31 introduces the multi-byte form, which no
  // SPNEGO element uses.
  if ((tag & 0x1f) == 0x1f || p >= n) {
    ok_ = false;
    return std::nullopt;
  }
  const std::uint8_t first = data_[p++];
  std::size_t len = 0;
  if (first < 0x80) {
    len = first;
  } else {
    // 0x80 is the indefinite form (BER only); 0xff is reserved.
    const std::size_t octets = first & 0x7f;
    if (octets == 0 || octets > kMaxLengthOctets ||
        !detail::InBounds(p, octets, n)) {
      ok_ = false;
      return std::nullopt;
    }
    for (std::size_t i = 0; i < octets; ++i) len = (len << 8) | data_[p++];
  }
  if (!detail::InBounds(p, len, n)) {
    ok_ = false;
    return std::nullopt;
  }
  pos_ = p + len;
  return Element{tag, data_.subspan(p, len),
                 data_.subspan(start, pos_ - start)};
}

std::optional<Element> Reader::Expect(std::uint8_t tag, bool optional) {
  const auto t = PeekTag();
  if (!t || *t != tag) {
    if (!optional) ok_ = false;
    return std::nullopt;
  }
  return Next();
}

void Append(Bytes* out, std::uint8_t tag, ByteSpan value) {
  out->push_back(tag);
  const std::size_t len = value.size();
  if (len < 0x80) {
    out->push_back(static_cast<std::uint8_t>(len));
  } else {
    int octets = 1;
    while (octets < 8 && (len >> (8 * octets)) != 0) ++octets;
    out->push_back(static_cast<std::uint8_t>(0x80 | octets));
    for (int i = octets - 1; i >= 0; --i) {
      out->push_back(static_cast<std::uint8_t>(len >> (8 * i)));
    }
  }
  detail::Append(out, value);
}

Bytes Encode(std::uint8_t tag, ByteSpan value) {
  Bytes out;
  out.reserve(value.size() + 6);
  Append(&out, tag, value);
  return out;
}

}  // namespace smbgate::auth::der
