#include "fuse/fuse_impl.h"

namespace smbgate::fuse {

smb2::LeaseKey FuseFs::Impl::LeaseKeyFor(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(lease_mu);
  if (ino) {
    auto it = leases.find(ino);
    if (it != leases.end()) return it->second.key;
  }
  smb2::LeaseKey k;
  auth::OsRandom()(k);
  return k;
}

bool FuseFs::Impl::Granted(std::uint64_t ino, const smb2::LeaseKey& key, std::uint32_t state, bool* counted) {
  std::lock_guard<std::mutex> l(lease_mu);
  Lease& le = leases[ino];
  const bool cache_good = le.opens > 0 && (le.state & smb2::kLeaseRead) && le.key == key;
  if (le.key != key) {
    lease_nodes.erase(le.key);
    le.key = key;
    le.opens = 0;
  }
  lease_nodes[key] = ino;
  *counted = state != 0;
  if (state) {
    ++le.opens;
    le.state = state;
  }
  return cache_good && (state & smb2::kLeaseRead);
}

void FuseFs::Impl::LeaseClosed(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(lease_mu);
  auto it = leases.find(ino);
  if (it == leases.end()) return;
  if (--it->second.opens <= 0) {
    lease_nodes.erase(it->second.key);
    leases.erase(it);
  }
}

void FuseFs::Impl::OnLeaseBreak(const smb2::LeaseKey& key, std::uint32_t new_state, std::function<void()> ack) {
  std::uint64_t ino = 0;
  {
    std::lock_guard<std::mutex> l(lease_mu);
    auto it = lease_nodes.find(key);
    if (it != lease_nodes.end()) {
      ino = it->second;
      leases[ino].state = new_state;
    }
  }
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
