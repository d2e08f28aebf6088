#include "tests/unit/fuse/fake_remote_fs.h"

#include <algorithm>
#include <condition_variable>
#include <thread>

#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"

namespace smbgate::fuse {
namespace {

namespace st = smb2::status;
using smb2::kLeaseHandle;
using smb2::kLeaseRead;
using smb2::kLeaseWrite;

std::error_code Nt(std::uint32_t status) { return smb2::MakeNtStatusError(status); }

// MS-DTYP 2.3.3: FILETIME counts 100 ns intervals since 1601-01-01 UTC.
constexpr std::uint64_t kUnixEpochFiletime = 116444736000000000ull;

std::uint64_t Now() {
  const auto d = std::chrono::system_clock::now().time_since_epoch();
  return kUnixEpochFiletime +
         static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) / 100;
}

// Servers fold case for the whole of Unicode; ASCII is enough here.
std::string Fold(std::string_view name) {
  std::string k(name);
  for (char& c : k) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return k;
}

// MS-FSCC 2.1.5.2: characters a file name may not hold.
bool ValidName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find_first_of("\\:*?\"<>|") == std::string_view::npos;
}

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : path) {
    if (c == '/') {
      if (!cur.empty()) parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(std::move(cur));
  return parts;
}

// The pseudo handle of "another client": its locks on every file.
constexpr std::uint64_t kOtherHandle = ~0ull;

}  // namespace

std::uint64_t FiletimeOf(std::int64_t unix_seconds, std::uint32_t nanoseconds) {
  return kUnixEpochFiletime + static_cast<std::uint64_t>(unix_seconds) * 10000000 + nanoseconds / 100;
}

struct FakeRemoteFs::HeldLock {
  std::uint64_t handle = 0;
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  bool exclusive = false;
};

struct FakeRemoteFs::Waiter {
  HeldLock lock;
  smb2::Callback<void> cb;
};

struct FakeRemoteFs::Node {
  std::uint64_t id = 0;
  bool dir = false;
  std::string name;        // as created (case preserved)
  Node* parent = nullptr;  // none for the root and for a node no longer linked
  std::string data;
  std::uint32_t dos = 0;  // FILE_ATTRIBUTE_* but DIRECTORY and NORMAL
  std::uint64_t creation = 0, access = 0, write = 0, change = 0;
  std::map<std::string, std::shared_ptr<Node>> children;  // by folded name
  int opens = 0;
  bool delete_pending = false;
  bool no_delete = false;  // DenyDelete
  std::vector<HeldLock> locks;
  std::vector<Waiter> waiters;  // blocking locks, in arrival order
};

struct FakeRemoteFs::OpenEntry {
  std::shared_ptr<Node> node;
  bool read = false;
  bool write = false;
  bool attributes_only = false;  // neither read nor write: FILE_WRITE_ATTRIBUTES (SmbFs)
  bool leased = false;
  smb2::LeaseKey key{};
  // A listing's entries as taken at its start, and how many were given.
  std::vector<smb2::DirectoryEntry> listing;
  std::size_t listed = 0;
};

struct FakeRemoteFs::Lease {
  std::shared_ptr<Node> node;
  std::uint32_t state = 0;
  int opens = 0;
};

struct FakeRemoteFs::Resolved {
  std::uint32_t status = 0;    // a failure to walk the path
  std::shared_ptr<Node> dir;   // the directory of the last component
  std::string leaf;            // the last component as given
  std::shared_ptr<Node> node;  // the entry, if there is one (the root for "")
};

struct FakeRemoteFs::Worker {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> queue;
  bool stop = false;
  std::thread thread;

  void Loop() {
    for (;;) {
      std::function<void()> f;
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return stop || !queue.empty(); });
        if (queue.empty()) return;
        f = std::move(queue.front());
        queue.pop_front();
      }
      f();
    }
  }
};

struct FakeRemoteFs::HandlerSlot {
  std::mutex mu;
  LeaseBreakHandler handler;
};

struct FakeRemoteFs::AckBoard {
  std::mutex mu;
  std::condition_variable cv;
  std::map<int, int> acks;  // break id -> acknowledgements
  int next_id = 1;
  int sent = 0;
  int acked = 0;
  int extra = 0;
};

FakeRemoteFs::FakeRemoteFs()
    : root_(std::make_shared<Node>()),
      handler_(std::make_shared<HandlerSlot>()),
      acks_(std::make_shared<AckBoard>()),
      worker_(std::make_shared<Worker>()) {
  root_->id = next_file_id_++;
  root_->dir = true;
  root_->creation = root_->access = root_->write = root_->change = Now();
  stats_.total_bytes = 1ull << 30;
  stats_.free_bytes = 1ull << 29;
  stats_.block_size = 4096;
  stats_.max_name_length = 255;
  auto w = worker_;
  w->thread = std::thread([w] { w->Loop(); });
}

FakeRemoteFs::~FakeRemoteFs() {
  {
    std::lock_guard<std::mutex> l(worker_->mu);
    worker_->stop = true;
  }
  worker_->cv.notify_all();
  // Dropped by a callback on the worker itself: it drains the queue (which
  // needs nothing of this object) and ends on its own.
  if (worker_->thread.get_id() == std::this_thread::get_id()) {
    worker_->thread.detach();
  } else {
    worker_->thread.join();
  }
}

// ---- plumbing ---------------------------------------------------------------

void FakeRemoteFs::Post(std::function<void()> f) {
  {
    std::lock_guard<std::mutex> l(worker_->mu);
    worker_->queue.push_back(std::move(f));
  }
  worker_->cv.notify_one();
}

