// Durable handles against a real smbd (MS-SMB2 3.2.4.3.5, 3.2.4.4): every
// open of a file asks for a lease and a durable v2 handle; after the
// connection is lost the open is reclaimed with DH2C, so a byte-range lock
// held across the cut is never free for another client; a reclaim the
// server refuses falls back to a reopen by path; a create in flight is
// replayed with its CreateGuid and not carried out twice.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "auth/crypto.h"

#include "smb2/client/connection.h"
#include "smb2/client/reconnecting_fs.h"
#include "smb2/client/session.h"
#include "smb2/client/smb_fs.h"
#include "smb2/codec/create.h"
#include "smb2/codec/status.h"
#include "tests/integration/connect_fs.h"
#include "tests/integration/smbd_fixture.h"
#include "tests/integration/strip_proxy.h"

namespace smbgate::test {
namespace {

using namespace std::chrono_literals;
using smb2::Wait;

Result<std::shared_ptr<smb2::SmbFs>> Connect(const SmbdServer& s, std::array<std::uint8_t, 16> client_guid = {},
                                             std::uint16_t port = 0) {
  return ConnectFs(s, port, client_guid);
}

smb2::OpenParams ReadWrite(smb2::OpenDisposition d = smb2::OpenDisposition::kOpenIf) {
  smb2::OpenParams p;
  p.write = true;
  p.non_directory = true;
  p.disposition = d;
  return p;
}

bool IsLockConflict(const Result<void>& r) {
  return !r && smb2::IsNtStatus(r.error()) &&
         (smb2::NtStatusOf(r.error()) == smb2::status::kLockNotGranted ||
          smb2::NtStatusOf(r.error()) == smb2::status::kFileLockConflict);
}

class DurableTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    SMBGATE_REQUIRE_SMBD();
    std::string err;
    server_ = SharedSmbdServer(GetParam(), &err);
    ASSERT_NE(server_, nullptr) << err;
  }
  bool Durable() const { return DialectRevision(GetParam()) >= 0x0300; }
  SmbdServer* server_ = nullptr;
};

