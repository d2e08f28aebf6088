#include "fuse/inode_table.h"

#include <algorithm>
#include <vector>

namespace smbgate::fuse {

InodeTable::InodeTable() {
  Node root;
  root.nlookup = 1;  // the kernel never forgets the root
  nodes_.emplace(kRoot, std::move(root));
}

std::uint64_t InodeTable::Lookup(std::uint64_t parent, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  auto p = nodes_.find(parent);
  if (p == nodes_.end() || p->second.detached) return 0;
  Key k{parent, std::string(name)};
  if (auto it = children_.find(k); it != children_.end()) {
    ++nodes_[it->second].nlookup;
    return it->second;
  }
  const std::uint64_t id = next_id_++;
  Node n;
  n.parent = parent;
  n.name = std::string(name);
  n.nlookup = 1;
  nodes_.emplace(id, std::move(n));
  children_.emplace(std::move(k), id);
  return id;
}

std::uint64_t InodeTable::Child(std::uint64_t parent, std::string_view name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = children_.find(Key{parent, std::string(name)});
  return it == children_.end() ? 0 : it->second;
}

void InodeTable::Forget(std::uint64_t ino, std::uint64_t n) {
  if (ino == kRoot) return;
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node& node = it->second;
  node.nlookup = n >= node.nlookup ? 0 : node.nlookup - n;
  if (node.nlookup > 0) return;
  if (!node.detached) {
    auto c = children_.find(Key{node.parent, node.name});
    if (c != children_.end() && c->second == ino) children_.erase(c);
  }
  // Children keep their parent's id; a child node outliving its parent is
  // not possible in FUSE (the kernel holds the parent while a child lives).
  nodes_.erase(it);
  // Hash tables keep their bucket arrays when emptied: after the kernel
  // forgot most of a huge directory, give those back too.
  if (nodes_.bucket_count() > 4096 && nodes_.size() < nodes_.bucket_count() / 8) {
    nodes_.rehash(0);
    children_.rehash(0);
  }
}

std::optional<std::string> InodeTable::PathLocked(std::uint64_t ino) const {
  std::vector<const std::string*> parts;
  // Depth is bounded by the node count; a cycle cannot form because
  // Rename refuses to move a directory into itself (the server does too).
  for (std::size_t guard = 0; ino != kRoot; ++guard) {
    auto it = nodes_.find(ino);
    if (it == nodes_.end() || it->second.detached || guard > nodes_.size()) return std::nullopt;
    parts.push_back(&it->second.name);
    ino = it->second.parent;
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!path.empty()) path += '/';
    path += **it;
  }
  return path;
}

std::optional<std::string> InodeTable::Path(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  return PathLocked(ino);
}

std::optional<std::string> InodeTable::ChildPath(std::uint64_t parent, std::string_view name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto p = PathLocked(parent);
  if (!p) return std::nullopt;
  if (!p->empty()) *p += '/';
  *p += name;
  return p;
}

void InodeTable::DetachLocked(std::uint64_t ino) {
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  it->second.detached = true;
  it->second.attrs_expiry = {};
}

void InodeTable::Rename(std::uint64_t old_parent, std::string_view old_name, std::uint64_t new_parent,
                        std::string_view new_name) {
  std::lock_guard<std::mutex> l(mu_);
  Key to{new_parent, std::string(new_name)};
  if (auto t = children_.find(to); t != children_.end()) {
    DetachLocked(t->second);
    children_.erase(t);
  }
  auto from = children_.find(Key{old_parent, std::string(old_name)});
  if (from == children_.end()) return;
  const std::uint64_t id = from->second;
  children_.erase(from);
  Node& n = nodes_[id];
  n.parent = new_parent;
  n.name = std::string(new_name);
  n.attrs_expiry = {};  // ctime changed on the server
  children_.emplace(std::move(to), id);
}

void InodeTable::Remove(std::uint64_t parent, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = children_.find(Key{parent, std::string(name)});
  if (it == children_.end()) return;
  DetachLocked(it->second);
  children_.erase(it);
}