template <class T>
void FakeRemoteFs::Reply(smb2::Callback<T> cb, Result<T> r) {
  Post([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
}

std::error_code FakeRemoteFs::Enter(std::string_view method, std::string_view detail) {
  std::lock_guard<std::mutex> l(mu_);
  ++calls_[std::string(method)];
  const std::string line = std::string(method) + (detail.empty() ? "" : " ") + std::string(detail);
  log_.push_back(line);
  auto it = failures_.find(line);
  if (it == failures_.end() || it->second.empty()) it = failures_.find(method);
  if (it == failures_.end() || it->second.empty()) return {};
  std::error_code ec = it->second.front();
  it->second.pop_front();
  return ec;
}

FakeRemoteFs::Resolved FakeRemoteFs::ResolveLocked(std::string_view path) const {
  Resolved r;
  const std::vector<std::string> parts = Split(path);
  if (parts.empty()) {
    r.node = root_;
    return r;
  }
  std::shared_ptr<Node> dir = root_;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    auto it = dir->children.find(Fold(parts[i]));
    if (it == dir->children.end() || !it->second->dir) {
      r.status = st::kObjectPathNotFound;
      return r;
    }
    dir = it->second;
  }
  r.dir = dir;
  r.leaf = parts.back();
  auto it = dir->children.find(Fold(r.leaf));
  if (it != dir->children.end()) r.node = it->second;
  return r;
}

std::shared_ptr<FakeRemoteFs::Node> FakeRemoteFs::NodeLocked(std::string_view path) const {
  return ResolveLocked(path).node;
}

FakeRemoteFs::OpenEntry* FakeRemoteFs::EntryLocked(const smb2::Handle& h) {
  if (h.persistent != h.volatile_) return nullptr;
  auto it = opens_.find(h.persistent);
  return it == opens_.end() ? nullptr : &it->second;
}

smb2::FileAttributes FakeRemoteFs::AttributesOf(const Node& n) const {
  smb2::FileAttributes a;
  a.creation_time = n.creation;
  a.last_access_time = n.access;
  a.last_write_time = n.write;
  a.change_time = n.change;
  a.end_of_file = n.dir ? 0 : n.data.size();
  a.allocation_size = (a.end_of_file + 4095) / 4096 * 4096;
  if (n.dir) {
    a.file_attributes = smb2::kAttributeDirectory | n.dos;
  } else {
    a.file_attributes = n.dos ? n.dos : smb2::kAttributeNormal;
  }
  a.file_id = n.id;
  a.nlink = 1;
  return a;
}

std::shared_ptr<FakeRemoteFs::Node> FakeRemoteFs::CreateLocked(const std::shared_ptr<Node>& dir, std::string_view name,
                                                               bool is_dir) {
  auto n = std::make_shared<Node>();
  n->id = next_file_id_++;
  n->dir = is_dir;
  n->name = std::string(name);
  n->parent = dir.get();
  n->creation = n->access = n->write = n->change = Now();
  dir->children[Fold(name)] = n;
  dir->write = dir->change = n->creation;
  return n;
}

std::shared_ptr<FakeRemoteFs::Node> FakeRemoteFs::MakeParentsLocked(std::string_view path) {
  std::vector<std::string> parts = Split(path);
  std::shared_ptr<Node> dir = root_;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    auto it = dir->children.find(Fold(parts[i]));
    dir = it != dir->children.end() ? it->second : CreateLocked(dir, parts[i], true);
  }
  return dir;
}

void FakeRemoteFs::DetachLocked(Node& n) {
  if (!n.parent) return;
  n.parent->children.erase(Fold(n.name));
  n.parent->write = n.parent->change = Now();
  n.parent = nullptr;
}

// ---- leases -----------------------------------------------------------------

std::vector<FakeRemoteFs::PendingBreak> FakeRemoteFs::BreaksLocked(const Node& n, std::uint32_t keep,
                                                                   const smb2::LeaseKey* except) {
  std::vector<PendingBreak> out;
  for (auto& [key, le] : leases_) {
    if (le.node.get() != &n || (except && key == *except)) continue;
    const std::uint32_t to = le.state & keep;
    if (to == le.state) continue;
    // MS-SMB2 3.3.4.7: the lease is "breaking" to the new state; nothing
    // more is granted under the old one.
    le.state = to;
    out.push_back({key, to});
  }
  return out;
}

FakeRemoteFs::BreakOutcome FakeRemoteFs::SendBreaks(const std::vector<PendingBreak>& breaks, bool wait,
                                                    std::chrono::milliseconds timeout) {
  BreakOutcome o;
  o.sent = static_cast<int>(breaks.size());
  if (breaks.empty()) return o;
  std::vector<int> ids;
  {
    std::lock_guard<std::mutex> l(acks_->mu);
    for (std::size_t i = 0; i < breaks.size(); ++i) {
      const int id = acks_->next_id++;
      acks_->acks[id] = 0;
      ++acks_->sent;
      ids.push_back(id);
    }
  }
  for (std::size_t i = 0; i < breaks.size(); ++i) {
    auto board = acks_;
    const int id = ids[i];
    std::function<void()> ack = [board, id] {
      {
        std::lock_guard<std::mutex> l(board->mu);
        if (++board->acks[id] == 1) {
          ++board->acked;
        } else {
          ++board->extra;
        }
      }
      board->cv.notify_all();
    };
    auto slot = handler_;
    Post([slot, key = breaks[i].key, state = breaks[i].state, ack] {
      LeaseBreakHandler h;
      {
        std::lock_guard<std::mutex> l(slot->mu);
        h = slot->handler;
      }
      // Without a handler the client acknowledges at once (SmbFs).
      if (!h) return ack();
      h(key, state, ack);
    });
  }
  if (!wait) return o;
  std::unique_lock<std::mutex> l(acks_->mu);
  auto all = [&] { return std::all_of(ids.begin(), ids.end(), [&](int id) { return acks_->acks[id] > 0; }); };
  acks_->cv.wait_for(l, timeout, all);
  o.acked = static_cast<int>(std::count_if(ids.begin(), ids.end(), [&](int id) { return acks_->acks[id] > 0; }));
  return o;
}

FakeRemoteFs::BreakOutcome FakeRemoteFs::BreakForOther(std::string_view path, std::uint32_t keep) {
  std::vector<PendingBreak> breaks;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto n = NodeLocked(path)) breaks = BreaksLocked(*n, keep, nullptr);
  }
  // A server holds the other client's request until the breaks are
  // acknowledged (or its timeout, 35 s on Samba and Windows).
  return SendBreaks(breaks, true, kAckTimeout);
}

