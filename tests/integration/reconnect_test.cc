// ReconnectingFs against a real smbd: a session the server lost is set up
// again and the request sent again, the keepalive notices a lost session,
// and a reconnect that reaches another server or a rewritten negotiation is
// refused.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "smb2/client/connection.h"
#include "smb2/client/reconnecting_fs.h"
#include "smb2/client/session.h"
#include "smb2/client/smb_fs.h"
#include "smb2/codec/header.h"
#include "tests/integration/connect_fs.h"
#include "tests/integration/smbd_fixture.h"
#include "tests/integration/strip_proxy.h"

namespace smbgate::test {
namespace {

using namespace std::chrono_literals;
using smb2::Wait;

Result<std::shared_ptr<smb2::SmbFs>> Connect(const SmbdServer& s, std::uint16_t port) { return ConnectFs(s, port); }

template <class Pred>
bool WaitFor(Pred p, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!p()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class ReconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SMBGATE_REQUIRE_SMBD();
    std::string err;
    server_ = SharedSmbdServer(Dialect::kSmb3_11, &err);
    ASSERT_NE(server_, nullptr) << err;
  }

  // A ReconnectingFs whose connections all go through `proxy` (started
  // here); null after a failure.
  std::shared_ptr<smb2::ReconnectingFs> Through(StripProxy& proxy, std::chrono::milliseconds echo_interval) {
    std::string err;
    if (!proxy.Start(&err)) {
      ADD_FAILURE() << err;
      return nullptr;
    }
    auto first = Connect(*server_, proxy.port());
    if (!first) {
      ADD_FAILURE() << first.error().message();
      return nullptr;
    }
    smb2::ReconnectingFs::Options ro;
    ro.first_backoff = 50ms;
    ro.echo_interval = echo_interval;
    const std::uint16_t port = proxy.port();
    return smb2::ReconnectingFs::Create(*first, [this, port]() { return Connect(*server_, port); }, ro);
  }

  SmbdServer* server_ = nullptr;
};

// The server answers a request with an unsigned USER_SESSION_DELETED (it
// lost the session): the request is not failed but sent again on a new
// session, and the application sees only success.
TEST_F(ReconnectTest, LostSessionIsSetUpAgainAndTheRequestSentAgain) {
  StripProxy proxy(server_->host(), server_->port(), StripProxy::Mode::kPassThrough);
  std::string err;
  ASSERT_TRUE(proxy.Start(&err)) << err;
  auto first = Connect(*server_, proxy.port());
  ASSERT_TRUE(first) << first.error().message();
  std::atomic<int> factory_calls{0};
  smb2::ReconnectingFs::Options ro;
  ro.first_backoff = 50ms;
  ro.echo_interval = 0ms;
  auto fs = smb2::ReconnectingFs::Create(
      *first,
      [&]() {
        ++factory_calls;
        return Connect(*server_, proxy.port());
      },
      ro);

  // CREATE is the first request of a Stat (a compound: the whole frame is
  // left alone by the proxy, so use a plain open).
  proxy.ExpireSessionOnNext(static_cast<std::uint16_t>(smb2::Command::kCreate));
  smb2::OpenParams p;
  p.write = true;
  p.disposition = smb2::OpenDisposition::kOverwriteIf;
  auto o = Wait<smb2::OpenResult>([&](auto cb) { fs->Open("session-lost.txt", p, cb); });
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(proxy.expired(), 1u);
  EXPECT_EQ(fs->reconnects(), 1u);
  EXPECT_EQ(factory_calls.load(), 1);
  auto data = std::make_shared<const Bytes>(Bytes{'o', 'k'});
  auto w = Wait<std::uint32_t>([&](auto cb) { fs->Write(o->handle, 0, data, cb); });
  ASSERT_TRUE(w) << w.error().message();
  ASSERT_TRUE(Wait<void>([&](auto cb) { fs->Close(o->handle, cb); }));
  EXPECT_TRUE(std::filesystem::exists(server_->share_dir() / "session-lost.txt"));

  // A handle opened before the loss is reopened on the new session when a
  // WRITE on it meets a lost session.
  auto h = Wait<smb2::OpenResult>([&](auto cb) { fs->Open("session-lost.txt", p, cb); });
  ASSERT_TRUE(h) << h.error().message();
  proxy.ExpireSessionOnNext(static_cast<std::uint16_t>(smb2::Command::kWrite));
  auto w2 = Wait<std::uint32_t>([&](auto cb) { fs->Write(h->handle, 0, data, cb); });
  ASSERT_TRUE(w2) << w2.error().message();
  EXPECT_EQ(proxy.expired(), 2u);
  EXPECT_EQ(fs->reconnects(), 2u);
  ASSERT_TRUE(Wait<void>([&](auto cb) { fs->Close(h->handle, cb); }));
  fs->Stop();
}

// A listing's place goes with its handle: after a reconnect the next part
// fails with ESTALE (the FUSE layer opens the listing again) instead of
// the listing starting over unnoticed on a reopened handle.
TEST_F(ReconnectTest, AListingIsNotReopenedAfterAReconnect) {
  StripProxy proxy(server_->host(), server_->port(), StripProxy::Mode::kPassThrough);
  auto fs = Through(proxy, 0ms);
  ASSERT_TRUE(fs);
  const auto dir = server_->share_dir() / "listing-reconnect";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directory(dir);
  for (int i = 0; i < 6000; ++i) {
    std::ofstream(dir / ("entry-" + std::to_string(i) + "-padding-padding-padding-padding-padding-padding")) << "";
  }
  auto page = Wait<smb2::DirectoryPage>([&](auto cb) { fs->OpenListing("listing-reconnect", cb); });
  ASSERT_TRUE(page) << page.error().message();
  ASSERT_FALSE(page->end);
  proxy.ExpireSessionOnNext(static_cast<std::uint16_t>(smb2::Command::kQueryDirectory));
  auto more = Wait<smb2::DirectoryPage>([&](auto cb) { fs->ListMore(page->handle, false, cb); });
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error(), std::error_code(ESTALE, std::generic_category()));
  EXPECT_EQ(fs->reconnects(), 1u);
  ASSERT_TRUE(Wait<void>([&](auto cb) { fs->Close(page->handle, cb); }));
  // Opened again, it lists.
  auto again = Wait<smb2::DirectoryPage>([&](auto cb) { fs->OpenListing("listing-reconnect", cb); });
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_FALSE(again->entries.empty());
  if (!again->end) {
    ASSERT_TRUE(Wait<void>([&](auto cb) { fs->Close(again->handle, cb); }));
  }
  fs->Stop();
  std::filesystem::remove_all(dir);
}

