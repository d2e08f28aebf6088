#include "fuse/fuse_impl.h"

namespace smbgate::fuse {

smb2::LeaseKey FuseFs::Impl::LeaseKeyFor(std::uint64_t ino) const {
  smb2::LeaseKey k{};
  std::copy(lease_salt.begin(), lease_salt.end(), k.begin());
  for (int b = 0; b < 8; ++b) k[8 + b] = static_cast<std::uint8_t>(ino >> (8 * b));
  return k;
}

std::uint64_t FuseFs::Impl::LeaseNode(const smb2::LeaseKey& key) const {
  if (!std::equal(lease_salt.begin(), lease_salt.end(), key.begin())) return 0;
  std::uint64_t ino = 0;
  for (int b = 0; b < 8; ++b) ino |= static_cast<std::uint64_t>(key[8 + b]) << (8 * b);
  return ino;
}

bool FuseFs::Impl::Granted(std::uint64_t ino, std::uint32_t state, bool* counted) {
  *counted = state != 0;
  if (!state) return false;
  bool cache_good;
  {
    std::lock_guard<std::mutex> l(lease_mu);
    Lease& le = leases[ino];
    cache_good = le.opens > 0 && (le.state & smb2::kLeaseRead);
    ++le.opens;
    le.state = state;
  }
  // Byte-range locks are kept here while the lease lets this client write
  // alone.
  locks->SetWriteLeased(ino, (state & smb2::kLeaseWrite) != 0);
  return cache_good && (state & smb2::kLeaseRead);
}

std::optional<std::uint64_t> FuseFs::Impl::OwnableFrom(std::uint64_t ino) {
  if (opts.cache != CacheMode::kStrict) return std::nullopt;
  // The count first: a write taken after it moves it, one taken before is
  // still pending below.
  const std::uint64_t from = inodes.WriteCount(ino);
  if (HasWritesBehind(ino)) return std::nullopt;
  return from;
}

void FuseFs::Impl::Learned(std::uint64_t ino, const FileAttributes& a, std::optional<std::uint64_t> from,
                           bool time_set) {
  if (from) {
    // Under lease_mu: a break that takes the write lease disowns under it
    // too, so an Own that saw the lease never outlives the break.
    std::lock_guard<std::mutex> l(lease_mu);
    auto it = leases.find(ino);
    if (it != leases.end() && (it->second.state & smb2::kLeaseWrite) && handles.OpenForWrite(ino)) {
      return inodes.Own(ino, a, *from, time_set);
    }
  }
  inodes.Disown(ino, true);
  inodes.SetAttributes(ino, a, Expiry());
}

void FuseFs::Impl::LeaseClosed(std::uint64_t ino) {
  {
    std::lock_guard<std::mutex> l(lease_mu);
    auto it = leases.find(ino);
    if (it == leases.end()) return;
    if (--it->second.opens > 0) return;
    leases.erase(it);
    inodes.Closed(ino);
  }
  locks->SetWriteLeased(ino, false);
}

void FuseFs::Impl::OnLeaseBreak(const smb2::LeaseKey& key, std::uint32_t new_state, std::function<void()> ack) {
  const std::uint64_t ino = LeaseNode(key);
  // Handle caching ends: handles kept after their close go first (another
  // client waits for them to open, rename or delete the file).
  if (ino && !(new_state & smb2::kLeaseHandle)) {
    std::vector<OpenFile> kept = TakeParked(ino);
    if (!kept.empty()) {
      return CloseParked(std::move(kept), [this, key, new_state, ack = std::move(ack)]() mutable {
        OnLeaseBreak(key, new_state, std::move(ack));
      });
    }
  }
  bool had_write = false;
  if (ino) {
    std::lock_guard<std::mutex> l(lease_mu);
    auto it = leases.find(ino);
    if (it != leases.end()) {
      had_write = it->second.state & smb2::kLeaseWrite;
      it->second.state = new_state;
      // Another client may change the file from now on.
      if (had_write && !(new_state & smb2::kLeaseWrite)) inodes.Disown(ino, true);
    }
  }
  // Write caching ends: the writes taken behind the application and the
  // byte-range locks kept here go to the server first (another client is
  // about to open the file).
  if (had_write && !(new_state & smb2::kLeaseWrite)) {
    return DrainWrites(ino, [this, ino, new_state, ack = std::move(ack)]() mutable {
      locks->SetWriteLeased(ino, false, [this, ino, new_state, ack = std::move(ack)]() mutable {
        AfterWriteCaching(ino, new_state, std::move(ack));
      });
    });
  }
  AfterWriteCaching(ino, new_state, std::move(ack));
}

void FuseFs::Impl::AfterWriteCaching(std::uint64_t ino, std::uint32_t new_state, std::function<void()> ack) {
  if (ino == 0 || (new_state & smb2::kLeaseRead)) return ack();
  // Read caching ends: attributes, listing entry and the kernel's pages
  // and attributes of the file go (with cache=strict nothing is dirty in
  // the kernel: writes went through).
  inodes.InvalidateAttributes(ino);
  TouchListing(ino);
  {
    std::lock_guard<std::mutex> l(inval_mu);
    if (!inval_stop) {
      inval_queue.emplace_back(ino, std::move(ack));
      inval_cv.notify_one();
      return;
    }
  }
  ack();
}

void FuseFs::Impl::InvalidateLoop() {
  for (;;) {
    std::pair<std::uint64_t, std::function<void()>> job;
    {
      std::unique_lock<std::mutex> l(inval_mu);
      inval_cv.wait(l, [&] { return inval_stop || !inval_queue.empty(); });
      if (inval_queue.empty()) return;
      job = std::move(inval_queue.front());
      inval_queue.pop_front();
    }
    if (se && is_mounted) fuse_lowlevel_notify_inval_inode(se, job.first, 0, 0);
    if (opts.on_lease_break) opts.on_lease_break();
    job.second();
  }
}

void FuseFs::Impl::StopInvalidations() {
  {
    std::lock_guard<std::mutex> l(inval_mu);
    inval_stop = true;
  }
  inval_cv.notify_all();
  if (inval_thread.joinable()) inval_thread.join();
  // Breaks still queued are acknowledged (their files are going anyway).
  for (auto& job : inval_queue) job.second();
  inval_queue.clear();
}

}  // namespace smbgate::fuse