FakeRemoteFs::BreakOutcome FakeRemoteFs::BreakLease(const smb2::LeaseKey& key, std::uint32_t keep,
                                                    std::chrono::milliseconds timeout) {
  std::vector<PendingBreak> breaks;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = leases_.find(key);
    if (it != leases_.end() && (it->second.state & keep) != it->second.state) {
      it->second.state &= keep;
      breaks.push_back({key, it->second.state});
    }
  }
  return SendBreaks(breaks, true, timeout);
}

FakeRemoteFs::BreakOutcome FakeRemoteFs::BreakLeases(std::string_view path, std::uint32_t keep,
                                                     std::chrono::milliseconds timeout) {
  std::vector<PendingBreak> breaks;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto n = NodeLocked(path)) breaks = BreaksLocked(*n, keep, nullptr);
  }
  return SendBreaks(breaks, true, timeout);
}

std::vector<std::pair<smb2::LeaseKey, std::uint32_t>> FakeRemoteFs::Leases(std::string_view path) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::pair<smb2::LeaseKey, std::uint32_t>> out;
  auto n = NodeLocked(path);
  if (!n) return out;
  for (const auto& [key, le] : leases_) {
    if (le.node == n) out.emplace_back(key, le.state);
  }
  return out;
}

int FakeRemoteFs::breaks_sent() const {
  std::lock_guard<std::mutex> l(acks_->mu);
  return acks_->sent;
}

int FakeRemoteFs::breaks_acked() const {
  std::lock_guard<std::mutex> l(acks_->mu);
  return acks_->acked;
}

int FakeRemoteFs::extra_acks() const {
  std::lock_guard<std::mutex> l(acks_->mu);
  return acks_->extra;
}

int FakeRemoteFs::cross_key_breaks() const {
  std::lock_guard<std::mutex> l(mu_);
  return cross_key_breaks_;
}

void FakeRemoteFs::SetLeaseBreakHandler(LeaseBreakHandler handler) {
  std::lock_guard<std::mutex> l(handler_->mu);
  handler_->handler = std::move(handler);
}

// ---- RemoteFs -----------------------------------------------------------------

void FakeRemoteFs::Open(std::string path, smb2::OpenParams p, smb2::Callback<smb2::OpenResult> cb) {
  if (auto ec = Enter("Open", path)) return Reply<smb2::OpenResult>(std::move(cb), ec);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (hold_opens_) {
      held_opens_.push_back([this, path, p, cb]() mutable { OpenNow(std::move(path), p, std::move(cb)); });
      return;
    }
  }
  OpenNow(std::move(path), p, std::move(cb));
}

void FakeRemoteFs::HoldOpens() {
  std::lock_guard<std::mutex> l(mu_);
  hold_opens_ = true;
}

std::size_t FakeRemoteFs::held_opens() const {
  std::lock_guard<std::mutex> l(mu_);
  return held_opens_.size();
}

void FakeRemoteFs::ReleaseOpens() {
  std::vector<std::function<void()>> held;
  {
    std::lock_guard<std::mutex> l(mu_);
    hold_opens_ = false;
    held.swap(held_opens_);
  }
  for (auto& f : held) f();
}

void FakeRemoteFs::OpenNow(std::string path, smb2::OpenParams p, smb2::Callback<smb2::OpenResult> cb) {
  std::vector<PendingBreak> breaks;
  Result<smb2::OpenResult> out = [&]() -> Result<smb2::OpenResult> {
    std::lock_guard<std::mutex> l(mu_);
    Resolved r = ResolveLocked(path);
    if (r.status) return Nt(r.status);
    std::shared_ptr<Node> n = r.node;
    const bool overwrite =
        p.disposition == smb2::OpenDisposition::kOverwrite || p.disposition == smb2::OpenDisposition::kOverwriteIf;
    const bool want_lease = grant_leases_ && !p.directory && !(n && n->dir);
    smb2::LeaseKey key = p.lease_key;
    if (want_lease && key == smb2::LeaseKey{}) {
      // All zero: the client draws a key for this open alone (SmbFs).
      const std::uint64_t k = next_key_++;
      for (int i = 0; i < 8; ++i) key[i] = static_cast<std::uint8_t>(k >> (8 * i));
      key[15] = 0xfa;
    }
    if (want_lease) {
      // MS-SMB2 3.3.5.9.8: a lease key in use for another file.
      auto it = leases_.find(key);
      if (it != leases_.end() && it->second.node != n) return Nt(st::kInvalidParameter);
    }
    bool created = false;
    if (n) {
      if (n->delete_pending) return Nt(st::kDeletePending);
      if (p.disposition == smb2::OpenDisposition::kCreate) return Nt(st::kObjectNameCollision);
      if (p.directory && !n->dir) return Nt(st::kNotADirectory);
      if (p.non_directory && n->dir) return Nt(st::kFileIsADirectory);
      if (n->dir && (p.write || overwrite)) return Nt(st::kFileIsADirectory);
      if ((n->dos & smb2::kAttributeReadonly) && (p.write || overwrite || p.delete_access)) {
        return Nt(st::kAccessDenied);
      }
      if (n->no_delete && p.delete_access) return Nt(st::kAccessDenied);
      if (overwrite) {
        n->data.clear();
        n->write = n->change = Now();
      }
    } else {
      if (p.disposition == smb2::OpenDisposition::kOpen || p.disposition == smb2::OpenDisposition::kOverwrite) {
        return Nt(st::kObjectNameNotFound);
      }
      if (!ValidName(r.leaf)) return Nt(st::kObjectNameInvalid);
      n = CreateLocked(r.dir, r.leaf, p.directory);
      n->dos = p.file_attributes & ~(smb2::kAttributeDirectory | smb2::kAttributeNormal);
      created = true;
    }
    const std::uint64_t id = next_handle_++;
    OpenEntry e;
    e.node = n;
    e.read = p.read;
    e.write = p.write;
    e.attributes_only = !p.read && !p.write;
    smb2::OpenResult o;
    o.handle = {id, id};
    o.created = created;
    if (want_lease) {
      // Another key's write caching goes (an open that is not theirs);
      // this one then gets read and handle caching only.
      breaks = BreaksLocked(*n, kLeaseRead | kLeaseHandle, &key);
      cross_key_breaks_ += static_cast<int>(breaks.size());
      bool others = false;
      for (const auto& [k, le] : leases_) others |= le.node == n && k != key;
      Lease& le = leases_[key];
      le.node = n;
      ++le.opens;
      le.state = others ? (kLeaseRead | kLeaseHandle) : (kLeaseRead | kLeaseHandle | kLeaseWrite);
      e.leased = true;
      e.key = key;
      o.durable.lease_key = key;
      o.durable.lease_state = le.state;
      o.durable.durable = true;
      o.durable.timeout_ms = 60000;
    }
    ++n->opens;
    opens_[id] = e;
    o.attrs = AttributesOf(*n);
    return o;
  }();
  if (!breaks.empty()) SendBreaks(breaks, false, {});
  Reply(std::move(cb), std::move(out));
}

