// Every filesystem operation through a real `smbgate mount` of the test
// smbd (SMB 3.1.1, signing required), each checked against the server's own
// directory: what the application sees must be what the share holds.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace smbgate::test::e2e {
namespace {

namespace fs = std::filesystem;

std::string Pattern(std::uint64_t seed, std::size_t n) {
  std::string s(n, '\0');
  PatternFill(seed, 0, s.data(), n);
  return s;
}

timespec Ts(time_t s, long ns) {
  timespec t;
  t.tv_sec = s;
  t.tv_nsec = ns;
  return t;
}

std::set<std::string> List(const std::string& dir, std::map<std::string, unsigned char>* types = nullptr) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    ADD_FAILURE() << "opendir " << dir << ": " << std::strerror(errno);
    return names;
  }
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.insert(n);
    if (types) (*types)[n] = e->d_type;
  }
  ::closedir(d);
  return names;
}

// The DOS attributes Samba keeps for a file, from its user.DOSATTRIB xattr
// (`store dos attributes = yes`, the 4.17 default). The NDR blob of
// xattr_DOSATTRIB (librpc/idl/xattr.idl) starts with attrib_hex, a
// NUL-terminated "0x.." string that Samba keeps in step with the binary
// field.
std::optional<std::uint32_t> DosAttributes(const std::string& path) {
  unsigned char buf[256];
  const ssize_t n = ::getxattr(path.c_str(), "user.DOSATTRIB", buf, sizeof buf);
  if (n < 16) return std::nullopt;
  if (buf[0] == '0' && buf[1] == 'x') {
    return static_cast<std::uint32_t>(std::strtoul(reinterpret_cast<const char*>(buf), nullptr, 16));
  }
  // Samba 4.17 leaves attrib_hex empty: "\0", a pad byte, uint16 version
  // (3..5), uint16 union level, 2 pad bytes, uint32 valid_flags, then
  // uint32 attrib at offset 12 (xattr_DosInfo3/4/5 all start so).
  const unsigned version = buf[2] | (buf[3] << 8);
  if (buf[0] != 0 || version < 3 || version > 5) return std::nullopt;
  return static_cast<std::uint32_t>(buf[12] | (buf[13] << 8) | (buf[14] << 16) |
                                    (static_cast<std::uint32_t>(buf[15]) << 24));
}

class FsOps : public E2eTest {};

