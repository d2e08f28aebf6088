// DfsFs routing against scripted filesystems (one per share) and a scripted
// referral source; the real servers are in tests/dfs.
#include "smb2/client/dfs_fs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <optional>
#include <thread>

#include "smb2/client/errors.h"
#include "smb2/client/smb_fs.h"
#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"

namespace smbgate::smb2 {
namespace {

// A share whose Stat answers from a table (file_id = `id` for every known
// path) and whose Open/Read record what they were given. Everything else is
// not supported.
class ScriptedFs final : public RemoteFs {
 public:
  explicit ScriptedFs(std::uint64_t id) : id_(id) {}
  std::map<std::string, std::error_code> errors;  // path -> error to answer
  std::vector<std::string> stats;
  Handle last_read{};

  void Stat(std::string path, Callback<FileAttributes> cb) override {
    stats.push_back(path);
    if (auto it = errors.find(path); it != errors.end()) return cb(it->second);
    FileAttributes a;
    a.file_id = id_;
    cb(a);
  }
  void Open(std::string, OpenParams, Callback<OpenResult> cb) override {
    OpenResult r;
    r.handle = {id_ * 100, id_ * 100 + 1};
    cb(r);
  }
  void Read(Handle h, std::uint64_t, std::uint32_t, Callback<ReadResult> cb) override {
    last_read = h;
    cb(ReadResult{});
  }
  void Close(Handle, Callback<void> cb) override { cb(Result<void>()); }
  void Write(Handle, std::uint64_t, std::shared_ptr<const Bytes>, Callback<std::uint32_t> cb) override { No(cb); }
  void Flush(Handle, Callback<void> cb) override { No(cb); }
  void GetAttributes(Handle, Callback<FileAttributes> cb) override { No(cb); }
  void ReadDirectory(std::string, Callback<std::vector<DirectoryEntry>> cb) override { No(cb); }
  void MakeDirectory(std::string, Callback<FileAttributes> cb) override { No(cb); }
  void RemoveDirectory(std::string, Callback<void> cb) override { No(cb); }
  void Unlink(std::string, Callback<void> cb) override { No(cb); }
  void Rename(std::string, std::string, bool, Callback<void> cb) override { cb(Result<void>()); }
  void Truncate(Handle, std::uint64_t, Callback<void> cb) override { No(cb); }
  void SetInfo(Handle, SetAttributes, Callback<void> cb) override { No(cb); }
  void HardLink(std::string, std::string, Callback<void> cb) override { No(cb); }
  void StatFs(Callback<FsStats> cb) override { No(cb); }
  void Lock(Handle, std::uint64_t, std::uint64_t, LockType, bool, Callback<void> cb) override { No(cb); }
  std::uint32_t max_io_size() const override { return 1 << 20; }

 private:
  template <class T>
  static void No(const Callback<T>& cb) {
    cb(MakeNtStatusError(status::kNotSupported));
  }
  std::uint64_t id_;
};

DfsReferralResponse Link(const std::string& path, std::vector<std::string> targets, std::uint32_t ttl = 300) {
  DfsReferralResponse r;
  r.path_consumed = static_cast<std::uint16_t>(2 * path.size());
  for (auto& t : targets) {
    DfsReferralEntry e;
    e.time_to_live = ttl;
    e.dfs_path = path;
    e.network_address = t;
    r.referrals.push_back(e);
  }
  return r;
}

struct Rig {
  std::shared_ptr<ScriptedFs> root = std::make_shared<ScriptedFs>(1);
  std::map<std::string, std::shared_ptr<ScriptedFs>> shares;  // "server\share"
  std::map<std::string, DfsReferralResponse> referrals;        // request path
  std::atomic<int> referral_calls{0};
  std::vector<std::string> failovers;
  std::shared_ptr<DfsFs> fs;