void FakeRemoteFs::CloseLocked(std::uint64_t id) {
  auto it = opens_.find(id);
  if (it == opens_.end()) return;
  OpenEntry e = std::move(it->second);
  opens_.erase(it);
  Node& n = *e.node;
  // The handle's locks go with it; its waiting locks end.
  std::erase_if(n.locks, [id](const HeldLock& h) { return h.handle == id; });
  for (auto w = n.waiters.begin(); w != n.waiters.end();) {
    if (w->lock.handle != id) {
      ++w;
      continue;
    }
    Post([cb = std::move(w->cb)] { cb(Nt(st::kCancelled)); });
    w = n.waiters.erase(w);
  }
  GrantWaitersLocked(n);
  if (e.leased) {
    auto le = leases_.find(e.key);
    if (le != leases_.end() && --le->second.opens <= 0) leases_.erase(le);
  }
  if (--n.opens == 0 && n.delete_pending) DetachLocked(n);
}

void FakeRemoteFs::Close(smb2::Handle h, smb2::Callback<void> cb) {
  if (auto ec = Enter("Close", "")) return Reply<void>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  if (!EntryLocked(h)) return Reply<void>(std::move(cb), Nt(st::kFileClosed));
  CloseLocked(h.persistent);
  Reply<void>(std::move(cb), {});
}

void FakeRemoteFs::Read(smb2::Handle h, std::uint64_t offset, std::uint32_t length,
                        smb2::Callback<smb2::ReadResult> cb) {
  if (auto ec = Enter("Read", "")) return Reply<smb2::ReadResult>(std::move(cb), ec);
  Result<smb2::ReadResult> out = [&]() -> Result<smb2::ReadResult> {
    std::lock_guard<std::mutex> l(mu_);
    OpenEntry* e = EntryLocked(h);
    if (!e) return Nt(st::kFileClosed);
    if (!e->read) return Nt(st::kAccessDenied);
    if (e->node->dir) return Nt(st::kInvalidDeviceRequest);
    if (length > max_io_) return Nt(st::kInvalidParameter);
    smb2::ReadResult r;
    const std::string& d = e->node->data;
    // At or past the end: empty (SmbFs turns STATUS_END_OF_FILE into that).
    if (offset >= d.size()) return r;
    const std::size_t n = std::min<std::size_t>(length, d.size() - offset);
    auto buf = std::make_shared<Bytes>(d.begin() + static_cast<std::ptrdiff_t>(offset),
                                       d.begin() + static_cast<std::ptrdiff_t>(offset + n));
    r.data = ByteSpan(*buf);
    r.owner = buf;
    return r;
  }();
  Reply(std::move(cb), std::move(out));
}

void FakeRemoteFs::WriteLocked(Node& n, std::uint64_t offset, ByteSpan data) {
  if (n.data.size() < offset + data.size()) n.data.resize(offset + data.size());
  std::copy(data.begin(), data.end(), n.data.begin() + static_cast<std::ptrdiff_t>(offset));
  n.write = n.change = Now();
}

void FakeRemoteFs::Write(smb2::Handle h, std::uint64_t offset, std::shared_ptr<const Bytes> data,
                         smb2::Callback<std::uint32_t> cb) {
  if (auto ec = Enter("Write", "")) return Reply<std::uint32_t>(std::move(cb), ec);
  std::vector<PendingBreak> breaks;
  Result<std::uint32_t> out = [&]() -> Result<std::uint32_t> {
    std::lock_guard<std::mutex> l(mu_);
    OpenEntry* e = EntryLocked(h);
    if (!e) return Nt(st::kFileClosed);
    if (!e->write) return Nt(st::kAccessDenied);
    if (data->size() > max_io_) return Nt(st::kInvalidParameter);
    // A write breaks the read caching of the other keys' leases.
    breaks = BreaksLocked(*e->node, 0, e->leased ? &e->key : nullptr);
    cross_key_breaks_ += static_cast<int>(breaks.size());
    WriteLocked(*e->node, offset, ByteSpan(*data));
    return static_cast<std::uint32_t>(data->size());
  }();
  if (!breaks.empty()) SendBreaks(breaks, false, {});
  if (const std::int64_t us = write_latency_us_; us > 0) {
    return Post([cb = std::move(cb), out = std::move(out), us]() mutable {
      std::this_thread::sleep_for(std::chrono::microseconds(us));
      cb(std::move(out));
    });
  }
  Reply(std::move(cb), std::move(out));
}

void FakeRemoteFs::set_write_latency(std::chrono::microseconds latency) { write_latency_us_ = latency.count(); }

void FakeRemoteFs::Flush(smb2::Handle h, smb2::Callback<void> cb) {
  if (auto ec = Enter("Flush", "")) return Reply<void>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  OpenEntry* e = EntryLocked(h);
  if (!e) return Reply<void>(std::move(cb), Nt(st::kFileClosed));
  // Samba 4.17 refuses FLUSH on a handle without write access.
  if (!e->write) return Reply<void>(std::move(cb), Nt(st::kAccessDenied));
  Reply<void>(std::move(cb), {});
}

void FakeRemoteFs::GetAttributes(smb2::Handle h, smb2::Callback<smb2::FileAttributes> cb) {
  if (auto ec = Enter("GetAttributes", "")) return Reply<smb2::FileAttributes>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  OpenEntry* e = EntryLocked(h);
  if (!e) return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kFileClosed));
  Reply<smb2::FileAttributes>(std::move(cb), AttributesOf(*e->node));
}

