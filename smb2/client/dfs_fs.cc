#include "smb2/client/dfs_fs.h"

#include <algorithm>

#include "smb2/client/errors.h"
#include "smb2/client/reconnecting_fs.h"
#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"

namespace smbgate::smb2 {
namespace {

// Referrals followed for one path before giving up: a namespace whose links
// point at each other would otherwise loop. Windows stops at a similar depth.
constexpr int kMaxHops = 8;
// Rounds of one request: referrals learnt and targets tried.
constexpr int kMaxAttempts = 12;
// An expired entry whose refresh failed is tried again after this.
constexpr auto kRefreshRetry = std::chrono::seconds(10);

std::string Key(const std::string& server, const std::string& share) {
  std::string k = server + "\\" + share;
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return k;
}

bool IsPathNotCovered(const std::error_code& ec) { return IsNtStatus(ec) && NtStatusOf(ec) == status::kPathNotCovered; }

// A target that cannot be reached, or stopped answering: worth the next one.
bool IsTargetDown(const std::error_code& ec) {
  if (ReconnectingFs::IsConnectionError(ec) || ec == client_errc::host_not_found) return true;
  return ec.category() == std::system_category() || ec.category() == std::generic_category();
}

}  // namespace

std::shared_ptr<DfsFs> DfsFs::Create(std::string root, std::shared_ptr<RemoteFs> root_fs, Hooks hooks,
                                     std::optional<DfsReferralCache::Entry> root_referral) {
  std::shared_ptr<DfsFs> fs(new DfsFs(std::move(root), std::move(root_fs), std::move(hooks), std::move(root_referral)));
  fs->worker_ = std::thread([q = fs->queue_] { WorkerLoop(q); });
  return fs;
}

DfsFs::DfsFs(std::string root, std::shared_ptr<RemoteFs> root_fs, Hooks hooks,
             std::optional<DfsReferralCache::Entry> root_referral)
    : root_(JoinUnc(root, "")), hooks_(std::move(hooks)), max_io_(root_fs->max_io_size()) {
  // The share root_fs serves: the namespace's own, or the root target in use.
  std::string served = root_;
  if (root_referral && cache_.Put(*root_referral, std::chrono::steady_clock::now())) {
    served = root_referral->target();
  }
  if (auto u = SplitUnc(served)) pool_[Key(u->server, u->share)] = std::move(root_fs);
}

DfsFs::~DfsFs() {
  Stop();
  if (worker_.joinable()) {
    // The last reference may be dropped by work running on the worker.
    if (worker_.get_id() == std::this_thread::get_id()) {
      worker_.detach();
    } else {
      worker_.join();
    }
  }
}

void DfsFs::Stop() {
  {
    std::lock_guard<std::mutex> l(queue_->mu);
    queue_->stopping = true;
  }
  queue_->cv.notify_all();
}

void DfsFs::Post(std::function<void()> work) {
  std::lock_guard<std::mutex> l(queue_->mu);
  if (queue_->stopping) return;
  queue_->work.push_back(std::move(work));
  queue_->cv.notify_all();
}

void DfsFs::WorkerLoop(const std::shared_ptr<WorkQueue>& q) {
  for (;;) {
    std::function<void()> w;
    {
      std::unique_lock<std::mutex> l(q->mu);
      q->cv.wait(l, [&] { return q->stopping || !q->work.empty(); });
      // Work already queued still runs, so each of its callbacks is called
      // (with an error once the target filesystems are stopped).
      if (q->work.empty()) return;
      w = std::move(q->work.front());
      q->work.pop_front();
    }
    w();
    // May drop the last reference to the DfsFs (its destructor then
    // detaches this thread): only the queue is used after this.
    w = nullptr;
  }
}

std::map<std::string, std::shared_ptr<RemoteFs>> DfsFs::filesystems() const {
  std::lock_guard<std::mutex> l(mu_);
  return pool_;
}

Result<DfsFs::Route> DfsFs::RouteOf(const std::string& path) {
  std::string cur = JoinUnc(root_, path);
  Route r;
  // Each cached referral whose prefix covers the path rewrites it to the
  // entry's active target; the result may lie under another referral (a
  // link to a share that is itself a namespace, MS-DFSC 3.1.5.4.5).
  for (int hop = 0;; ++hop) {
    auto e = cache_.Find(cur);
    if (!e) break;
    if (hop == kMaxHops) return MakeNtStatusError(status::kPathNotCovered);
    RefreshIfExpired(*e);
    cur = DfsReferralCache::Rewrite(*e, cur);
    r.via_link = true;
    r.link = std::move(*e);
  }
  auto u = SplitUnc(cur);
  if (!u) return make_error_code(errc::malformed_response);
  r.server = u->server;
  r.share = u->share;
  r.sub = u->rest;
  r.full = cur;
  std::lock_guard<std::mutex> l(mu_);
  auto it = pool_.find(Key(r.server, r.share));
  if (it != pool_.end()) r.fs = it->second;
  return r;
}

void DfsFs::RefreshIfExpired(const DfsReferralCache::Entry& e) {
  const auto now = std::chrono::steady_clock::now();
  if (!e.expired(now)) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto& next = refresh_after_[e.prefix];
    if (now < next) return;
    next = now + kRefreshRetry;
  }
  // MS-DFSC 3.1.5.4.3: an expired entry is asked for again; until the
  // answer comes (or when the server does not answer) the old targets serve.
  std::weak_ptr<DfsFs> weak = weak_from_this();
  Post([weak, prefix = e.prefix] {
    auto self = weak.lock();
    if (!self) return;
    if (auto u = SplitUnc(prefix)) (void)self->Refer(u->server, prefix);
  });
}