std::optional<std::pair<std::uint64_t, std::string>> InodeTable::Parent(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || it->second.detached || ino == kRoot) return std::nullopt;
  return std::make_pair(it->second.parent, it->second.name);
}

void InodeTable::SetAttributes(std::uint64_t ino, const smb2::FileAttributes& a, Clock::time_point expiry,
                               bool symlink) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  // Owned attributes include this mount's writes still on their way; a
  // listing or a query may not.
  if (it == nodes_.end() || it->second.owned) return;
  it->second.attrs = a;
  it->second.attrs_expiry = expiry;
  it->second.dos_expiry = expiry;
  it->second.symlink = symlink;
}

std::optional<InodeTable::Cached> InodeTable::Fresh(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return std::nullopt;
  const Node& n = it->second;
  if (n.owned) return Cached{n.attrs, n.symlink, Clock::now() + owned_timeout_, true};
  if (Clock::now() >= n.attrs_expiry) return std::nullopt;
  return Cached{n.attrs, n.symlink, n.attrs_expiry};
}

void InodeTable::SetOwnedTimeout(Clock::duration d) {
  std::lock_guard<std::mutex> l(mu_);
  owned_timeout_ = d;
}

std::uint64_t InodeTable::WriteCount(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? 0 : it->second.writes;
}

void InodeTable::Own(std::uint64_t ino, const smb2::FileAttributes& a, std::uint64_t write_count, bool time_set) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node& n = it->second;
  if (n.writes != write_count) {
    n.owned = false;
    n.attrs_expiry = {};
    return;
  }
  n.attrs = a;
  n.symlink = false;
  n.owned = true;
  n.time_set = n.time_set || time_set;
  const auto until = Clock::now() + owned_timeout_;
  n.attrs_expiry = until;
  n.dos_expiry = until;
}

void InodeTable::Disown(std::uint64_t ino, bool keep_dos) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node& n = it->second;
  n.owned = false;
  n.attrs_expiry = {};
  if (!keep_dos) n.dos_expiry = {};
}

void InodeTable::Closed(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  it->second.owned = false;
  it->second.time_set = false;
  it->second.attrs_expiry = {};
}

void InodeTable::Wrote(std::uint64_t ino, std::uint64_t end, std::uint64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node& n = it->second;
  ++n.writes;
  if (!n.owned) {
    n.attrs_expiry = {};
    return;
  }
  smb2::FileAttributes& a = n.attrs;
  if (end > a.end_of_file) {
    a.end_of_file = end;
    // Whole 4 KiB blocks, as Samba reports them for a file written in order.
    a.allocation_size = std::max(a.allocation_size, (end + 4095) / 4096 * 4096);
  }
  if (!n.time_set) a.last_write_time = std::max(a.last_write_time, now);
  a.change_time = std::max(a.change_time, now);
}

void InodeTable::Changed(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  ++it->second.writes;
  it->second.owned = false;
  it->second.attrs_expiry = {};
}

bool InodeTable::Owned(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  return it != nodes_.end() && it->second.owned;
}

std::optional<smb2::FileAttributes> InodeTable::CachedAttributes(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || Clock::now() >= it->second.attrs_expiry) return std::nullopt;
  return it->second.attrs;
}

void InodeTable::InvalidateAttributes(std::uint64_t ino, bool keep_dos) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  it->second.owned = false;
  it->second.attrs_expiry = {};
  if (!keep_dos) it->second.dos_expiry = {};
}

std::optional<std::uint32_t> InodeTable::DosAttributes(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || Clock::now() >= it->second.dos_expiry) return std::nullopt;
  return it->second.attrs.file_attributes;
}

void InodeTable::Modified(std::uint64_t ino, std::uint64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  smb2::FileAttributes& a = it->second.attrs;
  a.last_write_time = std::max(a.last_write_time, now);
  a.change_time = std::max(a.change_time, now);
}

std::size_t InodeTable::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return nodes_.size();
}

}  // namespace smbgate::fuse
