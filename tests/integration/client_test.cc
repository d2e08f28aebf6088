// The smbgate SMB2 client against a real smbd (Debian's samba), once per
// dialect from 2.0.2 to 3.1.1, with mandatory signing and NTLMv2 only:
// `smbgate check`, file and directory operations checked against the
// server's own files, a 64 MiB transfer with many multi-credit requests in
// flight, and the refusals (wrong password, unknown share, a man in the
// middle that strips or corrupts signatures).
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "smb2/client/connection.h"
#include "smb2/client/names.h"
#include "smb2/client/session.h"
#include "smb2/client/smb_fs.h"
#include "smb2/codec/status.h"
#include "src/check.h"
#include "tests/integration/smbd_fixture.h"
#include "tests/integration/strip_proxy.h"

namespace smbgate::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using smb2::Wait;

std::string Sha256(ByteSpan data) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += hex[md[i] >> 4];
    s += hex[md[i] & 15];
  }
  return s;
}

std::string Sha256File(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return Sha256(AsBytes(s));
}

std::string SambaName(Dialect d) { return SambaProtocolName(d); }

class ClientTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    SMBGATE_REQUIRE_SMBD();
    std::string err;
    server_ = SharedSmbdServer(GetParam(), &err);
    ASSERT_NE(server_, nullptr) << err;
  }

  smb2::ConnectionOptions Options(std::uint16_t port = 0) const {
    smb2::ConnectionOptions o;
    o.host = server_->host();
    o.port = port ? port : server_->port();
    o.request_timeout = 30s;
    return o;
  }

  auth::NtlmCredentials Creds(std::string password = {}) const {
    auth::NtlmCredentials c;
    c.user = server_->user();
    c.domain = server_->domain();
    c.password = SecretString(password.empty() ? server_->password() : password);
    return c;
  }

  std::string Unc(const std::string& share) const { return "\\\\" + server_->host() + "\\" + share; }

  // A connected filesystem on the test share.
  std::unique_ptr<smb2::SmbFs> Mount() {
    auto conn = smb2::Connection::Open(Options());
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) return nullptr;
    auto session = smb2::Session::Setup(*conn, Creds());
    EXPECT_TRUE(session) << session.error().message();
    if (!session) return nullptr;
    auto tree = smb2::Tree::Connect(*session, Unc(server_->share()));
    EXPECT_TRUE(tree) << tree.error().message();
    if (!tree) return nullptr;
    return std::make_unique<smb2::SmbFs>(*tree);
  }

  // A directory of the share private to this test.
  std::string TestDir(smb2::SmbFs& f) {
    std::string name = std::string("t-") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    fs::remove_all(server_->share_dir() / name);
    auto r = Wait<smb2::FileAttributes>([&](auto cb) { f.MakeDirectory(name, cb); });
    EXPECT_TRUE(r) << r.error().message();
    return name;
  }

  SmbdServer* server_ = nullptr;
};