void FakeRemoteFs::Stat(std::string path, smb2::Callback<smb2::FileAttributes> cb) {
  if (auto ec = Enter("Stat", path)) return Reply<smb2::FileAttributes>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  Resolved r = ResolveLocked(path);
  if (r.status) return Reply<smb2::FileAttributes>(std::move(cb), Nt(r.status));
  if (!r.node) return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kObjectNameNotFound));
  if (r.node->delete_pending) return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kDeletePending));
  Reply<smb2::FileAttributes>(std::move(cb), AttributesOf(*r.node));
}

Result<std::shared_ptr<FakeRemoteFs::Node>> FakeRemoteFs::ListableLocked(std::string_view path) const {
  Resolved r = ResolveLocked(path);
  if (r.status) return Nt(r.status);
  if (!r.node) return Nt(st::kObjectNameNotFound);
  if (!r.node->dir) return Nt(st::kNotADirectory);
  if (r.node->delete_pending) return Nt(st::kDeletePending);
  return r.node;
}

// Delete-pending files are listed until their last close (Windows and
// Samba alike).
std::vector<smb2::DirectoryEntry> FakeRemoteFs::EntriesLocked(const Node& dir) const {
  std::vector<smb2::DirectoryEntry> out;
  for (const auto& [key, child] : dir.children) out.push_back({child->name, AttributesOf(*child)});
  return out;
}

void FakeRemoteFs::ReadDirectory(std::string path, smb2::Callback<std::vector<smb2::DirectoryEntry>> cb) {
  using Entries = std::vector<smb2::DirectoryEntry>;
  if (auto ec = Enter("ReadDirectory", path)) return Reply<Entries>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  auto dir = ListableLocked(path);
  if (!dir) return Reply<Entries>(std::move(cb), dir.error());
  Reply<Entries>(std::move(cb), EntriesLocked(**dir));
}

void FakeRemoteFs::OpenListing(std::string path, smb2::Callback<smb2::DirectoryPage> cb) {
  if (auto ec = Enter("OpenListing", path)) return Reply<smb2::DirectoryPage>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  auto dir = ListableLocked(path);
  if (!dir) return Reply<smb2::DirectoryPage>(std::move(cb), dir.error());
  smb2::DirectoryPage page;
  page.entries = EntriesLocked(**dir);
  if (list_page_ == 0 || page.entries.size() <= 2 * list_page_)
    return Reply<smb2::DirectoryPage>(std::move(cb), std::move(page));
  const std::uint64_t id = next_handle_++;
  OpenEntry e;
  e.node = *dir;
  e.read = true;
  e.listing = std::move(page.entries);
  e.listed = 2 * list_page_;
  page.entries.assign(e.listing.begin(), e.listing.begin() + static_cast<std::ptrdiff_t>(e.listed));
  page.end = false;
  page.handle = {id, id};
  ++(*dir)->opens;
  opens_[id] = std::move(e);
  Reply<smb2::DirectoryPage>(std::move(cb), std::move(page));
}

void FakeRemoteFs::ListMore(smb2::Handle h, bool restart, smb2::Callback<smb2::DirectoryPage> cb) {
  if (auto ec = Enter("ListMore", "")) return Reply<smb2::DirectoryPage>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  OpenEntry* e = EntryLocked(h);
  if (!e) return Reply<smb2::DirectoryPage>(std::move(cb), Nt(st::kFileClosed));
  if (!e->node->dir) return Reply<smb2::DirectoryPage>(std::move(cb), Nt(st::kInvalidParameter));
  if (restart) {
    e->listing = EntriesLocked(*e->node);
    e->listed = 0;
  }
  smb2::DirectoryPage page;
  const std::size_t n = std::min(list_page_ ? list_page_ : e->listing.size(), e->listing.size() - e->listed);
  const auto from = e->listing.begin() + static_cast<std::ptrdiff_t>(e->listed);
  page.entries.assign(from, from + static_cast<std::ptrdiff_t>(n));
  e->listed += n;
  page.end = n == 0;
  Reply<smb2::DirectoryPage>(std::move(cb), std::move(page));
}

void FakeRemoteFs::MakeDirectory(std::string path, smb2::Callback<smb2::FileAttributes> cb) {
  if (auto ec = Enter("MakeDirectory", path)) return Reply<smb2::FileAttributes>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  Resolved r = ResolveLocked(path);
  if (r.status) return Reply<smb2::FileAttributes>(std::move(cb), Nt(r.status));
  if (r.node) return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kObjectNameCollision));
  if (!ValidName(r.leaf)) return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kObjectNameInvalid));
  auto n = CreateLocked(r.dir, r.leaf, true);
  Reply<smb2::FileAttributes>(std::move(cb), AttributesOf(*n));
}

std::uint32_t FakeRemoteFs::RemoveLocked(std::string_view path, bool dir) {
  Resolved r = ResolveLocked(path);
  if (r.status) return r.status;
  if (!r.node) return st::kObjectNameNotFound;
  Node& n = *r.node;
  if (r.node == root_) return st::kAccessDenied;
  if (dir && !n.dir) return st::kNotADirectory;
  if (!dir && n.dir) return st::kFileIsADirectory;
  if (n.delete_pending) return st::kDeletePending;
  if (n.no_delete) return st::kAccessDenied;
  if (dir && !n.children.empty()) return st::kDirectoryNotEmpty;
  if (n.dos & smb2::kAttributeReadonly) return st::kCannotDelete;
  // Open elsewhere: marked, and gone with the last close.
  if (n.opens > 0) {
    n.delete_pending = true;
    return 0;
  }
  DetachLocked(n);
  return 0;
}

void FakeRemoteFs::RemoveDirectory(std::string path, smb2::Callback<void> cb) {
  if (auto ec = Enter("RemoveDirectory", path)) return Reply<void>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  const std::uint32_t s = RemoveLocked(path, true);
  Reply<void>(std::move(cb), s ? Nt(s) : std::error_code{});
}