TEST_P(DurableTest, OpensAreDurableWithAHandleLease) {
  auto fs = Connect(*server_);
  ASSERT_TRUE(fs) << fs.error().message();
  auto o = Wait<smb2::OpenResult>([&](auto cb) { (*fs)->Open("durable-granted.txt", ReadWrite(), cb); });
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->durable.durable, Durable());
  if (Durable()) {
    // The sole open gets read, handle and write caching.
    EXPECT_EQ(o->durable.lease_state,
              smb2::kLeaseReadCaching | smb2::kLeaseHandleCaching | smb2::kLeaseWriteCaching);
    EXPECT_GT(o->durable.timeout_ms, 0u);
  }
  // A second open of the same file from this client (another lease key)
  // and one from another client both work: the leases coexist or break
  // and are acknowledged.
  auto o2 = Wait<smb2::OpenResult>([&](auto cb) { (*fs)->Open("durable-granted.txt", ReadWrite(), cb); });
  ASSERT_TRUE(o2) << o2.error().message();
  // The other client's open and write break this client's leases; the
  // breaks are acknowledged at once, so the server does not hold them for
  // its lease break timeout (35 s on Samba and Windows).
  auto other = Connect(*server_);
  ASSERT_TRUE(other) << other.error().message();
  const auto t0 = std::chrono::steady_clock::now();
  smb2::OpenParams overwrite = ReadWrite(smb2::OpenDisposition::kOverwriteIf);
  auto o3 = Wait<smb2::OpenResult>([&](auto cb) { (*other)->Open("durable-granted.txt", overwrite, cb); });
  ASSERT_TRUE(o3) << o3.error().message();
  auto data = std::make_shared<const Bytes>(Bytes{'x'});
  ASSERT_TRUE(Wait<std::uint32_t>([&](auto cb) { (*other)->Write(o3->handle, 0, data, cb); }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "a lease break waited for its timeout";
  for (auto* r : {&*o, &*o2}) ASSERT_TRUE(Wait<void>([&](auto cb) { (*fs)->Close(r->handle, cb); }));
  ASSERT_TRUE(Wait<void>([&](auto cb) { (*other)->Close(o3->handle, cb); }));
}

// Opens sharing one lease key share one lease: the second open of the file
// keeps all of it. Another client's open breaks it through the handler,
// which gives up its caches and acknowledges when it is done; the other
// client's open waits for that acknowledgement.
TEST_P(DurableTest, LeaseBreaksGoToTheHandlerAndWaitForItsAck) {
  if (!Durable()) GTEST_SKIP() << "leases are SMB 3.x here";
  auto fs = Connect(*server_);
  ASSERT_TRUE(fs) << fs.error().message();
  struct Break {
    smb2::LeaseKey key;
    std::uint32_t state;
  };
  auto mu = std::make_shared<std::mutex>();
  auto breaks = std::make_shared<std::vector<Break>>();
  auto acked = std::make_shared<std::atomic<bool>>(false);
  (*fs)->SetLeaseBreakHandler([mu, breaks, acked](const smb2::LeaseKey& k, std::uint32_t state,
                                                   std::function<void()> ack) {
    {
      std::lock_guard<std::mutex> l(*mu);
      breaks->push_back({k, state});
    }
    // Acknowledged from another thread, a little later: the handler's
    // work (writing back, dropping caches) takes time.
    std::thread([ack = std::move(ack), acked] {
      std::this_thread::sleep_for(300ms);
      *acked = true;
      ack();
    }).detach();
  });
  smb2::OpenParams p = ReadWrite();
  auth::OsRandom()(p.lease_key);
  auto o = Wait<smb2::OpenResult>([&](auto cb) { (*fs)->Open("lease-shared.txt", p, cb); });
  ASSERT_TRUE(o) << o.error().message();
  auto o2 = Wait<smb2::OpenResult>([&](auto cb) { (*fs)->Open("lease-shared.txt", p, cb); });
  ASSERT_TRUE(o2) << o2.error().message();
  const std::uint32_t rwh = smb2::kLeaseReadCaching | smb2::kLeaseHandleCaching | smb2::kLeaseWriteCaching;
  EXPECT_EQ(o->durable.lease_state, rwh);
  EXPECT_EQ(o2->durable.lease_state, rwh) << "a second open with the same key lost part of the lease";
  {
    std::lock_guard<std::mutex> l(*mu);
    EXPECT_TRUE(breaks->empty()) << "opens with one lease key broke each other";
  }
  auto other = Connect(*server_);
  ASSERT_TRUE(other) << other.error().message();
  const auto t0 = std::chrono::steady_clock::now();
  auto o3 = Wait<smb2::OpenResult>([&](auto cb) { (*other)->Open("lease-shared.txt", ReadWrite(), cb); });
  ASSERT_TRUE(o3) << o3.error().message();
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(*acked) << "the other client's open went ahead before the break was acknowledged";
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 10s) << "the acknowledgement was not taken";
  {
    std::lock_guard<std::mutex> l(*mu);
    ASSERT_FALSE(breaks->empty());
    EXPECT_EQ(breaks->front().key, p.lease_key);
    EXPECT_FALSE(breaks->front().state & smb2::kLeaseWriteCaching) << "a break must take the write lease";
  }
  for (auto* r : {&*o, &*o2}) ASSERT_TRUE(Wait<void>([&](auto cb) { (*fs)->Close(r->handle, cb); }));
  ASSERT_TRUE(Wait<void>([&](auto cb) { (*other)->Close(o3->handle, cb); }));
}

INSTANTIATE_TEST_SUITE_P(Dialects, DurableTest, ::testing::ValuesIn(kAllDialects),
                         [](const auto& p) { return std::string(SambaProtocolName(p.param)); });

// A ReconnectingFs through a pass-through proxy, reconnecting with the same
// ClientGuid as a mount does, recording what its reclaims reported.
struct Mounted {
  std::unique_ptr<StripProxy> proxy;
  std::shared_ptr<smb2::ReconnectingFs> fs;
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<std::pair<std::string, std::error_code>>> reclaims =
      std::make_shared<std::vector<std::pair<std::string, std::error_code>>>();