TEST_P(ClientTest, CheckReportsDialectAndSigning) {
  std::string err;
  const fs::path cred = server_->CredentialsFile(&err);
  ASSERT_FALSE(cred.empty()) << err;
  std::ostringstream out, errs;
  const int rc = RunCheck({server_->Target(), "--credentials", cred.string()}, out, errs);
  ASSERT_EQ(rc, 0) << errs.str();
  const std::string o = out.str();
  const std::uint16_t d = DialectRevision(GetParam());
  EXPECT_NE(o.find("dialect: " + std::string(smb2::DialectName(d)) + "\n"), std::string::npos) << o;
  const char* signing = d < 0x0300 ? "HMAC-SHA256" : d < 0x0311 ? "AES-128-CMAC" : "AES-128-GMAC";
  EXPECT_NE(o.find(std::string("signing: ") + signing + "\n"), std::string::npos) << o;
  EXPECT_NE(o.find("encryption: none\n"), std::string::npos) << o;
  EXPECT_NE(o.find("share_type: disk\n"), std::string::npos) << o;
  EXPECT_NE(o.find("auth_ms: "), std::string::npos) << o;
  // The password is in no output.
  EXPECT_EQ(o.find(server_->password()), std::string::npos);
  EXPECT_EQ(errs.str().find(server_->password()), std::string::npos);
  std::cout << "[" << SambaName(GetParam()) << "] " << o;

  // The Kubernetes Secret directory form works the same.
  const fs::path secret = server_->SecretDirectory(&err);
  ASSERT_FALSE(secret.empty()) << err;
  std::ostringstream out2, errs2;
  EXPECT_EQ(RunCheck({server_->Target(), "--credentials", secret.string()}, out2, errs2), 0) << errs2.str();

  // An explicit SPN goes in MsvAvTargetName instead of cifs/127.0.0.1 (the
  // fixture's smbd has no SPN hardening, so it accepts either).
  std::ostringstream out3, errs3;
  EXPECT_EQ(
      RunCheck({server_->Target(), "--credentials", cred.string(), "--spn", "cifs/smbgate-test.example"}, out3, errs3),
      0)
      << errs3.str();
}

