// Ownership and permissions as other users see them: the uid/gid/file_mode/
// dir_mode options with allow_other (the kernel's default_permissions check
// against what smbgate reports), the server's refusal (a read-only share:
// EACCES) and a read-only mount (EROFS).
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "tests/e2e/e2e_fixture.h"

namespace smbgate::test::e2e {
namespace {

namespace fs = std::filesystem;

// In a forked child: become uid:gid with no supplementary groups.
bool DropTo(uid_t uid, gid_t gid) { return ::setgroups(0, nullptr) == 0 && ::setgid(gid) == 0 && ::setuid(uid) == 0; }

// The errno of `call` (0 on success), for a child's exit code.
template <class F>
int ErrnoOf(F&& call) {
  errno = 0;
  return call() < 0 ? errno : 0;
}

class Access : public E2eTest {};

TEST_F(Access, OwnerAndModesOptionsForOtherUsers) {
  ASSERT_TRUE(WriteFile(S("shared.txt"), "readable by the owner and group\n"));
  ASSERT_SYS(::mkdir(S("sub").c_str(), 0755));
  auto m = MountTestDir({"uid=65534", "gid=65534", "file_mode=0640", "dir_mode=0750", "allow_other"});
  ASSERT_TRUE(m);

  struct stat st;
  ASSERT_SYS(::stat((*m / "shared.txt").c_str(), &st));
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_EQ(st.st_mode, S_IFREG | 0640u) << std::oct << st.st_mode;
  ASSERT_SYS(::stat((*m / "sub").c_str(), &st));
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0750u) << std::oct << st.st_mode;
  ASSERT_SYS(::stat(m->path().c_str(), &st));
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0750u) << std::oct << st.st_mode;

  const std::string file = *m / "shared.txt";
  const std::string root = m->path();
  // The owner (uid 65534): reads, writes, creates files and directories.
  const int owner = RunInChild([&]() -> int {
    if (!DropTo(65534, 65534)) return 1;
    if (ReadFile(file) != "readable by the owner and group\n") return 2;
    const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return 3;
    if (::write(fd, "appended by 65534\n", 18) != 18 || ::close(fd) != 0) return 4;
    if (!WriteFile(root + "/made-by-65534", "new file")) return 5;
    if (::mkdir((root + "/dir-by-65534").c_str(), 0700) != 0) return 6;
    if (!WriteFile(root + "/dir-by-65534/inner", "inner")) return 7;
    struct stat s;
    if (::stat((root + "/made-by-65534").c_str(), &s) != 0 || s.st_uid != 65534) return 8;
    DIR* d = ::opendir(root.c_str());
    if (!d) return 9;
    ::closedir(d);
    return 0;
  });
  EXPECT_EQ(owner, 0) << "a step of the owner's child failed (see its return codes)";
  EXPECT_EQ(ReadFile(S("shared.txt")), "readable by the owner and group\nappended by 65534\n");
  EXPECT_EQ(ReadFile(S("made-by-65534")), "new file");
  EXPECT_EQ(ReadFile(S("dir-by-65534/inner")), "inner");

  // Another user (65533, not in the group): no way in (dir_mode 0750).
  const int other = RunInChild([&]() -> int {
    if (!DropTo(65533, 65533)) return 1;
    if (ErrnoOf([&] { return ::open(file.c_str(), O_RDONLY); }) != EACCES) return 2;
    if (ErrnoOf([&] { return ::open(file.c_str(), O_WRONLY); }) != EACCES) return 3;
    if (ErrnoOf([&] { return ::open((root + "/new").c_str(), O_CREAT | O_WRONLY, 0644); }) != EACCES) return 4;
    struct stat s;
    if (ErrnoOf([&] { return ::stat(file.c_str(), &s); }) != EACCES) return 5;
    if (::opendir(root.c_str()) != nullptr || errno != EACCES) return 6;
    return 0;
  });
  EXPECT_EQ(other, 0) << "uid 65533 was not refused with EACCES everywhere";

  // A member of the group (gid 65534): reads (0640 and 0750 give the group
  // r and r-x), cannot write or create.
  const int group = RunInChild([&]() -> int {
    if (!DropTo(65533, 65534)) return 1;
    if (ReadFile(file).empty()) return 2;
    if (ErrnoOf([&] { return ::open(file.c_str(), O_WRONLY); }) != EACCES) return 3;
    if (ErrnoOf([&] { return ::open((root + "/new").c_str(), O_CREAT | O_WRONLY, 0644); }) != EACCES) return 4;
    if (ErrnoOf([&] { return ::unlink(file.c_str()); }) != EACCES) return 5;
    return 0;
  });
  EXPECT_EQ(group, 0) << "the group member's child failed (see its return codes)";
  EXPECT_FALSE(fs::exists(S("new")));
  EXPECT_TRUE(fs::exists(S("shared.txt")));
  StopClean(*m);
}

