// Byte buffers shared by every module. Standard library only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace smbgate {

// True when [off, off+len) lies inside a buffer of n bytes. Done in size_t so
// the sum of two 16- or 32-bit wire fields cannot wrap.
constexpr bool InBounds(std::size_t off, std::size_t len, std::size_t n) { return off <= n && len <= n - off; }

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;
using MutableByteSpan = std::span<std::uint8_t>;

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Overwrites memory in a way the optimizer may not remove.
void SecureWipe(void* p, std::size_t n) noexcept;

// A byte buffer for secrets (passwords, hashes, keys): wiped when freed or
// reassigned. Move-only so copies of a secret do not multiply silently.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n) : b_(n) {}
  explicit SecretBytes(ByteSpan s) : b_(s.begin(), s.end()) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& o) noexcept : b_(std::move(o.b_)) {}
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      Wipe();
      b_ = std::move(o.b_);
    }
    return *this;
  }
  ~SecretBytes() { Wipe(); }

  // An explicit copy, for the rare place that must keep a second one.
  SecretBytes Clone() const { return SecretBytes(ByteSpan(b_)); }

  std::uint8_t* data() noexcept { return b_.data(); }
  const std::uint8_t* data() const noexcept { return b_.data(); }
  std::size_t size() const noexcept { return b_.size(); }
  bool empty() const noexcept { return b_.empty(); }
  ByteSpan span() const noexcept { return b_; }
  MutableByteSpan mutable_span() noexcept { return b_; }
  std::uint8_t& operator[](std::size_t i) { return b_[i]; }
  const std::uint8_t& operator[](std::size_t i) const { return b_[i]; }

 private:
  void Wipe() noexcept {
    if (!b_.empty()) SecureWipe(b_.data(), b_.size());
  }
  std::vector<std::uint8_t> b_;
};

// A password or other secret text, wiped when freed. Never formatted.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string_view s) : b_(AsBytes(s)) {}
  std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(b_.data()), b_.size()};
  }
  bool empty() const noexcept { return b_.empty(); }
  SecretString Clone() const { return SecretString(view()); }

 private:
  SecretBytes b_;
};

}  // namespace smbgate