void FakeRemoteFs::Unlink(std::string path, smb2::Callback<void> cb) {
  if (auto ec = Enter("Unlink", path)) return Reply<void>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  const std::uint32_t s = RemoveLocked(path, false);
  Reply<void>(std::move(cb), s ? Nt(s) : std::error_code{});
}

std::uint32_t FakeRemoteFs::RenameLocked(std::string_view from, std::string_view to, bool replace) {
  Resolved src = ResolveLocked(from);
  if (src.status) return src.status;
  if (!src.node) return st::kObjectNameNotFound;
  if (src.node == root_) return st::kAccessDenied;
  if (src.node->delete_pending) return st::kDeletePending;
  // The rename opens the source for DELETE.
  if (src.node->no_delete) return st::kAccessDenied;
  Resolved dst = ResolveLocked(to);
  if (dst.status) return dst.status;
  if (!dst.dir || !ValidName(dst.leaf)) return st::kObjectNameInvalid;
  // A directory into itself or below it.
  for (Node* d = dst.dir.get(); d; d = d->parent) {
    if (d == src.node.get()) return st::kInvalidParameter;
  }
  if (dst.node && dst.node != src.node) {
    if (!replace) return st::kObjectNameCollision;
    // Samba 4.17 refuses to replace an open file (delete-pending ones are
    // open), and the replaced file must be deletable (Windows also refuses
    // a read-only one).
    if (dst.node->opens > 0 || dst.node->no_delete || (dst.node->dos & smb2::kAttributeReadonly)) {
      return st::kAccessDenied;
    }
    // Samba renames with rename(2): a directory replaces an empty directory
    // only, and files replace files. (Windows refuses any directory.)
    if (dst.node->dir && !src.node->dir) return st::kFileIsADirectory;
    if (!dst.node->dir && src.node->dir) return st::kNotADirectory;
    if (dst.node->dir && !dst.node->children.empty()) return st::kDirectoryNotEmpty;
    DetachLocked(*dst.node);
  }
  DetachLocked(*src.node);
  src.node->name = dst.leaf;
  src.node->parent = dst.dir.get();
  src.node->change = Now();
  dst.dir->children[Fold(dst.leaf)] = src.node;
  dst.dir->write = dst.dir->change = src.node->change;
  return 0;
}

void FakeRemoteFs::Rename(std::string from, std::string to, bool replace, smb2::Callback<void> cb) {
  if (auto ec = Enter("Rename", from + " -> " + to)) return Reply<void>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  const std::uint32_t s = RenameLocked(from, to, replace);
  Reply<void>(std::move(cb), s ? Nt(s) : std::error_code{});
}

void FakeRemoteFs::ApplyChangeLocked(Node& n, const smb2::AttributeChange& change) {
  const std::uint64_t now = Now();
  if (change.set_size) {
    n.data.resize(change.size);
    n.write = n.change = now;
  }
  if (change.set_basic) {
    const smb2::SetAttributes& b = change.basic;
    if (b.creation_time) n.creation = b.creation_time;
    if (b.last_access_time) n.access = b.last_access_time;
    if (b.last_write_time) n.write = b.last_write_time;
    n.change = b.change_time ? b.change_time : now;
    if (b.file_attributes) n.dos = b.file_attributes & ~(smb2::kAttributeDirectory | smb2::kAttributeNormal);
  }
}

void FakeRemoteFs::Truncate(smb2::Handle h, std::uint64_t size, smb2::Callback<void> cb) {
  if (auto ec = Enter("Truncate", "")) return Reply<void>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  OpenEntry* e = EntryLocked(h);
  if (!e) return Reply<void>(std::move(cb), Nt(st::kFileClosed));
  if (!e->write || e->node->dir) return Reply<void>(std::move(cb), Nt(st::kAccessDenied));
  smb2::AttributeChange c;
  c.set_size = true;
  c.size = size;
  ApplyChangeLocked(*e->node, c);
  Reply<void>(std::move(cb), {});
}

void FakeRemoteFs::SetInfo(smb2::Handle h, smb2::SetAttributes attrs, smb2::Callback<void> cb) {
  if (auto ec = Enter("SetInfo", "")) return Reply<void>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  OpenEntry* e = EntryLocked(h);
  if (!e) return Reply<void>(std::move(cb), Nt(st::kFileClosed));
  // MS-FSA 2.1.5.14.2: FILE_WRITE_ATTRIBUTES, which SmbFs asks for with
  // write access or on an attribute-only open.
  if (!e->write && !e->attributes_only) return Reply<void>(std::move(cb), Nt(st::kAccessDenied));
  smb2::AttributeChange c;
  c.set_basic = true;
  c.basic = attrs;
  ApplyChangeLocked(*e->node, c);
  Reply<void>(std::move(cb), {});
}

void FakeRemoteFs::Update(smb2::Handle h, smb2::AttributeChange change, smb2::Callback<smb2::FileAttributes> cb) {
  if (auto ec = Enter("Update", "")) return Reply<smb2::FileAttributes>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  OpenEntry* e = EntryLocked(h);
  if (!e) return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kFileClosed));
  if (change.set_size && (!e->write || e->node->dir)) {
    return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kAccessDenied));
  }
  if (change.set_basic && !e->write && !e->attributes_only) {
    return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kAccessDenied));
  }
  ApplyChangeLocked(*e->node, change);
  Reply<smb2::FileAttributes>(std::move(cb), AttributesOf(*e->node));
}

void FakeRemoteFs::UpdatePath(std::string path, smb2::AttributeChange change, smb2::Callback<smb2::FileAttributes> cb) {
  if (auto ec = Enter("UpdatePath", path)) return Reply<smb2::FileAttributes>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  Resolved r = ResolveLocked(path);
  if (r.status) return Reply<smb2::FileAttributes>(std::move(cb), Nt(r.status));
  if (!r.node) return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kObjectNameNotFound));
  if (r.node->delete_pending) return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kDeletePending));
  if (change.set_size && r.node->dir) return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kFileIsADirectory));
  // The open for a size change asks for write access, which a read-only
  // file refuses; an attribute-only open is granted (SmbFs).
  if (change.set_size && (r.node->dos & smb2::kAttributeReadonly)) {
    return Reply<smb2::FileAttributes>(std::move(cb), Nt(st::kAccessDenied));
  }
  ApplyChangeLocked(*r.node, change);
  Reply<smb2::FileAttributes>(std::move(cb), AttributesOf(*r.node));
}

