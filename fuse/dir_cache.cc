#include "fuse/dir_cache.h"

namespace smbgate::fuse {
namespace {

// The key of a name, and whether it is plain ASCII (only then can a
// missing key mean a missing file: the server's case folding of other
// characters is its own).
std::string Fold(std::string_view name, bool* ascii) {
  std::string k(name);
  *ascii = true;
  for (char& c : k) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) *ascii = false;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return k;
}

}  // namespace

DirCache::DirCache(std::size_t max_entries) : max_entries_(max_entries) {}

std::uint64_t DirCache::Generation(std::uint64_t dir) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = generations_.find(dir);
  return it == generations_.end() ? floor_ : it->second;
}

void DirCache::Fill(std::uint64_t dir, std::uint64_t generation, const std::vector<smb2::DirectoryEntry>& entries,
                    Clock::time_point expiry) {
  std::lock_guard<std::mutex> l(mu_);
  auto g = generations_.find(dir);
  if ((g == generations_.end() ? floor_ : g->second) != generation) return;
  DropLocked(dir);
  if (entries.size() > max_entries_) return;
  Listing& d = dirs_[dir];
  d.expiry = expiry;
  d.items.reserve(entries.size());
  for (const smb2::DirectoryEntry& e : entries) {
    if (e.name == "." || e.name == "..") continue;
    bool ascii;
    d.items[Fold(e.name, &ascii)] = Item{e.name, e.attrs};
  }
  total_ += d.items.size();
  order_.push_back(dir);
  d.age = std::prev(order_.end());
  TrimLocked();
}

DirCache::Found DirCache::Find(std::uint64_t dir, std::string_view name, Clock::time_point now) const {
  std::lock_guard<std::mutex> l(mu_);
  Found f;
  auto it = dirs_.find(dir);
  if (it == dirs_.end() || it->second.expiry <= now) return f;
  bool ascii;
  auto item = it->second.items.find(Fold(name, &ascii));
  if (item == it->second.items.end()) {
    if (ascii) {
      f.answer = Answer::kAbsent;
      f.expiry = it->second.expiry;
    }
    return f;
  }
  if (item->second.name != name) return f;  // another case: the server decides
  f.answer = Answer::kPresent;
  f.attrs = item->second.attrs;
  f.expiry = it->second.expiry;
  return f;
}

bool DirCache::HadSmallListing(std::uint64_t dir, std::size_t max, Clock::time_point now) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = dirs_.find(dir);
  return it != dirs_.end() && it->second.expiry <= now && it->second.items.size() <= max;
}

void DirCache::Added(std::uint64_t dir, std::string_view name, std::optional<smb2::FileAttributes> attrs) {
  std::lock_guard<std::mutex> l(mu_);
  ChangedLocked(dir);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  bool ascii;
  auto [item, added] = it->second.items.insert_or_assign(Fold(name, &ascii), Item{std::string(name), std::move(attrs)});
  if (added) {
    ++total_;
    TrimLocked();
  }
}

void DirCache::Removed(std::uint64_t dir, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  ChangedLocked(dir);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  bool ascii;
  total_ -= it->second.items.erase(Fold(name, &ascii));
}

void DirCache::Touched(std::uint64_t dir, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  // A listing begun before this change holds the entry's old attributes.
  ChangedLocked(dir);
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  bool ascii;
  auto item = it->second.items.find(Fold(name, &ascii));
  if (item != it->second.items.end()) item->second.attrs.reset();
}

void DirCache::Forget(std::uint64_t dir) {
  std::lock_guard<std::mutex> l(mu_);
  ChangedLocked(dir);
  DropLocked(dir);
}

std::size_t DirCache::entries() const {
  std::lock_guard<std::mutex> l(mu_);
  return total_;
}

void DirCache::DropLocked(std::uint64_t dir) {
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  total_ -= it->second.items.size();
  order_.erase(it->second.age);
  dirs_.erase(it);
}

void DirCache::ChangedLocked(std::uint64_t dir) {
  generations_[dir] = ++clock_;
  // The counters of directories without a listing matter only while a
  // listing of them is being fetched; keep the map from growing without
  // bound on a long run. A forgotten counter reads as `floor_`, above any
  // value it had, so a fetch that began before still finds a change.
  if (generations_.size() > 4 * (dirs_.size() + 1024)) {
    floor_ = ++clock_;
    for (auto it = generations_.begin(); it != generations_.end();) {
      it = dirs_.count(it->first) ? std::next(it) : generations_.erase(it);
    }
  }
}

void DirCache::TrimLocked() {
  while (total_ > max_entries_ && !order_.empty()) DropLocked(order_.front());
}

}  // namespace smbgate::fuse
