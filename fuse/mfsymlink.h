// Minshall-French symlinks ("mfsymlinks"): a symbolic link stored as a
// regular file of exactly 1067 bytes, the format the Linux cifs client uses
// with -o mfsymlinks, so links made by either client are seen by both:
//   "XSym\n" "%04u\n" (target length) 32 lowercase hex digits of the MD5 of
//   the target "\n", the target, then spaces up to 1067 bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "auth/common/bytes.h"

namespace smbgate::fuse {

inline constexpr std::size_t kMfSymlinkSize = 1067;
inline constexpr std::size_t kMfSymlinkMaxTarget = 1024;

// The file content for a link to `target`; nullopt if the target is empty
// or longer than 1024 bytes.
std::optional<Bytes> EncodeMfSymlink(std::string_view target);
// The target if `content` is a well-formed link (size, magic, length and
// MD5 all checked), else nullopt.
std::optional<std::string> DecodeMfSymlink(ByteSpan content);

}  // namespace smbgate::fuse