TEST_P(ClientTest, FileAndDirectoryOperations) {
  auto fsys = Mount();
  ASSERT_TRUE(fsys);
  smb2::SmbFs& f = *fsys;
  const std::string dir = TestDir(f);
  const fs::path on_disk = server_->share_dir() / dir;
  ASSERT_TRUE(fs::is_directory(on_disk));

  // Create and write a file, content with every byte value.
  Bytes content;
  for (int i = 0; i < 300000; ++i) content.push_back(static_cast<std::uint8_t>(i * 7 + i / 256));
  smb2::OpenParams p;
  p.write = true;
  p.disposition = smb2::OpenDisposition::kCreate;
  p.non_directory = true;
  auto o = Wait<smb2::OpenResult>([&](auto cb) { f.Open(dir + "/data.bin", p, cb); });
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_TRUE(o->created);
  // One request at a time here, each at most max_io_size (64 KiB on 2.0.2).
  for (std::size_t off = 0; off < content.size(); off += f.max_io_size()) {
    const std::size_t len = std::min<std::size_t>(f.max_io_size(), content.size() - off);
    auto piece = std::make_shared<const Bytes>(content.begin() + off, content.begin() + off + len);
    auto n = Wait<std::uint32_t>([&](auto cb) { f.Write(o->handle, off, piece, cb); });
    ASSERT_TRUE(n) << n.error().message();
    ASSERT_EQ(*n, len);
  }
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Flush(o->handle, cb); }));
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Close(o->handle, cb); }));
  EXPECT_EQ(Sha256File(on_disk / "data.bin"), Sha256(content));

  // Read it back, past the end too.
  smb2::OpenParams rp;
  auto ro = Wait<smb2::OpenResult>([&](auto cb) { f.Open(dir + "/data.bin", rp, cb); });
  ASSERT_TRUE(ro) << ro.error().message();
  EXPECT_EQ(ro->attrs.end_of_file, content.size());
  Bytes back;
  for (;;) {
    auto rd = Wait<smb2::ReadResult>([&](auto cb) { f.Read(ro->handle, back.size(), 400000, cb); });
    ASSERT_TRUE(rd) << rd.error().message();
    if (rd->data.empty()) break;
    back.insert(back.end(), rd->data.begin(), rd->data.end());
  }
  EXPECT_EQ(Sha256(back), Sha256(content));
  auto eof = Wait<smb2::ReadResult>([&](auto cb) { f.Read(ro->handle, content.size(), 100, cb); });
  ASSERT_TRUE(eof) << eof.error().message();
  EXPECT_TRUE(eof->data.empty());
  auto attrs = Wait<smb2::FileAttributes>([&](auto cb) { f.GetAttributes(ro->handle, cb); });
  ASSERT_TRUE(attrs) << attrs.error().message();
  EXPECT_EQ(attrs->end_of_file, content.size());
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Close(ro->handle, cb); }));

  // Directories, listing, rename, stat.
  ASSERT_TRUE(Wait<smb2::FileAttributes>([&](auto cb) { f.MakeDirectory(dir + "/sub", cb); }));
  auto again = Wait<smb2::FileAttributes>([&](auto cb) { f.MakeDirectory(dir + "/sub", cb); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), smb2::MakeNtStatusError(smb2::status::kObjectNameCollision));
  auto ren = Wait<void>([&](auto cb) { f.Rename(dir + "/data.bin", dir + "/sub/renamed.bin", false, cb); });
  ASSERT_TRUE(ren) << ren.error().message();
  EXPECT_FALSE(fs::exists(on_disk / "data.bin"));
  EXPECT_EQ(Sha256File(on_disk / "sub" / "renamed.bin"), Sha256(content));
  auto st = Wait<smb2::FileAttributes>([&](auto cb) { f.Stat(dir + "/sub/renamed.bin", cb); });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->end_of_file, content.size());
  EXPECT_FALSE(st->is_directory());
  auto list = Wait<std::vector<smb2::DirectoryEntry>>([&](auto cb) { f.ReadDirectory(dir + "/sub", cb); });
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "renamed.bin");
  EXPECT_EQ((*list)[0].attrs.end_of_file, content.size());

  // Rename onto an existing file: refused without replace, done with it.
  { std::ofstream(on_disk / "other.txt") << "other"; }
  auto no_replace = Wait<void>([&](auto cb) { f.Rename(dir + "/other.txt", dir + "/sub/renamed.bin", false, cb); });
  ASSERT_FALSE(no_replace);
  EXPECT_EQ(no_replace.error(), smb2::MakeNtStatusError(smb2::status::kObjectNameCollision));
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Rename(dir + "/other.txt", dir + "/sub/renamed.bin", true, cb); }));
  std::ifstream replaced(on_disk / "sub" / "renamed.bin");
  std::string text;
  replaced >> text;
  EXPECT_EQ(text, "other");

  // Hard link, then removal of everything.
  auto ln = Wait<void>([&](auto cb) { f.HardLink(dir + "/sub/renamed.bin", dir + "/link.bin", cb); });
  ASSERT_TRUE(ln) << ln.error().message();
  EXPECT_TRUE(fs::exists(on_disk / "link.bin"));
  auto not_empty = Wait<void>([&](auto cb) { f.RemoveDirectory(dir + "/sub", cb); });
  ASSERT_FALSE(not_empty);
  EXPECT_EQ(not_empty.error(), smb2::MakeNtStatusError(smb2::status::kDirectoryNotEmpty));
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Unlink(dir + "/sub/renamed.bin", cb); }));
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Unlink(dir + "/link.bin", cb); }));
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.RemoveDirectory(dir + "/sub", cb); }));
  EXPECT_FALSE(fs::exists(on_disk / "sub"));
  auto gone = Wait<smb2::FileAttributes>([&](auto cb) { f.Stat(dir + "/sub", cb); });
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), smb2::MakeNtStatusError(smb2::status::kObjectNameNotFound));

  // Truncate and times through a handle.
  smb2::OpenParams tp;
  tp.write = true;
  tp.disposition = smb2::OpenDisposition::kOverwriteIf;
  auto t = Wait<smb2::OpenResult>([&](auto cb) { f.Open(dir + "/trunc.bin", tp, cb); });
  ASSERT_TRUE(t) << t.error().message();
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Truncate(t->handle, 12345, cb); }));
  smb2::SetAttributes sa;
  sa.last_write_time = 132000000000000000ull;  // 2019-04-20
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.SetInfo(t->handle, sa, cb); }));
  auto ta = Wait<smb2::FileAttributes>([&](auto cb) { f.GetAttributes(t->handle, cb); });
  ASSERT_TRUE(ta);
  EXPECT_EQ(ta->end_of_file, 12345u);
  EXPECT_EQ(ta->last_write_time, sa.last_write_time);
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Close(t->handle, cb); }));
  EXPECT_EQ(fs::file_size(on_disk / "trunc.bin"), 12345u);

  // Size and times in one compound, through a handle and by path; the
  // answer carries the attributes after the change.
  auto u = Wait<smb2::OpenResult>([&](auto cb) { f.Open(dir + "/trunc.bin", tp, cb); });
  ASSERT_TRUE(u) << u.error().message();
  smb2::AttributeChange ch;
  ch.set_size = true;
  ch.size = 777;
  ch.set_basic = true;
  ch.basic.last_write_time = 131000000000000000ull;
  auto ua = Wait<smb2::FileAttributes>([&](auto cb) { f.Update(u->handle, ch, cb); });
  ASSERT_TRUE(ua) << ua.error().message();
  EXPECT_EQ(ua->end_of_file, 777u);
  EXPECT_EQ(ua->last_write_time, ch.basic.last_write_time);
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Close(u->handle, cb); }));
  smb2::AttributeChange times;
  times.set_basic = true;
  times.basic.last_write_time = 130000000000000000ull;
  times.basic.file_attributes = smb2::kAttributeReadonly;
  auto pa = Wait<smb2::FileAttributes>([&](auto cb) { f.UpdatePath(dir + "/trunc.bin", times, cb); });
  ASSERT_TRUE(pa) << pa.error().message();
  EXPECT_EQ(pa->end_of_file, 777u);
  EXPECT_EQ(pa->last_write_time, times.basic.last_write_time);
  EXPECT_TRUE(pa->file_attributes & smb2::kAttributeReadonly);
  // A size change by path needs write access, which the read-only
  // attribute now refuses; the first failing member's status comes back.
  smb2::AttributeChange grow;
  grow.set_size = true;
  grow.size = 5;
  auto denied = Wait<smb2::FileAttributes>([&](auto cb) { f.UpdatePath(dir + "/trunc.bin", grow, cb); });
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error(), smb2::MakeNtStatusError(smb2::status::kAccessDenied));
  times.basic.file_attributes = smb2::kAttributeNormal;
  ASSERT_TRUE(Wait<smb2::FileAttributes>([&](auto cb) { f.UpdatePath(dir + "/trunc.bin", times, cb); }));
  auto missing = Wait<smb2::FileAttributes>([&](auto cb) { f.UpdatePath(dir + "/nope.bin", times, cb); });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), smb2::MakeNtStatusError(smb2::status::kObjectNameNotFound));
  EXPECT_EQ(fs::file_size(on_disk / "trunc.bin"), 777u);

  auto sfs = Wait<smb2::FsStats>([&](auto cb) { f.StatFs(cb); });
  ASSERT_TRUE(sfs) << sfs.error().message();
  EXPECT_GT(sfs->total_bytes, 0u);
}

