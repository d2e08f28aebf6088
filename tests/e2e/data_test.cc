// Data integrity through the mount: a 256 MiB file by content hash (with
// throughput figures), two processes writing and reading one file at once, a
// randomized model-checked run of writes, reads and truncates, and SMB 2.0.2
// with its 64 KiB limit per READ/WRITE.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace smbgate::test::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr std::size_t kMiB = 1 << 20;

class Sha256Stream {
 public:
  Sha256Stream() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256Stream() { EVP_MD_CTX_free(ctx_); }
  void Update(const void* p, std::size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string Hex() {
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < len; ++i) {
      s += hex[md[i] >> 4];
      s += hex[md[i] & 15];
    }
    return s;
  }

 private:
  EVP_MD_CTX* ctx_;
};

bool WriteAll(int fd, const void* p, std::size_t n, off_t off) {
  const auto* b = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, b, n, off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    b += w;
    n -= static_cast<std::size_t>(w);
    off += w;
  }
  return true;
}

// Reads exactly `n` bytes unless the file ends first; the count read, or -1.
ssize_t ReadFull(int fd, void* p, std::size_t n, off_t off) {
  auto* b = static_cast<char*>(p);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, b + done, n - done, off + static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

class Data : public E2eTest {};

TEST_F(Data, File256MiBHashesMatchServer) {
  SetTestBudget(std::chrono::seconds(240));
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  constexpr std::size_t kSize = 256 * kMiB;
  constexpr std::size_t kChunk = kMiB;
  constexpr std::uint64_t kSeed = 256;
  std::vector<char> buf(kChunk);
  const std::string f = *m / "big.bin";

  // Only the syscalls are timed, not making the data or hashing it.
  Sha256Stream written;
  double write_s = 0;
  auto t = Clock::now();
  const int fd = ::open(f.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_SYS(fd);
  write_s += std::chrono::duration<double>(Clock::now() - t).count();
  for (std::size_t off = 0; off < kSize; off += kChunk) {
    PatternFill(kSeed, off, buf.data(), kChunk);
    written.Update(buf.data(), kChunk);
    t = Clock::now();
    const bool ok = WriteAll(fd, buf.data(), kChunk, static_cast<off_t>(off));
    write_s += std::chrono::duration<double>(Clock::now() - t).count();
    ASSERT_TRUE(ok) << "write at " << off << ": " << std::strerror(errno);
  }
  t = Clock::now();
  ASSERT_SYS(::fsync(fd));
  ASSERT_SYS(::close(fd));
  write_s += std::chrono::duration<double>(Clock::now() - t).count();
  const std::string want = written.Hex();

  EXPECT_EQ(fs::file_size(S("big.bin")), kSize);
  EXPECT_EQ(Sha256File(S("big.bin")), want) << "the server's copy";

  // Read back through the mount (a new open drops the page cache in the
  // default cache=strict mode, so this reads from the server).
  Sha256Stream back;
  double read_s = 0;
  t = Clock::now();
  const int rfd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_SYS(rfd);
  std::size_t total = 0;
  for (;;) {
    const ssize_t n = ::read(rfd, buf.data(), kChunk);
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GE(n, 0) << std::strerror(errno);
    if (n == 0) break;
    read_s += std::chrono::duration<double>(Clock::now() - t).count();
    back.Update(buf.data(), static_cast<std::size_t>(n));
    total += static_cast<std::size_t>(n);
    t = Clock::now();
  }
  EXPECT_SYS(::close(rfd));
  EXPECT_EQ(total, kSize);
  EXPECT_EQ(back.Hex(), want) << "read back through the mount";

  std::printf(
      "[ e2e figures ] 256 MiB through the mount (SMB 3.1.1, AES-128-GMAC signing): write %.0f MiB/s (%.2f s, "
      "fsync and close included), read %.0f MiB/s (%.2f s)\n",
      256 / write_s, write_s, 256 / read_s, read_s);
  std::fflush(stdout);
  StopClean(*m);
}

// Two processes share one file on the mount: each writes its own blocks
// (even or odd) in order and publishes how far it got; each reads and checks
// the other's blocks already published while it goes on writing. Then the
// whole file is checked, and the server's copy.
TEST_F(Data, TwoProcessesWriteAndReadOneFile) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  constexpr std::size_t kBlock = 64 * 1024 + 512;  // not page aligned
  constexpr std::size_t kBlocks = 400;             // ~25 MiB
  constexpr std::uint64_t kSeed = 2;
  const std::string f = *m / "shared.bin";
  ASSERT_TRUE(WriteFile(f, ""));

  struct Shared {
    std::atomic<std::uint32_t> published[2];
    std::atomic<std::uint32_t> checked[2];
  };
  void* mem = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* shared = new (mem) Shared{};

  auto worker = [&](int me) -> int {
    const int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return 10;
    std::vector<char> out(kBlock), in(kBlock), want(kBlock);
    std::mt19937 rng(static_cast<unsigned>(me));
    const int other = 1 - me;
    std::uint32_t mine = 0;
    for (std::size_t i = static_cast<std::size_t>(me); i < kBlocks; i += 2) {
      PatternFill(kSeed, i * kBlock, out.data(), kBlock);
      if (!WriteAll(fd, out.data(), kBlock, static_cast<off_t>(i * kBlock))) return 11;
      shared->published[me].store(++mine, std::memory_order_release);
      // Check one of the other's published blocks, often the newest.
      const std::uint32_t theirs = shared->published[other].load(std::memory_order_acquire);
      if (theirs > 0) {
        const std::uint32_t k = (rng() % 2) ? theirs - 1 : static_cast<std::uint32_t>(rng() % theirs);
        const std::size_t block = 2 * k + static_cast<std::size_t>(other);
        if (ReadFull(fd, in.data(), kBlock, static_cast<off_t>(block * kBlock)) != static_cast<ssize_t>(kBlock)) {
          return 12;
        }
        PatternFill(kSeed, block * kBlock, want.data(), kBlock);
        if (in != want) return 13;
        shared->checked[me].fetch_add(1);
      }
    }
    // Wait (bounded) for the other, then check the whole file.
    for (int i = 0; i < 6000 && shared->published[other].load() < kBlocks / 2; ++i) ::usleep(10'000);
    if (shared->published[other].load() < kBlocks / 2) return 14;
    for (std::size_t b = 0; b < kBlocks; ++b) {
      if (ReadFull(fd, in.data(), kBlock, static_cast<off_t>(b * kBlock)) != static_cast<ssize_t>(kBlock)) return 15;
      PatternFill(kSeed, b * kBlock, want.data(), kBlock);
      if (in != want) return 16;
    }
    if (::close(fd) != 0) return 17;
    return 0;
  };

  int rc[2] = {-1, -1};
  std::thread t0([&] { rc[0] = RunInChild([&] { return worker(0); }, std::chrono::seconds(90)); });
  std::thread t1([&] { rc[1] = RunInChild([&] { return worker(1); }, std::chrono::seconds(90)); });
  t0.join();
  t1.join();
  EXPECT_EQ(rc[0], 0) << "worker 0 (codes: 1x in the worker above)";
  EXPECT_EQ(rc[1], 0) << "worker 1";
  EXPECT_GT(shared->checked[0].load() + shared->checked[1].load(), 0u) << "no block was checked while writing";
  std::printf("[ e2e figures ] two writers: %u and %u blocks of the other checked during the run\n",
              shared->checked[0].load(), shared->checked[1].load());
  ::munmap(mem, sizeof(Shared));

  std::string want(kBlock * kBlocks, '\0');
  PatternFill(kSeed, 0, want.data(), want.size());
  EXPECT_EQ(fs::file_size(S("shared.bin")), want.size());
  EXPECT_EQ(Sha256File(S("shared.bin")), Sha256(want.data(), want.size()));
  StopClean(*m);
}

// Many threads at once, each with its own files: create, write, read back,
// rename, stat, list, unlink. Exercises the multi-threaded FUSE loop with
// many SMB requests in flight, and the inode and handle tables under
// concurrency.
TEST_F(Data, ParallelWorkersOnTheirOwnFiles) {
  auto m = MountTestDir();
  ASSERT_TRUE(m);
  constexpr int kThreads = 8;
  constexpr int kRounds = 40;
  std::atomic<int> failures{0};
  std::vector<std::string> first_error(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto fail = [&](const std::string& what) {
        if (first_error[static_cast<std::size_t>(t)].empty()) {
          first_error[static_cast<std::size_t>(t)] = what + ": " + std::strerror(errno);
        }
        failures.fetch_add(1);
      };
      const std::string dir = *m / ("w" + std::to_string(t));
      if (::mkdir(dir.c_str(), 0755) != 0) return fail("mkdir");
      for (int r = 0; r < kRounds; ++r) {
        std::string content(static_cast<std::size_t>(1000 + 997 * r + 13 * t), '\0');
        PatternFill(static_cast<std::uint64_t>(t * 1000 + r), 0, content.data(), content.size());
        const std::string a = dir + "/f" + std::to_string(r);
        const std::string b = dir + "/g" + std::to_string(r);
        if (!WriteFile(a, content)) fail("write " + a);
        if (ReadFile(a) != content) fail("read back " + a);
        if (::rename(a.c_str(), b.c_str()) != 0) fail("rename " + a);
        struct stat st;
        if (::stat(b.c_str(), &st) != 0 || st.st_size != static_cast<off_t>(content.size())) fail("stat " + b);
        if (r % 2 == 0 && ::unlink(b.c_str()) != 0) fail("unlink " + b);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (const auto& e : first_error) {
    if (!e.empty()) ADD_FAILURE() << e;
  }
  for (int t = 0; t < kThreads; ++t) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(S("w" + std::to_string(t)))) ++n;
    EXPECT_EQ(n, static_cast<std::size_t>(kRounds / 2)) << "thread " << t;
  }
  StopClean(*m);
}

// One file, a model of its content in memory, and at least 20,000 random
// operations through the mount, each checked against the model: pwrite at
// random offsets and sizes (past the end too, leaving holes), pread
// (checked byte for byte, short at the end), ftruncate to shrink and to
// extend, fstat sizes, fsync, and reopening. SMBGATE_E2E_SEED replays a
// run; the seed is printed.
class RandomOps : public E2eTest, public ::testing::WithParamInterface<std::string> {};

std::uint64_t Seed() {
  if (const char* s = std::getenv("SMBGATE_E2E_SEED")) return std::strtoull(s, nullptr, 0);
  return 20251129;
}

TEST_P(RandomOps, ModelChecked) {
  SetTestBudget(std::chrono::seconds(180));
  const std::string cache = GetParam();
  auto m = MountTestDir({"cache=" + cache});
  ASSERT_TRUE(m);
  const std::uint64_t seed = Seed() + (cache == "none" ? 1 : cache == "loose" ? 2 : 0);
  std::printf("[ e2e seed    ] RandomOps cache=%s seed %" PRIu64 " (SMBGATE_E2E_SEED=%" PRIu64 " replays)\n",
              cache.c_str(), seed, Seed());
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::uint64_t lo, std::uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  constexpr std::size_t kMaxSize = 3 * kMiB;
  // 20,000 in the default mode; 10,000 each for the others keeps the
  // binary's run time down.
  const int kOps = cache == "strict" ? 20'000 : 10'000;
  const std::string f = *m / "model.bin";
  std::string model;
  int fd = ::open(f.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_SYS(fd);
  std::string buf;
  int counts[7] = {};
  const auto t0 = Clock::now();
  for (int i = 0; i < kOps; ++i) {
    const std::uint64_t kind = uniform(0, 99);
    if (kind < 40) {  // pwrite
      const std::size_t len = uniform(0, 9) < 7 ? uniform(1, 4096) : uniform(4097, 256 * 1024);
      const std::size_t off = uniform(0, std::min(kMaxSize - len, model.size() + 64 * 1024));
      buf.resize(len);
      PatternFill(seed ^ static_cast<std::uint64_t>(i), 0, buf.data(), len);
      ASSERT_TRUE(WriteAll(fd, buf.data(), len, static_cast<off_t>(off)))
          << "op " << i << ": pwrite " << len << " at " << off << ": " << std::strerror(errno);
      if (model.size() < off + len) model.resize(off + len, '\0');
      model.replace(off, len, buf);
      ++counts[0];
    } else if (kind < 75) {  // pread, checked
      const std::size_t off = uniform(0, model.size() + 4096);
      const std::size_t len = uniform(1, 128 * 1024);
      buf.assign(len, '\x5a');
      const ssize_t n = ReadFull(fd, buf.data(), len, static_cast<off_t>(off));
      ASSERT_GE(n, 0) << "op " << i << ": pread: " << std::strerror(errno);
      const std::size_t want_n = off >= model.size() ? 0 : std::min(len, model.size() - off);
      ASSERT_EQ(static_cast<std::size_t>(n), want_n)
          << "op " << i << ": pread " << len << " at " << off << " with the file at " << model.size() << " bytes";
      ASSERT_TRUE(SameBytes(buf.substr(0, want_n), want_n ? model.substr(off, want_n) : std::string()))
          << "op " << i << ": pread " << len << " at " << off;
      ++counts[1];
    } else if (kind < 87) {  // ftruncate, shrink or extend
      const std::size_t size = uniform(0, 3) == 0 ? uniform(0, 4096) : uniform(0, kMaxSize);
      ASSERT_SYS(::ftruncate(fd, static_cast<off_t>(size))) << " op " << i;
      model.resize(size, '\0');
      ++counts[2];
    } else if (kind < 93) {  // fstat
      struct stat st;
      ASSERT_SYS(::fstat(fd, &st)) << " op " << i;
      ASSERT_EQ(static_cast<std::size_t>(st.st_size), model.size()) << "op " << i << ": fstat";
      ++counts[3];
    } else if (kind < 96) {  // fsync: the server has it all
      ASSERT_SYS(::fsync(fd)) << " op " << i;
      ASSERT_EQ(fs::file_size(S("model.bin")), model.size()) << "op " << i << ": server size after fsync";
      ++counts[4];
    } else if (kind < 99) {  // reopen
      ASSERT_SYS(::close(fd)) << " op " << i;
      fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
      ASSERT_SYS(fd) << " op " << i;
      ++counts[5];
    } else {  // stat by path
      struct stat st;
      ASSERT_SYS(::stat(f.c_str(), &st)) << " op " << i;
      ASSERT_EQ(static_cast<std::size_t>(st.st_size), model.size()) << "op " << i << ": stat";
      ++counts[6];
    }
  }
  ASSERT_SYS(::close(fd));
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "[ e2e figures ] RandomOps cache=%s: %d ops in %.1f s (%d writes, %d reads, %d truncates, %d fstat, "
      "%d fsync, %d reopen, %d stat), final size %zu\n",
      cache.c_str(), kOps, secs, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6],
      model.size());
  EXPECT_EQ(fs::file_size(S("model.bin")), model.size());
  EXPECT_EQ(Sha256File(S("model.bin")), Sha256(model.data(), model.size())) << "the server's copy";
  EXPECT_EQ(Sha256File(f), Sha256(model.data(), model.size())) << "read back through the mount";
  StopClean(*m);
}

INSTANTIATE_TEST_SUITE_P(Cache, RandomOps, ::testing::Values("strict", "none", "loose"),
                         [](const auto& p) { return p.param; });

// SMB 2.0.2: at most 64 KiB per READ and WRITE, so every larger request
// is split (by the kernel and by smbgate).
class Smb202 : public E2eTest {
 protected:
  Dialect ServerDialect() const override { return Dialect::kSmb2_02; }
};

TEST_F(Smb202, SplitReadsAndWrites) {
  for (const char* cache : {"strict", "none"}) {
    SCOPED_TRACE(cache);
    auto m = MountTestDir({std::string("cache=") + cache});
    ASSERT_TRUE(m);
    const std::string name = std::string("split-") + cache + ".bin";
    std::string content(5 * kMiB + 12345, '\0');
    PatternFill(202, 0, content.data(), content.size());
    const int fd = ::open((*m / name).c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_SYS(fd);
    for (std::size_t off = 0; off < content.size(); off += kMiB) {
      const std::size_t n = std::min(kMiB, content.size() - off);
      ASSERT_TRUE(WriteAll(fd, content.data() + off, n, static_cast<off_t>(off))) << std::strerror(errno);
    }
    ASSERT_SYS(::fsync(fd));
    EXPECT_EQ(Sha256File(S(name)), Sha256(content.data(), content.size()));
    std::string back(content.size() + 100, '\0');
    EXPECT_EQ(ReadFull(fd, back.data(), back.size(), 0), static_cast<ssize_t>(content.size()));
    back.resize(content.size());
    EXPECT_TRUE(SameBytes(back, content));
    // An unaligned read across several 64 KiB pieces.
    std::string piece(300'000, '\0');
    EXPECT_EQ(ReadFull(fd, piece.data(), piece.size(), 77'777), static_cast<ssize_t>(piece.size()));
    EXPECT_TRUE(SameBytes(piece, content.substr(77'777, piece.size())));
    EXPECT_SYS(::close(fd));
    StopClean(*m);
  }
}

}  // namespace
}  // namespace smbgate::test::e2e
