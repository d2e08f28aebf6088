#include "fuse/inode_table.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace smbgate::fuse {
namespace {

constexpr std::uint32_t kNoSlot = 0;
constexpr std::uint32_t kDead = 0xFFFFFFFF;  // an index cell whose node left
constexpr std::size_t kMinIndex = 64;

}  // namespace

// ---- Name ---------------------------------------------------------------

void InodeTable::Name::Set(std::string_view v) {
  Clear();
  if (v.size() <= kInline) {
    if (!v.empty()) std::memcpy(raw_, v.data(), v.size());
    raw_[kInline] = static_cast<unsigned char>(v.size());
    return;
  }
  char* p = new char[v.size()];
  std::memcpy(p, v.data(), v.size());
  const auto len = static_cast<std::uint32_t>(v.size());
  std::memcpy(raw_, &p, sizeof p);
  std::memcpy(raw_ + sizeof p, &len, sizeof len);
  raw_[kInline + 1] = kHeap;
}

void InodeTable::Name::Clear() {
  if (!small()) delete[] view().data();
  std::memset(raw_, 0, sizeof raw_);
}

// ---- nodes ----------------------------------------------------------------

InodeTable::InodeTable() {
  const std::uint32_t zero = AllocateLocked();  // slot 0: never a node
  At(zero).flags = kUsed;
  const std::uint32_t root = AllocateLocked();  // slot 1, generation 0: id 1
  Node& n = At(root);
  n.flags = kUsed;
  n.nlookup = 1;  // the kernel never forgets the root
  used_ = 1;
  ResizeIndexLocked(kMinIndex);
}

InodeTable::Node* InodeTable::Find(std::uint64_t ino) { return const_cast<Node*>(std::as_const(*this).Find(ino)); }

const InodeTable::Node* InodeTable::Find(std::uint64_t ino) const {
  const std::uint64_t slot = ino & 0xFFFFFFFFu;
  const std::uint64_t chunk = slot / kChunk;
  if (slot == kNoSlot || chunk >= chunks_.size() || !chunks_[chunk].nodes) return nullptr;
  const Node& n = chunks_[chunk].nodes[slot % kChunk];
  if (!(n.flags & kUsed) || n.gen != (ino >> 32)) return nullptr;
  return &n;
}

std::uint32_t InodeTable::AllocateLocked() {
  while (!roomy_.empty()) {
    Chunk& c = chunks_[roomy_.back()];
    if (c.nodes && !c.free.empty()) break;
    c.roomy = false;  // released since it was listed
    roomy_.pop_back();
  }
  if (roomy_.empty()) {
    // A released chunk made again, else a new one.
    std::uint32_t id = 0;
    while (id < chunks_.size() && chunks_[id].nodes) ++id;
    if (id == chunks_.size()) chunks_.emplace_back();
    Chunk& c = chunks_[id];
    c.nodes = std::make_unique<Node[]>(kChunk);
    c.free.resize(kChunk);
    for (std::uint32_t i = 0; i < kChunk; ++i) {
      c.nodes[i].gen = c.next_gen;
      c.free[i] = static_cast<std::uint16_t>(kChunk - 1 - i);  // lowest first
    }
    if (!c.roomy) roomy_.push_back(id);
    c.roomy = true;
  }
  const std::uint32_t id = roomy_.back();
  Chunk& c = chunks_[id];
  const std::uint32_t slot = id * kChunk + c.free.back();
  c.free.pop_back();
  ++c.used;
  if (c.free.empty()) {
    c.roomy = false;
    roomy_.pop_back();
  }
  return slot;
}

std::uint64_t InodeTable::Lookup(std::uint64_t parent, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  const Node* p = Find(parent);
  if (!p || (p->flags & kDetached)) return 0;
  if (std::uint32_t c = ChildLocked(parent, name)) {
    ++At(c).nlookup;
    return IdOf(c);
  }
  const std::uint32_t slot = AllocateLocked();
  Node& n = At(slot);
  n.parent = parent;
  n.name.Set(name);
  n.nlookup = 1;
  n.writes = 0;
  n.flags = kUsed;
  ++used_;
  IndexLocked(slot);
  return IdOf(slot);
}

std::uint64_t InodeTable::Child(std::uint64_t parent, std::string_view name) const {
  std::lock_guard<std::mutex> l(mu_);
  const std::uint32_t c = ChildLocked(parent, name);
  return c ? IdOf(c) : 0;
}