// A directory of many rounds, listed in parts: every name once, the end
// seen, a restart (SMB2_RESTART_SCANS) after the end from the top again,
// and the whole listing the same.
TEST_P(ClientTest, ListingInParts) {
  auto fsys = Mount();
  ASSERT_TRUE(fsys);
  smb2::SmbFs& f = *fsys;
  const std::string dir = TestDir(f);
  // Names of 200 bytes: a 1 MiB round holds about 2,000 of them (64 KiB on
  // 2.0.2: 130), so the compound's two rounds leave more to list.
  constexpr int kFiles = 6000;
  std::set<std::string> want;
  for (int i = 0; i < kFiles; ++i) {
    char number[16];
    std::snprintf(number, sizeof number, "%05d-", i);
    const std::string name = number + std::string(194, 'p');
    std::ofstream(server_->share_dir() / dir / name) << "";
    want.insert(name);
  }
  auto first = Wait<smb2::DirectoryPage>([&](auto cb) { f.OpenListing(dir, cb); });
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_FALSE(first->end);
  ASSERT_FALSE(first->entries.empty());
  const std::string top = first->entries.front().name;
  std::multiset<std::string> got;
  for (const auto& e : first->entries) got.insert(e.name);
  int rounds = 0;
  for (;;) {
    auto page = Wait<smb2::DirectoryPage>([&](auto cb) { f.ListMore(first->handle, false, cb); });
    ASSERT_TRUE(page) << page.error().message();
    for (const auto& e : page->entries) got.insert(e.name);
    ++rounds;
    if (page->end) break;
    ASSERT_LT(rounds, kFiles);
  }
  EXPECT_GE(rounds, 2);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want);
  EXPECT_EQ(got.size(), want.size());  // none twice
  auto again = Wait<smb2::DirectoryPage>([&](auto cb) { f.ListMore(first->handle, true, cb); });
  ASSERT_TRUE(again) << again.error().message();
  ASSERT_FALSE(again->entries.empty());
  EXPECT_EQ(again->entries.front().name, top);
  EXPECT_FALSE(again->end);
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Close(first->handle, cb); }));
  auto whole = Wait<std::vector<smb2::DirectoryEntry>>([&](auto cb) { f.ReadDirectory(dir, cb); });
  ASSERT_TRUE(whole) << whole.error().message();
  EXPECT_EQ(whole->size(), want.size());
  fs::remove_all(server_->share_dir() / dir);
}

