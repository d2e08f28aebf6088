#include "fuse/path_limits.h"

#include <cerrno>

namespace smbgate::fuse {

int PathLimitError(std::string_view name, std::string_view path) {
  if (name.size() > kNameMax) return ENAMETOOLONG;
  // The path as a process names it below the mount point: '/' + path and
  // the NUL must fit in PATH_MAX.
  if (path.size() + 2 > kPathMax) return ENAMETOOLONG;
  return 0;
}

}  // namespace smbgate::fuse