void InodeTable::Forget(std::uint64_t ino, std::uint64_t n) {
  if (ino == kRoot) return;
  std::lock_guard<std::mutex> l(mu_);
  Node* node = Find(ino);
  if (!node) return;
  node->nlookup = n >= node->nlookup ? 0 : node->nlookup - n;
  if (node->nlookup > 0) return;
  // Children keep their parent's id; a child node outliving its parent is
  // not possible in FUSE (the kernel holds the parent while a child lives).
  if (!(node->flags & kDetached)) UnindexLocked(node->parent, node->name.view());
  attrs_.erase(ino);
  FreeLocked(static_cast<std::uint32_t>(ino & 0xFFFFFFFFu));
}

void InodeTable::FreeLocked(std::uint32_t slot) {
  Node& n = At(slot);
  n.name.Clear();
  n.flags = 0;
  n.parent = 0;
  ++n.gen;  // the slot's next node has a new id
  --used_;
  const std::uint32_t id = slot / kChunk;
  Chunk& c = chunks_[id];
  c.free.push_back(static_cast<std::uint16_t>(slot % kChunk));
  --c.used;
  if (!c.roomy) {
    roomy_.push_back(id);
    c.roomy = true;
  }
  if (c.used > 0 || id == 0) return;
  // No node of the chunk is in use (the kernel forgot a big directory): its
  // memory goes back; made again, its slots start past every generation
  // they had.
  std::uint32_t next = 0;
  for (std::uint32_t i = 0; i < kChunk; ++i) next = std::max(next, c.nodes[i].gen);
  c.next_gen = next;
  c.nodes.reset();
  std::vector<std::uint16_t>().swap(c.free);
  if (attrs_.bucket_count() > 4096 && attrs_.size() < attrs_.bucket_count() / 8) attrs_.rehash(0);
}

std::optional<std::string> InodeTable::PathLocked(std::uint64_t ino) const {
  std::vector<std::string_view> parts;
  // Depth is bounded by the node count; a cycle cannot form because
  // Rename refuses to move a directory into itself (the server does too).
  for (std::size_t guard = 0; ino != kRoot; ++guard) {
    const Node* n = Find(ino);
    if (!n || (n->flags & kDetached) || guard > used_) return std::nullopt;
    parts.push_back(n->name.view());
    ino = n->parent;
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!path.empty()) path += '/';
    path += *it;
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

void InodeTable::DetachLocked(std::uint32_t slot) {
  At(slot).flags |= kDetached;
  ++At(slot).writes;  // an answer asked for before is not owned
  ExpireLocked(IdOf(slot), true);
}

void InodeTable::Rename(std::uint64_t old_parent, std::string_view old_name, std::uint64_t new_parent,
                        std::string_view new_name) {
  std::lock_guard<std::mutex> l(mu_);
  const std::uint32_t from = ChildLocked(old_parent, old_name);
  const std::uint32_t to = ChildLocked(new_parent, new_name);
  if (to && to != from) {
    UnindexLocked(new_parent, new_name);
    DetachLocked(to);
  }
  if (!from) return;
  UnindexLocked(old_parent, old_name);
  Node& n = At(from);
  n.parent = new_parent;
  n.name.Set(new_name);
  ++n.writes;
  ExpireLocked(IdOf(from), true);  // ctime changed on the server
  IndexLocked(from);
}

void InodeTable::Remove(std::uint64_t parent, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  const std::uint32_t c = ChildLocked(parent, name);
  if (!c) return;
  UnindexLocked(parent, name);
  DetachLocked(c);
}

std::optional<std::pair<std::uint64_t, std::string>> InodeTable::Parent(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  const Node* n = Find(ino);
  if (!n || (n->flags & kDetached) || ino == kRoot) return std::nullopt;
  return std::make_pair(n->parent, std::string(n->name.view()));
}

std::size_t InodeTable::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return used_;
}

// ---- the children index -----------------------------------------------------

std::size_t InodeTable::HashOf(std::uint64_t parent, std::string_view name) {
  std::uint64_t h = std::hash<std::string_view>()(name);
  h ^= parent * 0x9E3779B97F4A7C15ull;
  // Mix the high bits down: the index takes the low ones.
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return static_cast<std::size_t>(h);
}

std::size_t InodeTable::Probe(std::uint64_t parent, std::string_view name, bool* found) const {
  const std::size_t mask = index_.size() - 1;
  std::size_t i = HashOf(parent, name) & mask;
  std::size_t first_dead = index_.size();
  for (;;) {
    const std::uint32_t s = index_[i];
    if (s == kNoSlot) {
      *found = false;
      return first_dead < index_.size() ? first_dead : i;
    }
    if (s == kDead) {
      if (first_dead == index_.size()) first_dead = i;
    } else if (At(s).parent == parent && At(s).name.view() == name) {
      *found = true;
      return i;
    }
    i = (i + 1) & mask;
  }
}

