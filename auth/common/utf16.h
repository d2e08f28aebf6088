// UTF-8 <-> UTF-16LE, as SMB2 names and NTLM strings travel. Standard library
// only.
#pragma once

#include <string>
#include <string_view>

#include "auth/common/bytes.h"

namespace smbgate {

// Appends the UTF-16LE form of `in` to `out`. False on invalid UTF-8
// (overlong forms, surrogates, code points past U+10FFFF, truncation).
[[nodiscard]] bool Utf8ToUtf16le(std::string_view in, Bytes* out);
// Appends the UTF-8 form of `in` to `out`. False on an odd length or an
// unpaired surrogate.
[[nodiscard]] bool Utf16leToUtf8(ByteSpan in, std::string* out);

}  // namespace smbgate