void FakeRemoteFs::HardLink(std::string existing, std::string new_path, smb2::Callback<void> cb) {
  if (auto ec = Enter("HardLink", existing + " -> " + new_path)) return Reply<void>(std::move(cb), ec);
  Reply<void>(std::move(cb), Nt(st::kNotSupported));
}

void FakeRemoteFs::StatFs(smb2::Callback<smb2::FsStats> cb) {
  if (auto ec = Enter("StatFs", "")) return Reply<smb2::FsStats>(std::move(cb), ec);
  std::lock_guard<std::mutex> l(mu_);
  Reply<smb2::FsStats>(std::move(cb), stats_);
}

// SMB byte-range locks: an exclusive lock conflicts with every overlapping
// lock (its handle's own too), a shared one with other handles' exclusive
// ones.
bool FakeRemoteFs::LockConflictsLocked(const Node& n, const HeldLock& w) const {
  for (const HeldLock& x : n.locks) {
    if (x.start < w.end && w.start < x.end && (x.exclusive || w.exclusive) && (x.handle != w.handle || w.exclusive)) {
      return true;
    }
  }
  return false;
}

void FakeRemoteFs::GrantWaitersLocked(Node& n) {
  for (auto w = n.waiters.begin(); w != n.waiters.end();) {
    if (LockConflictsLocked(n, w->lock)) {
      ++w;
      continue;
    }
    n.locks.push_back(w->lock);
    Post([cb = std::move(w->cb)] { cb({}); });
    w = n.waiters.erase(w);
  }
}

std::uint32_t FakeRemoteFs::LockLocked(Node& n, std::uint64_t handle, std::uint64_t offset, std::uint64_t length,
                                       LockType type, bool wait, smb2::Callback<void>* cb) {
  const HeldLock want{handle, offset, offset + length, type == LockType::kExclusive};
  if (type == LockType::kUnlock) {
    auto it = std::find_if(n.locks.begin(), n.locks.end(), [&](const HeldLock& x) {
      return x.handle == want.handle && x.start == want.start && x.end == want.end;
    });
    if (it == n.locks.end()) return st::kRangeNotLocked;
    n.locks.erase(it);
    GrantWaitersLocked(n);
    return 0;
  }
  if (!LockConflictsLocked(n, want)) {
    n.locks.push_back(want);
    return 0;
  }
  if (!wait || !cb) return st::kLockNotGranted;
  n.waiters.push_back({want, std::move(*cb)});
  return st::kPending;
}

void FakeRemoteFs::Lock(smb2::Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait,
                        smb2::Callback<void> cb) {
  const char* kind = type == LockType::kUnlock ? "U" : type == LockType::kExclusive ? "X" : "S";
  if (auto ec = Enter("Lock", std::string(kind) + std::to_string(offset) + "+" + std::to_string(length))) {
    return Reply<void>(std::move(cb), ec);
  }
  std::lock_guard<std::mutex> l(mu_);
  OpenEntry* e = EntryLocked(h);
  if (!e) return Reply<void>(std::move(cb), Nt(st::kFileClosed));
  const std::uint32_t s = LockLocked(*e->node, h.persistent, offset, length, type, wait, &cb);
  if (s == st::kPending) return;  // answered when granted, or at the close
  Reply<void>(std::move(cb), s ? Nt(s) : std::error_code{});
}

std::uint32_t FakeRemoteFs::max_io_size() const {
  std::lock_guard<std::mutex> l(mu_);
  return max_io_;
}

// ---- configuration, calls, failures ---------------------------------------------

void FakeRemoteFs::set_leases(bool grant) {
  std::lock_guard<std::mutex> l(mu_);
  grant_leases_ = grant;
}

void FakeRemoteFs::set_list_page(std::size_t entries) {
  std::lock_guard<std::mutex> l(mu_);
  list_page_ = entries;
}

void FakeRemoteFs::set_max_io(std::uint32_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  max_io_ = bytes;
}

void FakeRemoteFs::set_fs_stats(const smb2::FsStats& stats) {
  std::lock_guard<std::mutex> l(mu_);
  stats_ = stats;
}

int FakeRemoteFs::calls(std::string_view method) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

int FakeRemoteFs::calls_for(std::string_view method, std::string_view path) const {
  std::lock_guard<std::mutex> l(mu_);
  const std::string want = std::string(method) + " " + std::string(path);
  return static_cast<int>(std::count(log_.begin(), log_.end(), want));
}

std::map<std::string, int> FakeRemoteFs::all_calls() const {
  std::lock_guard<std::mutex> l(mu_);
  return {calls_.begin(), calls_.end()};
}

std::string FakeRemoteFs::CallLog() const {
  std::lock_guard<std::mutex> l(mu_);
  std::string s;
  for (const std::string& c : log_) s += (s.empty() ? "" : ", ") + c;
  return "[" + s + "]";
}

void FakeRemoteFs::ResetCalls() {
  std::lock_guard<std::mutex> l(mu_);
  calls_.clear();
  log_.clear();
}

void FakeRemoteFs::FailNext(std::string_view method, std::error_code ec, int times) {
  std::lock_guard<std::mutex> l(mu_);
  auto& q = failures_[std::string(method)];
  for (int i = 0; i < times; ++i) q.push_back(ec);
}

void FakeRemoteFs::FailNextFor(std::string_view method, std::string_view detail, std::error_code ec, int times) {
  FailNext(std::string(method) + " " + std::string(detail), ec, times);
}

void FakeRemoteFs::ClearFailures() {
  std::lock_guard<std::mutex> l(mu_);
  failures_.clear();
}

// ---- content ----------------------------------------------------------------