TEST_F(FsOps, CreateWriteReadStat) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string f = *m / "data.bin";
  const std::string content = Pattern(1, 300'001);
  {
    const int fd = ::open(f.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
    ASSERT_SYS(fd);
    EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    EXPECT_SYS(::close(fd));
  }
  EXPECT_EQ(Sha256File(S("data.bin")), Sha256(content.data(), content.size()));
  EXPECT_EQ(Sha256File(f), Sha256(content.data(), content.size()));

  struct stat st, sst;
  ASSERT_SYS(::stat(f.c_str(), &st));
  ASSERT_SYS(::stat(S("data.bin").c_str(), &sst));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u) << "default file_mode";
  EXPECT_EQ(st.st_uid, ::getuid());
  EXPECT_EQ(st.st_gid, ::getgid());
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(content.size()));
  EXPECT_EQ(st.st_mtim.tv_sec, sst.st_mtim.tv_sec);
  EXPECT_EQ(st.st_mtim.tv_nsec / 100, sst.st_mtim.tv_nsec / 100) << "FILETIME has 100 ns resolution";
  EXPECT_GE(st.st_blocks * 512, static_cast<blkcnt_t>(content.size()));

  // The root of the mount is a directory with dir_mode.
  ASSERT_SYS(::stat(m->path().c_str(), &st));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  // O_EXCL on an existing file, a missing file, O_TRUNC, O_APPEND.
  EXPECT_ERRNO(::open(f.c_str(), O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);
  EXPECT_ERRNO(::open((*m / "missing").c_str(), O_RDONLY), ENOENT);
  EXPECT_ERRNO(::open((*m / "missing/x").c_str(), O_RDONLY), ENOENT);
  {
    const int fd = ::open(f.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    ASSERT_SYS(fd);
    EXPECT_EQ(::write(fd, "abc", 3), 3);
    EXPECT_SYS(::close(fd));
    EXPECT_TRUE(SameBytes(ReadFile(S("data.bin")), "abc"));
  }
  {
    const int fd = ::open(f.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    ASSERT_SYS(fd);
    EXPECT_EQ(::write(fd, "def", 3), 3);
    EXPECT_SYS(::close(fd));
    EXPECT_TRUE(SameBytes(ReadFile(S("data.bin")), "abcdef"));
    EXPECT_TRUE(SameBytes(ReadFile(f), "abcdef"));
  }

  // A file made on the server is seen through the mount.
  ASSERT_TRUE(WriteFile(S("server-made.txt"), "from the server\n"));
  EXPECT_TRUE(SameBytes(ReadFile(*m / "server-made.txt"), "from the server\n"));
  // Changed on the server (another client): seen once the attribute
  // timeout (actimeo=1) has passed, longer and then shorter.
  ASSERT_TRUE(WriteFile(S("server-made.txt"), "changed on the server, longer\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_TRUE(SameBytes(ReadFile(*m / "server-made.txt"), "changed on the server, longer\n"));
  ASSERT_TRUE(WriteFile(S("server-made.txt"), "short\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ASSERT_SYS(::stat((*m / "server-made.txt").c_str(), &st));
  EXPECT_EQ(st.st_size, 6);
  EXPECT_TRUE(SameBytes(ReadFile(*m / "server-made.txt"), "short\n"));

  // Reads at and past the end of the file.
  {
    const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_SYS(fd);
    char buf[16];
    EXPECT_EQ(::pread(fd, buf, sizeof buf, 4), 2);
    EXPECT_EQ(::pread(fd, buf, sizeof buf, 6), 0);
    EXPECT_EQ(::pread(fd, buf, sizeof buf, 1 << 20), 0);
    EXPECT_SYS(::close(fd));
  }
  StopClean(*m);
}

TEST_F(FsOps, ReadDirMatchesServer) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  std::set<std::string> want;
  for (int i = 0; i < 20; ++i) {
    const std::string n = "mount-" + std::to_string(i) + ".txt";
    ASSERT_TRUE(WriteFile(*m / n, n)) << n << ": " << std::strerror(errno);
    want.insert(n);
  }
  for (int i = 0; i < 20; ++i) {
    const std::string n = "server-" + std::to_string(i);
    ASSERT_TRUE(WriteFile(S(n), n));
    want.insert(n);
  }
  // Names with blanks, unicode, and a leading dot.
  for (const char* n : {"with space", "\xC3\xA9t\xC3\xA9.txt", ".hidden"}) {
    ASSERT_TRUE(WriteFile(*m / n, n)) << n;
    want.insert(n);
  }
  ASSERT_SYS(::mkdir((*m / "subdir").c_str(), 0755));
  want.insert("subdir");

  std::map<std::string, unsigned char> types;
  EXPECT_EQ(List(m->path(), &types), want);
  EXPECT_EQ(types["subdir"], DT_DIR);
  EXPECT_EQ(types["server-3"], DT_REG);
  std::set<std::string> on_server;
  for (const auto& e : fs::directory_iterator(server_dir())) on_server.insert(e.path().filename().string());
  EXPECT_EQ(on_server, want);
  EXPECT_TRUE(SameBytes(ReadFile(*m / "\xC3\xA9t\xC3\xA9.txt"), "\xC3\xA9t\xC3\xA9.txt"));
  StopClean(*m);
}

TEST_F(FsOps, MkdirRmdirUnlink) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string d = *m / "dir";
  ASSERT_SYS(::mkdir(d.c_str(), 0700));
  EXPECT_TRUE(fs::is_directory(S("dir")));
  EXPECT_ERRNO(::mkdir(d.c_str(), 0700), EEXIST);
  struct stat st;
  ASSERT_SYS(::stat(d.c_str(), &st));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u) << "dir_mode, not the mode asked for (as cifs)";

  ASSERT_SYS(::mkdir((d + "/nested").c_str(), 0755));
  ASSERT_TRUE(WriteFile(d + "/nested/file", "x"));
  EXPECT_TRUE(fs::exists(S("dir/nested/file")));
  EXPECT_ERRNO(::rmdir(d.c_str()), ENOTEMPTY);
  EXPECT_ERRNO(::rmdir((d + "/nested").c_str()), ENOTEMPTY);
  EXPECT_TRUE(fs::exists(S("dir/nested/file"))) << "a refused rmdir removed nothing";
  EXPECT_ERRNO(::rmdir((d + "/nested/file").c_str()), ENOTDIR);
  EXPECT_ERRNO(::unlink((d + "/nested").c_str()), EISDIR);
  EXPECT_ERRNO(::mkdir((d + "/nested/file/x").c_str(), 0755), ENOTDIR);

  ASSERT_SYS(::unlink((d + "/nested/file").c_str()));
  EXPECT_FALSE(fs::exists(S("dir/nested/file")));
  EXPECT_ERRNO(::unlink((d + "/nested/file").c_str()), ENOENT);
  ASSERT_SYS(::rmdir((d + "/nested").c_str()));
  ASSERT_SYS(::rmdir(d.c_str()));
  EXPECT_FALSE(fs::exists(S("dir")));
  EXPECT_ERRNO(::rmdir(d.c_str()), ENOENT);
  EXPECT_ERRNO(::stat(d.c_str(), &st), ENOENT);

  // Removed on the server behind the mount's back: gone after the
  // attribute timeout (actimeo=1 by default).
  ASSERT_TRUE(WriteFile(*m / "gone-soon", "x"));
  ASSERT_SYS(::stat((*m / "gone-soon").c_str(), &st));
  fs::remove(S("gone-soon"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_ERRNO(::stat((*m / "gone-soon").c_str(), &st), ENOENT);
  StopClean(*m);
}

TEST_F(FsOps, Rename) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  ASSERT_TRUE(WriteFile(*m / "a", "content of a"));
  ASSERT_TRUE(WriteFile(*m / "b", "content of b"));
  ASSERT_TRUE(WriteFile(*m / "c", "content of c"));
  ASSERT_SYS(::mkdir((*m / "d").c_str(), 0755));

  // Plain rename, into a subdirectory and back.
  ASSERT_SYS(::rename((*m / "a").c_str(), (*m / "d/a2").c_str()));
  EXPECT_FALSE(fs::exists(S("a")));
  EXPECT_TRUE(SameBytes(ReadFile(S("d/a2")), "content of a"));
  EXPECT_TRUE(SameBytes(ReadFile(*m / "d/a2"), "content of a"));
  ASSERT_SYS(::rename((*m / "d/a2").c_str(), (*m / "a").c_str()));
  EXPECT_TRUE(SameBytes(ReadFile(S("a")), "content of a"));

  // Replacing an existing target.
  ASSERT_SYS(::rename((*m / "a").c_str(), (*m / "b").c_str()));
  EXPECT_FALSE(fs::exists(S("a")));
  EXPECT_TRUE(SameBytes(ReadFile(S("b")), "content of a"));
  EXPECT_TRUE(SameBytes(ReadFile(*m / "b"), "content of a"));
  struct stat st;
  EXPECT_ERRNO(::stat((*m / "a").c_str(), &st), ENOENT);

  // RENAME_NOREPLACE: refused onto an existing name, both unchanged.
  EXPECT_ERRNO(::renameat2(AT_FDCWD, (*m / "c").c_str(), AT_FDCWD, (*m / "b").c_str(), RENAME_NOREPLACE), EEXIST);
  EXPECT_TRUE(SameBytes(ReadFile(S("b")), "content of a"));
  EXPECT_TRUE(SameBytes(ReadFile(S("c")), "content of c"));
  // ... and the target made on the server only (not known to the kernel).
  ASSERT_TRUE(WriteFile(S("server-target"), "server"));
  EXPECT_ERRNO(::renameat2(AT_FDCWD, (*m / "c").c_str(), AT_FDCWD, (*m / "server-target").c_str(), RENAME_NOREPLACE),
               EEXIST);
  EXPECT_TRUE(SameBytes(ReadFile(S("server-target")), "server"));
  ASSERT_SYS(::renameat2(AT_FDCWD, (*m / "c").c_str(), AT_FDCWD, (*m / "c2").c_str(), RENAME_NOREPLACE));
  EXPECT_TRUE(SameBytes(ReadFile(S("c2")), "content of c"));
  // No atomic exchange over SMB2.
  EXPECT_ERRNO(::renameat2(AT_FDCWD, (*m / "c2").c_str(), AT_FDCWD, (*m / "b").c_str(), RENAME_EXCHANGE), EINVAL);

  // A directory with content, renamed; its files follow.
  ASSERT_TRUE(WriteFile(*m / "d/inner", "inner"));
  ASSERT_SYS(::rename((*m / "d").c_str(), (*m / "e").c_str()));
  EXPECT_TRUE(SameBytes(ReadFile(S("e/inner")), "inner"));
  EXPECT_TRUE(SameBytes(ReadFile(*m / "e/inner"), "inner"));
  EXPECT_FALSE(fs::exists(S("d")));
  // A file over a directory, a directory over a file.
  EXPECT_ERRNO(::rename((*m / "b").c_str(), (*m / "e").c_str()), EISDIR);
  EXPECT_ERRNO(::rename((*m / "e").c_str(), (*m / "b").c_str()), ENOTDIR);
  // A missing source.
  EXPECT_ERRNO(::rename((*m / "nothing").c_str(), (*m / "x").c_str()), ENOENT);
  StopClean(*m);
}

TEST_F(FsOps, TruncateShrinkAndExtend) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string f = *m / "t";
  const std::string content = Pattern(2, 100'000);
  ASSERT_TRUE(WriteFile(f, content));

  ASSERT_SYS(::truncate(f.c_str(), 1000));
  EXPECT_EQ(fs::file_size(S("t")), 1000u);
  EXPECT_TRUE(SameBytes(ReadFile(S("t")), content.substr(0, 1000)));
  ASSERT_SYS(::truncate(f.c_str(), 5000));
  std::string want = content.substr(0, 1000) + std::string(4000, '\0');
  EXPECT_TRUE(SameBytes(ReadFile(S("t")), want));
  EXPECT_TRUE(SameBytes(ReadFile(f), want));

  const int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_SYS(fd);
  ASSERT_SYS(::ftruncate(fd, 10));
  struct stat st;
  ASSERT_SYS(::fstat(fd, &st));
  EXPECT_EQ(st.st_size, 10);
  EXPECT_EQ(fs::file_size(S("t")), 10u);
  ASSERT_SYS(::ftruncate(fd, 3 << 20));
  ASSERT_SYS(::fstat(fd, &st));
  EXPECT_EQ(st.st_size, 3 << 20);
  EXPECT_EQ(fs::file_size(S("t")), 3u << 20);
  char buf[64] = {1};
  EXPECT_EQ(::pread(fd, buf, sizeof buf, (3 << 20) - 64), 64);
  EXPECT_EQ(std::string(buf, 64), std::string(64, '\0'));
  // Write after an extension, then shrink below it.
  EXPECT_EQ(::pwrite(fd, "tail", 4, 2 << 20), 4);
  ASSERT_SYS(::ftruncate(fd, (2 << 20) + 2));
  ASSERT_SYS(::fsync(fd));
  EXPECT_EQ(fs::file_size(S("t")), (2u << 20) + 2);
  EXPECT_SYS(::close(fd));
  want = content.substr(0, 10) + std::string((2 << 20) - 10, '\0') + "ta";
  EXPECT_TRUE(SameBytes(ReadFile(S("t")), want));
  EXPECT_TRUE(SameBytes(ReadFile(f), want));
  ASSERT_SYS(::truncate(f.c_str(), 0));
  EXPECT_EQ(fs::file_size(S("t")), 0u);

  // 64-bit offsets: a sparse file past 4 GiB.
  {
    const off_t far = (5ll << 30) + 12345;
    const int bfd = ::open((*m / "sparse").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    ASSERT_SYS(bfd);
    ASSERT_EQ(::pwrite(bfd, "far away", 8, far), 8);
    struct stat bst;
    ASSERT_SYS(::fstat(bfd, &bst));
    EXPECT_EQ(bst.st_size, far + 8);
    char b[16] = {};
    EXPECT_EQ(::pread(bfd, b, sizeof b, far - 4), 12);
    EXPECT_EQ(std::string(b, 12), std::string(4, '\0') + "far away");
    EXPECT_SYS(::close(bfd));
    EXPECT_EQ(fs::file_size(S("sparse")), static_cast<std::uintmax_t>(far + 8));
    const int sfd = ::open(S("sparse").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_SYS(sfd);
    EXPECT_EQ(::pread(sfd, b, 8, far), 8);
    EXPECT_EQ(std::string(b, 8), "far away");
    ::close(sfd);
    ASSERT_SYS(::truncate((*m / "sparse").c_str(), 3ll << 30));
    EXPECT_EQ(fs::file_size(S("sparse")), 3ull << 30);
  }
  EXPECT_ERRNO(::truncate((*m / "missing").c_str(), 0), ENOENT);
  StopClean(*m);
}

TEST_F(FsOps, UtimensExplicitNowAndOmit) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string f = *m / "times";
  ASSERT_TRUE(WriteFile(f, "x"));
  struct stat st, sst;

  // Explicit times, at FILETIME's 100 ns resolution.
  const timespec explicit_times[2] = {Ts(1'000'000'000, 123'456'700), Ts(1'200'000'000, 987'654'300)};
  ASSERT_SYS(::utimensat(AT_FDCWD, f.c_str(), explicit_times, 0));
  ASSERT_SYS(::stat(f.c_str(), &st));
  ASSERT_SYS(::stat(S("times").c_str(), &sst));
  EXPECT_EQ(st.st_atim.tv_sec, 1'000'000'000);
  EXPECT_EQ(st.st_atim.tv_nsec, 123'456'700);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'200'000'000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 987'654'300);
  EXPECT_EQ(sst.st_atim.tv_sec, 1'000'000'000);
  EXPECT_EQ(sst.st_mtim.tv_sec, 1'200'000'000);
  EXPECT_EQ(sst.st_mtim.tv_nsec, 987'654'300);

  // UTIME_OMIT keeps atime; mtime changes.
  const timespec omit_atime[2] = {Ts(0, UTIME_OMIT), Ts(1'300'000'000, 0)};
  ASSERT_SYS(::utimensat(AT_FDCWD, f.c_str(), omit_atime, 0));
  ASSERT_SYS(::stat(f.c_str(), &st));
  ASSERT_SYS(::stat(S("times").c_str(), &sst));
  EXPECT_EQ(st.st_atim.tv_sec, 1'000'000'000);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'300'000'000);
  EXPECT_EQ(sst.st_atim.tv_sec, 1'000'000'000);
  EXPECT_EQ(sst.st_mtim.tv_sec, 1'300'000'000);
  // ... and the other way round.
  const timespec omit_mtime[2] = {Ts(1'100'000'000, 0), Ts(0, UTIME_OMIT)};
  ASSERT_SYS(::utimensat(AT_FDCWD, f.c_str(), omit_mtime, 0));
  ASSERT_SYS(::stat(S("times").c_str(), &sst));
  EXPECT_EQ(sst.st_atim.tv_sec, 1'100'000'000);
  EXPECT_EQ(sst.st_mtim.tv_sec, 1'300'000'000);

  // UTIME_NOW: both near the current time; through an open descriptor too.
  timespec before;
  ::clock_gettime(CLOCK_REALTIME, &before);
  const timespec now_times[2] = {Ts(0, UTIME_NOW), Ts(0, UTIME_NOW)};
  ASSERT_SYS(::utimensat(AT_FDCWD, f.c_str(), now_times, 0));
  ASSERT_SYS(::stat(f.c_str(), &st));
  ASSERT_SYS(::stat(S("times").c_str(), &sst));
  EXPECT_LE(std::abs(st.st_mtim.tv_sec - before.tv_sec), 5);
  EXPECT_LE(std::abs(st.st_atim.tv_sec - before.tv_sec), 5);
  EXPECT_LE(std::abs(sst.st_mtim.tv_sec - before.tv_sec), 5);

  const int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_SYS(fd);
  const timespec fd_times[2] = {Ts(0, UTIME_OMIT), Ts(1'400'000'000, 500)};
  ASSERT_SYS(::futimens(fd, fd_times));
  ASSERT_SYS(::fstat(fd, &st));
  EXPECT_EQ(st.st_mtim.tv_sec, 1'400'000'000);
  EXPECT_SYS(::close(fd));
  ASSERT_SYS(::stat(S("times").c_str(), &sst));
  EXPECT_EQ(sst.st_mtim.tv_sec, 1'400'000'000);
  EXPECT_EQ(sst.st_mtim.tv_nsec, 500);

  // Directories take times too.
  ASSERT_SYS(::mkdir((*m / "dir").c_str(), 0755));
  ASSERT_SYS(::utimensat(AT_FDCWD, (*m / "dir").c_str(), explicit_times, 0));
  ASSERT_SYS(::stat(S("dir").c_str(), &sst));
  EXPECT_EQ(sst.st_mtim.tv_sec, 1'200'000'000);
  StopClean(*m);
}

TEST_F(FsOps, ChmodMapsToDosReadOnly) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string f = *m / "ro";
  ASSERT_TRUE(WriteFile(f, "data"));
  auto before = DosAttributes(S("ro"));
  ASSERT_TRUE(before) << "no user.DOSATTRIB on the server's file";
  EXPECT_EQ(*before & 1u, 0u);

  ASSERT_SYS(::chmod(f.c_str(), 0555));  // a-w
  struct stat st;
  ASSERT_SYS(::stat(f.c_str(), &st));
  EXPECT_EQ(st.st_mode & 0222, 0u) << std::oct << st.st_mode;
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  auto ro = DosAttributes(S("ro"));
  ASSERT_TRUE(ro);
  EXPECT_EQ(*ro & 1u, 1u) << "FILE_ATTRIBUTE_READONLY set on the server";
  // The server refuses writing (root passes the kernel's mode check).
  EXPECT_ERRNO(::open(f.c_str(), O_WRONLY), EACCES);
  EXPECT_TRUE(SameBytes(ReadFile(f), "data"));

  ASSERT_SYS(::chmod(f.c_str(), 0755));  // u+w
  ASSERT_SYS(::stat(f.c_str(), &st));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  auto rw = DosAttributes(S("ro"));
  ASSERT_TRUE(rw);
  EXPECT_EQ(*rw & 1u, 0u);
  ASSERT_TRUE(WriteFile(f, "again")) << std::strerror(errno);
  EXPECT_TRUE(SameBytes(ReadFile(S("ro")), "again"));

  // fchmod through an open descriptor, and a fresh mount sees it too.
  const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_SYS(fd);
  ASSERT_SYS(::fchmod(fd, 0444));
  EXPECT_SYS(::close(fd));
  EXPECT_EQ(DosAttributes(S("ro")).value_or(0) & 1u, 1u);
  StopClean(*m);
  auto m2 = MountTestDir();
  ASSERT_TRUE(m2);
  ASSERT_SYS(::stat((*m2 / "ro").c_str(), &st));
  EXPECT_EQ(st.st_mode & 0222, 0u);
  ASSERT_SYS(::chmod((*m2 / "ro").c_str(), 0644));
  // chown to anyone else is refused: owners come from the mount options.
  EXPECT_ERRNO(::chown((*m2 / "ro").c_str(), 1234, 1234), EPERM);
  StopClean(*m2);
}

TEST_F(FsOps, HardLink) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string content = Pattern(3, 70'000);
  ASSERT_TRUE(WriteFile(*m / "orig", content));
  ASSERT_SYS(::link((*m / "orig").c_str(), (*m / "link").c_str()));
  struct stat a, b;
  ASSERT_SYS(::stat(S("orig").c_str(), &a));
  ASSERT_SYS(::stat(S("link").c_str(), &b));
  EXPECT_EQ(a.st_ino, b.st_ino) << "one file on the server";
  EXPECT_EQ(a.st_nlink, 2u);
  EXPECT_EQ(Sha256File(*m / "link"), Sha256(content.data(), content.size()));
  ASSERT_SYS(::stat((*m / "orig").c_str(), &a));
  ASSERT_SYS(::stat((*m / "link").c_str(), &b));
  EXPECT_EQ(a.st_nlink, 2u);
  EXPECT_EQ(b.st_nlink, 2u);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_ERRNO(::link((*m / "orig").c_str(), (*m / "link").c_str()), EEXIST);

  // A change through one name is seen through the other.
  ASSERT_TRUE(WriteFile(*m / "link", "changed"));
  EXPECT_TRUE(SameBytes(ReadFile(*m / "orig"), "changed"));
  ASSERT_SYS(::unlink((*m / "orig").c_str()));
  EXPECT_TRUE(SameBytes(ReadFile(*m / "link"), "changed"));
  ASSERT_SYS(::stat(S("link").c_str(), &b));
  EXPECT_EQ(b.st_nlink, 1u);
  StopClean(*m);
}

TEST_F(FsOps, SymlinkReadlinkMfsymlinks) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  ASSERT_TRUE(WriteFile(*m / "target.txt", "pointed at"));
  ASSERT_SYS(::symlink("target.txt", (*m / "link").c_str()));
  const std::string raw = ReadFile(S("link"));
  ASSERT_EQ(raw.size(), 1067u) << "an mfsymlink file on the server";
  EXPECT_EQ(raw.substr(0, 5), "XSym\n");
  EXPECT_EQ(raw.substr(5, 5), "0010\n");

  char buf[2048];
  ssize_t n = ::readlink((*m / "link").c_str(), buf, sizeof buf);
  ASSERT_SYS(n);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "target.txt");
  struct stat st;
  ASSERT_SYS(::lstat((*m / "link").c_str(), &st));
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << std::oct << st.st_mode;
  EXPECT_TRUE(SameBytes(ReadFile(*m / "link"), "pointed at")) << "followed by the kernel";
  EXPECT_ERRNO(::symlink("other", (*m / "link").c_str()), EEXIST);

  // A listing (readdirplus) must not turn the link into a regular file.
  std::map<std::string, unsigned char> types;
  auto names = List(m->path(), &types);
  EXPECT_TRUE(names.count("link"));
  ASSERT_SYS(::lstat((*m / "link").c_str(), &st));
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "after readdir: " << std::oct << st.st_mode;
  n = ::readlink((*m / "link").c_str(), buf, sizeof buf);
  ASSERT_SYS(n);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "target.txt");

  // A link made on the server (as the kernel's cifs client writes it),
  // seen once the listing above is older than the attribute timeout
  // (actimeo=1): until then its name is known not to exist.
  ASSERT_SYS(::symlink("/absolute/elsewhere", (*m / "abs").c_str()));
  const std::string abs_raw = ReadFile(S("abs"));
  ASSERT_TRUE(WriteFile(S("server-link"), abs_raw));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  n = ::readlink((*m / "server-link").c_str(), buf, sizeof buf);
  ASSERT_SYS(n);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "/absolute/elsewhere");

  // Longest target (1024 bytes) and one too long.
  const std::string longest(1024, 'a');
  ASSERT_SYS(::symlink(longest.c_str(), (*m / "long").c_str()));
  n = ::readlink((*m / "long").c_str(), buf, sizeof buf);
  EXPECT_EQ(n, 1024);
  EXPECT_ERRNO(::symlink(std::string(1025, 'a').c_str(), (*m / "toolong").c_str()), ENAMETOOLONG);
  // A 1067-byte regular file that is not a link stays a regular file.
  ASSERT_TRUE(WriteFile(*m / "just-1067", std::string(1067, 'x')));
  ASSERT_SYS(::lstat((*m / "just-1067").c_str(), &st));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_ERRNO(::readlink((*m / "just-1067").c_str(), buf, sizeof buf), EINVAL);
  // Removing the link leaves the target.
  ASSERT_SYS(::unlink((*m / "link").c_str()));
  EXPECT_TRUE(fs::exists(S("target.txt")));
  StopClean(*m);
}

// NAME_MAX and PATH_MAX hold as on a local disk: ENAMETOOLONG before
// anything reaches the server.
TEST_F(FsOps, NamesAndPathsTooLong) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string n255(255, 'a'), n256(256, 'b');
  ASSERT_TRUE(WriteFile(*m / n255, "x")) << std::strerror(errno);
  EXPECT_TRUE(fs::exists(S(n255)));
  EXPECT_ERRNO(::open((*m / n256).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644), ENAMETOOLONG);
  EXPECT_ERRNO(::mkdir((*m / n256).c_str(), 0755), ENAMETOOLONG);
  struct stat st;
  EXPECT_ERRNO(::stat((*m / n256).c_str(), &st), ENAMETOOLONG);
  EXPECT_ERRNO(::rename((*m / n255).c_str(), (*m / n256).c_str()), ENAMETOOLONG);
  EXPECT_ERRNO(::symlink("t", (*m / n256).c_str()), ENAMETOOLONG);

  // Directories of 200-byte names, one inside the other (openat: no path
  // given to a syscall is long): the one whose path would pass PATH_MAX
  // is refused with ENAMETOOLONG.
  const std::string n200(200, 'd');
  std::vector<int> dirs = {::open(m->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  ASSERT_SYS(dirs.back());
  std::size_t path_len = 0;
  int err = 0;
  while (dirs.size() < 40) {
    if (::mkdirat(dirs.back(), n200.c_str(), 0755) != 0) {
      err = errno;
      break;
    }
    dirs.push_back(::openat(dirs.back(), n200.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_SYS(dirs.back());
    path_len += n200.size() + 1;
  }
  EXPECT_EQ(err, ENAMETOOLONG) << std::strerror(err) << " at depth " << dirs.size();
  EXPECT_GT(path_len + n200.size() + 1, 4000u) << "refused early, at depth " << dirs.size();
  // Removed through the mount, deepest first (the server's own path of the
  // deepest is too long for the test's cleanup).
  for (std::size_t k = dirs.size() - 1; k > 0; --k) {
    ::close(dirs[k]);
    EXPECT_SYS(::unlinkat(dirs[k - 1], n200.c_str(), AT_REMOVEDIR));
  }
  ::close(dirs[0]);
  StopClean(*m);
}

TEST_F(FsOps, StatFs) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  struct statvfs v, sv;
  ASSERT_SYS(::statvfs(m->path().c_str(), &v));
  ASSERT_SYS(::statvfs(server_dir().c_str(), &sv));
  EXPECT_GT(v.f_bsize, 0u);
  EXPECT_GT(v.f_blocks, 0u);
  EXPECT_EQ(v.f_namemax, 255u);
  const double total = static_cast<double>(v.f_blocks) * v.f_frsize;
  const double server_total = static_cast<double>(sv.f_blocks) * sv.f_frsize;
  EXPECT_NEAR(total / server_total, 1.0, 0.02) << total << " vs " << server_total;
  const double avail = static_cast<double>(v.f_bavail) * v.f_frsize;
  const double server_avail = static_cast<double>(sv.f_bavail) * sv.f_frsize;
  EXPECT_NEAR(avail / server_avail, 1.0, 0.05) << avail << " vs " << server_avail;
  StopClean(*m);
}

TEST_F(FsOps, MknodRegularFileOnly) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  ASSERT_SYS(::mknod((*m / "node").c_str(), S_IFREG | 0644, 0));
  EXPECT_TRUE(fs::is_regular_file(S("node")));
  EXPECT_EQ(fs::file_size(S("node")), 0u);
  struct stat st;
  ASSERT_SYS(::stat((*m / "node").c_str(), &st));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_ERRNO(::mknod((*m / "node").c_str(), S_IFREG | 0644, 0), EEXIST);
  EXPECT_ERRNO(::mkfifo((*m / "fifo").c_str(), 0644), EPERM);
  EXPECT_ERRNO(::mknod((*m / "chr").c_str(), S_IFCHR | 0644, makedev(1, 3)), EPERM);
  EXPECT_FALSE(fs::exists(S("fifo")));
  EXPECT_FALSE(fs::exists(S("chr")));
  StopClean(*m);
}

TEST_F(FsOps, FlockConflictsBetweenOpenFiles) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string f = *m / "locked";
  ASSERT_TRUE(WriteFile(f, "lock me"));
  const int a = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  const int b = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_SYS(a);
  ASSERT_SYS(b);
  ASSERT_SYS(::flock(a, LOCK_EX | LOCK_NB));
  EXPECT_ERRNO(::flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
  EXPECT_ERRNO(::flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
  ASSERT_SYS(::flock(a, LOCK_UN));
  ASSERT_SYS(::flock(b, LOCK_EX | LOCK_NB));
  EXPECT_ERRNO(::flock(a, LOCK_SH | LOCK_NB), EWOULDBLOCK);
  // Closing a descriptor drops its lock. The kernel sends FUSE RELEASE
  // after close(2) has returned (asynchronously, as for kernel cifs), so the
  // server-side unlock may land a moment later: retry for up to 5 s.
  EXPECT_SYS(::close(b));
  int got = -1;
  for (int i = 0; i < 100 && got != 0; ++i) {
    got = ::flock(a, LOCK_EX | LOCK_NB);
    if (got != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(got, 0) << "the closed descriptor's lock was never dropped";
  ASSERT_SYS(::flock(a, LOCK_UN));
  // Shared locks coexist and keep an exclusive one out. (Last, with a
  // close for the end: Samba 4.17 keeps its per-descriptor OFD read lock
  // for a handle unlocked while another handle still holds a shared lock
  // on the same range, which then refuses a later exclusive lock until
  // that descriptor is closed; a server quirk, seen in its debug log as
  // "fcntl lock gave errno 11" with no Windows lock left.)
  const int c = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_SYS(c);
  ASSERT_SYS(::flock(a, LOCK_SH | LOCK_NB));
  ASSERT_SYS(::flock(c, LOCK_SH | LOCK_NB));
  EXPECT_ERRNO(::flock(a, LOCK_EX | LOCK_NB), EWOULDBLOCK);
  EXPECT_SYS(::close(a));
  EXPECT_SYS(::close(c));
  StopClean(*m);
}

TEST_F(FsOps, FcntlLocksBetweenProcesses) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string f = *m / "records";
  ASSERT_TRUE(WriteFile(f, std::string(1000, 'r')));
  const int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_SYS(fd);
  struct flock l {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  l.l_start = 0;
  l.l_len = 100;
  ASSERT_SYS(::fcntl(fd, F_SETLK, &l));

  // Another process: a conflicting range is refused, F_GETLK reports the
  // holder's type, a disjoint range is granted.
  const int rc = RunInChild([&]() -> int {
    const int cfd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
    if (cfd < 0) return 10;
    struct flock c {};
    c.l_type = F_WRLCK;
    c.l_whence = SEEK_SET;
    c.l_start = 50;
    c.l_len = 10;
    if (::fcntl(cfd, F_SETLK, &c) == 0) return 11;
    if (errno != EAGAIN && errno != EACCES) return 12;
    c.l_type = F_RDLCK;
    if (::fcntl(cfd, F_SETLK, &c) == 0) return 13;
    struct flock g {};
    g.l_type = F_WRLCK;
    g.l_whence = SEEK_SET;
    g.l_start = 0;
    g.l_len = 10;
    if (::fcntl(cfd, F_GETLK, &g) != 0) return 14;
    if (g.l_type != F_WRLCK) return 15;
    c.l_type = F_WRLCK;
    c.l_start = 200;
    c.l_len = 10;
    if (::fcntl(cfd, F_SETLK, &c) != 0) return 16;
    g.l_type = F_WRLCK;
    g.l_start = 500;
    g.l_len = 10;
    if (::fcntl(cfd, F_GETLK, &g) != 0 || g.l_type != F_UNLCK) return 17;
    ::close(cfd);
    return 0;
  });
  EXPECT_EQ(rc, 0) << "child step failed (see the return codes in the test)";

  // F_SETLKW waits until the holder lets go.
  const auto t0 = std::chrono::steady_clock::now();
  std::thread unlocker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    struct flock u {};
    u.l_type = F_UNLCK;
    u.l_whence = SEEK_SET;
    u.l_start = 0;
    u.l_len = 100;
    ::fcntl(fd, F_SETLK, &u);
  });
  const int rc2 = RunInChild(
      [&]() -> int {
        const int cfd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
        if (cfd < 0) return 20;
        struct flock c {};
        c.l_type = F_WRLCK;
        c.l_whence = SEEK_SET;
        c.l_start = 10;
        c.l_len = 10;
        if (::fcntl(cfd, F_SETLKW, &c) != 0) return 21;
        ::close(cfd);
        return 0;
      },
      std::chrono::seconds(20));
  unlocker.join();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rc2, 0);
  EXPECT_GE(waited, 0.4) << "F_SETLKW returned before the lock was released";
  EXPECT_LT(waited, 10.0);
  EXPECT_SYS(::close(fd));
  StopClean(*m);
}

// A process blocked in F_SETLKW (an SMB2 LOCK waiting on the server) must
// not hold up a clean stop.
TEST_F(FsOps, StopWithABlockedLockWaiter) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string f = *m / "contended";
  ASSERT_TRUE(WriteFile(f, "x"));
  const int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_SYS(fd);
  struct flock l {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  l.l_len = 1;
  ASSERT_SYS(::fcntl(fd, F_SETLK, &l));
  std::atomic<int> waiter_rc{-2};
  std::thread waiter([&] {
    waiter_rc = RunInChild(
        [&]() -> int {
          const int cfd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
          if (cfd < 0) return 10;
          struct flock c {};
          c.l_type = F_WRLCK;
          c.l_whence = SEEK_SET;
          c.l_len = 1;
          return ::fcntl(cfd, F_SETLKW, &c) == 0 ? 0 : 1;  // either, once the mount goes
        },
        std::chrono::seconds(60));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto t0 = std::chrono::steady_clock::now();
  const std::string mp = m->path();
  const int rc = m->Stop(std::chrono::seconds(40));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rc, 0) << m->Log();
  EXPECT_LT(secs, 10.0) << "a waiting lock held up the stop";
  EXPECT_FALSE(IsMountPoint(mp));
  waiter.join();
  EXPECT_NE(waiter_rc.load(), -1) << "the waiter was still blocked after the stop";
  ::close(fd);
}

TEST_F(FsOps, FsyncPutsDataOnServer) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const std::string content = Pattern(4, 1'500'000);
  const int fd = ::open((*m / "synced").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_SYS(fd);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ASSERT_SYS(::fsync(fd));
  // Still open: the server has every byte already.
  EXPECT_EQ(Sha256File(S("synced")), Sha256(content.data(), content.size()));
  ASSERT_EQ(::pwrite(fd, "Z", 1, 5), 1);
  ASSERT_SYS(::fdatasync(fd));
  EXPECT_EQ(ReadFile(S("synced"))[5], 'Z');
  // fsync of a read-only descriptor and of a directory succeed.
  const int rfd = ::open((*m / "synced").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_SYS(rfd);
  EXPECT_SYS(::fsync(rfd));
  EXPECT_SYS(::close(rfd));
  const int dfd = ::open(m->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_SYS(dfd);
  EXPECT_SYS(::fsync(dfd));
  EXPECT_SYS(::close(dfd));
  EXPECT_SYS(::close(fd));
  StopClean(*m);
}

TEST_F(FsOps, UnlinkAndRenameWhileOpen) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  // Unlinked while open: the descriptor keeps working.
  {
    const int fd = ::open((*m / "doomed").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    ASSERT_SYS(fd);
    ASSERT_EQ(::write(fd, "hello", 5), 5);
    ASSERT_SYS(::unlink((*m / "doomed").c_str()));
    struct stat st;
    EXPECT_ERRNO(::stat((*m / "doomed").c_str(), &st), ENOENT);
    EXPECT_EQ(List(m->path()).count("doomed"), 0u);
    EXPECT_EQ(::pwrite(fd, " world", 6, 5), 6);
    ASSERT_SYS(::fsync(fd));
    char buf[32] = {};
    EXPECT_EQ(::pread(fd, buf, sizeof buf, 0), 11);
    EXPECT_EQ(std::string(buf), "hello world");
    ASSERT_SYS(::fstat(fd, &st));
    EXPECT_EQ(st.st_size, 11);
    const timespec times[2] = {Ts(0, UTIME_OMIT), Ts(1'500'000'000, 0)};
    EXPECT_SYS(::futimens(fd, times));
    EXPECT_SYS(::ftruncate(fd, 11));
    EXPECT_SYS(::close(fd));
    // Gone on the server once closed.
    for (int i = 0; i < 50 && fs::exists(S("doomed")); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(fs::exists(S("doomed")));
  }
  // Renamed while open: writes land in the renamed file.
  {
    const int fd = ::open((*m / "moving").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    ASSERT_SYS(fd);
    ASSERT_EQ(::write(fd, "first ", 6), 6);
    ASSERT_SYS(::fsync(fd));
    ASSERT_SYS(::mkdir((*m / "sub").c_str(), 0755));
    ASSERT_SYS(::rename((*m / "moving").c_str(), (*m / "sub/moved").c_str()));
    ASSERT_EQ(::write(fd, "second", 6), 6);
    char buf[32] = {};
    EXPECT_EQ(::pread(fd, buf, sizeof buf, 0), 12);
    EXPECT_EQ(std::string(buf), "first second");
    EXPECT_SYS(::close(fd));
    EXPECT_FALSE(fs::exists(S("moving")));
    EXPECT_TRUE(SameBytes(ReadFile(S("sub/moved")), "first second"));
  }
  // Renamed over while open (an editor's save): the new file takes the
  // name at once, the open one keeps its data until closed, then goes. A
  // server refuses to replace an open file, so the old one is moved to a
  // hidden name first (silly rename) that no listing shows.
  {
    ASSERT_TRUE(WriteFile(*m / "cfg", "old"));
    const int fd = ::open((*m / "cfg").c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_SYS(fd);
    ASSERT_TRUE(WriteFile(*m / "cfg.tmp", "new"));
    ASSERT_SYS(::rename((*m / "cfg.tmp").c_str(), (*m / "cfg").c_str()));
    EXPECT_TRUE(SameBytes(ReadFile(*m / "cfg"), "new"));
    char buf[8] = {};
    EXPECT_EQ(::pread(fd, buf, sizeof buf, 0), 3);
    EXPECT_EQ(std::string(buf), "old");
    EXPECT_EQ(::pwrite(fd, "OLD", 3, 0), 3);
    for (const auto& name : List(m->path())) EXPECT_EQ(name.rfind(".smbgate-deleted-", 0), std::string::npos) << name;
    EXPECT_SYS(::close(fd));
    EXPECT_TRUE(SameBytes(ReadFile(S("cfg")), "new"));
    // The hidden file goes with its last handle.
    auto leftovers = [&] {
      int n = 0;
      for (const auto& e : fs::directory_iterator(S(""))) n += e.path().filename().string().rfind(".smbgate-", 0) == 0;
      return n;
    };
    for (int i = 0; i < 50 && leftovers() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(leftovers(), 0);
  }
  // Unlinked while open, then created again under the same name at once.
  {
    const int fd = ::open((*m / "reused").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    ASSERT_SYS(fd);
    ASSERT_EQ(::write(fd, "first", 5), 5);
    ASSERT_SYS(::unlink((*m / "reused").c_str()));
    ASSERT_TRUE(WriteFile(*m / "reused", "second")) << std::strerror(errno);
    char buf[8] = {};
    EXPECT_EQ(::pread(fd, buf, sizeof buf, 0), 5);
    EXPECT_EQ(std::string(buf), "first");
    EXPECT_SYS(::close(fd));
    EXPECT_TRUE(SameBytes(ReadFile(*m / "reused"), "second"));
  }
  // A leftover of a crash between the two steps: not listed, not found by
  // name, and deleted once its directory is listed.
  {
    ASSERT_TRUE(WriteFile(S(".smbgate-deleted-leftover"), "x"));
    EXPECT_EQ(List(m->path()).count(".smbgate-deleted-leftover"), 0u);
    struct stat st;
    EXPECT_ERRNO(::stat((*m / ".smbgate-deleted-leftover").c_str(), &st), ENOENT);
    for (int i = 0; i < 50 && fs::exists(S(".smbgate-deleted-leftover")); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_FALSE(fs::exists(S(".smbgate-deleted-leftover")));
  }
  StopClean(*m);
}

}  // namespace
}  // namespace smbgate::test::e2e

namespace smbgate::test::e2e {
namespace {

// For debugging by hand, not run by default: mounts the test directory,
// prints the paths and holds the mount for SMBGATE_E2E_HOLD seconds
// (default 300). Run with --gtest_also_run_disabled_tests
// --gtest_filter=FsOps.DISABLED_Hold.
TEST_F(FsOps, DISABLED_Hold) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  const char* s = std::getenv("SMBGATE_E2E_HOLD");
  const int seconds = s ? std::atoi(s) : 300;
  SetTestBudget(std::chrono::seconds(seconds + 60));
  std::printf("mount %s (pid %d)\nserver dir %s\nsmb.conf %s\n", m->path().c_str(), m->pid(), server_dir().c_str(),
              server_->config_path().c_str());
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  StopClean(*m);
}

}  // namespace
}  // namespace smbgate::test::e2e
