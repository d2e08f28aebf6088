#include "fuse/handle_table.h"

#include "fuse/dir_stream.h"

namespace smbgate::fuse {

std::uint64_t HandleTable::AddFile(const OpenFile& f) {
  std::lock_guard<std::mutex> l(mu_);
  const std::uint64_t fh = next_fh_++;
  files_.emplace(fh, f);
  PerNode& n = nodes_[f.ino];
  ++n.open;
  if (f.writable) ++n.writable;
  n.some_fh = fh;
  return fh;
}

std::optional<OpenFile> HandleTable::File(std::uint64_t fh) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(fh);
  if (it == files_.end()) return std::nullopt;
  return it->second;
}

void HandleTable::UnindexLocked(std::uint64_t fh, const OpenFile& f) {
  auto n = nodes_.find(f.ino);
  if (n == nodes_.end()) return;
  if (f.writable) --n->second.writable;
  if (--n->second.open <= 0) {
    nodes_.erase(n);
    return;
  }
  if (n->second.some_fh != fh) return;
  // Find another handle of the node (rare: several opens of one file).
  for (const auto& [other, g] : files_) {
    if (g.ino == f.ino && other != fh) {
      n->second.some_fh = other;
      break;
    }
  }
}

std::optional<OpenFile> HandleTable::TakeFile(std::uint64_t fh) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(fh);
  if (it == files_.end()) return std::nullopt;
  OpenFile f = it->second;
  UnindexLocked(fh, f);
  files_.erase(fh);
  return f;
}

std::optional<OpenFile> HandleTable::AnyFileOf(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  auto n = nodes_.find(ino);
  if (n == nodes_.end()) return std::nullopt;
  auto it = files_.find(n->second.some_fh);
  if (it == files_.end()) return std::nullopt;
  return it->second;
}

std::optional<OpenFile> HandleTable::AnyWritableFileOf(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  auto n = nodes_.find(ino);
  if (n == nodes_.end() || n->second.writable <= 0) return std::nullopt;
  auto some = files_.find(n->second.some_fh);
  if (some != files_.end() && some->second.writable) return some->second;
  for (const auto& [fh, f] : files_) {
    if (f.ino == ino && f.writable) return f;
  }
  return std::nullopt;
}

bool HandleTable::IsOpen(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  return ino != 0 && nodes_.count(ino) != 0;
}

bool HandleTable::OpenForWrite(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  auto n = nodes_.find(ino);
  return ino != 0 && n != nodes_.end() && n->second.writable > 0;
}

std::uint64_t HandleTable::AddDir(std::shared_ptr<DirStream> d, std::uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  const std::uint64_t fh = next_fh_++;
  dirs_.emplace(fh, ListedDir{std::move(d), ino});
  return fh;
}

std::vector<std::pair<std::uint64_t, std::shared_ptr<DirStream>>> HandleTable::Dirs() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::pair<std::uint64_t, std::shared_ptr<DirStream>>> out;
  out.reserve(dirs_.size());
  for (const auto& [fh, d] : dirs_) out.emplace_back(d.ino, d.stream);
  return out;
}

std::shared_ptr<DirStream> HandleTable::Dir(std::uint64_t fh) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = dirs_.find(fh);
  return it == dirs_.end() ? nullptr : it->second.stream;
}

void HandleTable::RemoveDir(std::uint64_t fh) {
  std::shared_ptr<DirStream> gone;  // closed on the server outside the lock
  std::lock_guard<std::mutex> l(mu_);
  auto it = dirs_.find(fh);
  if (it == dirs_.end()) return;
  gone = std::move(it->second.stream);
  dirs_.erase(it);
}

std::vector<OpenFile> HandleTable::TakeAll() {
  std::unordered_map<std::uint64_t, ListedDir> dirs;  // closed outside the lock
  std::lock_guard<std::mutex> l(mu_);
  std::vector<OpenFile> out;
  out.reserve(files_.size());
  for (auto& [fh, f] : files_) out.push_back(f);
  files_.clear();
  nodes_.clear();
  dirs.swap(dirs_);
  return out;
}

std::size_t HandleTable::files() const {
  std::lock_guard<std::mutex> l(mu_);
  return files_.size();
}

std::size_t HandleTable::dirs() const {
  std::lock_guard<std::mutex> l(mu_);
  return dirs_.size();
}

}  // namespace smbgate::fuse