// The keepalive ECHO runs on the session: a server that lost it is noticed
// (and a new session set up) while the mount is idle.
// A request through a handle that was closed meanwhile (in the FUSE layer
// a getattr meets the file's release) fails at once with "cancelled", and
// the filesystem goes on: the callback used to run under the handle table's
// lock and take it again, which wedged every later request (an rsync and a
// git clone in the apps test hung for good on a utimensat).
TEST_F(ReconnectTest, RequestThroughAClosedHandleFailsAndLeavesTheFsWorking) {
  auto first = Connect(*server_, server_->port());
  ASSERT_TRUE(first) << first.error().message();
  smb2::ReconnectingFs::Options ro;
  ro.echo_interval = 0ms;
  auto fs = smb2::ReconnectingFs::Create(
      *first, [&]() { return Connect(*server_, server_->port()); }, ro);
  smb2::OpenParams p;
  p.write = true;
  p.disposition = smb2::OpenDisposition::kOverwriteIf;
  auto o = Wait<smb2::OpenResult>([&](auto cb) { fs->Open("closed-handle.txt", p, cb); });
  ASSERT_TRUE(o) << o.error().message();
  ASSERT_TRUE(Wait<void>([&](auto cb) { fs->Close(o->handle, cb); }));
  auto a = Wait<smb2::FileAttributes>([&](auto cb) { fs->GetAttributes(o->handle, cb); });
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), smb2::client_errc::cancelled);
  auto data = std::make_shared<const Bytes>(Bytes{'x'});
  auto w = Wait<std::uint32_t>([&](auto cb) { fs->Write(o->handle, 0, data, cb); });
  EXPECT_FALSE(w);
  // Still working.
  auto st = Wait<smb2::FileAttributes>([&](auto cb) { fs->Stat("closed-handle.txt", cb); });
  EXPECT_TRUE(st) << st.error().message();
  fs->Stop();
}

TEST_F(ReconnectTest, KeepaliveProvesTheSession) {
  StripProxy proxy(server_->host(), server_->port(), StripProxy::Mode::kPassThrough);
  auto fs = Through(proxy, 200ms);
  ASSERT_TRUE(fs);
  proxy.ExpireSessionOnNext(static_cast<std::uint16_t>(smb2::Command::kEcho));
  EXPECT_TRUE(WaitFor([&] { return fs->reconnects() == 1; }, 10s)) << "reconnects " << fs->reconnects();
  EXPECT_EQ(proxy.expired(), 1u);
  auto st = Wait<smb2::FileAttributes>([&](auto cb) { fs->Stat("", cb); });
  EXPECT_TRUE(st) << st.error().message();
  fs->Stop();
}