  explicit Rig(const std::string& root_path = "\\srv\\dfs",
               std::optional<DfsReferralCache::Entry> root_referral = std::nullopt) {
    DfsFs::Hooks h;
    h.connect = [this](const std::string& server, const std::string& share,
                       bool) -> Result<std::shared_ptr<RemoteFs>> {
      auto it = shares.find(server + "\\" + share);
      if (it == shares.end()) return make_error_code(client_errc::connection_lost);
      return std::shared_ptr<RemoteFs>(it->second);
    };
    h.referral = [this](const std::string&, const std::string& path) -> Result<DfsReferralResponse> {
      ++referral_calls;
      auto it = referrals.find(path);
      if (it == referrals.end()) return MakeNtStatusError(0xC0000225);  // STATUS_NOT_FOUND
      return it->second;
    };
    h.on_failover = [this](const std::string&, const std::string& from, const std::string& to, std::error_code) {
      failovers.push_back(from + ">" + to);
    };
    fs = DfsFs::Create(root_path, root, h, std::move(root_referral));
  }
  ~Rig() { fs->Stop(); }
};

TEST(DfsFs, PathNotCoveredAnywhereFollowsTheReferralOnce) {
  Rig rig;
  rig.shares["t1\\share1"] = std::make_shared<ScriptedFs>(2);
  rig.root->errors["link/a/b"] = MakeNtStatusError(status::kPathNotCovered);
  rig.referrals["\\srv\\dfs\\link\\a\\b"] = Link("\\srv\\dfs\\link", {"\\t1\\share1"});
  auto st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("link/a/b", cb); });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->file_id, 2u);
  EXPECT_EQ(rig.shares["t1\\share1"]->stats, std::vector<std::string>{"a/b"});
  // The next path under the link goes to the target straight away.
  st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("link/c", cb); });
  ASSERT_TRUE(st);
  EXPECT_EQ(st->file_id, 2u);
  EXPECT_EQ(rig.referral_calls, 1);
  // A path beside the link stays on the namespace share.
  st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("plain", cb); });
  ASSERT_TRUE(st);
  EXPECT_EQ(st->file_id, 1u);
}

TEST(DfsFs, MountOfALinkPathAndHandlesRememberTheirTarget) {
  Rig rig("\\srv\\dfs\\link\\sub");
  rig.shares["t1\\share1"] = std::make_shared<ScriptedFs>(2);
  rig.referrals["\\srv\\dfs\\link\\sub"] = Link("\\srv\\dfs\\link", {"\\t1\\share1\\base"});
  auto where = rig.fs->Resolve("");
  ASSERT_TRUE(where) << where.error().message();
  EXPECT_EQ(*where, "\\t1\\share1\\base\\sub");
  auto o = Wait<OpenResult>([&](auto cb) { rig.fs->Open("f", OpenParams{}, cb); });
  ASSERT_TRUE(o);
  auto r = Wait<ReadResult>([&](auto cb) { rig.fs->Read(o->handle, 0, 10, cb); });
  ASSERT_TRUE(r);
  EXPECT_EQ(rig.shares["t1\\share1"]->last_read, (Handle{200, 201}));
  ASSERT_TRUE(Wait<void>([&](auto cb) { rig.fs->Close(o->handle, cb); }));
  // A closed (or unknown) handle is refused, not sent anywhere.
  EXPECT_FALSE(Wait<ReadResult>([&](auto cb) { rig.fs->Read(o->handle, 0, 10, cb); }));
}

TEST(DfsFs, UnreachableTargetFailsOverAndBack) {
  Rig rig;
  auto a = std::make_shared<ScriptedFs>(3), b = std::make_shared<ScriptedFs>(4);
  rig.shares["a\\ha"] = a;
  rig.shares["b\\ha"] = b;
  rig.root->errors["ha/x"] = MakeNtStatusError(status::kPathNotCovered);
  rig.referrals["\\srv\\dfs\\ha\\x"] = Link("\\srv\\dfs\\ha", {"\\a\\ha", "\\b\\ha"});
  auto st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("ha/x", cb); });
  ASSERT_TRUE(st);
  EXPECT_EQ(st->file_id, 3u);
  a->errors["x"] = make_error_code(client_errc::connection_lost);
  st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("ha/x", cb); });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->file_id, 4u);
  a->errors.clear();
  b->errors["x"] = make_error_code(client_errc::connection_lost);
  st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("ha/x", cb); });
  ASSERT_TRUE(st);
  EXPECT_EQ(st->file_id, 3u);
  EXPECT_EQ(rig.failovers, (std::vector<std::string>{"\\a\\ha>\\b\\ha", "\\b\\ha>\\a\\ha"}));
  // A target that answers with an ordinary error is not failed over.
  a->errors["x"] = MakeNtStatusError(status::kAccessDenied);
  EXPECT_FALSE(Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("ha/x", cb); }));
  EXPECT_EQ(rig.failovers.size(), 2u);
}