Result<void> DfsFs::Refer(const std::string& server, const std::string& full) {
  auto resp = hooks_.referral(server, full);
  if (!resp) {
    if (hooks_.on_referral_failed) hooks_.on_referral_failed(full, server, resp.error());
    return resp.error();
  }
  auto e = cache_.Insert(full, *resp, std::chrono::steady_clock::now());
  if (!e) {
    if (hooks_.on_referral_failed) hooks_.on_referral_failed(full, server, e.error());
    return e.error();
  }
  // A self-referral answers a path that is not under a link: nothing to
  // follow, which a PATH_NOT_COVERED contradicts.
  if (!*e) return MakeNtStatusError(status::kPathNotCovered);
  if (hooks_.on_referral) hooks_.on_referral(**e);
  return {};
}

Result<std::shared_ptr<RemoteFs>> DfsFs::Connect(const std::string& server, const std::string& share, bool several) {
  const std::string key = Key(server, share);
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = pool_.find(key);
    if (it != pool_.end()) return it->second;
  }
  auto fs = hooks_.connect(server, share, several);
  if (!fs) return fs.error();
  LeaseBreakHandler handler;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto [it, added] = pool_.emplace(key, *fs);
    if (!added) return it->second;
    handler = lease_handler_;
  }
  if (handler) (*fs)->SetLeaseBreakHandler(handler);
  return *fs;
}

bool DfsFs::FailOver(const Route& r, std::error_code why) {
  if (!r.via_link || r.link.targets.size() < 2) return false;
  auto now = cache_.Failover(r.link.prefix, r.link.version);
  if (!now) return false;
  if (hooks_.on_failover && now->version != r.link.version) {
    hooks_.on_failover(r.link.prefix, r.link.target(), now->target(), why);
  }
  return true;
}

template <class T>
void DfsFs::Run(std::string path, Callback<T> cb, Call<T> call, int attempt) {
  auto route = RouteOf(path);
  if (!route) return cb(route.error());
  auto self = shared_from_this();
  if (!route->fs) {
    Post([self, path = std::move(path), cb = std::move(cb), call = std::move(call), attempt, r = *route]() mutable {
      auto fs = self->Connect(r.server, r.share, r.via_link && r.link.targets.size() > 1);
      if (!fs) {
        if (attempt < kMaxAttempts && IsTargetDown(fs.error()) && self->FailOver(r, fs.error())) {
          return self->Run(std::move(path), std::move(cb), std::move(call), attempt + 1);
        }
        return cb(fs.error());
      }
      self->Run(std::move(path), std::move(cb), std::move(call), attempt + 1);
    });
    return;
  }
  auto fs = route->fs;
  const std::string sub = route->sub;
  call(fs, sub, [self, path = std::move(path), cb, call, attempt, r = std::move(*route)](Result<T> res) mutable {
    if (!res && attempt < kMaxAttempts) {
      const std::error_code ec = res.error();
      if (IsPathNotCovered(ec)) {
        // The path is under a link of r.server's namespace (anywhere in the
        // tree): ask that server, then go again (on the worker: blocking).
        self->Post(
            [self, path = std::move(path), cb = std::move(cb), call = std::move(call), attempt, r, ec]() mutable {
              if (!self->Refer(r.server, r.full)) return cb(ec);
              self->Run(std::move(path), std::move(cb), std::move(call), attempt + 1);
            });
        return;
      }
      if (IsTargetDown(ec) && self->FailOver(r, ec)) {
        return self->Run(std::move(path), std::move(cb), std::move(call), attempt + 1);
      }
    }
    cb(std::move(res));
  });
}