TEST_F(Access, WithoutAllowOtherOnlyTheMountingUserEnters) {
  ASSERT_TRUE(WriteFile(S("f"), "x"));
  auto m = MountTestDir({"uid=65534", "gid=65534"});
  ASSERT_TRUE(m);
  const std::string file = *m / "f";
  EXPECT_EQ(ReadFile(file), "x");
  const int rc = RunInChild([&]() -> int {
    if (!DropTo(65534, 65534)) return 1;
    struct stat s;
    // FUSE refuses every user but the one who mounted (root here).
    return ErrnoOf([&] { return ::stat(file.c_str(), &s); }) == EACCES ? 0 : 2;
  });
  EXPECT_EQ(rc, 0);
  StopClean(*m);
}

TEST_F(Access, ServerRefusalIsEacces) {
  // The read-only share: smbd refuses every change.
  MountParams p = Params();
  p.target = server_->Target();
  p.target.replace(p.target.rfind('/') + 1, std::string::npos, server_->readonly_share());
  auto m = StartMount(p);
  ASSERT_TRUE(m);
  const std::string readme = *m / "readme.txt";
  EXPECT_EQ(ReadFile(readme), "read-only share\n");
  EXPECT_ERRNO(::open(readme.c_str(), O_WRONLY), EACCES);
  EXPECT_ERRNO(::open(readme.c_str(), O_RDWR | O_TRUNC), EACCES);
  EXPECT_ERRNO(::open((*m / "new.txt").c_str(), O_CREAT | O_WRONLY, 0644), EACCES);
  EXPECT_ERRNO(::mkdir((*m / "newdir").c_str(), 0755), EACCES);
  // Rename: Samba 4.17 answers STATUS_MEDIA_WRITE_PROTECTED on a read-only
  // share, which is EROFS (as in the kernel cifs client's table). So does
  // an unlink that finds the file still open: the release of the read above
  // runs after close(2) returns, and an unlink of an open file renames it
  // out of the way first (silly rename).
  errno = 0;
  EXPECT_EQ(::unlink(readme.c_str()), -1);
  EXPECT_TRUE(errno == EACCES || errno == EROFS) << std::strerror(errno);
  errno = 0;
  EXPECT_EQ(::rename(readme.c_str(), (*m / "moved.txt").c_str()), -1);
  EXPECT_TRUE(errno == EACCES || errno == EROFS) << std::strerror(errno);
  EXPECT_ERRNO(::truncate(readme.c_str(), 0), EACCES);
  EXPECT_ERRNO(::symlink("readme.txt", (*m / "link").c_str()), EACCES);
  EXPECT_ERRNO(::link(readme.c_str(), (*m / "hard").c_str()), EACCES);
  EXPECT_ERRNO(::chmod(readme.c_str(), 0444), EACCES);
  EXPECT_EQ(ReadFile(server_->readonly_share_dir() / "readme.txt"), "read-only share\n");
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(server_->readonly_share_dir())) ++n;
  EXPECT_EQ(n, 1u) << "nothing was created on the read-only share";
  StopClean(*m);
}

TEST_F(Access, ReadOnlyMountIsErofs) {
  ASSERT_TRUE(WriteFile(S("f"), "content"));
  ASSERT_SYS(::mkdir(S("d").c_str(), 0755));
  auto m = MountTestDir({"ro"});
  ASSERT_TRUE(m);
  const std::string f = *m / "f";
  EXPECT_EQ(ReadFile(f), "content");
  struct stat st;
  ASSERT_SYS(::stat(f.c_str(), &st));
  EXPECT_EQ(st.st_mode & 0222, 0u) << "no write bits on a read-only mount";
  struct statvfs v;
  ASSERT_SYS(::statvfs(m->path().c_str(), &v));
  EXPECT_TRUE(v.f_flag & ST_RDONLY);
  EXPECT_ERRNO(::open(f.c_str(), O_WRONLY), EROFS);
  EXPECT_ERRNO(::open((*m / "new").c_str(), O_CREAT | O_WRONLY, 0644), EROFS);
  EXPECT_ERRNO(::mkdir((*m / "nd").c_str(), 0755), EROFS);
  EXPECT_ERRNO(::rmdir((*m / "d").c_str()), EROFS);
  EXPECT_ERRNO(::unlink(f.c_str()), EROFS);
  EXPECT_ERRNO(::rename(f.c_str(), (*m / "g").c_str()), EROFS);
  EXPECT_ERRNO(::truncate(f.c_str(), 0), EROFS);
  EXPECT_ERRNO(::chmod(f.c_str(), 0444), EROFS);
  EXPECT_ERRNO(::symlink("f", (*m / "l").c_str()), EROFS);
  EXPECT_ERRNO(::utimensat(AT_FDCWD, f.c_str(), nullptr, 0), EROFS);
  EXPECT_EQ(ReadFile(S("f")), "content");
  EXPECT_TRUE(fs::is_directory(S("d")));
  StopClean(*m);
}

}  // namespace
}  // namespace smbgate::test::e2e