// Server-side copy (FSCTL_SRV_COPYCHUNK_WRITE): more than one request's
// worth (16 MiB), at offsets, and short at the end of the source.
TEST_P(ClientTest, ServerSideCopy) {
  auto fsp = Mount();
  ASSERT_TRUE(fsp);
  smb2::SmbFs& f = *fsp;
  const std::string dir = TestDir(f);
  const fs::path on_disk = server_->share_dir() / dir;
  Bytes data((17 << 20) + 123);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>((i * 7919) >> 5);
  {
    std::ofstream out(on_disk / "src.bin", std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  }
  smb2::OpenParams rp;
  auto src = Wait<smb2::OpenResult>([&](auto cb) { f.Open(dir + "/src.bin", rp, cb); });
  ASSERT_TRUE(src) << src.error().message();
  smb2::OpenParams wp;
  wp.write = true;
  wp.disposition = smb2::OpenDisposition::kOverwriteIf;
  auto dst = Wait<smb2::OpenResult>([&](auto cb) { f.Open(dir + "/dst.bin", wp, cb); });
  ASSERT_TRUE(dst) << dst.error().message();
  auto n = Wait<std::uint64_t>([&](auto cb) { f.CopyRange(src->handle, 0, dst->handle, 0, data.size(), cb); });
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, data.size());
  auto m =
      Wait<std::uint64_t>([&](auto cb) { f.CopyRange(src->handle, 100, dst->handle, data.size() + 10, 1000, cb); });
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(*m, 1000u);
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Close(src->handle, cb); }));
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Close(dst->handle, cb); }));
  std::ifstream in(on_disk / "dst.bin", std::ios::binary);
  const std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(got.size(), data.size() + 1010);
  EXPECT_EQ(got.compare(0, data.size(), reinterpret_cast<const char*>(data.data()), data.size()), 0);
  EXPECT_EQ(got.substr(data.size(), 10), std::string(10, '\0'));
  EXPECT_EQ(got.compare(data.size() + 10, 1000, reinterpret_cast<const char*>(data.data()) + 100, 1000), 0);
}

