// FuseFs mounted through /dev/fuse over FakeRemoteFs (an in-memory SMB
// share), driven with ordinary system calls: what reaches the server (the
// round trips the caches are there to save), what the kernel caches, and
// the SMB rules the layer translates to POSIX (silly rename of open files,
// leases and their breaks, name limits, errno of NTSTATUS, locks).
//
// Needs root and /dev/fuse (CI runs as root); without them every test fails
// and says so. Each test mounts its own file system on a fresh directory.
#include "fuse/fuse_fs.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"
#include "tests/unit/fuse/fake_remote_fs.h"

namespace smbgate::fuse {
namespace {

using namespace std::chrono_literals;
namespace st = smb2::status;

// The errno of a failed call, 0 for a success.
int Err(long rc) { return rc < 0 ? errno : 0; }

// A file descriptor closed at the end of its scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string ReadAt(int fd, std::size_t n, off_t off) {
  std::string s(n, '\0');
  const ssize_t r = ::pread(fd, s.data(), n, off);
  s.resize(r < 0 ? 0 : static_cast<std::size_t>(r));
  return s;
}

bool WriteAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w <= 0) return false;
    done += static_cast<std::size_t>(w);
  }
  return true;
}

// A short account of a buffer for failure messages: "8192 bytes: aaaa...".
std::string Brief(const std::string& s) {
  return std::to_string(s.size()) + " bytes: " + s.substr(0, 16) + (s.size() > 16 ? "..." : "");
}

template <class F>
bool Eventually(F f, std::chrono::milliseconds timeout = 3s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!f()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Runs `f` at the end of the scope: lets a failed assertion end a test
// whose helper thread is blocked on the mount.
template <class F>
struct Finally {
  F f;
  ~Finally() { f(); }
};
template <class F>
Finally(F) -> Finally<F>;

int Total(const std::map<std::string, int>& calls) {
  int n = 0;
  for (const auto& [name, count] : calls) n += count;
  return n;
}

class FuseFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_FAIL() << "FuseFs tests mount FUSE file systems and must run as root (CI does); uid is " << ::geteuid();
    }
    if (::access("/dev/fuse", R_OK | W_OK) != 0) {
      GTEST_FAIL() << "/dev/fuse is not usable (" << std::strerror(errno)
                   << "): load the fuse module, or give the container --device /dev/fuse";
    }
    char tmpl[] = "/tmp/smbgate-fuse-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    fake_ = std::make_shared<FakeRemoteFs>();
  }

  void TearDown() override {
    Unmount();
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }

  static FsOptions Options(double actimeo) {
    FsOptions o;
    o.actimeo = actimeo;
    o.file_mode = 0644;
    o.dir_mode = 0755;
    o.fsname = "//fake/share";
    return o;
  }

  void Mount(FsOptions o) {
    o.on_operation = [this](const char* op, int, double) {
      std::lock_guard<std::mutex> l(ops_mu_);
      ++ops_[op];
    };
    o.on_lease_break = [this] { ++lease_breaks_; };
    std::string error;
    fuse_ = FuseFs::Mount(fake_, dir_, std::move(o), &error);
    ASSERT_TRUE(fuse_) << error;
    loop_ = std::thread([f = fuse_.get()] { f->Run(); });
    ASSERT_TRUE(fuse_->WaitInitialized(5s)) << "the kernel never sent FUSE INIT";
  }

  // Exit, then Shutdown (closes what is still open, unmounts), as the
  // daemon does.
  void Unmount() {
    if (!fuse_) return;
    fake_->ClearFailures();
    fuse_->Exit();
    // libfuse's loop sees the exit flag only when a request comes in.
    std::thread poke([d = dir_] {
      struct statfs s;
      ::statfs(d.c_str(), &s);
    });
    if (loop_.joinable()) loop_.join();
    fuse_->Shutdown(2s);
    poke.join();
    fuse_.reset();
  }

  std::string P(std::string_view rel) const { return rel.empty() ? dir_ : dir_ + "/" + std::string(rel); }

  std::vector<std::string> ListDir(std::string_view rel) {
    std::vector<std::string> names;
    DIR* d = ::opendir(P(rel).c_str());
    if (!d) {
      ADD_FAILURE() << "opendir " << rel << ": " << std::strerror(errno);
      return names;
    }
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string ReadFile(std::string_view rel) {
    Fd fd(::open(P(rel).c_str(), O_RDONLY));
    if (!fd) {
      ADD_FAILURE() << "open " << rel << ": " << std::strerror(errno);
      return {};
    }
    std::string out;
    char buf[65536];
    for (;;) {
      const ssize_t r = ::read(fd.get(), buf, sizeof buf);
      if (r <= 0) break;
      out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
  }

  // FUSE operations answered by the mount, by name ("lookup", "getattr").
  int ops(const std::string& name) {
    std::lock_guard<std::mutex> l(ops_mu_);
    auto it = ops_.find(name);
    return it == ops_.end() ? 0 : it->second;
  }
  std::string OpLog() {
    std::lock_guard<std::mutex> l(ops_mu_);
    std::string s;
    for (const auto& [name, n] : ops_) s += name + "=" + std::to_string(n) + " ";
    return s;
  }
  void ResetCounts() {
    fake_->ResetCalls();
    std::lock_guard<std::mutex> l(ops_mu_);
    ops_.clear();
  }

  std::string dir_;
  std::shared_ptr<FakeRemoteFs> fake_;
  std::unique_ptr<FuseFs> fuse_;
  std::thread loop_;
  std::mutex ops_mu_;
  std::map<std::string, int> ops_;
  std::atomic<int> lease_breaks_{0};
};

// ---- metadata round trips ---------------------------------------------------

TEST_F(FuseFsTest, ListingAnswersLookupsAndStatsWithoutRoundTrips) {
  fake_->PutFile("d/a.txt", "aaa");
  fake_->PutFile("d/b.txt", "bbbbb");
  fake_->PutDir("d/Sub");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  struct stat s {};
  ASSERT_EQ(::stat(P("d").c_str(), &s), 0) << std::strerror(errno);
  ASSERT_TRUE(S_ISDIR(s.st_mode));
  ResetCounts();

  EXPECT_EQ(ListDir("d"), (std::vector<std::string>{"Sub", "a.txt", "b.txt"}));
  EXPECT_EQ(fake_->calls("OpenListing"), 1);
  // ls -l: every name and its attributes come from the listing.
  ASSERT_EQ(::stat(P("d/a.txt").c_str(), &s), 0);
  EXPECT_EQ(s.st_size, 3);
  EXPECT_TRUE(S_ISREG(s.st_mode));
  ASSERT_EQ(::lstat(P("d/b.txt").c_str(), &s), 0);
  EXPECT_EQ(s.st_size, 5);
  ASSERT_EQ(::stat(P("d/Sub").c_str(), &s), 0);
  EXPECT_TRUE(S_ISDIR(s.st_mode));
  EXPECT_EQ(s.st_ino, fake_->Attributes("d/Sub")->file_id);  // the server's file id
  EXPECT_EQ(fake_->calls("Stat"), 0) << fake_->CallLog();
  EXPECT_EQ(fake_->calls("GetAttributes"), 0) << fake_->CallLog();
  EXPECT_EQ(Total(fake_->all_calls()), 1) << fake_->CallLog();
}

// A directory larger than a page is read in pages as readdir goes; seekdir
// back starts the listing again; a listing that fits the directory cache
// still answers lookups afterwards.
TEST_F(FuseFsTest, BigListingsAreReadInPagesAndSeekable) {
  constexpr int kFiles = 3000;
  std::vector<std::string> want;
  for (int i = 0; i < kFiles; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "n%04d", i);
    fake_->PutFile(std::string("big/") + name, "x");
    want.push_back(name);
  }
  fake_->set_list_page(100);
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  ResetCounts();

  DIR* d = ::opendir(P("big").c_str());
  ASSERT_NE(d, nullptr) << std::strerror(errno);
  std::vector<std::string> names;
  long at_1000 = -1;
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.push_back(n);
    if (n == "n0999") at_1000 = ::telldir(d);
  }
  EXPECT_EQ(names, want);  // the fake lists in name order
  EXPECT_EQ(fake_->calls("OpenListing"), 1) << fake_->CallLog();
  EXPECT_GE(fake_->calls("ListMore"), (kFiles - 200) / 100) << fake_->CallLog();
  // Back to a place long behind: the listing starts again.
  ASSERT_GE(at_1000, 0);
  ::seekdir(d, at_1000);
  dirent* e = ::readdir(d);
  ASSERT_NE(e, nullptr);
  EXPECT_STREQ(e->d_name, "n1000");
  ::rewinddir(d);
  std::vector<std::string> again;
  while (dirent* r = ::readdir(d)) {
    if (std::string(r->d_name) != "." && std::string(r->d_name) != "..") again.push_back(r->d_name);
  }
  EXPECT_EQ(again, want);
  ::closedir(d);
  EXPECT_TRUE(Eventually([&] { return fake_->open_handles() == 0; })) << fake_->CallLog();

  // The first pass fit the directory cache: a name it lacks needs no
  // round trip.
  ResetCounts();
  struct stat s {};
  EXPECT_EQ(Err(::stat(P("big/absent").c_str(), &s)), ENOENT);
  EXPECT_EQ(Total(fake_->all_calls()), 0) << fake_->CallLog();
}

