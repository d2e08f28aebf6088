#include "src/csi/fuse_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace smbgate::csi {
namespace {

std::string Errno(int e) { return strerror(e); }

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                                      (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

int MountFuse(const std::string& target, const FuseMountOptions& o, Status* status) {
  const int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    *status = Status::Error(Code::kFailedPrecondition,
                            "cannot open /dev/fuse: " + Errno(e) +
                                " (the driver container needs /dev/fuse and privilege)");
    return -1;
  }
  const std::string opts = "fd=" + std::to_string(fd) + ",rootmode=40000,user_id=" +
                           std::to_string(o.uid) + ",group_id=" + std::to_string(o.gid) +
                           ",allow_other";
  unsigned long flags = MS_NOSUID | MS_NODEV;
  if (o.readonly) flags |= MS_RDONLY;
  if (mount(o.source.c_str(), target.c_str(), "fuse.smbgate", flags, opts.c_str()) != 0) {
    const int e = errno;
    close(fd);
    *status = Status::Error(Code::kInternal, "mounting /dev/fuse at " + target + ": " + Errno(e));
    return -1;
  }
  *status = Status::Ok();
  return fd;
}

std::string MountedType(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::string type;
  // Later lines are mounted later: the last match is the topmost mount.
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    if (Unescape(point) != path) continue;
    std::string field;
    while (f >> field && field != "-") {
    }
    std::string fstype;
    f >> fstype;
    type = fstype;
  }
  return type;
}

Status UnmountAll(const std::string& path) {
  for (int i = 0; i < 64; i++) {
    if (umount2(path.c_str(), UMOUNT_NOFOLLOW) == 0) continue;
    int e = errno;
    if (e == EBUSY && umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    if (e == EBUSY) e = errno;
    if (e == EINVAL || e == ENOENT) return Status::Ok();  // not (or no longer) a mount point
    return Status::Error(Code::kInternal, "unmounting " + path + ": " + Errno(e));
  }
  return Status::Error(Code::kInternal, "unmounting " + path + ": more than 64 mounts stacked");
}

}  // namespace smbgate::csi