Result<std::string> DfsFs::Resolve(const std::string& path) {
  for (int attempt = 0; attempt < kMaxHops; ++attempt) {
    auto r = RouteOf(path);
    if (!r) return r.error();
    if (!r->fs) {
      auto fs = Connect(r->server, r->share, r->via_link && r->link.targets.size() > 1);
      if (!fs) {
        if (IsTargetDown(fs.error()) && FailOver(*r, fs.error())) continue;
        return fs.error();
      }
    }
    // Ask whether a link of this share covers the path. STATUS_NOT_FOUND
    // (Samba 4.17: also STATUS_OBJECT_PATH_NOT_FOUND) or a self-referral:
    // none does, the route is final.
    if (r->sub.empty()) return r->full;
    auto resp = hooks_.referral(r->server, r->full);
    if (!resp) return r->full;
    auto e = cache_.Insert(r->full, *resp, std::chrono::steady_clock::now());
    if (!e || !*e) return r->full;
    if (hooks_.on_referral) hooks_.on_referral(**e);
  }
  return MakeNtStatusError(status::kPathNotCovered);
}

template <class T>
bool DfsFs::WithHandle(Handle h, const Callback<T>& cb, OpenFile* out) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = handles_.find(h.persistent);
    if (it != handles_.end()) {
      *out = it->second;
      return true;
    }
  }
  cb(MakeNtStatusError(status::kInvalidHandle));
  return false;
}

Handle DfsFs::AddHandle(std::shared_ptr<RemoteFs> fs, Handle real) {
  std::lock_guard<std::mutex> l(mu_);
  const std::uint64_t id = next_handle_++;
  handles_[id] = OpenFile{std::move(fs), real};
  return Handle{id, 0};
}

void DfsFs::Open(std::string path, OpenParams params, Callback<OpenResult> cb) {
  auto self = shared_from_this();
  Run<OpenResult>(
      std::move(path), std::move(cb),
      [self, params](const std::shared_ptr<RemoteFs>& fs, const std::string& sub, Callback<OpenResult> done) {
        fs->Open(sub, params, [self, fs, done = std::move(done)](Result<OpenResult> r) {
          if (r) r->handle = self->AddHandle(fs, r->handle);
          done(std::move(r));
        });
      });
}

void DfsFs::Close(Handle h, Callback<void> cb) {
  OpenFile f;
  if (!WithHandle(h, cb, &f)) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    handles_.erase(h.persistent);
  }
  f.fs->Close(f.real, std::move(cb));
}

void DfsFs::Read(Handle h, std::uint64_t offset, std::uint32_t length, Callback<ReadResult> cb) {
  OpenFile f;
  if (WithHandle(h, cb, &f)) f.fs->Read(f.real, offset, length, std::move(cb));
}

void DfsFs::Write(Handle h, std::uint64_t offset, std::shared_ptr<const Bytes> data, Callback<std::uint32_t> cb) {
  OpenFile f;
  if (WithHandle(h, cb, &f)) f.fs->Write(f.real, offset, std::move(data), std::move(cb));
}

void DfsFs::Flush(Handle h, Callback<void> cb) {
  OpenFile f;
  if (WithHandle(h, cb, &f)) f.fs->Flush(f.real, std::move(cb));
}

void DfsFs::GetAttributes(Handle h, Callback<FileAttributes> cb) {
  OpenFile f;
  if (WithHandle(h, cb, &f)) f.fs->GetAttributes(f.real, std::move(cb));
}

void DfsFs::Truncate(Handle h, std::uint64_t size, Callback<void> cb) {
  OpenFile f;
  if (WithHandle(h, cb, &f)) f.fs->Truncate(f.real, size, std::move(cb));
}

void DfsFs::SetInfo(Handle h, SetAttributes attrs, Callback<void> cb) {
  OpenFile f;
  if (WithHandle(h, cb, &f)) f.fs->SetInfo(f.real, attrs, std::move(cb));
}

void DfsFs::Lock(Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait, Callback<void> cb) {
  OpenFile f;
  if (WithHandle(h, cb, &f)) f.fs->Lock(f.real, offset, length, type, wait, std::move(cb));
}

void DfsFs::CopyRange(Handle src, std::uint64_t src_offset, Handle dst, std::uint64_t dst_offset, std::uint64_t length,
                      Callback<std::uint64_t> cb) {
  OpenFile s, d;
  if (!WithHandle(src, cb, &s) || !WithHandle(dst, cb, &d)) return;
  if (s.fs != d.fs) return cb(MakeNtStatusError(status::kNotSupported));
  d.fs->CopyRange(s.real, src_offset, d.real, dst_offset, length, std::move(cb));
}

void DfsFs::Update(Handle h, AttributeChange change, Callback<FileAttributes> cb) {
  OpenFile f;
  if (WithHandle(h, cb, &f)) f.fs->Update(f.real, change, std::move(cb));
}

