// Deferred close: see FuseFs::Impl::Park in fuse_impl.h.
#include "fuse/fuse_impl.h"

namespace smbgate::fuse {

bool FuseFs::Impl::Park(const OpenFile& f) {
  // Only handles opened for reading: a server sets a written file's last
  // write time at its close (Samba does), which would then land after a
  // utimensat (rsync, tar, cp -p) or a stat; and a reopen for writing must
  // meet the server's check of the file's read-only attribute again.
  if (opts.close_timeout <= 0 || !f.leased || f.writable) return false;
  {
    std::lock_guard<std::mutex> l(lease_mu);
    auto it = leases.find(f.ino);
    // Only a lease with SMB2_LEASE_HANDLE_CACHING (MS-SMB2 2.2.13.2.8) lets
    // a client keep an open the application closed.
    if (it == leases.end() || !(it->second.state & smb2::kLeaseHandle)) return false;
  }
  // A handle with locks on it would keep them: close it.
  if (!locks->Idle(f.ino)) return false;
  const auto until =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opts.close_timeout));
  {
    std::lock_guard<std::mutex> l(park_mu);
    if (park_stop || parked_count >= kMaxParked) return false;
    parked[f.ino].push_back({f, until});
    ++parked_count;
  }
  park_cv.notify_one();
  return true;
}

std::optional<OpenFile> FuseFs::Impl::Unpark(std::uint64_t ino, bool writable) {
  std::lock_guard<std::mutex> l(park_mu);
  auto it = parked.find(ino);
  if (it == parked.end()) return std::nullopt;
  auto& v = it->second;
  for (auto p = v.begin(); p != v.end(); ++p) {
    if (p->file.writable != writable) continue;
    OpenFile f = p->file;
    v.erase(p);
    --parked_count;
    if (v.empty()) parked.erase(it);
    return f;
  }
  return std::nullopt;
}

std::vector<OpenFile> FuseFs::Impl::TakeParked(std::uint64_t ino, std::optional<Clock::time_point> expired_at) {
  std::vector<OpenFile> out;
  std::lock_guard<std::mutex> l(park_mu);
  for (auto it = parked.begin(); it != parked.end();) {
    if (ino != 0 && it->first != ino) {
      ++it;
      continue;
    }
    auto& v = it->second;
    for (auto p = v.begin(); p != v.end();) {
      if (expired_at && p->until > *expired_at) {
        ++p;
        continue;
      }
      out.push_back(p->file);
      p = v.erase(p);
      --parked_count;
    }
    it = v.empty() ? parked.erase(it) : std::next(it);
  }
  return out;
}

void FuseFs::Impl::CloseParked(std::vector<OpenFile> files, std::function<void()> then) {
  if (files.empty()) {
    if (then) then();
    return;
  }
  struct Left {
    std::atomic<std::size_t> n;
    std::function<void()> then;
  };
  auto left = std::make_shared<Left>();
  left->n = files.size();
  left->then = std::move(then);
  for (const OpenFile& f : files) {
    fs->Close(f.handle, [this, left, ino = f.ino, leased = f.leased](Result<void>) {
      // Its share of the lease ends with the handle.
      if (leased) LeaseClosed(ino);
      if (--left->n == 0 && left->then) left->then();
    });
  }
}

void FuseFs::Impl::ClosingParked(std::function<void()> then) {
  CloseParked(TakeParked(0), std::move(then));
}

void FuseFs::Impl::ParkLoop() {
  std::unique_lock<std::mutex> l(park_mu);
  while (!park_stop) {
    std::optional<Clock::time_point> next;
    for (const auto& [ino, v] : parked) {
      for (const Parked& p : v) {
        if (!next || p.until < *next) next = p.until;
      }
    }
    if (!next) {
      park_cv.wait(l);
      continue;
    }
    if (park_cv.wait_until(l, *next) != std::cv_status::timeout) continue;
    l.unlock();
    CloseParked(TakeParked(0, Clock::now()), {});
    l.lock();
  }
}

void FuseFs::Impl::StopParking() {
  {
    std::lock_guard<std::mutex> l(park_mu);
    park_stop = true;
  }
  park_cv.notify_all();
  if (park_thread.joinable()) park_thread.join();
}

}  // namespace smbgate::fuse