TEST_F(FuseFsTest, MissingNameInAListedDirectoryIsAnsweredLocallyThenByTheKernel) {
  fake_->PutFile("d/a", "x");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  ListDir("d");
  ResetCounts();

  struct stat s {};
  EXPECT_EQ(Err(::stat(P("d/missing").c_str(), &s)), ENOENT);
  EXPECT_EQ(Total(fake_->all_calls()), 0) << fake_->CallLog();
  // (An operation is counted just after its reply.)
  EXPECT_TRUE(Eventually([&] { return ops("lookup") == 1; })) << OpLog();
  // The negative entry is the kernel's now: no lookup reaches the mount.
  EXPECT_EQ(Err(::stat(P("d/missing").c_str(), &s)), ENOENT);
  EXPECT_EQ(Err(::open(P("d/missing").c_str(), O_RDONLY)), ENOENT);
  std::this_thread::sleep_for(50ms);  // time for a late count
  EXPECT_EQ(ops("lookup"), 1) << OpLog();
  EXPECT_EQ(Total(fake_->all_calls()), 0) << fake_->CallLog();
}

TEST_F(FuseFsTest, NameDifferingOnlyInCaseGoesToTheServer) {
  fake_->PutFile("d/File.txt", "12345");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  ListDir("d");
  ResetCounts();

  // The listing cannot say: SMB names are case-insensitive, and the server
  // opens File.txt for file.txt.
  struct stat s {};
  ASSERT_EQ(::stat(P("d/file.txt").c_str(), &s), 0) << std::strerror(errno);
  EXPECT_EQ(s.st_size, 5);
  EXPECT_EQ(fake_->calls_for("Stat", "d/file.txt"), 1) << fake_->CallLog();
  EXPECT_LE(fake_->calls("ReadDirectory") + fake_->calls("OpenListing"), 1) << fake_->CallLog();
  // The same name to the server: an exclusive create of a third spelling fails.
  EXPECT_EQ(Err(::open(P("d/FILE.TXT").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644)), EEXIST);
  EXPECT_EQ(fake_->Names("d"), std::vector<std::string>{"File.txt"});
}

// A name a fresh listing cannot answer (another case of a listed name, or
// a non-ASCII name) goes to the server as one Stat: the directory is listed
// again only once its listing has expired (kRelistMax).
TEST_F(FuseFsTest, FreshListingIsNotFetchedAgainForAnotherCase) {
  fake_->PutFile("d/File.txt", "12345");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  ListDir("d");
  ResetCounts();
  struct stat s {};
  ASSERT_EQ(::stat(P("d/FILE.txt").c_str(), &s), 0);
  // A non-ASCII name the listing lacks (the server may fold it to a listed one).
  EXPECT_EQ(Err(::stat(P("d/na\xc3\xafve").c_str(), &s)), ENOENT);
  EXPECT_EQ(fake_->calls("Stat"), 2) << fake_->CallLog();
  EXPECT_EQ(fake_->calls("ReadDirectory") + fake_->calls("OpenListing"), 0) << fake_->CallLog();
}

TEST_F(FuseFsTest, CreatingFilesInAFreshDirectoryMakesOneCreateEach) {
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  ListDir("");
  ResetCounts();
  ASSERT_EQ(::mkdir(P("new").c_str(), 0755), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->all_calls(), (std::map<std::string, int>{{"MakeDirectory", 1}})) << fake_->CallLog();
  ResetCounts();

  constexpr int kFiles = 25;
  for (int i = 0; i < kFiles; ++i) {
    const int flags = O_CREAT | O_WRONLY | (i % 2 ? O_EXCL : O_TRUNC);
    Fd f(::open(P("new/f" + std::to_string(i)).c_str(), flags, 0644));
    ASSERT_TRUE(f) << i << ": " << std::strerror(errno);
  }
  // The empty listing of the new directory answers every lookup before the
  // create: one CREATE each, nothing else.
  EXPECT_EQ(fake_->calls("Open"), kFiles) << fake_->CallLog();
  EXPECT_EQ(fake_->calls("Stat"), 0) << fake_->CallLog();
  EXPECT_EQ(fake_->calls("ReadDirectory") + fake_->calls("OpenListing"), 0) << fake_->CallLog();
  EXPECT_TRUE(Eventually([&] { return fake_->calls("Close") == kFiles; })) << fake_->CallLog();
  EXPECT_EQ(ListDir("new").size(), static_cast<std::size_t>(kFiles));
  EXPECT_EQ(fake_->Names("new").size(), static_cast<std::size_t>(kFiles));
}

TEST_F(FuseFsTest, SetattrIsOneRoundTripEach) {
  fake_->PutFile("f", "0123456789");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  struct stat s {};
  ASSERT_EQ(::stat(P("f").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0644u);
  ResetCounts();

  const timespec times[2] = {{1000000000, 0}, {1200000000, 500}};  // atime, mtime
  ASSERT_EQ(::utimensat(AT_FDCWD, P("f").c_str(), times, 0), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->all_calls(), (std::map<std::string, int>{{"UpdatePath", 1}})) << fake_->CallLog();
  EXPECT_EQ(fake_->Attributes("f")->last_write_time, FiletimeOf(1200000000, 500));
  EXPECT_EQ(fake_->Attributes("f")->last_access_time, FiletimeOf(1000000000));
  ASSERT_EQ(::stat(P("f").c_str(), &s), 0);
  EXPECT_EQ(s.st_mtim.tv_sec, 1200000000);
  EXPECT_EQ(s.st_mtim.tv_nsec, 500);

  // chmod: the DOS attributes known from the lookup; no write bit is the
  // read-only attribute.
  ASSERT_EQ(::chmod(P("f").c_str(), 0444), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->calls("UpdatePath"), 2) << fake_->CallLog();
  EXPECT_TRUE(fake_->Attributes("f")->file_attributes & smb2::kAttributeReadonly);
  ASSERT_EQ(::stat(P("f").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0444u);
  ASSERT_EQ(::chmod(P("f").c_str(), 0644), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->calls("UpdatePath"), 3) << fake_->CallLog();
  EXPECT_FALSE(fake_->Attributes("f")->file_attributes & smb2::kAttributeReadonly);

  ASSERT_EQ(::truncate(P("f").c_str(), 4), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->calls("UpdatePath"), 4) << fake_->CallLog();
  EXPECT_EQ(fake_->FileData("f"), "0123");
  EXPECT_EQ(Total(fake_->all_calls()), 4) << fake_->CallLog();

  // ftruncate: through the caller's handle.
  Fd fd(::open(P("f").c_str(), O_RDWR));
  ASSERT_TRUE(fd);
  ResetCounts();
  ASSERT_EQ(::ftruncate(fd.get(), 2), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->all_calls(), (std::map<std::string, int>{{"Update", 1}})) << fake_->CallLog();
  EXPECT_EQ(fake_->FileData("f"), "01");
  ASSERT_EQ(::fstat(fd.get(), &s), 0);
  EXPECT_EQ(s.st_size, 2);

  // chmod after this mount's own writes: the DOS attributes are still known
  // (writes never change them), so no query comes first.
  ASSERT_TRUE(WriteAll(fd.get(), "xyz"));
  ResetCounts();
  ASSERT_EQ(::fchmod(fd.get(), 0444), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->calls("Update") + fake_->calls("UpdatePath"), 1) << fake_->CallLog();
  EXPECT_EQ(fake_->calls("GetAttributes"), 0) << fake_->CallLog();
  EXPECT_EQ(fake_->calls("Stat"), 0) << fake_->CallLog();
  EXPECT_TRUE(fake_->Attributes("f")->file_attributes & smb2::kAttributeReadonly);
}

TEST_F(FuseFsTest, ListingExpiresAfterActimeo) {
  fake_->PutFile("d/a", "x");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(0.5)));
  ListDir("d");
  const auto listed = std::chrono::steady_clock::now();
  ASSERT_FALSE(fake_->OtherCreate("d/new", "n"));
  struct stat s {};
  const int early = Err(::stat(P("d/new").c_str(), &s));
  // Other clients' changes are seen when the listing expires (if this
  // machine was not too slow to ask in time).
  if (std::chrono::steady_clock::now() - listed < 400ms) {
    EXPECT_EQ(early, ENOENT);
  }
  std::this_thread::sleep_until(listed + 600ms);
  ResetCounts();
  ASSERT_EQ(::stat(P("d/new").c_str(), &s), 0) << std::strerror(errno);
  EXPECT_EQ(s.st_size, 1);
  // A small directory is listed again rather than asked name by name.
  EXPECT_EQ(fake_->calls_for("ReadDirectory", "d"), 1) << fake_->CallLog();
  EXPECT_EQ(fake_->calls_for("Stat", "d/new"), 0) << fake_->CallLog();
}