  std::vector<std::pair<std::string, std::error_code>> Reclaims() const {
    std::lock_guard<std::mutex> l(*mu);
    return *reclaims;
  }
};

Mounted MountThroughProxy(SmbdServer& s, std::string* err) {
  Mounted m;
  m.proxy = std::make_unique<StripProxy>(s.host(), s.port(), StripProxy::Mode::kPassThrough);
  if (!m.proxy->Start(err)) return m;
  std::array<std::uint8_t, 16> guid{};
  auth::OsRandom()(guid);
  const std::uint16_t port = m.proxy->port();
  auto first = Connect(s, guid, port);
  if (!first) {
    *err = first.error().message();
    return m;
  }
  smb2::ReconnectingFs::Options ro;
  ro.first_backoff = 50ms;
  ro.echo_interval = 0ms;
  ro.on_reclaim = [mu = m.mu, rec = m.reclaims](const std::string& path, std::error_code ec) {
    std::lock_guard<std::mutex> l(*mu);
    rec->emplace_back(path, ec);
  };
  m.fs = smb2::ReconnectingFs::Create(*first, [&s, guid, port]() { return Connect(s, guid, port); }, ro);
  return m;
}

class DurableReconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMBGATE_REQUIRE_SMBD();
    std::string err;
    // Samba keeps the byte-range locks of a durable open across a
    // disconnect only without POSIX locking (smb.conf(5) "durable
    // handles"); with it, 4.17.12 aborts the smbd process that reclaims
    // such an open (PANIC in fd_handle.c).
    SmbdOptions o;
    o.extra_global.push_back("posix locking = no");
    own_ = std::make_unique<SmbdServer>(o);
    ASSERT_TRUE(own_->Start(&err)) << err;
    server_ = own_.get();
  }
  std::unique_ptr<SmbdServer> own_;
  SmbdServer* server_ = nullptr;
};

// A byte-range lock held when the connection is cut is still the client's
// after the reconnect: the durable open is reclaimed with its locks and the
// application sees no error; another client cannot take the range.
TEST_F(DurableReconnectTest, LockHeldAcrossACutIsReclaimed) {
  std::string err;
  Mounted m = MountThroughProxy(*server_, &err);
  ASSERT_TRUE(m.fs) << err;
  auto other = Connect(*server_);
  ASSERT_TRUE(other) << other.error().message();

  auto o = Wait<smb2::OpenResult>([&](auto cb) { m.fs->Open("locked.dat", ReadWrite(), cb); });
  ASSERT_TRUE(o) << o.error().message();
  auto data = std::make_shared<const Bytes>(Bytes(200, 'a'));
  ASSERT_TRUE(Wait<std::uint32_t>([&](auto cb) { m.fs->Write(o->handle, 0, data, cb); }));
  using LT = smb2::RemoteFs::LockType;
  auto locked = Wait<void>([&](auto cb) { m.fs->Lock(o->handle, 0, 100, LT::kExclusive, false, cb); });
  ASSERT_TRUE(locked) << locked.error().message();

  // The cut: the server sees the connection go and keeps the open.
  m.fs->current()->tree()->connection().Close();
  std::this_thread::sleep_for(100ms);

  // The next use reconnects and reclaims the open: no error, same lock.
  auto w = Wait<std::uint32_t>([&](auto cb) { m.fs->Write(o->handle, 100, data, cb); });
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ(m.fs->reconnects(), 1u);
  auto rec = m.Reclaims();
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0].first, "locked.dat");
  EXPECT_FALSE(rec[0].second) << rec[0].second.message();

  auto theirs = Wait<smb2::OpenResult>([&](auto cb) { (*other)->Open("locked.dat", ReadWrite(), cb); });
  ASSERT_TRUE(theirs) << theirs.error().message();
  auto try_lock = [&] {
    return Wait<void>([&](auto cb) { (*other)->Lock(theirs->handle, 10, 10, LT::kExclusive, false, cb); });
  };
  EXPECT_TRUE(IsLockConflict(try_lock())) << "the lock did not survive the cut";

  // Still the client's lock: it unlocks it, then the other client gets it.
  auto unlocked = Wait<void>([&](auto cb) { m.fs->Lock(o->handle, 0, 100, LT::kUnlock, false, cb); });
  ASSERT_TRUE(unlocked) << unlocked.error().message();
  EXPECT_TRUE(try_lock());
  ASSERT_TRUE(Wait<void>([&](auto cb) { m.fs->Close(o->handle, cb); }));
  ASSERT_TRUE(Wait<void>([&](auto cb) { (*other)->Close(theirs->handle, cb); }));
  EXPECT_EQ(std::filesystem::file_size(server_->share_dir() / "locked.dat"), 300u);
  m.fs->Stop();
}

