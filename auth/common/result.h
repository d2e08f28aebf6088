// Result<T>: a value or a std::error_code, shaped like std::expected so it can
// become one when the project moves to C++23. Header-only, standard library
// only, so every module (the pure codec included) can use it.
#pragma once

#include <cassert>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace smbgate {

template <class T>
class [[nodiscard]] Result {
 public:
  // Implicit on purpose: `return value;` and `return errc::x;` both read well.
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(std::error_code ec) : v_(std::in_place_index<1>, ec) {      // NOLINT
    assert(ec && "a Result error must be an error");
  }
  template <class E>
    requires std::is_error_code_enum_v<E>
  Result(E e) : Result(make_error_code(e)) {}  // NOLINT

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  std::error_code error() const noexcept {
    return has_value() ? std::error_code{} : std::get<1>(v_);
  }

 private:
  std::variant<T, std::error_code> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(std::error_code ec) : ec_(ec) {}  // NOLINT
  template <class E>
    requires std::is_error_code_enum_v<E>
  Result(E e) : ec_(make_error_code(e)) {}  // NOLINT

  bool has_value() const noexcept { return !ec_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const { assert(has_value()); }
  std::error_code error() const noexcept { return ec_; }

 private:
  std::error_code ec_;
};

// Propagates the error of a Result expression, else yields nothing.
#define SMBGATE_TRY_VOID(expr)                         \
  do {                                                 \
    auto smbgate_try_r_ = (expr);                      \
    if (!smbgate_try_r_) return smbgate_try_r_.error(); \
  } while (0)

}  // namespace smbgate