TEST_F(FuseFsTest, OwnChangesMoveTheDirectoryTimeWithoutARoundTrip) {
  fake_->PutDir("d");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  const timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, P("d").c_str(), old, 0), 0) << std::strerror(errno);
  ResetCounts();
  {
    Fd f(::open(P("d/new").c_str(), O_CREAT | O_WRONLY, 0644));
    ASSERT_TRUE(f) << std::strerror(errno);
  }
  struct stat s {};
  ASSERT_EQ(::stat(P("d").c_str(), &s), 0);
  // The server moved the directory's time to now; so did the cached copy.
  EXPECT_GT(s.st_mtim.tv_sec, ::time(nullptr) - 60);
  EXPECT_EQ(fake_->calls_for("Stat", "d"), 0) << fake_->CallLog();
  EXPECT_EQ(fake_->calls("GetAttributes"), 0) << fake_->CallLog();
}

// ---- data -----------------------------------------------------------------------

TEST_F(FuseFsTest, WriteThenReadBack) {
  ASSERT_NO_FATAL_FAILURE(Mount(Options(1)));
  std::string data(200 * 1024 + 123, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7 + i / 4096) % 251);
  {
    Fd w(::open(P("w.bin").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644));
    ASSERT_TRUE(w) << std::strerror(errno);
    ASSERT_TRUE(WriteAll(w.get(), data)) << std::strerror(errno);
  }
  EXPECT_TRUE(fake_->FileData("w.bin") == data) << Brief(fake_->FileData("w.bin").value_or(""));
  // At most 64 KiB per WRITE (the fake's max_io_size).
  EXPECT_GE(fake_->calls("Write"), 4);
  const std::string back = ReadFile("w.bin");
  EXPECT_TRUE(back == data) << Brief(back);
  {
    Fd r(::open(P("w.bin").c_str(), O_RDONLY));
    ASSERT_TRUE(r);
    EXPECT_EQ(ReadAt(r.get(), 10, 100000), data.substr(100000, 10));
    EXPECT_EQ(ReadAt(r.get(), 1000, static_cast<off_t>(data.size()) - 10), data.substr(data.size() - 10));
    EXPECT_EQ(ReadAt(r.get(), 10, static_cast<off_t>(data.size()) + 5), "");
  }
  {
    Fd a(::open(P("w.bin").c_str(), O_WRONLY | O_APPEND));
    ASSERT_TRUE(a);
    ASSERT_TRUE(WriteAll(a.get(), "tail"));
  }
  EXPECT_TRUE(fake_->FileData("w.bin") == data + "tail");
  struct stat s {};
  ASSERT_EQ(::stat(P("w.bin").c_str(), &s), 0) << std::strerror(errno) << "\n" << fake_->CallLog();
  EXPECT_EQ(static_cast<std::size_t>(s.st_size), data.size() + 4);
}

// ---- open files and names (silly rename) ------------------------------------------

TEST_F(FuseFsTest, UnlinkOfAnOpenFileFreesTheNameAtOnce) {
  fake_->PutFile("dir/f", "old data");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd fd(::open(P("dir/f").c_str(), O_RDONLY));
  ASSERT_TRUE(fd) << std::strerror(errno);
  ResetCounts();

  ASSERT_EQ(::unlink(P("dir/f").c_str()), 0) << std::strerror(errno);
  // Moved to a hidden name, and marked for deletion there.
  EXPECT_EQ(fake_->calls("Rename"), 1) << fake_->CallLog();
  EXPECT_EQ(fake_->calls("Unlink"), 1) << fake_->CallLog();
  std::vector<std::string> names = fake_->Names("dir");
  ASSERT_EQ(names.size(), 1u);
  EXPECT_TRUE(IsHidden(names[0])) << names[0];
  EXPECT_TRUE(fake_->DeletePending("dir/" + names[0]));

  struct stat s {};
  EXPECT_EQ(Err(::stat(P("dir/f").c_str(), &s)), ENOENT);
  {
    Fd again(::open(P("dir/f").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644));
    ASSERT_TRUE(again) << "the name is not free: " << std::strerror(errno);
    ASSERT_TRUE(WriteAll(again.get(), "new"));
  }
  EXPECT_EQ(ReadAt(fd.get(), 100, 0), "old data");
  ASSERT_EQ(::fstat(fd.get(), &s), 0) << std::strerror(errno);
  EXPECT_EQ(s.st_size, 8);
  EXPECT_EQ(ListDir("dir"), std::vector<std::string>{"f"});
  EXPECT_EQ(ReadFile("dir/f"), "new");

  fd.reset();
  EXPECT_TRUE(Eventually([&] { return fake_->Names("dir") == std::vector<std::string>{"f"}; }))
      << "the hidden file outlived its last close";
  EXPECT_EQ(fake_->FileData("dir/f"), "new");
}

TEST_F(FuseFsTest, RenameOverAnOpenFileReplacesIt) {
  fake_->PutFile("a", "new content");
  fake_->PutFile("b", "old content");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd fd(::open(P("b").c_str(), O_RDONLY));
  ASSERT_TRUE(fd) << std::strerror(errno);
  ResetCounts();

  ASSERT_EQ(::rename(P("a").c_str(), P("b").c_str()), 0) << std::strerror(errno);
  // Refused (b is open), b moved to a hidden name and marked, then again.
  EXPECT_EQ(fake_->calls("Rename"), 3) << fake_->CallLog();
  EXPECT_EQ(fake_->calls("Unlink"), 1) << fake_->CallLog();
  EXPECT_EQ(ReadFile("b"), "new content");
  struct stat s {};
  EXPECT_EQ(Err(::stat(P("a").c_str(), &s)), ENOENT);
  EXPECT_EQ(ReadAt(fd.get(), 100, 0), "old content");
  EXPECT_EQ(ListDir(""), std::vector<std::string>{"b"});

  fd.reset();
  EXPECT_TRUE(Eventually([&] { return fake_->Names("") == std::vector<std::string>{"b"}; }))
      << "the replaced file outlived its last close";
  EXPECT_EQ(fake_->FileData("b"), "new content");
}

