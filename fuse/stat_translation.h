// Stat translation: what stat(2) shows for SMB attributes, and FILETIME
// (MS-DTYP 2.3.3) to and from timespec.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <ctime>

#include "fuse/fuse_fs.h"
#include "smb2/client/remote_fs.h"

namespace smbgate::fuse {

timespec FiletimeToTimespec(std::uint64_t ft);
std::uint64_t TimespecToFiletime(const timespec& t);  // before 1970: 1970
std::uint64_t NowFiletime();

// The stat of node `ino`: type and permission bits from the mount options
// (the DOS read-only attribute, and a read-only mount, clear the write
// bits), owner from uid= and gid=, sizes and times from the server; the
// server's file id as st_ino where it gave one. `symlink`: an mfsymlink.
struct stat ToStat(const FsOptions& opts, std::uint64_t ino, const smb2::FileAttributes& a, bool symlink);

}  // namespace smbgate::fuse