// Moves a large file with a window of requests in flight, the way the FUSE
// layer will: each request up to max_io_size, so multi-credit on every
// dialect but 2.0.2.
TEST_P(ClientTest, LargeFileWithManyRequestsInFlight) {
  auto fsys = Mount();
  ASSERT_TRUE(fsys);
  smb2::SmbFs& f = *fsys;
  const std::string dir = TestDir(f);
  constexpr std::size_t kSize = 64u << 20;
  Bytes content(kSize);
  std::mt19937_64 rng(GetParam() == Dialect::kSmb3_11 ? 311 : 202);
  for (std::size_t i = 0; i < kSize; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(content.data() + i, &v, 8);
  }
  const std::uint32_t chunk = f.max_io_size();
  ASSERT_GE(chunk, 65536u);

  smb2::OpenParams p;
  p.write = true;
  p.disposition = smb2::OpenDisposition::kCreate;
  auto o = Wait<smb2::OpenResult>([&](auto cb) { f.Open(dir + "/big.bin", p, cb); });
  ASSERT_TRUE(o) << o.error().message();

  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0, max_in_flight = 0;
  std::error_code first_error;
  constexpr int kWindow = 8;
  auto start = std::chrono::steady_clock::now();
  for (std::size_t off = 0; off < kSize; off += chunk) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return in_flight < kWindow; });
    ++in_flight;
    max_in_flight = std::max(max_in_flight, in_flight);
    l.unlock();
    const std::size_t len = std::min<std::size_t>(chunk, kSize - off);
    auto piece = std::make_shared<const Bytes>(content.begin() + off, content.begin() + off + len);
    f.Write(o->handle, off, piece, [&, len](Result<std::uint32_t> r) {
      std::lock_guard<std::mutex> g(mu);
      if (!r && !first_error) first_error = r.error();
      if (r && *r != len && !first_error) first_error = smb2::make_error_code(smb2::errc::malformed_response);
      --in_flight;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return in_flight == 0; });
  }
  const double write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(first_error) << first_error.message();
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Close(o->handle, cb); }));
  EXPECT_GT(max_in_flight, 1);
  EXPECT_EQ(Sha256File(server_->share_dir() / dir / "big.bin"), Sha256(content));

  // Read back with the same window into one buffer.
  auto ro = Wait<smb2::OpenResult>([&](auto cb) { f.Open(dir + "/big.bin", smb2::OpenParams{}, cb); });
  ASSERT_TRUE(ro) << ro.error().message();
  Bytes back(kSize);
  start = std::chrono::steady_clock::now();
  for (std::size_t off = 0; off < kSize; off += chunk) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return in_flight < kWindow; });
    ++in_flight;
    l.unlock();
    const std::uint32_t len = static_cast<std::uint32_t>(std::min<std::size_t>(chunk, kSize - off));
    f.Read(ro->handle, off, len, [&, off, len](Result<smb2::ReadResult> r) {
      std::lock_guard<std::mutex> g(mu);
      if (!r && !first_error) first_error = r.error();
      if (r && r->data.size() != len && !first_error)
        first_error = smb2::make_error_code(smb2::errc::malformed_response);
      if (r && r->data.size() == len) std::memcpy(back.data() + off, r->data.data(), len);
      --in_flight;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return in_flight == 0; });
  }
  const double read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(first_error) << first_error.message();
  ASSERT_TRUE(Wait<void>([&](auto cb) { f.Close(ro->handle, cb); }));
  EXPECT_EQ(Sha256(back), Sha256(content));
  std::cout << "[" << SambaName(GetParam()) << "] 64 MiB in " << chunk / 1024 << " KiB requests: write " << 64 / write_s
            << " MiB/s, read " << 64 / read_s << " MiB/s, up to " << max_in_flight << " in flight\n";
  fs::remove_all(server_->share_dir() / dir);
}