TEST_F(FuseFsTest, RenameOfADirectoryMovesItsSubtree) {
  fake_->PutFile("da/x", "x");
  fake_->PutDir("db");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  EXPECT_EQ(ListDir("da"), std::vector<std::string>{"x"});
  // Over an empty directory, as rename(2) (and Samba) allow.
  ASSERT_EQ(::rename(P("da").c_str(), P("db").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(ReadFile("db/x"), "x");
  struct stat s {};
  EXPECT_EQ(Err(::stat(P("da/x").c_str(), &s)), ENOENT);
  EXPECT_EQ(ListDir(""), std::vector<std::string>{"db"});
  EXPECT_EQ(fake_->Names(""), std::vector<std::string>{"db"});
}

// A rename refused with EACCES may be about the target (open elsewhere) or
// about the source (here: its ACL lacks DELETE). The target is moved aside
// for the second attempt, and put back when that fails too: never lost.
TEST_F(FuseFsTest, RenameRefusedForTheSourceKeepsTheTarget) {
  fake_->PutFile("a", "A");
  fake_->PutFile("b", "B");
  fake_->DenyDelete("a");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  EXPECT_EQ(Err(::rename(P("a").c_str(), P("b").c_str())), EACCES);
  EXPECT_EQ(fake_->FileData("a"), "A");
  EXPECT_EQ(fake_->FileData("b"), "B") << fake_->CallLog();
  EXPECT_EQ(fake_->Names(""), (std::vector<std::string>{"a", "b"}));
}

// Windows refuses to replace even an empty directory (STATUS_ACCESS_DENIED):
// the target directory is moved aside, the rename done, and the old
// directory removed; no hidden ".smbgate-deleted-*" directory stays.
TEST_F(FuseFsTest, RenameOverAnEmptyDirectoryOnWindowsLeavesNothingBehind) {
  fake_->PutFile("da/x", "x");
  fake_->PutDir("db");
  // What Windows answers to replacing a directory.
  fake_->FailNextFor("Rename", "da -> db", smb2::MakeNtStatusError(st::kAccessDenied));
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  ASSERT_EQ(::rename(P("da").c_str(), P("db").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(ReadFile("db/x"), "x");
  EXPECT_EQ(fake_->Names(""), std::vector<std::string>{"db"}) << fake_->CallLog();
}

TEST_F(FuseFsTest, ShutdownClosesFilesLeftOpen) {
  fake_->PutFile("f", "x");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd fd(::open(P("f").c_str(), O_RDWR));
  ASSERT_TRUE(fd);
  EXPECT_EQ(fake_->open_handles(), 1u);
  Unmount();
  EXPECT_EQ(fake_->open_handles(), 0u);
}

// ---- leases ---------------------------------------------------------------------------

TEST_F(FuseFsTest, LeaseBreakDropsThePageCacheOfAnOpenFile) {
  const std::string a(8192, 'a'), b(8192, 'b'), c(8192, 'c');
  fake_->PutFile("f", a);
  // Long timeouts: only the break may make the kernel read again.
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd fd(::open(P("f").c_str(), O_RDONLY));
  ASSERT_TRUE(fd) << std::strerror(errno);
  EXPECT_EQ(Brief(ReadAt(fd.get(), 8192, 0)), Brief(a));
  const auto leases = fake_->Leases("f");
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].second, smb2::kLeaseRead | smb2::kLeaseHandle | smb2::kLeaseWrite);
  const int reads = fake_->calls("Read");

  // Changed with no break (a server that failed to send one): the kernel's
  // pages still answer, so the page cache is really in play.
  ASSERT_FALSE(fake_->OtherWrite("f", 0, b, /*break_leases=*/false));
  EXPECT_EQ(Brief(ReadAt(fd.get(), 8192, 0)), Brief(a));
  EXPECT_EQ(fake_->calls("Read"), reads);

  // Another client writes: the server breaks the lease to none first and
  // waits for the acknowledgement; the pages went before it.
  ASSERT_FALSE(fake_->OtherWrite("f", 0, c));
  EXPECT_EQ(fake_->breaks_sent(), 1);
  EXPECT_EQ(fake_->breaks_acked(), 1);
  EXPECT_EQ(fake_->extra_acks(), 0);
  EXPECT_EQ(lease_breaks_.load(), 1);
  EXPECT_EQ(Brief(ReadAt(fd.get(), 8192, 0)), Brief(c));
  EXPECT_GT(fake_->calls("Read"), reads);
}

TEST_F(FuseFsTest, LeaseBreakRefreshesTheAttributesOfAnOpenFile) {
  fake_->PutFile("f", "abc");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd fd(::open(P("f").c_str(), O_RDONLY));
  ASSERT_TRUE(fd);
  struct stat s {};
  ASSERT_EQ(::fstat(fd.get(), &s), 0);
  EXPECT_EQ(s.st_size, 3);
  ASSERT_FALSE(fake_->OtherWrite("f", 3, "defg"));
  ASSERT_EQ(::fstat(fd.get(), &s), 0);
  EXPECT_EQ(s.st_size, 7);
  ASSERT_EQ(::stat(P("f").c_str(), &s), 0);
  EXPECT_EQ(s.st_size, 7);
  EXPECT_EQ(ReadAt(fd.get(), 100, 0), "abcdefg");
}

TEST_F(FuseFsTest, EachBreakIsAcknowledgedOnceAfterTheCachesGo) {
  fake_->PutFile("f", std::string(4096, 'a'));
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd fd(::open(P("f").c_str(), O_RDONLY));
  ASSERT_TRUE(fd);
  EXPECT_EQ(Brief(ReadAt(fd.get(), 4096, 0)), Brief(std::string(4096, 'a')));
  // Write caching only: the pages stay, the break is acknowledged at once.
  FakeRemoteFs::BreakOutcome o = fake_->BreakLeases("f", smb2::kLeaseRead | smb2::kLeaseHandle);
  EXPECT_EQ(o.sent, 1);
  EXPECT_TRUE(o.all_acked());
  EXPECT_EQ(lease_breaks_.load(), 0);
  // Down to none: acknowledged after the caches went.
  const auto key = fake_->Leases("f").at(0).first;
  o = fake_->BreakLease(key, 0);
  EXPECT_EQ(o.sent, 1);
  EXPECT_TRUE(o.all_acked());
  EXPECT_EQ(lease_breaks_.load(), 1);
  EXPECT_EQ(fake_->extra_acks(), 0);
  EXPECT_EQ(fake_->Leases("f").at(0).second, 0u);
}

TEST_F(FuseFsTest, PageCacheIsKeptAcrossOpensWhileALeaseIsHeld) {
  const std::string a(16384, 'a');
  fake_->PutFile("f", a);
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd one(::open(P("f").c_str(), O_RDONLY));
  ASSERT_TRUE(one);
  EXPECT_EQ(Brief(ReadAt(one.get(), a.size(), 0)), Brief(a));
  const int reads = fake_->calls("Read");
  Fd two(::open(P("f").c_str(), O_RDONLY));
  ASSERT_TRUE(two);
  EXPECT_EQ(Brief(ReadAt(two.get(), a.size(), 0)), Brief(a));
  EXPECT_EQ(fake_->calls("Read"), reads) << fake_->CallLog();
  // Both opens share the file's one lease.
  EXPECT_EQ(fake_->Leases("f").size(), 1u);
  EXPECT_EQ(fake_->cross_key_breaks(), 0);
}

// Two first opens of a file in flight together carry one lease key (the
// node's), so the file has one lease on the server, counted once per open:
// a break after the first close still drops the page cache of the other.
TEST_F(FuseFsTest, ConcurrentFirstOpensShareOneLease) {
  const std::string a(8192, 'a'), b(8192, 'b');
  fake_->PutFile("f", a);
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  struct stat s {};
  ASSERT_EQ(::stat(P("f").c_str(), &s), 0);
  std::future<int> first, second;
  Finally release{[&] { fake_->ReleaseOpens(); }};
  fake_->HoldOpens();
  first = std::async(std::launch::async, [&] { return ::open(P("f").c_str(), O_RDONLY); });
  ASSERT_TRUE(Eventually([&] { return fake_->held_opens() == 1; }));
  second = std::async(std::launch::async, [&] { return ::open(P("f").c_str(), O_RDONLY); });
  ASSERT_TRUE(Eventually([&] { return fake_->held_opens() == 2; }));
  fake_->ReleaseOpens();
  Fd one(first.get());
  Fd two(second.get());
  ASSERT_TRUE(one && two);
  EXPECT_EQ(fake_->Leases("f").size(), 1u) << "one lease key per file";
  EXPECT_EQ(fake_->cross_key_breaks(), 0);

  EXPECT_EQ(Brief(ReadAt(two.get(), a.size(), 0)), Brief(a));
  one.reset();
  ASSERT_TRUE(Eventually([&] { return fake_->open_handles() == 1; }));
  ASSERT_FALSE(fake_->OtherWrite("f", 0, b));
  EXPECT_EQ(Brief(ReadAt(two.get(), b.size(), 0)), Brief(b)) << "stale page cache after a lease break";
}

// An open or create that an interrupt answered with EINTR (the server
// seemed lost) and that the server carries out afterwards: no caller has the
// handle and the kernel will never release it, so the mount closes it.
TEST_F(FuseFsTest, AnOpenAnsweredByAnInterruptIsClosedWhenTheServerCompletesIt) {
  fake_->PutFile("f", "data");
  FsOptions o = Options(30);
  o.waiting_for_server = [] { return true; };
  ASSERT_NO_FATAL_FAILURE(Mount(o));
  struct sigaction quiet {};
  quiet.sa_handler = [](int) {};
  sigemptyset(&quiet.sa_mask);  // no SA_RESTART: the open returns EINTR
  struct sigaction old {};
  ASSERT_EQ(::sigaction(SIGUSR1, &quiet, &old), 0);
  Finally restore{[&] {
    fake_->ReleaseOpens();
    ::sigaction(SIGUSR1, &old, nullptr);
  }};
  struct stat st;
  ASSERT_EQ(::stat(P("f").c_str(), &st), 0);  // the lookup out of the way
  for (const int flags : {O_RDONLY, O_RDWR | O_CREAT}) {
    const std::string name = flags & O_CREAT ? "g" : "f";
    SCOPED_TRACE(name);
    fake_->HoldOpens();
    std::atomic<bool> done{false};
    int rc = 0, err = 0;
    std::thread t([&] {
      rc = ::open(P(name).c_str(), flags, 0644);
      err = errno;
      if (rc >= 0) ::close(rc);
      done = true;
    });
    ASSERT_TRUE(Eventually([&] { return fake_->held_opens() == 1; }));
    // The kernel sends FUSE_INTERRUPT for the signal; smbgate answers EINTR.
    for (int i = 0; i < 100 && !done; ++i) {
      ::pthread_kill(t.native_handle(), SIGUSR1);
      std::this_thread::sleep_for(20ms);
    }
    const bool returned = done;
    if (!returned) fake_->ReleaseOpens();
    t.join();
    ASSERT_TRUE(returned) << "the open was not interrupted";
    EXPECT_EQ(rc, -1);
    EXPECT_EQ(err, EINTR);
    EXPECT_EQ(fake_->open_handles(), 0u);
    fake_->ReleaseOpens();  // the server carries the open out now
    EXPECT_TRUE(Eventually([&] { return fake_->open_handles() == 0 && fake_->calls("Close") > 0; }))
        << fake_->open_handles() << " handle(s) left open on the server";
  }
}

TEST_F(FuseFsTest, PageCacheIsDroppedAtOpenWithoutALease) {
  const std::string a(16384, 'a');
  fake_->PutFile("f", a);
  fake_->set_leases(false);  // SMB 2.0.2
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd one(::open(P("f").c_str(), O_RDONLY));
  ASSERT_TRUE(one);
  EXPECT_EQ(Brief(ReadAt(one.get(), a.size(), 0)), Brief(a));
  const int reads = fake_->calls("Read");
  ASSERT_FALSE(fake_->OtherWrite("f", 0, std::string(16384, 'b')));
  Fd two(::open(P("f").c_str(), O_RDONLY));
  ASSERT_TRUE(two);
  EXPECT_EQ(Brief(ReadAt(two.get(), a.size(), 0)), Brief(std::string(16384, 'b')));
  EXPECT_GT(fake_->calls("Read"), reads);
  EXPECT_EQ(fake_->breaks_sent(), 0);
}

TEST_F(FuseFsTest, CacheNoneReadsFromTheServerEveryTime) {
  fake_->PutFile("f", std::string(4096, 'a'));
  FsOptions o = Options(30);
  o.cache = CacheMode::kNone;
  ASSERT_NO_FATAL_FAILURE(Mount(o));
  Fd fd(::open(P("f").c_str(), O_RDONLY));
  ASSERT_TRUE(fd);
  EXPECT_EQ(Brief(ReadAt(fd.get(), 4096, 0)), Brief(std::string(4096, 'a')));
  EXPECT_EQ(fake_->calls("Read"), 1);
  ASSERT_FALSE(fake_->OtherWrite("f", 0, "b", /*break_leases=*/false));
  EXPECT_EQ(ReadAt(fd.get(), 1, 0), "b");
  EXPECT_EQ(fake_->calls("Read"), 2);
}

// ---- limits and errors ----------------------------------------------------------------

TEST_F(FuseFsTest, NamesLongerThan255BytesAreRefusedLocally) {
  fake_->PutFile("f", "x");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  struct stat s {};
  ASSERT_EQ(::stat(P("f").c_str(), &s), 0);
  ResetCounts();

  const std::string long_name(256, 'n');
  EXPECT_EQ(Err(::stat(P(long_name).c_str(), &s)), ENAMETOOLONG);
  EXPECT_EQ(Err(::open(P(long_name).c_str(), O_CREAT | O_WRONLY, 0644)), ENAMETOOLONG);
  EXPECT_EQ(Err(::mkdir(P(long_name).c_str(), 0755)), ENAMETOOLONG);
  EXPECT_EQ(Err(::rename(P("f").c_str(), P(long_name).c_str())), ENAMETOOLONG);
  EXPECT_EQ(Total(fake_->all_calls()), 0) << fake_->CallLog();

  const std::string max_name(255, 'k');
  {
    Fd f(::open(P(max_name).c_str(), O_CREAT | O_WRONLY, 0644));
    EXPECT_TRUE(f) << std::strerror(errno);
  }
  EXPECT_TRUE(fake_->Attributes(max_name).has_value());

  struct statvfs v {};
  ASSERT_EQ(::statvfs(dir_.c_str(), &v), 0);
  EXPECT_EQ(v.f_namemax, 255u);
  EXPECT_EQ(v.f_bsize, 4096u);
  EXPECT_EQ(v.f_blocks, (1ull << 30) / 4096);
  EXPECT_EQ(v.f_bavail, (1ull << 29) / 4096);
}

TEST_F(FuseFsTest, StatfsNeverReportsMoreThanNameMax) {
  smb2::FsStats stats;
  stats.total_bytes = 1 << 20;
  stats.free_bytes = 1 << 19;
  stats.block_size = 512;
  stats.max_name_length = 1024;
  fake_->set_fs_stats(stats);
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  struct statvfs v {};
  ASSERT_EQ(::statvfs(dir_.c_str(), &v), 0);
  EXPECT_EQ(v.f_namemax, 255u);
  EXPECT_EQ(v.f_blocks, 2048u);
}

TEST_F(FuseFsTest, ServerErrorsBecomeTheirErrno) {
  for (const char* n : {"o1", "o2", "o3", "s1", "s2", "s3", "r1", "w1", "l1"}) fake_->PutFile(n, "data");
  fake_->PutDir("dir");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  struct stat s {};
  for (const char* n : {"o1", "o2", "o3", "r1", "w1", "l1", "dir"}) ASSERT_EQ(::stat(P(n).c_str(), &s), 0) << n;
  auto fail_next = [&](const char* method, std::uint32_t status) {
    fake_->FailNext(method, smb2::MakeNtStatusError(status));
  };

  fail_next("Open", st::kAccessDenied);
  EXPECT_EQ(Err(::open(P("o1").c_str(), O_RDONLY)), EACCES);
  fail_next("Open", st::kSharingViolation);
  EXPECT_EQ(Err(::open(P("o2").c_str(), O_RDWR)), EBUSY);
  fail_next("Open", st::kObjectNameNotFound);
  EXPECT_EQ(Err(::open(P("o3").c_str(), O_RDONLY)), ENOENT);
  {
    Fd ok(::open(P("o1").c_str(), O_RDONLY));  // the failure was for one call only
    EXPECT_TRUE(ok) << std::strerror(errno);
  }

  fake_->ResetCalls();
  fail_next("Stat", st::kAccessDenied);
  EXPECT_EQ(Err(::stat(P("s1").c_str(), &s)), EACCES);
  fail_next("Stat", st::kObjectNameNotFound);
  EXPECT_EQ(Err(::stat(P("s2").c_str(), &s)), ENOENT);
  // ... and a negative entry now: the next stat asks nobody.
  EXPECT_EQ(Err(::stat(P("s2").c_str(), &s)), ENOENT);
  EXPECT_EQ(fake_->calls_for("Stat", "s2"), 1) << fake_->CallLog();
  // A file deleted while open elsewhere is gone for POSIX.
  fail_next("Stat", st::kDeletePending);
  EXPECT_EQ(Err(::stat(P("s3").c_str(), &s)), ENOENT);

  fail_next("OpenListing", st::kAccessDenied);
  EXPECT_EQ(::opendir(P("dir").c_str()), nullptr);
  EXPECT_EQ(errno, EACCES);

  {
    Fd r(::open(P("r1").c_str(), O_RDONLY));
    ASSERT_TRUE(r);
    // The kernel tries a failed readahead once more, as a plain read.
    fake_->FailNext("Read", smb2::MakeNtStatusError(st::kFileLockConflict), 2);
    char buf[16];
    EXPECT_EQ(Err(::pread(r.get(), buf, sizeof buf, 0)), EACCES) << fake_->CallLog();
    fake_->ClearFailures();
  }
  {
    // Under the write lease the write is taken at once (write-behind); the
    // server's refusal comes with the next fsync, once.
    Fd w(::open(P("w1").c_str(), O_WRONLY));
    ASSERT_TRUE(w);
    fail_next("Write", st::kDiskFull);
    EXPECT_EQ(::pwrite(w.get(), "x", 1, 0), 1);
    EXPECT_EQ(Err(::fsync(w.get())), ENOSPC);
    EXPECT_EQ(::fsync(w.get()), 0);
  }
  {
    // Without a lease each write waits for the server: its error is its own.
    fake_->set_leases(false);
    Fd w(::open(P("w1").c_str(), O_WRONLY));
    ASSERT_TRUE(w);
    fail_next("Write", st::kDiskFull);
    EXPECT_EQ(Err(::pwrite(w.get(), "x", 1, 0)), ENOSPC);
    fake_->set_leases(true);
  }
  // Hard links: not supported by this server.
  EXPECT_EQ(Err(::link(P("l1").c_str(), P("l2").c_str())), EOPNOTSUPP);
}

// ---- write-behind (cache=strict under a write lease) -------------------------------------

TEST_F(FuseFsTest, SmallWritesAreGatheredUnderAWriteLease) {
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  std::string data(256 * 1024, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 13 + i / 1000) % 251);
  // A server's round trip: the application writes on meanwhile.
  fake_->set_write_latency(std::chrono::milliseconds(2));
  fake_->ResetCalls();
  {
    Fd w(::open(P("wb.bin").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644));
    ASSERT_TRUE(w) << std::strerror(errno);
    for (std::size_t off = 0; off < data.size(); off += 1024) {
      ASSERT_EQ(::write(w.get(), data.data() + off, 1024), 1024) << std::strerror(errno);
    }
    // Before the close: a stat and a read through another descriptor see
    // every byte (the writes on their way land first).
    struct stat s {};
    ASSERT_EQ(::stat(P("wb.bin").c_str(), &s), 0);
    EXPECT_EQ(s.st_size, static_cast<off_t>(data.size()));
    Fd r(::open(P("wb.bin").c_str(), O_RDONLY));
    ASSERT_TRUE(r);
    EXPECT_EQ(ReadAt(r.get(), 2000, 100000), data.substr(100000, 2000));
  }
  EXPECT_TRUE(fake_->FileData("wb.bin") == data) << Brief(fake_->FileData("wb.bin").value_or(""));
  // 256 writes of 1 KiB, gathered into requests of up to 64 KiB (the
  // fake's size).
  EXPECT_LT(fake_->calls("Write"), 256 / 4) << fake_->CallLog();
  EXPECT_GE(fake_->calls("Write"), 4);
}

TEST_F(FuseFsTest, WritesBehindReachTheServerBeforeAnotherClientGetsTheFile) {
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd w(::open(P("shared.txt").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644));
  ASSERT_TRUE(w) << std::strerror(errno);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(::write(w.get(), "0123456789", 10), 10);
  // Another client writes at the end: the server breaks this mount's
  // lease first, and the break waits for the writes taken so far.
  ASSERT_FALSE(fake_->OtherWrite("shared.txt", 1000, "END"));
  EXPECT_EQ(fake_->breaks_sent(), fake_->breaks_acked());
  const auto on_server = fake_->FileData("shared.txt").value_or("");
  ASSERT_EQ(on_server.size(), 1003u);
  EXPECT_EQ(on_server.substr(990), "0123456789END");
  // Without the lease the next write goes through at once.
  fake_->ResetCalls();
  ASSERT_EQ(::pwrite(w.get(), "abc", 3, 0), 3);
  EXPECT_EQ(fake_->calls("Write"), 1);
  EXPECT_EQ(fake_->FileData("shared.txt").value_or("").substr(0, 3), "abc");
}

TEST_F(FuseFsTest, TruncateAndOverlappingWritesKeepTheirOrder) {
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd w(::open(P("ord.bin").c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644));
  ASSERT_TRUE(w) << std::strerror(errno);
  ASSERT_EQ(::pwrite(w.get(), "aaaaaaaaaa", 10, 0), 10);
  ASSERT_EQ(::pwrite(w.get(), "bbbbb", 5, 100), 5);
  // The same bytes again: the later write wins on the server.
  ASSERT_EQ(::pwrite(w.get(), "cc", 2, 2), 2);
  ASSERT_EQ(::ftruncate(w.get(), 50), 0);
  ASSERT_EQ(::pwrite(w.get(), "dd", 2, 60), 2);
  ASSERT_EQ(::fsync(w.get()), 0);
  std::string want = "aaccaaaaaa" + std::string(50, '\0') + "dd";
  want.resize(62, '\0');
  EXPECT_TRUE(fake_->FileData("ord.bin") == want) << Brief(fake_->FileData("ord.bin").value_or(""));
}

// An untar's pattern under the write lease: create, write, fstat, fchmod
// that keeps the mode's write bit, futimens, fstat, close. The file's
// attributes are this mount's while it holds the lease: only the futimens
// goes to the server, and every answer includes the writes on their way.
TEST_F(FuseFsTest, StatsOfAFileWrittenUnderTheWriteLeaseNeedNoRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  fake_->set_write_latency(std::chrono::milliseconds(2));
  Fd w(::open(P("t.c").c_str(), O_CREAT | O_WRONLY | O_EXCL, 0644));
  ASSERT_TRUE(w) << std::strerror(errno);
  fake_->ResetCalls();
  const std::string data(3000, 'x');
  ASSERT_EQ(::write(w.get(), data.data(), data.size()), 3000);
  ASSERT_EQ(::write(w.get(), data.data(), data.size()), 3000);
  struct stat s {};
  ASSERT_EQ(::fstat(w.get(), &s), 0);
  EXPECT_EQ(s.st_size, 6000);
  ASSERT_EQ(::fchmod(w.get(), 0640), 0);
  ASSERT_EQ(::stat(P("t.c").c_str(), &s), 0);
  EXPECT_EQ(s.st_size, 6000);
  auto queries = [&] {
    return fake_->calls("GetAttributes") + fake_->calls("Stat") + fake_->calls("Update") +
           fake_->calls("UpdatePath");
  };
  EXPECT_EQ(queries(), 0) << fake_->CallLog();
  const struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::futimens(w.get(), times), 0);
  EXPECT_EQ(queries(), 1) << fake_->CallLog();
  ASSERT_EQ(::fstat(w.get(), &s), 0);
  EXPECT_EQ(s.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(s.st_size, 6000);
  ASSERT_EQ(::pwrite(w.get(), "end", 3, 6000), 3);
  ASSERT_EQ(::fstat(w.get(), &s), 0);
  EXPECT_EQ(s.st_size, 6003);
  EXPECT_EQ(queries(), 1) << fake_->CallLog();
  w.reset();
  EXPECT_EQ(fake_->FileData("t.c").value_or("").size(), 6003u);
}

// chmod needs the file's other DOS attributes: asked through an open
// handle, and by path when that handle was closed meanwhile (its release
// runs alongside).
TEST_F(FuseFsTest, ChmodFallsBackToThePathWhenItsHandleWasClosed) {
  fake_->PutFile("m.txt", "abc");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(1)));
  Fd w(::open(P("m.txt").c_str(), O_WRONLY));
  ASSERT_TRUE(w) << std::strerror(errno);
  std::this_thread::sleep_for(1100ms);  // the DOS attributes known expire
  fake_->ResetCalls();
  fake_->FailNext("GetAttributes", smb2::MakeNtStatusError(st::kFileClosed));
  ASSERT_EQ(::fchmod(w.get(), 0444), 0) << std::strerror(errno) << " " << fake_->CallLog();
  EXPECT_TRUE(fake_->Attributes("m.txt")->file_attributes & smb2::kAttributeReadonly);
  EXPECT_EQ(fake_->calls("GetAttributes"), 1) << fake_->CallLog();
  EXPECT_EQ(fake_->calls_for("Stat", "m.txt"), 1) << fake_->CallLog();
}