std::uint32_t InodeTable::ChildLocked(std::uint64_t parent, std::string_view name) const {
  bool found;
  const std::size_t i = Probe(parent, name, &found);
  return found ? index_[i] : kNoSlot;
}

void InodeTable::IndexLocked(std::uint32_t slot) {
  // At most half full, dead cells counted: probes stay short.
  if ((index_used_ + index_dead_ + 1) * 2 > index_.size()) {
    std::size_t cap = kMinIndex;
    while ((index_used_ + 1) * 4 > cap) cap *= 2;
    ResizeIndexLocked(cap);
  }
  bool found;
  const std::size_t i = Probe(At(slot).parent, At(slot).name.view(), &found);
  if (found) return;
  if (index_[i] == kDead) --index_dead_;
  index_[i] = slot;
  ++index_used_;
}

void InodeTable::UnindexLocked(std::uint64_t parent, std::string_view name) {
  bool found;
  const std::size_t i = Probe(parent, name, &found);
  if (!found) return;
  index_[i] = kDead;
  --index_used_;
  ++index_dead_;
  // Mostly empty after the kernel forgot a big directory: smaller again.
  if (index_.size() > 4096 && index_used_ * 16 < index_.size()) {
    std::size_t cap = kMinIndex;
    while (index_used_ * 4 > cap) cap *= 2;
    ResizeIndexLocked(cap);
  }
}

void InodeTable::ResizeIndexLocked(std::size_t capacity) {
  std::vector<std::uint32_t> old;
  old.swap(index_);
  index_.assign(capacity, kNoSlot);
  index_used_ = 0;
  index_dead_ = 0;
  const std::size_t mask = capacity - 1;
  for (std::uint32_t s : old) {
    if (s == kNoSlot || s == kDead) continue;
    std::size_t i = HashOf(At(s).parent, At(s).name.view()) & mask;
    while (index_[i] != kNoSlot) i = (i + 1) & mask;
    index_[i] = s;
    ++index_used_;
  }
}

// ---- attributes ---------------------------------------------------------------

InodeTable::Attrs* InodeTable::AttrsOf(std::uint64_t ino) {
  auto it = attrs_.find(ino);
  return it == attrs_.end() ? nullptr : &it->second;
}

const InodeTable::Attrs* InodeTable::AttrsOf(std::uint64_t ino) const {
  auto it = attrs_.find(ino);
  return it == attrs_.end() ? nullptr : &it->second;
}

InodeTable::Attrs& InodeTable::AttrsFor(std::uint64_t ino) {
  auto [it, added] = attrs_.try_emplace(ino);
  if (added && attrs_.size() > kMaxAttrs) {
    TrimAttrsLocked();
    return attrs_[ino];  // the trim keeps the entry just made only by chance
  }
  return it->second;
}

