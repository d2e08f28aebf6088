#include "auth/common/bytes.h"

namespace smbgate {

void SecureWipe(void* p, std::size_t n) noexcept {
  // A volatile pointer keeps the stores; the compiler cannot prove them dead.
  volatile std::uint8_t* v = static_cast<volatile std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i) v[i] = 0;
}

}  // namespace smbgate