// A write taken behind the application that the server then refuses is
// no longer in the file's size: the next answer is the server's (the
// error itself comes with the next fsync).
TEST_F(FuseFsTest, AWriteBehindThatFailsLeavesTheOwnedSize) {
  ASSERT_NO_FATAL_FAILURE(Mount(Options(1)));
  Fd w(::open(P("f.bin").c_str(), O_CREAT | O_WRONLY | O_EXCL, 0644));
  ASSERT_TRUE(w) << std::strerror(errno);
  const std::string data(3000, 'x');
  ASSERT_EQ(::write(w.get(), data.data(), data.size()), 3000);
  ASSERT_EQ(::fsync(w.get()), 0);
  const int writes = fake_->calls("Write");
  fake_->FailNext("Write", smb2::MakeNtStatusError(st::kDiskFull));
  // Within one page: one FUSE write (a later one would take the error).
  ASSERT_EQ(::pwrite(w.get(), data.data(), 1000, 3000), 1000);
  ASSERT_TRUE(Eventually([&] { return fake_->calls("Write") > writes; })) << fake_->CallLog();
  // The kernel's own copy of the attributes lasts actimeo.
  std::this_thread::sleep_for(1100ms);
  struct stat s {};
  ASSERT_EQ(::fstat(w.get(), &s), 0);
  EXPECT_EQ(s.st_size, 3000);
  EXPECT_EQ(Err(::fsync(w.get())), ENOSPC);
}

