#include "src/version.h"

namespace smbgate {

const char* Version() noexcept { return "0.1.0"; }

}  // namespace smbgate