TEST_P(ClientTest, WrongPasswordIsRefusedQuickly) {
  auto conn = smb2::Connection::Open(Options());
  ASSERT_TRUE(conn);
  const auto t0 = std::chrono::steady_clock::now();
  auto s = smb2::Session::Setup(*conn, Creds("not the password"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), smb2::MakeNtStatusError(smb2::status::kLogonFailure));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);

  // And through `smbgate check`: one line, naming the step and the cause.
  fs::path dir = server_->dir() / "wrong-cred";
  fs::create_directories(dir);
  std::string err;
  ASSERT_TRUE(WriteCredentialsFile(dir / "cred", {server_->user(), "wrong, password", server_->domain()}, &err));
  std::ostringstream out, errs;
  EXPECT_EQ(RunCheck({server_->Target(), "--credentials", (dir / "cred").string()}, out, errs), 1);
  const std::string e = errs.str();
  EXPECT_EQ(e.find("authentication failed for " + server_->domain() + "\\" + server_->user() + " at "), 0u) << e;
  EXPECT_NE(e.find("STATUS_LOGON_FAILURE (wrong user name or password"), std::string::npos) << e;
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
  EXPECT_EQ(e.find("wrong, password"), std::string::npos);
}

TEST_P(ClientTest, UnknownShareIsRefused) {
  auto conn = smb2::Connection::Open(Options());
  ASSERT_TRUE(conn);
  auto s = smb2::Session::Setup(*conn, Creds());
  ASSERT_TRUE(s) << s.error().message();
  auto t = smb2::Tree::Connect(*s, Unc("no-such-share"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), smb2::MakeNtStatusError(smb2::status::kBadNetworkName));
}

TEST_P(ClientTest, ServerThatDoesNotSignIsRefused) {
  StripProxy proxy(server_->host(), server_->port(), StripProxy::Mode::kStripSignatures);
  std::string err;
  ASSERT_TRUE(proxy.Start(&err)) << err;
  auto conn = smb2::Connection::Open(Options(proxy.port()));
  ASSERT_TRUE(conn) << conn.error().message();
  auto s = smb2::Session::Setup(*conn, Creds());
  // The final SESSION_SETUP response arrives unsigned: refused before any
  // tree or file is touched.
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), smb2::make_error_code(smb2::client_errc::unsigned_response));
}

TEST_P(ClientTest, CorruptedSignaturesAreRefused) {
  StripProxy proxy(server_->host(), server_->port(), StripProxy::Mode::kPassThrough);
  std::string err;
  ASSERT_TRUE(proxy.Start(&err)) << err;
  auto o = Options(proxy.port());
  // Altered responses are dropped and the request waits for a genuine one
  // until its deadline: keep that short here.
  o.request_timeout = 1500ms;
  std::atomic<int> dropped{0};
  o.on_protection_failure = [&dropped](std::error_code) { ++dropped; };
  auto conn = smb2::Connection::Open(o);
  ASSERT_TRUE(conn) << conn.error().message();
  auto s = smb2::Session::Setup(*conn, Creds());
  ASSERT_TRUE(s) << s.error().message();
  // From now on every signed response is altered in flight: the tree
  // connect must fail with a signature error and deliver nothing.
  proxy.set_mode(StripProxy::Mode::kCorruptSignatures);
  auto t = smb2::Tree::Connect(*s, Unc(server_->share()));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), smb2::make_error_code(smb2::client_errc::signature_mismatch));
  EXPECT_GE(dropped.load(), 1);
  proxy.set_mode(StripProxy::Mode::kStripSignatures);
  auto t2 = smb2::Tree::Connect(*s, Unc(server_->share()));
  ASSERT_FALSE(t2);
  EXPECT_EQ(t2.error(), smb2::make_error_code(smb2::client_errc::unsigned_response));
}

INSTANTIATE_TEST_SUITE_P(AllDialects, ClientTest, ::testing::ValuesIn(kAllDialects),
                         [](const ::testing::TestParamInfo<Dialect>& i) { return SambaName(i.param); });

}  // namespace
}  // namespace smbgate::test