// Another client's change breaks the lease: the attributes are the
// server's again, at once.
TEST_F(FuseFsTest, AttributesOwnedUnderTheWriteLeaseGoAtItsBreak) {
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd w(::open(P("o.txt").c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644));
  ASSERT_TRUE(w) << std::strerror(errno);
  ASSERT_EQ(::write(w.get(), "0123456789", 10), 10);
  struct stat s {};
  ASSERT_EQ(::fstat(w.get(), &s), 0);
  EXPECT_EQ(s.st_size, 10);
  ASSERT_FALSE(fake_->OtherWrite("o.txt", 10, "0123456789"));
  ASSERT_EQ(::fstat(w.get(), &s), 0);
  EXPECT_EQ(s.st_size, 20);
  // Without the lease the next write goes through and the size is asked for.
  ASSERT_EQ(::pwrite(w.get(), "ab", 2, 20), 2);
  fake_->ResetCalls();
  ASSERT_EQ(::fstat(w.get(), &s), 0);
  EXPECT_EQ(s.st_size, 22);
  EXPECT_EQ(fake_->calls("GetAttributes"), 1) << fake_->CallLog();
}

// ---- locks -----------------------------------------------------------------------------

TEST_F(FuseFsTest, FlockConflictsBetweenTwoOpenFiles) {
  fake_->PutFile("lk", "data");
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd a(::open(P("lk").c_str(), O_RDWR));
  Fd b(::open(P("lk").c_str(), O_RDWR));
  ASSERT_TRUE(a && b) << std::strerror(errno);

  ASSERT_EQ(::flock(a.get(), LOCK_EX | LOCK_NB), 0) << std::strerror(errno);
  EXPECT_EQ(Err(::flock(b.get(), LOCK_EX | LOCK_NB)), EWOULDBLOCK);
  EXPECT_EQ(Err(::flock(b.get(), LOCK_SH | LOCK_NB)), EWOULDBLOCK);
  EXPECT_EQ(fake_->locks_on("lk"), 1u);  // held on the server too
  ASSERT_EQ(::flock(a.get(), LOCK_UN), 0);
  EXPECT_EQ(fake_->locks_on("lk"), 0u);
  EXPECT_EQ(::flock(b.get(), LOCK_SH | LOCK_NB), 0) << std::strerror(errno);
  EXPECT_EQ(::flock(a.get(), LOCK_SH | LOCK_NB), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->locks_on("lk"), 2u);
  EXPECT_EQ(Err(::flock(a.get(), LOCK_EX | LOCK_NB)), EWOULDBLOCK);
  // A close lets go of the open's lock.
  b.reset();
  EXPECT_TRUE(Eventually([&] { return ::flock(a.get(), LOCK_EX | LOCK_NB) == 0; }));
}