void InodeTable::TrimAttrsLocked() {
  // Down to 7/8 of the bound, so a trim is paid for by many insertions:
  // expired entries first, then any but the owned ones.
  const std::size_t target = kMaxAttrs - kMaxAttrs / 8;
  const auto now = Clock::now();
  for (int pass = 0; pass < 2 && attrs_.size() > target; ++pass) {
    for (auto it = attrs_.begin(); it != attrs_.end() && attrs_.size() > target;) {
      const Node* n = Find(it->first);
      const bool owned = n && (n->flags & kOwned);
      const bool expired = it->second.expiry <= now && it->second.dos_expiry <= now;
      if (!owned && (pass == 1 || expired)) {
        it = attrs_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

void InodeTable::ExpireLocked(std::uint64_t ino, bool keep_dos) {
  if (Node* n = Find(ino)) n->flags &= static_cast<std::uint8_t>(~kOwned);
  Attrs* a = AttrsOf(ino);
  if (!a) return;
  a->expiry = {};
  if (!keep_dos) a->dos_expiry = {};
}

void InodeTable::SetAttributes(std::uint64_t ino, const smb2::FileAttributes& a, Clock::time_point expiry,
                               bool symlink) {
  std::lock_guard<std::mutex> l(mu_);
  const Node* n = Find(ino);
  // Owned attributes include this mount's writes still on their way; a
  // listing or a query may not.
  if (!n || (n->flags & kOwned)) return;
  Attrs& e = AttrsFor(ino);
  e.attrs = a;
  e.expiry = expiry;
  e.dos_expiry = expiry;
  e.symlink = symlink;
}

std::optional<InodeTable::Cached> InodeTable::Fresh(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  const Node* n = Find(ino);
  const Attrs* a = AttrsOf(ino);
  if (!n || !a) return std::nullopt;
  if (n->flags & kOwned) return Cached{a->attrs, a->symlink, Clock::now() + owned_timeout_, true};
  if (Clock::now() >= a->expiry) return std::nullopt;
  return Cached{a->attrs, a->symlink, a->expiry};
}

std::optional<smb2::FileAttributes> InodeTable::CachedAttributes(std::uint64_t ino) const {
  auto c = Fresh(ino);
  if (!c) return std::nullopt;
  return c->attrs;
}

void InodeTable::InvalidateAttributes(std::uint64_t ino, bool keep_dos) {
  std::lock_guard<std::mutex> l(mu_);
  ExpireLocked(ino, keep_dos);
}

std::optional<std::uint32_t> InodeTable::DosAttributes(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  const Attrs* a = Find(ino) ? AttrsOf(ino) : nullptr;
  if (!a || Clock::now() >= a->dos_expiry) return std::nullopt;
  return a->attrs.file_attributes;
}

void InodeTable::Modified(std::uint64_t ino, std::uint64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  Attrs* e = Find(ino) ? AttrsOf(ino) : nullptr;
  if (!e) return;
  smb2::FileAttributes& a = e->attrs;
  a.last_write_time = std::max(a.last_write_time, now);
  a.change_time = std::max(a.change_time, now);
}

// ---- owned attributes -----------------------------------------------------------

void InodeTable::SetOwnedTimeout(Clock::duration d) {
  std::lock_guard<std::mutex> l(mu_);
  owned_timeout_ = d;
}

std::uint64_t InodeTable::WriteCount(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  const Node* n = Find(ino);
  return n ? n->writes : 0;
}

void InodeTable::Own(std::uint64_t ino, const smb2::FileAttributes& a, std::uint64_t write_count, bool time_set) {
  std::lock_guard<std::mutex> l(mu_);
  Node* n = Find(ino);
  if (!n) return;
  if (n->writes != write_count) {
    ExpireLocked(ino, true);
    return;
  }
  n->flags |= kOwned;
  if (time_set) n->flags |= kTimeSet;
  ++n->writes;
  Attrs& e = AttrsFor(ino);
  e.attrs = a;
  e.symlink = false;
  const auto until = Clock::now() + owned_timeout_;
  e.expiry = until;
  e.dos_expiry = until;
}

void InodeTable::TimeSet(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  if (Node* n = Find(ino)) n->flags |= kTimeSet;
}

void InodeTable::Disown(std::uint64_t ino, bool keep_dos) {
  std::lock_guard<std::mutex> l(mu_);
  ExpireLocked(ino, keep_dos);
}

void InodeTable::Closed(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  if (Node* n = Find(ino)) n->flags &= static_cast<std::uint8_t>(~kTimeSet);
  ExpireLocked(ino, true);
}

void InodeTable::Writing(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  Node* n = Find(ino);
  if (!n) return;
  ++n->writes;
  if (!(n->flags & kOwned)) ExpireLocked(ino, true);
}

void InodeTable::Wrote(std::uint64_t ino, std::uint64_t end, std::uint64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  Node* n = Find(ino);
  if (!n) return;
  Attrs* e = AttrsOf(ino);
  if (!e) return;
  if (!(n->flags & kOwned)) {
    e->expiry = {};
    return;
  }
  smb2::FileAttributes& a = e->attrs;
  if (end > a.end_of_file) {
    a.end_of_file = end;
    // Whole 4 KiB blocks, as Samba reports them for a file written in order.
    a.allocation_size = std::max(a.allocation_size, (end + 4095) / 4096 * 4096);
  }
  if (!(n->flags & kTimeSet)) a.last_write_time = std::max(a.last_write_time, now);
  a.change_time = std::max(a.change_time, now);
}

void InodeTable::Changed(std::uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  if (Node* n = Find(ino)) ++n->writes;
  ExpireLocked(ino, true);
}

bool InodeTable::Owned(std::uint64_t ino) const {
  std::lock_guard<std::mutex> l(mu_);
  const Node* n = Find(ino);
  return n && (n->flags & kOwned);
}

}  // namespace smbgate::fuse