// Samba 4.17 lets another client take the range of a disconnected durable
// open (its lock database counts the locks of the gone smbd process as
// stale) and then refuses the reclaim while that client has the file open.
// smbgate reopens by path, tries to take the lock again, finds it taken,
// and fails the handle with EIO from then on: the application learns that
// its lock is gone instead of writing under a lock it no longer holds.
TEST_F(DurableReconnectTest, LockTakenInTheGapFailsTheHandle) {
  std::string err;
  Mounted m = MountThroughProxy(*server_, &err);
  ASSERT_TRUE(m.fs) << err;
  auto other = Connect(*server_);
  ASSERT_TRUE(other) << other.error().message();
  auto o = Wait<smb2::OpenResult>([&](auto cb) { m.fs->Open("contended.dat", ReadWrite(), cb); });
  ASSERT_TRUE(o) << o.error().message();
  using LT = smb2::RemoteFs::LockType;
  ASSERT_TRUE(Wait<void>([&](auto cb) { m.fs->Lock(o->handle, 0, 100, LT::kExclusive, false, cb); }));
  auto theirs = Wait<smb2::OpenResult>([&](auto cb) { (*other)->Open("contended.dat", ReadWrite(), cb); });
  ASSERT_TRUE(theirs) << theirs.error().message();

  m.fs->current()->tree()->connection().Close();
  // Until the server has seen the cut the range is held; then Samba hands
  // it out.
  bool taken = false;
  for (int i = 0; i < 100 && !taken; ++i) {
    taken = static_cast<bool>(
        Wait<void>([&](auto cb) { (*other)->Lock(theirs->handle, 0, 100, LT::kExclusive, false, cb); }));
    if (!taken) std::this_thread::sleep_for(20ms);
  }
  if (!taken) GTEST_SKIP() << "this server keeps the locks of a disconnected durable open (as Windows does)";

  auto data = std::make_shared<const Bytes>(Bytes{'x'});
  auto w = Wait<std::uint32_t>([&](auto cb) { m.fs->Write(o->handle, 0, data, cb); });
  ASSERT_FALSE(w) << "wrote under a lock another client holds";
  EXPECT_EQ(w.error(), std::error_code(EIO, std::generic_category()));
  auto rec = m.Reclaims();
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_TRUE(rec[0].second);
  ASSERT_TRUE(Wait<void>([&](auto cb) { m.fs->Close(o->handle, cb); }));
  ASSERT_TRUE(Wait<void>([&](auto cb) { (*other)->Close(theirs->handle, cb); }));
  m.fs->Stop();
}