// After a lost connection the reconnect reaches another server (another
// ServerGuid): refused, named, and never used; back on the first server the
// reconnect goes through.
TEST_F(ReconnectTest, ReconnectToAnotherServerIsRefused) {
  // Samba 4.17 makes its ServerGuid from the netbios name: another name
  // is another server.
  SmbdOptions oo;
  oo.extra_global = {"netbios name = OTHERSERVER"};
  SmbdServer other{oo};
  std::string err;
  ASSERT_TRUE(other.Start(&err)) << err;
  auto first = Connect(*server_, server_->port());
  ASSERT_TRUE(first) << first.error().message();
  std::atomic<bool> use_other{true};
  std::mutex mu;
  std::vector<std::string> refused;
  smb2::ReconnectingFs::Options ro;
  ro.first_backoff = 50ms;
  ro.max_backoff = 200ms;
  ro.wait_limit = 1500ms;
  ro.echo_interval = 0ms;
  ro.on_refused = [&](const std::string& what) {
    std::lock_guard<std::mutex> l(mu);
    refused.push_back(what);
  };
  auto fs = smb2::ReconnectingFs::Create(
      *first, [&]() { return use_other ? Connect(other, other.port()) : Connect(*server_, server_->port()); }, ro);
  (*first)->tree()->connection().Close();
  // The request that meets the closed connection fails; the reconnects
  // that follow reach the other server and are refused.
  (void)Wait<smb2::FileAttributes>([&](auto cb) { fs->Stat("", cb); });
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        return !refused.empty();
      },
      10s));
  auto st = Wait<smb2::FileAttributes>([&](auto cb) { fs->Stat("", cb); });
  ASSERT_FALSE(st) << "a reconnect to another server was used";
  {
    std::lock_guard<std::mutex> l(mu);
    ASSERT_FALSE(refused.empty());
    EXPECT_NE(refused[0].find("ServerGuid changed"), std::string::npos) << refused[0];
  }
  EXPECT_EQ(fs->reconnects(), 0u);
  use_other = false;
  EXPECT_TRUE(WaitFor([&] { return fs->up(); }, 10s));
  auto st2 = Wait<smb2::FileAttributes>([&](auto cb) { fs->Stat("", cb); });
  EXPECT_TRUE(st2) << st2.error().message();
  fs->Stop();
}

// After a lost connection a man in the middle rewrites the reconnect's
// NEGOTIATE down to 3.0.2: the server sees the validation fail and drops
// the connection; smbgate never uses it and keeps trying.
TEST_F(ReconnectTest, DowngradedReconnectIsRefused) {
  SmbdServer wide{SmbdOptions{}};  // 2.0.2 .. 3.1.1
  std::string err;
  ASSERT_TRUE(wide.Start(&err)) << err;
  StripProxy proxy(wide.host(), wide.port(), StripProxy::Mode::kPassThrough);
  ASSERT_TRUE(proxy.Start(&err)) << err;
  auto first = Connect(wide, proxy.port());
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ((*first)->tree()->connection().negotiated().dialect, 0x0311);
  std::mutex mu;
  std::vector<std::error_code> failures;
  smb2::ReconnectingFs::Options ro;
  ro.first_backoff = 50ms;
  ro.max_backoff = 200ms;
  ro.wait_limit = 1500ms;
  ro.echo_interval = 0ms;
  auto fs = smb2::ReconnectingFs::Create(
      *first,
      [&]() {
        auto r = Connect(wide, proxy.port());
        if (!r) {
          std::lock_guard<std::mutex> l(mu);
          failures.push_back(r.error());
        }
        return r;
      },
      ro);
  proxy.set_downgrade(0x0302);
  (*first)->tree()->connection().Close();
  (void)Wait<smb2::FileAttributes>([&](auto cb) { fs->Stat("", cb); });
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        return !failures.empty();
      },
      10s));
  auto st = Wait<smb2::FileAttributes>([&](auto cb) { fs->Stat("", cb); });
  ASSERT_FALSE(st) << "a downgraded reconnect was used";
  EXPECT_GE(proxy.downgraded(), 1u);
  {
    std::lock_guard<std::mutex> l(mu);
    ASSERT_FALSE(failures.empty());
    EXPECT_EQ(failures[0], smb2::make_error_code(smb2::client_errc::validate_negotiate_failed))
        << failures[0].message();
  }
  EXPECT_EQ(fs->reconnects(), 0u);
  proxy.set_downgrade(0);
  EXPECT_TRUE(WaitFor([&] { return fs->up(); }, 10s));
  fs->Stop();
}

TEST(DowngradeBetweenTest, NamesEveryChange) {
  smb2::NegotiatedState a;
  a.dialect = 0x0311;
  a.signing_algorithm = auth::SigningAlgorithm::kAesGmac;
  a.cipher_id = 2;
  a.server_guid[0] = 1;
  smb2::NegotiatedState b = a;
  EXPECT_EQ(smb2::ReconnectingFs::DowngradeBetween(a, b), "");
  b.dialect = 0x0210;
  b.signing_algorithm = auth::SigningAlgorithm::kHmacSha256;
  b.cipher_id = 0;
  b.server_guid[0] = 2;
  EXPECT_EQ(smb2::ReconnectingFs::DowngradeBetween(a, b),
            "ServerGuid changed (another server answered), dialect 3.1.1 -> 2.1, signing AES-128-GMAC -> "
            "HMAC-SHA256, cipher AES-128-GCM -> none");
}

}  // namespace
}  // namespace smbgate::test