void FakeRemoteFs::PutFile(std::string_view path, std::string_view data, std::uint32_t dos_attributes) {
  std::lock_guard<std::mutex> l(mu_);
  std::shared_ptr<Node> dir = MakeParentsLocked(path);
  const std::vector<std::string> parts = Split(path);
  if (parts.empty()) return;
  auto it = dir->children.find(Fold(parts.back()));
  std::shared_ptr<Node> n = it != dir->children.end() ? it->second : CreateLocked(dir, parts.back(), false);
  n->data = std::string(data);
  n->dos = dos_attributes & ~(smb2::kAttributeDirectory | smb2::kAttributeNormal);
  n->write = n->change = Now();
}

void FakeRemoteFs::DenyDelete(std::string_view path) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto n = NodeLocked(path)) n->no_delete = true;
}

void FakeRemoteFs::PutDir(std::string_view path) {
  std::lock_guard<std::mutex> l(mu_);
  std::shared_ptr<Node> dir = MakeParentsLocked(path);
  const std::vector<std::string> parts = Split(path);
  if (parts.empty() || dir->children.count(Fold(parts.back()))) return;
  CreateLocked(dir, parts.back(), true);
}

std::optional<std::string> FakeRemoteFs::FileData(std::string_view path) const {
  std::lock_guard<std::mutex> l(mu_);
  auto n = NodeLocked(path);
  if (!n || n->dir) return std::nullopt;
  return n->data;
}

std::optional<smb2::FileAttributes> FakeRemoteFs::Attributes(std::string_view path) const {
  std::lock_guard<std::mutex> l(mu_);
  auto n = NodeLocked(path);
  if (!n) return std::nullopt;
  return AttributesOf(*n);
}

std::vector<std::string> FakeRemoteFs::Names(std::string_view dir) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  auto n = NodeLocked(dir);
  if (!n || !n->dir) return out;
  for (const auto& [key, child] : n->children) out.push_back(child->name);
  return out;
}

bool FakeRemoteFs::DeletePending(std::string_view path) const {
  std::lock_guard<std::mutex> l(mu_);
  auto n = NodeLocked(path);
  return n && n->delete_pending;
}

std::size_t FakeRemoteFs::open_handles() const {
  std::lock_guard<std::mutex> l(mu_);
  return opens_.size();
}

std::size_t FakeRemoteFs::locks_on(std::string_view path) const {
  std::lock_guard<std::mutex> l(mu_);
  auto n = NodeLocked(path);
  return n ? n->locks.size() : 0;
}

// ---- another client -----------------------------------------------------------

std::error_code FakeRemoteFs::OtherWrite(std::string_view path, std::uint64_t offset, std::string_view data,
                                         bool break_leases) {
  if (break_leases) BreakForOther(path, 0);
  std::lock_guard<std::mutex> l(mu_);
  Resolved r = ResolveLocked(path);
  if (r.status) return Nt(r.status);
  if (!r.node) return Nt(st::kObjectNameNotFound);
  if (r.node->delete_pending) return Nt(st::kDeletePending);
  if (r.node->dir) return Nt(st::kFileIsADirectory);
  WriteLocked(*r.node, offset, AsBytes(data));
  return {};
}

std::error_code FakeRemoteFs::OtherCreate(std::string_view path, std::string_view data) {
  // Over an existing file: an overwrite, which ends others' read caching.
  BreakForOther(path, 0);
  std::lock_guard<std::mutex> l(mu_);
  Resolved r = ResolveLocked(path);
  if (r.status) return Nt(r.status);
  if (r.node && r.node->delete_pending) return Nt(st::kDeletePending);
  if (r.node && r.node->dir) return Nt(st::kFileIsADirectory);
  if (!r.node && !ValidName(r.leaf)) return Nt(st::kObjectNameInvalid);
  std::shared_ptr<Node> n = r.node ? r.node : CreateLocked(r.dir, r.leaf, false);
  n->data.clear();
  WriteLocked(*n, 0, AsBytes(data));
  return {};
}

std::error_code FakeRemoteFs::OtherMkdir(std::string_view path) {
  std::lock_guard<std::mutex> l(mu_);
  Resolved r = ResolveLocked(path);
  if (r.status) return Nt(r.status);
  if (r.node) return Nt(st::kObjectNameCollision);
  if (!ValidName(r.leaf)) return Nt(st::kObjectNameInvalid);
  CreateLocked(r.dir, r.leaf, true);
  return {};
}

std::error_code FakeRemoteFs::OtherDelete(std::string_view path) {
  // An open for deletion takes handle (and write) caching from the others.
  BreakForOther(path, kLeaseRead);
  std::lock_guard<std::mutex> l(mu_);
  auto n = NodeLocked(path);
  const std::uint32_t s = RemoveLocked(path, n && n->dir);
  return s ? Nt(s) : std::error_code{};
}

std::error_code FakeRemoteFs::OtherRename(std::string_view from, std::string_view to) {
  BreakForOther(from, kLeaseRead);
  BreakForOther(to, kLeaseRead);
  std::lock_guard<std::mutex> l(mu_);
  const std::uint32_t s = RenameLocked(from, to, true);
  return s ? Nt(s) : std::error_code{};
}

std::error_code FakeRemoteFs::OtherLock(std::string_view path, std::uint64_t offset, std::uint64_t length,
                                        bool exclusive) {
  // MS-FSA 2.1.5.7: a byte-range lock ends the read caching of other opens.
  BreakForOther(path, 0);
  std::lock_guard<std::mutex> l(mu_);
  auto n = NodeLocked(path);
  if (!n) return Nt(st::kObjectNameNotFound);
  const std::uint32_t s = LockLocked(*n, kOtherHandle, offset, length,
                                     exclusive ? LockType::kExclusive : LockType::kShared, false, nullptr);
  return s ? Nt(s) : std::error_code{};
}

std::error_code FakeRemoteFs::OtherUnlock(std::string_view path, std::uint64_t offset, std::uint64_t length) {
  std::lock_guard<std::mutex> l(mu_);
  auto n = NodeLocked(path);
  if (!n) return Nt(st::kObjectNameNotFound);
  const std::uint32_t s = LockLocked(*n, kOtherHandle, offset, length, LockType::kUnlock, false, nullptr);
  return s ? Nt(s) : std::error_code{};
}

}  // namespace smbgate::fuse