// MS-DFSC 3.1.5.4.3: an entry past its TimeToLive is asked for again in the
// background and used until the answer comes.
TEST(DfsFs, ExpiredReferralIsUsedWhileItIsAskedAgain) {
  Rig rig;
  auto a = std::make_shared<ScriptedFs>(3), b = std::make_shared<ScriptedFs>(4);
  rig.shares["a\\l"] = a;
  rig.shares["b\\l"] = b;
  rig.root->errors["l/x"] = MakeNtStatusError(status::kPathNotCovered);
  rig.referrals["\\srv\\dfs\\l\\x"] = Link("\\srv\\dfs\\l", {"\\a\\l"}, /*ttl=*/1);
  auto st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("l/x", cb); });
  ASSERT_TRUE(st);
  EXPECT_EQ(st->file_id, 3u);
  EXPECT_EQ(rig.referral_calls, 1);
  // The namespace now sends the link to b; the entry, once expired, still
  // routes to a while the refresh is on its way.
  rig.referrals["\\srv\\dfs\\l"] = Link("\\srv\\dfs\\l", {"\\b\\l"}, 300);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("l/x", cb); });
  ASSERT_TRUE(st);
  EXPECT_EQ(st->file_id, 3u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rig.fs->cache().Find("\\srv\\dfs\\l")->target() != "\\b\\l" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("l/x", cb); });
  ASSERT_TRUE(st);
  EXPECT_EQ(st->file_id, 4u);
  EXPECT_EQ(rig.referral_calls, 2);
  // Fresh for its 300 s: no more requests.
  ASSERT_TRUE(Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("l/y", cb); }));
  EXPECT_EQ(rig.referral_calls, 2);
}

// A domain namespace (MS-DFSC 3.1.4.1): the root referral asked before the
// mount names the root servers; the one mounted is `active`, and the root
// fails over between them as a link does.
TEST(DfsFs, DomainNamespaceRootFailsOverBetweenItsServersAndBack) {
  DfsReferralCache::Entry e;
  e.prefix = "\\corp.example\\ns";
  e.targets = {"\\dc1\\ns", "\\dc2\\ns"};
  e.ttl_s = 300;
  e.root = true;
  Rig rig("\\corp.example\\ns\\team", e);  // rig.root is dc1's share
  auto dc2 = std::make_shared<ScriptedFs>(5);
  rig.shares["dc2\\ns"] = dc2;
  auto where = rig.fs->Resolve("");
  ASSERT_TRUE(where) << where.error().message();
  EXPECT_EQ(*where, "\\dc1\\ns\\team");
  auto st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("x", cb); });
  ASSERT_TRUE(st);
  EXPECT_EQ(st->file_id, 1u);
  EXPECT_EQ(rig.root->stats.back(), "team/x");
  rig.root->errors["team/x"] = make_error_code(client_errc::connection_lost);
  st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("x", cb); });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->file_id, 5u);
  EXPECT_EQ(dc2->stats, std::vector<std::string>{"team/x"});
  rig.root->errors.clear();
  dc2->errors["team/x"] = make_error_code(client_errc::connection_lost);
  st = Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("x", cb); });
  ASSERT_TRUE(st);
  EXPECT_EQ(st->file_id, 1u);
  EXPECT_EQ(rig.failovers, (std::vector<std::string>{"\\dc1\\ns>\\dc2\\ns", "\\dc2\\ns>\\dc1\\ns"}));
  // The root referral is in the cache, for `smbgate check` and its refresh.
  ASSERT_EQ(rig.fs->cache().Entries().size(), 1u);
  EXPECT_TRUE(rig.fs->cache().Entries()[0].root);
  EXPECT_EQ(rig.referral_calls, 1);  // Resolve asked dc1 whether a link covers team
}

TEST(DfsFs, RenameAcrossTargetsIsNotSameDevice) {
  Rig rig;
  rig.shares["t1\\share1"] = std::make_shared<ScriptedFs>(2);
  rig.root->errors["link/f"] = MakeNtStatusError(status::kPathNotCovered);
  rig.referrals["\\srv\\dfs\\link\\f"] = Link("\\srv\\dfs\\link", {"\\t1\\share1"});
  ASSERT_TRUE(Wait<FileAttributes>([&](auto cb) { rig.fs->Stat("link/f", cb); }));
  auto r = Wait<void>([&](auto cb) { rig.fs->Rename("link/f", "plain/f", false, cb); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), MakeNtStatusError(status::kNotSameDevice));
  EXPECT_TRUE(Wait<void>([&](auto cb) { rig.fs->Rename("link/f", "link/g", false, cb); }));
}

}  // namespace
}  // namespace smbgate::smb2