TEST_F(FuseFsTest, FcntlLockConflictsWithAnotherProcess) {
  fake_->PutFile("lk", std::string(200, 'x'));
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  const std::string path = P("lk");
  int ready[2], go[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only async-signal-safe calls: the parent has threads.
    const int fd = ::open(path.c_str(), O_RDWR);
    struct flock l {};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    l.l_start = 0;
    l.l_len = 100;
    char c = fd >= 0 && ::fcntl(fd, F_SETLK, &l) == 0 ? 'y' : 'n';
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    if (::read(go[0], &c, 1) < 0) ::_exit(1);
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(go[0]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_EQ(c, 'y') << "the child could not lock";

  Fd fd(::open(path.c_str(), O_RDWR));
  ASSERT_TRUE(fd);
  struct flock l {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  l.l_start = 50;
  l.l_len = 100;
  EXPECT_EQ(Err(::fcntl(fd.get(), F_SETLK, &l)), EAGAIN);
  struct flock q {};
  q.l_type = F_RDLCK;
  q.l_whence = SEEK_SET;
  q.l_start = 10;
  q.l_len = 1;
  ASSERT_EQ(::fcntl(fd.get(), F_GETLK, &q), 0) << std::strerror(errno);
  EXPECT_EQ(q.l_type, F_WRLCK);
  EXPECT_EQ(q.l_pid, child);
  EXPECT_EQ(q.l_start, 0);
  EXPECT_EQ(q.l_len, 100);
  struct flock beside = l;
  beside.l_start = 100;
  EXPECT_EQ(::fcntl(fd.get(), F_SETLK, &beside), 0) << std::strerror(errno);

  // The child's exit closes its descriptor: POSIX drops its locks.
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ::close(ready[0]);
  ::close(go[1]);
  l.l_start = 0;
  EXPECT_EQ(::fcntl(fd.get(), F_SETLK, &l), 0) << std::strerror(errno);
}

TEST_F(FuseFsTest, LockHeldByAnotherClient) {
  fake_->PutFile("lk", std::string(200, 'x'));
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd fd(::open(P("lk").c_str(), O_RDWR));
  ASSERT_TRUE(fd);
  ASSERT_FALSE(fake_->OtherLock("lk", 0, 100, true));

  struct flock l {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  l.l_start = 20;
  l.l_len = 10;
  EXPECT_EQ(Err(::fcntl(fd.get(), F_SETLK, &l)), EAGAIN);
  struct flock q = l;
  ASSERT_EQ(::fcntl(fd.get(), F_GETLK, &q), 0) << std::strerror(errno);
  EXPECT_EQ(q.l_type, F_WRLCK);  // someone on another client (pid unknown)

  // F_SETLKW waits on the server until the other client lets go.
  auto waited = std::async(std::launch::async, [&] { return Err(::fcntl(fd.get(), F_SETLKW, &l)); });
  Finally unmount{[&] { Unmount(); }};
  EXPECT_EQ(waited.wait_for(200ms), std::future_status::timeout);
  ASSERT_FALSE(fake_->OtherUnlock("lk", 0, 100));
  ASSERT_EQ(waited.wait_for(3s), std::future_status::ready);
  EXPECT_EQ(waited.get(), 0);
  EXPECT_EQ(fake_->locks_on("lk"), 1u);
  EXPECT_EQ(fake_->OtherLock("lk", 25, 1, false), smb2::MakeNtStatusError(st::kLockNotGranted));
}

// Under a write lease no other client has the file open: byte-range locks
// are kept by the mount (no SMB LOCK), so an upgrade is atomic, and they
// reach the server when the lease is broken, before the acknowledgement.
TEST_F(FuseFsTest, LocksAreKeptUnderAWriteLeaseAndPushedAtItsBreak) {
  fake_->PutFile("lk", std::string(200, 'x'));
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd fd(::open(P("lk").c_str(), O_RDWR));
  ASSERT_TRUE(fd);
  ResetCounts();
  struct flock l {};
  l.l_type = F_RDLCK;
  l.l_whence = SEEK_SET;
  l.l_start = 0;
  l.l_len = 100;
  ASSERT_EQ(::fcntl(fd.get(), F_SETLK, &l), 0) << std::strerror(errno);
  l.l_type = F_WRLCK;  // an upgrade in place
  ASSERT_EQ(::fcntl(fd.get(), F_SETLK, &l), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->calls("Lock"), 0) << fake_->CallLog();
  EXPECT_EQ(fake_->locks_on("lk"), 0u);

  // Another client wants the file: the write caching ends.
  const auto out = fake_->BreakLeases("lk", smb2::kLeaseRead | smb2::kLeaseHandle);
  EXPECT_EQ(out.sent, 1);
  EXPECT_TRUE(out.all_acked());
  EXPECT_EQ(fake_->locks_on("lk"), 1u) << "the kept lock was not on the server at the acknowledgement";
  EXPECT_EQ(fake_->OtherLock("lk", 50, 1, false), smb2::MakeNtStatusError(st::kLockNotGranted));

  // From now on the server has them: the unlock goes there.
  l.l_type = F_UNLCK;
  ASSERT_EQ(::fcntl(fd.get(), F_SETLK, &l), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->locks_on("lk"), 0u);
  EXPECT_FALSE(fake_->OtherLock("lk", 50, 1, false));
}

// The write lease outlives the locks taken under it: a lock after an
// unlock is kept too.
TEST_F(FuseFsTest, LocksStayKeptAfterAnUnlockUnderAWriteLease) {
  fake_->PutFile("lk", std::string(200, 'x'));
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd fd(::open(P("lk").c_str(), O_RDWR));
  ASSERT_TRUE(fd);
  ResetCounts();
  struct flock l {};
  l.l_whence = SEEK_SET;
  l.l_len = 10;
  for (short type : {F_WRLCK, F_UNLCK, F_WRLCK, F_UNLCK}) {
    l.l_type = type;
    ASSERT_EQ(::fcntl(fd.get(), F_SETLK, &l), 0) << std::strerror(errno);
  }
  EXPECT_EQ(fake_->calls("Lock"), 0) << fake_->CallLog();
}

TEST_F(FuseFsTest, ShutdownEndsALockWaitingForAnotherClient) {
  fake_->PutFile("lk", std::string(200, 'x'));
  ASSERT_NO_FATAL_FAILURE(Mount(Options(30)));
  Fd fd(::open(P("lk").c_str(), O_RDWR));
  ASSERT_TRUE(fd);
  ASSERT_FALSE(fake_->OtherLock("lk", 0, 100, true));
  auto waited = std::async(std::launch::async, [&] {
    struct flock l {};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    l.l_len = 10;
    return Err(::fcntl(fd.get(), F_SETLKW, &l));
  });
  Finally unmount{[&] { Unmount(); }};
  EXPECT_EQ(waited.wait_for(200ms), std::future_status::timeout);
  const auto start = std::chrono::steady_clock::now();
  Unmount();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  ASSERT_EQ(waited.wait_for(3s), std::future_status::ready);
  EXPECT_NE(waited.get(), 0);
  EXPECT_EQ(fake_->open_handles(), 0u);
}

// ---- deferred close (closetimeo) -------------------------------------------

class DeferredCloseTest : public FuseFsTest {
 protected:
  static FsOptions Deferred(double close_timeout) {
    FsOptions o = Options(30);
    o.close_timeout = close_timeout;
    return o;
  }
  // Opens, reads and closes `rel`; waits for the kernel's RELEASE.
  std::string ReadAndClose(const std::string& rel) {
    const int before = ops("release");
    Fd fd(::open(P(rel).c_str(), O_RDONLY));
    if (!fd) return "open: " + std::string(std::strerror(errno));
    std::string got = ReadAt(fd.get(), 64, 0);
    fd.reset();
    Eventually([&] { return ops("release") > before; });
    return got;
  }
};

TEST_F(DeferredCloseTest, AReopenTakesTheKeptHandleBack) {
  fake_->PutFile("f", "kept");
  ASSERT_NO_FATAL_FAILURE(Mount(Deferred(30)));
  ASSERT_EQ(ReadAndClose("f"), "kept");
  EXPECT_EQ(fake_->calls("Close"), 0) << fake_->CallLog();
  EXPECT_EQ(fake_->open_handles(), 1u);
  ResetCounts();
  ASSERT_EQ(ReadAndClose("f"), "kept");
  EXPECT_EQ(fake_->calls("Open"), 0) << fake_->CallLog();
  EXPECT_EQ(fake_->open_handles(), 1u);
  // A write open is another access: a handle of its own, closed at once
  // (a written file's close sets its time on the server).
  const int released = ops("release");
  { Fd w(::open(P("f").c_str(), O_WRONLY)); ASSERT_TRUE(w) << std::strerror(errno); }
  EXPECT_EQ(fake_->calls("Open"), 1) << fake_->CallLog();
  EXPECT_TRUE(Eventually([&] { return ops("release") > released && fake_->calls("Close") == 1; }))
      << fake_->CallLog();
  EXPECT_EQ(fake_->open_handles(), 1u);
}

TEST_F(DeferredCloseTest, TheHandleClosesWhenItsTimeIsUp) {
  fake_->PutFile("f", "x");
  ASSERT_NO_FATAL_FAILURE(Mount(Deferred(0.2)));
  ASSERT_EQ(ReadAndClose("f"), "x");
  EXPECT_TRUE(Eventually([&] { return fake_->calls("Close") == 1 && fake_->open_handles() == 0; }))
      << fake_->CallLog();
}

TEST_F(DeferredCloseTest, UnlinkAndRenameCloseKeptHandlesFirst) {
  fake_->PutFile("f", "x");
  fake_->PutFile("d/g", "y");
  ASSERT_NO_FATAL_FAILURE(Mount(Deferred(30)));
  ASSERT_EQ(ReadAndClose("f"), "x");
  ASSERT_EQ(ReadAndClose("d/g"), "y");
  EXPECT_EQ(fake_->open_handles(), 2u);
  // The name is free at once: nothing keeps the file marked for deletion.
  ASSERT_EQ(::unlink(P("f").c_str()), 0) << std::strerror(errno);
  EXPECT_FALSE(fake_->DeletePending("f"));
  EXPECT_EQ(fake_->open_handles(), 0u);
  { Fd c(::open(P("f").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644)); ASSERT_TRUE(c) << std::strerror(errno); }
  // A directory whose file was just read renames (a server refuses that
  // while a handle inside is open).
  ASSERT_EQ(ReadAndClose("d/g"), "y");
  ASSERT_EQ(::rename(P("d").c_str(), P("e").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(fake_->Names("e"), std::vector<std::string>{"g"});
}

TEST_F(DeferredCloseTest, AnotherClientsDeleteBreaksTheLeaseAndClosesIt) {
  fake_->PutFile("f", "x");
  ASSERT_NO_FATAL_FAILURE(Mount(Deferred(30)));
  ASSERT_EQ(ReadAndClose("f"), "x");
  EXPECT_EQ(fake_->open_handles(), 1u);
  EXPECT_FALSE(fake_->OtherDelete("f"));
  EXPECT_FALSE(fake_->DeletePending("f"));
  EXPECT_EQ(fake_->open_handles(), 0u);
  EXPECT_TRUE(fake_->Names("").empty());
}

TEST_F(DeferredCloseTest, WithoutALeaseTheCloseIsImmediate) {
  fake_->set_leases(false);
  fake_->PutFile("f", "x");
  ASSERT_NO_FATAL_FAILURE(Mount(Deferred(30)));
  ASSERT_EQ(ReadAndClose("f"), "x");
  EXPECT_TRUE(Eventually([&] { return fake_->open_handles() == 0; }));
}

}  // namespace
}  // namespace smbgate::fuse
