#include "fuse/posix_locks.h"

#include <algorithm>

namespace smbgate::fuse {
namespace {

// `ranges` minus `cut`, each piece keeping its kind.
std::vector<LockRange> Subtract(const std::vector<LockRange>& ranges, const LockRange& cut) {
  std::vector<LockRange> out;
  for (const LockRange& r : ranges) {
    if (!Overlaps(r, cut)) {
      out.push_back(r);
      continue;
    }
    if (r.start < cut.start) out.push_back({r.start, cut.start, r.exclusive});
    if (cut.end < r.end) out.push_back({cut.end, r.end, r.exclusive});
  }
  return out;
}

// The parts of `r` that no range of `cover` covers.
std::vector<LockRange> Uncovered(const LockRange& r, const std::vector<LockRange>& cover) {
  std::vector<LockRange> left{r};
  for (const LockRange& c : cover) left = Subtract(left, c);
  return left;
}

}  // namespace

std::optional<HeldLock> FileLocks::Conflict(std::uint64_t owner, const LockRange& r) const {
  for (const HeldLock& h : locks_) {
    if (h.owner != owner && Overlaps(h.range, r) && (h.range.exclusive || r.exclusive)) return h;
  }
  return std::nullopt;
}

LockPlan FileLocks::PlanLock(const LockRange& r, const std::vector<LockRange>& server) {
  LockPlan p;
  if (!r.exclusive) {
    // Any SMB lock of the owner covers a shared request (an exclusive one
    // keeps others out as well); the parts left touch none of them.
    p.take = Uncovered(r, server);
    return p;
  }
  // Exclusive: only the owner's exclusive SMB locks cover it. Its shared
  // ones in the way must go first, and the exclusive lock then spans them
  // whole (more than asked, never less, so nothing they covered is left
  // bare); that span may meet more shared ones, so repeat until it holds.
  LockRange span = r;
  std::vector<bool> released(server.size(), false);
  for (bool grew = true; grew;) {
    grew = false;
    for (std::size_t i = 0; i < server.size(); ++i) {
      const LockRange& s = server[i];
      if (released[i] || s.exclusive || !Overlaps(s, span)) continue;
      released[i] = true;
      p.release_first.push_back(s);
      if (s.start < span.start || s.end > span.end) {
        span = {std::min(span.start, s.start), std::max(span.end, s.end), true};
        grew = true;
      }
    }
  }
  std::vector<LockRange> exclusive;
  for (const LockRange& s : server) {
    if (s.exclusive) exclusive.push_back(s);
  }
  p.take = Uncovered(span, exclusive);
  for (LockRange& t : p.take) t.exclusive = true;
  return p;
}

void FileLocks::Apply(std::uint64_t owner, std::uint32_t pid, const LockRange& r, bool unlock) {
  std::vector<HeldLock> out;
  std::vector<HeldLock> mine;
  for (const HeldLock& h : locks_) (h.owner == owner ? mine : out).push_back(h);
  // Cut `r` out of the owner's locks, then put the new one in.
  std::vector<HeldLock> cut;
  for (const HeldLock& h : mine) {
    for (const LockRange& piece : Subtract({h.range}, r)) cut.push_back({owner, h.pid, piece});
  }
  if (!unlock) cut.push_back({owner, pid, r});
  std::sort(cut.begin(), cut.end(), [](const HeldLock& a, const HeldLock& b) { return a.range.start < b.range.start; });
  // Merge neighbours of one kind (POSIX: adjacent locks of one type
  // coalesce; F_GETLK reports the merged lock).
  for (const HeldLock& h : cut) {
    if (!out.empty() && out.back().owner == owner && out.back().range.end == h.range.start &&
        out.back().range.exclusive == h.range.exclusive) {
      out.back().range.end = h.range.end;
      continue;
    }
    out.push_back(h);
  }
  locks_ = std::move(out);
}

void FileLocks::ReleaseOwner(std::uint64_t owner) {
  std::erase_if(locks_, [owner](const HeldLock& h) { return h.owner == owner; });
}

std::vector<LockRange> FileLocks::Unneeded(std::uint64_t owner, const std::vector<LockRange>& server) const {
  std::vector<LockRange> out;
  for (const LockRange& s : server) {
    const bool needed = std::any_of(locks_.begin(), locks_.end(),
                                    [&](const HeldLock& h) { return h.owner == owner && Overlaps(h.range, s); });
    if (!needed) out.push_back(s);
  }
  return out;
}

std::vector<HeldLock> FileLocks::Held(std::uint64_t owner) const {
  std::vector<HeldLock> out;
  for (const HeldLock& h : locks_) {
    if (h.owner == owner) out.push_back(h);
  }
  std::sort(out.begin(), out.end(), [](const HeldLock& a, const HeldLock& b) { return a.range.start < b.range.start; });
  return out;
}

}  // namespace smbgate::fuse