void DfsFs::Stat(std::string path, Callback<FileAttributes> cb) {
  Run<FileAttributes>(std::move(path), std::move(cb),
                      [](const std::shared_ptr<RemoteFs>& fs, const std::string& sub, Callback<FileAttributes> done) {
                        fs->Stat(sub, std::move(done));
                      });
}

void DfsFs::ReadDirectory(std::string path, Callback<std::vector<DirectoryEntry>> cb) {
  Run<std::vector<DirectoryEntry>>(
      std::move(path), std::move(cb),
      [](const std::shared_ptr<RemoteFs>& fs, const std::string& sub, Callback<std::vector<DirectoryEntry>> done) {
        fs->ReadDirectory(sub, std::move(done));
      });
}

void DfsFs::OpenListing(std::string path, Callback<DirectoryPage> cb) {
  auto self = shared_from_this();
  Run<DirectoryPage>(std::move(path), std::move(cb),
                     [self](const std::shared_ptr<RemoteFs>& fs, const std::string& sub, Callback<DirectoryPage> done) {
                       fs->OpenListing(sub, [self, fs, done = std::move(done)](Result<DirectoryPage> r) {
                         if (r && !r->end) r->handle = self->AddHandle(fs, r->handle);
                         done(std::move(r));
                       });
                     });
}

void DfsFs::ListMore(Handle h, bool restart, Callback<DirectoryPage> cb) {
  OpenFile f;
  if (WithHandle(h, cb, &f)) f.fs->ListMore(f.real, restart, std::move(cb));
}

void DfsFs::MakeDirectory(std::string path, Callback<FileAttributes> cb) {
  Run<FileAttributes>(std::move(path), std::move(cb),
                      [](const std::shared_ptr<RemoteFs>& fs, const std::string& sub, Callback<FileAttributes> done) {
                        fs->MakeDirectory(sub, std::move(done));
                      });
}

void DfsFs::RemoveDirectory(std::string path, Callback<void> cb) {
  Run<void>(std::move(path), std::move(cb),
            [](const std::shared_ptr<RemoteFs>& fs, const std::string& sub, Callback<void> done) {
              fs->RemoveDirectory(sub, std::move(done));
            });
}

void DfsFs::Unlink(std::string path, Callback<void> cb) {
  Run<void>(std::move(path), std::move(cb),
            [](const std::shared_ptr<RemoteFs>& fs, const std::string& sub, Callback<void> done) {
              fs->Unlink(sub, std::move(done));
            });
}

void DfsFs::UpdatePath(std::string path, AttributeChange change, Callback<FileAttributes> cb) {
  Run<FileAttributes>(std::move(path), std::move(cb),
                      [change](const std::shared_ptr<RemoteFs>& fs, const std::string& sub,
                               Callback<FileAttributes> done) { fs->UpdatePath(sub, change, std::move(done)); });
}

void DfsFs::Rename(std::string from, std::string to, bool replace, Callback<void> cb) {
  auto self = shared_from_this();
  Run<void>(std::move(from), std::move(cb),
            [self, to, replace](const std::shared_ptr<RemoteFs>& fs, const std::string& sub, Callback<void> done) {
              auto dest = self->RouteOf(to);
              if (!dest) return done(dest.error());
              // Both names must be on one share: SMB2 renames within a tree.
              if (dest->fs != fs) return done(MakeNtStatusError(status::kNotSameDevice));
              fs->Rename(sub, dest->sub, replace, std::move(done));
            });
}

void DfsFs::HardLink(std::string existing, std::string new_path, Callback<void> cb) {
  auto self = shared_from_this();
  Run<void>(std::move(existing), std::move(cb),
            [self, new_path](const std::shared_ptr<RemoteFs>& fs, const std::string& sub, Callback<void> done) {
              auto dest = self->RouteOf(new_path);
              if (!dest) return done(dest.error());
              if (dest->fs != fs) return done(MakeNtStatusError(status::kNotSameDevice));
              fs->HardLink(sub, dest->sub, std::move(done));
            });
}

void DfsFs::StatFs(Callback<FsStats> cb) {
  // The share that holds the mount's root answers for the mount.
  Run<FsStats>("", std::move(cb), [](const std::shared_ptr<RemoteFs>& fs, const std::string&, Callback<FsStats> done) {
    fs->StatFs(std::move(done));
  });
}

std::uint32_t DfsFs::max_io_size() const { return max_io_; }

void DfsFs::SetLeaseBreakHandler(LeaseBreakHandler handler) {
  std::map<std::string, std::shared_ptr<RemoteFs>> pool;
  {
    std::lock_guard<std::mutex> l(mu_);
    lease_handler_ = handler;
    pool = pool_;
  }
  for (auto& [key, fs] : pool) fs->SetLeaseBreakHandler(handler);
}

}  // namespace smbgate::smb2
