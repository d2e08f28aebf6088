// Path limits: the errors a local file system gives for names and paths
// too long, before anything goes to the server. Linux's NAME_MAX (255
// bytes per component) and PATH_MAX (4096 bytes with the terminating NUL)
// hold on the mount as on a local disk, although SMB would take longer
// names (MS-FSCC 2.1.5: 255 UTF-16 code units per component) and paths
// (32,767 characters).
#pragma once

#include <string_view>

namespace smbgate::fuse {

inline constexpr std::size_t kNameMax = 255;
inline constexpr std::size_t kPathMax = 4096;

// ENAMETOOLONG if component `name` or the share path it makes, `path`
// (from the share root, without a leading '/'), is too long; else 0.
int PathLimitError(std::string_view name, std::string_view path);

}  // namespace smbgate::fuse