// Requests whose answers are lost with the connection (the server carried
// them out) are sent again after the reconnect and complete without an
// error, and none is applied twice: an exclusive create (replayed with its
// CreateGuid), a write, a rename, an unlink, a mkdir.
TEST_F(DurableReconnectTest, RequestsInFlightAreReplayedOnce) {
  std::string err;
  Mounted m = MountThroughProxy(*server_, &err);
  ASSERT_TRUE(m.fs) << err;
  const auto dir = server_->share_dir();
  std::filesystem::remove(dir / "replay-new.txt");
  std::filesystem::remove(dir / "replay-moved.txt");
  std::filesystem::remove_all(dir / "replay-dir");
  constexpr auto kCreate = static_cast<std::uint16_t>(smb2::Command::kCreate);
  std::uint64_t cuts = 0;

  m.proxy->CutOnNextResponse(kCreate);
  auto o = Wait<smb2::OpenResult>(
      [&](auto cb) { m.fs->Open("replay-new.txt", ReadWrite(smb2::OpenDisposition::kCreate), cb); });
  ASSERT_TRUE(o) << "exclusive create replayed: " << o.error().message();
  EXPECT_TRUE(o->created);
  EXPECT_EQ(m.proxy->cuts(), ++cuts);

  m.proxy->CutOnNextResponse(static_cast<std::uint16_t>(smb2::Command::kWrite));
  auto data = std::make_shared<const Bytes>(Bytes{'r', 'e', 'p', 'l', 'a', 'y'});
  auto w = Wait<std::uint32_t>([&](auto cb) { m.fs->Write(o->handle, 0, data, cb); });
  ASSERT_TRUE(w) << "write replayed: " << w.error().message();
  EXPECT_EQ(m.proxy->cuts(), ++cuts);
  ASSERT_TRUE(Wait<void>([&](auto cb) { m.fs->Close(o->handle, cb); }));

  m.proxy->CutOnNextResponse(kCreate);  // the rename's CREATE+SET_INFO+CLOSE
  auto rn = Wait<void>([&](auto cb) { m.fs->Rename("replay-new.txt", "replay-moved.txt", false, cb); });
  ASSERT_TRUE(rn) << "rename replayed: " << rn.error().message();
  EXPECT_EQ(m.proxy->cuts(), ++cuts);
  EXPECT_FALSE(std::filesystem::exists(dir / "replay-new.txt"));
  ASSERT_TRUE(std::filesystem::exists(dir / "replay-moved.txt"));
  EXPECT_EQ(std::filesystem::file_size(dir / "replay-moved.txt"), 6u);

  m.proxy->CutOnNextResponse(kCreate);
  auto md = Wait<smb2::FileAttributes>([&](auto cb) { m.fs->MakeDirectory("replay-dir", cb); });
  ASSERT_TRUE(md) << "mkdir replayed: " << md.error().message();
  EXPECT_EQ(m.proxy->cuts(), ++cuts);

  m.proxy->CutOnNextResponse(kCreate);
  auto ul = Wait<void>([&](auto cb) { m.fs->Unlink("replay-moved.txt", cb); });
  ASSERT_TRUE(ul) << "unlink replayed: " << ul.error().message();
  EXPECT_EQ(m.proxy->cuts(), ++cuts);
  EXPECT_FALSE(std::filesystem::exists(dir / "replay-moved.txt"));
  EXPECT_EQ(m.fs->reconnects(), cuts);
  m.fs->Stop();
}

// A server that lost its durable opens (smbd restarted) refuses the
// reclaim: the open is reopened by path on its next use, and the observer
// hears of the refusal (the mount logs it).
TEST(DurableRestartTest, RefusedReclaimFallsBackToReopenByPath) {
  SMBGATE_REQUIRE_SMBD();
  SmbdServer server;
  std::string err;
  ASSERT_TRUE(server.Start(&err)) << err;
  Mounted m = MountThroughProxy(server, &err);
  ASSERT_TRUE(m.fs) << err;
  auto o = Wait<smb2::OpenResult>([&](auto cb) { m.fs->Open("restart.dat", ReadWrite(), cb); });
  ASSERT_TRUE(o) << o.error().message();
  ASSERT_TRUE(o->durable.durable);
  ASSERT_TRUE(server.Restart(&err)) << err;
  auto data = std::make_shared<const Bytes>(Bytes{'o', 'k'});
  auto w = Wait<std::uint32_t>([&](auto cb) { m.fs->Write(o->handle, 0, data, cb); });
  ASSERT_TRUE(w) << w.error().message();
  auto rec = m.Reclaims();
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0].first, "restart.dat");
  EXPECT_TRUE(rec[0].second) << "the restarted server gave back an open it cannot have";
  ASSERT_TRUE(Wait<void>([&](auto cb) { m.fs->Close(o->handle, cb); }));
  EXPECT_EQ(std::filesystem::file_size(server.share_dir() / "restart.dat"), 2u);
  m.fs->Stop();
}

}  // namespace
}  // namespace smbgate::test
