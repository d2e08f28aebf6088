// The node's side of a FUSE mount made for someone else: open /dev/fuse, mount it at a
// directory, and take mounts down again. Linux system calls only.
#pragma once

#include <string>

#include "src/csi/status.h"

namespace smbgate::csi {

struct FuseMountOptions {
  unsigned uid = 0;  // user_id=
  unsigned gid = 0;  // group_id=
  bool readonly = false;
  std::string source = "smbgate";
};

// Opens /dev/fuse and mounts it at `target` (type fuse.smbgate, nosuid, nodev, allow_other,
// rootmode=40000) on top of whatever is mounted there. Returns the descriptor (close-on-exec)
// or -1 with `status` set.
int MountFuse(const std::string& target, const FuseMountOptions& o, Status* status);

// The file system type mounted at exactly `path` (the topmost), or "" when none is, from
// /proc/self/mountinfo.
std::string MountedType(const std::string& path);

// Unmounts every mount stacked at `path` (lazily when busy). OK when nothing is mounted.
Status UnmountAll(const std::string& path);

}  // namespace smbgate::csi
