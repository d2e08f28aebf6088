#include "fuse/stat_translation.h"

namespace smbgate::fuse {
namespace {

// MS-DTYP 2.3.3: FILETIME counts 100 ns intervals since 1601-01-01 UTC.
constexpr std::uint64_t kUnixEpochFiletime = 116444736000000000ull;

}  // namespace

timespec FiletimeToTimespec(std::uint64_t ft) {
  if (ft < kUnixEpochFiletime) return {0, 0};
  const std::uint64_t d = ft - kUnixEpochFiletime;
  return {static_cast<time_t>(d / 10000000), static_cast<long>((d % 10000000) * 100)};
}

std::uint64_t TimespecToFiletime(const timespec& t) {
  if (t.tv_sec < 0) return kUnixEpochFiletime;  // before 1970: clamp
  return kUnixEpochFiletime + static_cast<std::uint64_t>(t.tv_sec) * 10000000 +
         static_cast<std::uint64_t>(t.tv_nsec) / 100;
}

std::uint64_t NowFiletime() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return TimespecToFiletime(t);
}

struct stat ToStat(const FsOptions& opts, std::uint64_t ino, const smb2::FileAttributes& a, bool symlink) {
  struct stat st {};
  st.st_ino = a.file_id ? a.file_id : ino;
  if (a.is_directory()) {
    st.st_mode = S_IFDIR | (opts.dir_mode & 07777);
    st.st_nlink = 2;
  } else if (symlink) {
    st.st_mode = S_IFLNK | 0777;
    st.st_nlink = 1;
  } else {
    st.st_mode = S_IFREG | (opts.file_mode & 07777);
    st.st_nlink = a.nlink ? a.nlink : 1;
  }
  // Like cifs: the DOS read-only attribute clears every write bit.
  if ((a.file_attributes & smb2::kAttributeReadonly) && !symlink) st.st_mode &= ~0222;
  if (opts.read_only) st.st_mode &= ~0222;
  st.st_uid = opts.uid;
  st.st_gid = opts.gid;
  st.st_size = symlink ? 0 : static_cast<off_t>(a.end_of_file);
  st.st_blksize = 1 << 20;
  st.st_blocks = static_cast<blkcnt_t>((a.allocation_size + 511) / 512);
  st.st_atim = FiletimeToTimespec(a.last_access_time);
  st.st_mtim = FiletimeToTimespec(a.last_write_time);
  st.st_ctim = FiletimeToTimespec(a.change_time);
  return st;
}

}  // namespace smbgate::fuse
