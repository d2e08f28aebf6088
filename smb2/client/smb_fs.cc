#include "smb2/client/smb_fs.h"

#include <algorithm>

#include "auth/crypto.h"
#include "smb2/codec/close.h"
#include "smb2/codec/copychunk.h"
#include "smb2/codec/create.h"
#include "smb2/codec/fscc.h"
#include "smb2/codec/ioctl.h"
#include "smb2/codec/lock.h"
#include "smb2/codec/negotiate.h"
#include "smb2/codec/notify.h"
#include "smb2/codec/query_directory.h"
#include "smb2/codec/query_info.h"
#include "smb2/codec/read.h"
#include "smb2/codec/set_info.h"
#include "smb2/codec/status.h"
#include "smb2/codec/tree.h"
#include "smb2/codec/write.h"

namespace smbgate::smb2 {
namespace {

FileId ToFileId(Handle h) { return {h.persistent, h.volatile_}; }
Handle ToHandle(FileId f) { return {f.persistent, f.volatile_}; }

// QUERY_DIRECTORY output buffer: large enough for hundreds of entries per
// round trip, small enough for one credit (MS-SMB2 3.2.4.1.5).
constexpr std::uint32_t kDirBuffer = 64 * 1024;
constexpr std::uint32_t kInfoBuffer = 4096;

std::uint32_t DispositionOf(OpenDisposition d) {
  switch (d) {
    case OpenDisposition::kOpen:
      return kFileOpen;
    case OpenDisposition::kCreate:
      return kFileCreate;
    case OpenDisposition::kOpenIf:
      return kFileOpenIf;
    case OpenDisposition::kOverwrite:
      return kFileOverwrite;
    case OpenDisposition::kOverwriteIf:
      return kFileOverwriteIf;
  }
  return kFileOpen;
}

FileAttributes FromCreate(const CreateResponse& c) {
  FileAttributes a;
  a.creation_time = c.creation_time;
  a.last_access_time = c.last_access_time;
  a.last_write_time = c.last_write_time;
  a.change_time = c.change_time;
  a.end_of_file = c.end_of_file;
  a.allocation_size = c.allocation_size;
  a.file_attributes = c.file_attributes;
  if (const CreateContextView* q = FindCreateContext(c.contexts, kCreateQueryOnDiskId)) {
    if (auto id = ParseQueryOnDiskIdResponse(q->data)) a.file_id = id->disk_file_id;
  }
  return a;
}

FileAttributes FromAll(const FileAllInformation& i) {
  FileAttributes a;
  a.creation_time = i.basic.creation_time;
  a.last_access_time = i.basic.last_access_time;
  a.last_write_time = i.basic.last_write_time;
  a.change_time = i.basic.change_time;
  a.file_attributes = i.basic.file_attributes;
  a.end_of_file = i.standard.end_of_file;
  a.allocation_size = i.standard.allocation_size;
  a.nlink = std::max<std::uint32_t>(1, i.standard.number_of_links);
  a.file_id = i.internal.index_number;
  return a;
}

// Passes `r`'s error to `cb` and returns true, or returns false on success.
template <class T, class U>
bool Forward(const Result<U>& r, const Callback<T>& cb) {
  if (r) return false;
  cb(r.error());
  return true;
}

}  // namespace

SmbFs::SmbFs(std::shared_ptr<Tree> tree, std::string subdir, bool durable)
    : tree_(std::move(tree)), durable_(durable), break_handler_(std::make_shared<BreakSlot>()) {
  if (durable_handles()) {
    // MS-SMB2 3.2.5.19.2: each lease break that asks for it is acknowledged
    // with the state the server offers, once the layer above gave up what
    // it cached (its handler calls `ack`), or at once without a handler.
    // The weak pointer breaks the cycle connection -> handler -> tree ->
    // connection.
    std::weak_ptr<Tree> weak = tree_;
    auto slot = break_handler_;
    tree_->connection().SetLeaseBreakHandler([weak, slot](const LeaseBreakNotification& n) {
      std::function<void()> ack = [] {};
      if (n.flags & kNotifyBreakLeaseFlagAckRequired) {
        ack = [weak, key = n.lease_key, state = n.new_lease_state] {
          auto t = weak.lock();
          if (!t) return;
          LeaseBreakAck a;
          a.lease_key = key;
          a.lease_state = state;
          t->connection().Send(MakeRequest(Command::kOplockBreak, a, t->session().id(), t->id()),
                               [](Result<Response>) {});
        };
      }
      LeaseBreakHandler handler;
      {
        std::lock_guard<std::mutex> l(slot->mu);
        handler = slot->handler;
      }
      if (!handler) return ack();
      handler(n.lease_key, n.new_lease_state, std::move(ack));
    });
  }
  // Normalise "a//b/" to "a/b".
  std::string cur;
  for (char c : subdir + "/") {
    if (c == '/' || c == '\\') {
      if (!cur.empty()) subdir_ += (subdir_.empty() ? "" : "/") + cur;
      cur.clear();
    } else {
      cur += c;
    }
  }
}

void SmbFs::SetLeaseBreakHandler(LeaseBreakHandler handler) {
  std::lock_guard<std::mutex> l(break_handler_->mu);
  break_handler_->handler = std::move(handler);
}

std::uint32_t SmbFs::max_io_size() const {
  const NegotiatedState& n = tree_->connection().negotiated();
  return std::min(n.max_read_size, n.max_write_size);
}

Result<std::string> SmbFs::ToSmbName(const std::string& path) const {
  std::string out;
  std::string cur;
  auto add = [&](const std::string& comp) -> bool {
    if (comp.empty()) return true;
    if (comp == "." || comp == ".." || comp.find_first_of("\\:") != std::string::npos) return false;
    if (!out.empty()) out += '\\';
    out += comp;
    return true;
  };
  for (const std::string* s : {&subdir_, &path}) {
    for (char c : *s + "/") {
      if (c == '/') {
        if (!add(cur)) return client_errc::name_invalid;
        cur.clear();
      } else {
        cur += c;
      }
    }
  }
  return out;
}

namespace {

// Sends a request on the tree and hands back the response when its status
// is in `ok` (success by default), else the status as an error.
void Send(const std::shared_ptr<Tree>& tree, Request req, Callback<Response> cb,
          std::uint32_t also_ok = status::kSuccess) {
  tree->connection().Send(std::move(req), [cb = std::move(cb), also_ok](Result<Response> r) {
    if (!r) return cb(r.error());
    if (r->status() != status::kSuccess && r->status() != also_ok) return cb(MakeNtStatusError(r->status()));
    cb(std::move(r));
  });
}

template <class Body>
Request TreeRequest(const Tree& t, Command cmd, const Body& body) {
  return MakeRequest(cmd, body, t.session().id(), t.id());
}

// MS-SMB2 3.2.4.3: on a DFS share (TreeConnect.IsDfsShare, 3.2.5.5) a
// CREATE sets SMB2_FLAGS_DFS_OPERATIONS and names the file by its DFS path
// without the leading backslash, "server\share\dir\file" (2.2.13), so the
// server normalizes it (3.3.5.9) and answers STATUS_PATH_NOT_COVERED for a
// path under a link. Windows servers need it for that answer; without it a
// link is a reparse point the open cannot follow.
Request CreateOn(const Tree& t, CreateRequest c) {
  const bool dfs = t.share_flags() & (kShareFlagDfs | kShareFlagDfsRoot);
  if (dfs) {
    std::string prefix = t.unc();
    prefix.erase(0, prefix.find_first_not_of('\\'));
    c.name = c.name.empty() ? prefix : prefix + "\\" + c.name;
  }
  Request r = TreeRequest(t, Command::kCreate, c);
  r.dfs_operations = dfs;
  return r;
}

void CloseQuietly(const std::shared_ptr<Tree>& tree, FileId id) {
  CloseRequest c;
  c.file_id = id;
  // A failed close of a handle used for one metadata operation changes
  // nothing the caller could act on; the server drops it with the session.
  tree->connection().Send(TreeRequest(*tree, Command::kClose, c), [](Result<Response>) {});
}

CreateRequest MetaOpen(std::string name, std::uint32_t access, std::uint32_t options = 0) {
  CreateRequest c;
  c.name = std::move(name);
  c.desired_access = access | kFileReadAttributes | kSynchronize;
  // POSIX lets a file be renamed or unlinked while open: share everything.
  c.share_access = kFileShareRead | kFileShareWrite | kFileShareDelete;
  c.create_disposition = kFileOpen;
  c.create_options = options;
  return c;
}

void SetInfoOn(const std::shared_ptr<Tree>& tree, FileId id, std::uint8_t info_type, std::uint8_t cls, Bytes buffer,
               Callback<void> cb) {
  SetInfoRequest s;
  s.info_type = info_type;
  s.file_info_class = cls;
  s.buffer = buffer;
  s.file_id = id;
  Send(tree, TreeRequest(*tree, Command::kSetInfo, s), [cb = std::move(cb)](Result<Response> r) {
    if (Forward(r, cb)) return;
    cb({});
  });
}

void QueryInfoOn(const std::shared_ptr<Tree>& tree, FileId id, std::uint8_t info_type, std::uint8_t cls,
                 Callback<Response> cb) {
  QueryInfoRequest q;
  q.info_type = info_type;
  q.file_info_class = cls;
  q.output_buffer_length = kInfoBuffer;
  q.file_id = id;
  Request req = TreeRequest(*tree, Command::kQueryInfo, q);
  req.payload_size = kInfoBuffer;
  Send(tree, std::move(req), std::move(cb));
}

// CREATE, one request on the new handle (built with the all-ones FileId,
// MS-SMB2 3.2.4.1.4 "related operations"), then CLOSE, as one compound: one
// round trip instead of three. Yields the middle response; the first
// failing member's status is the error (a CLOSE that fails matters: for a
// delete disposition it is the CLOSE that deletes).
void OpenActClose(const std::shared_ptr<Tree>& tree, CreateRequest create, Request act, Callback<Response> cb) {
  std::vector<Request> reqs;
  reqs.push_back(CreateOn(*tree, create));
  reqs.push_back(std::move(act));
  CloseRequest close;
  close.file_id = kAllOnesFileId;
  reqs.push_back(TreeRequest(*tree, Command::kClose, close));
  tree->connection().SendCompound(std::move(reqs), true, [cb = std::move(cb)](std::vector<Result<Response>> rs) {
    for (auto& r : rs) {
      if (!r) return cb(r.error());
      if (r->status() != status::kSuccess) return cb(MakeNtStatusError(r->status()));
    }
    cb(std::move(rs[1]));
  });
}

Request SetInfoRequestFor(const Tree& tree, std::uint8_t cls, const Bytes& buffer) {
  SetInfoRequest si;
  si.info_type = kInfoFile;
  si.file_info_class = cls;
  si.buffer = buffer;
  si.file_id = kAllOnesFileId;
  return TreeRequest(tree, Command::kSetInfo, si);
}

Request QueryInfoRequestFor(const Tree& tree, std::uint8_t info_type, std::uint8_t cls) {
  QueryInfoRequest q;
  q.info_type = info_type;
  q.file_info_class = cls;
  q.output_buffer_length = kInfoBuffer;
  q.file_id = kAllOnesFileId;
  Request r = TreeRequest(tree, Command::kQueryInfo, q);
  r.payload_size = kInfoBuffer;
  return r;
}

}  // namespace

bool SmbFs::durable_handles() const {
  const NegotiatedState& n = tree_->connection().negotiated();
  // DH2Q is 3.x (MS-SMB2 2.2.13.2.11); without leasing there is no handle
  // lease, and Samba and Windows grant a durable handle only with one
  // (3.3.5.9.10) unless the share is continuously available.
  return durable_ && n.dialect >= kDialect300 && (n.server_capabilities & kCapLeasing);
}

std::shared_ptr<SmbFs> SmbFs::Replaying() const {
  auto fs = std::make_shared<SmbFs>(*this);
  fs->replay_ = true;
  return fs;
}

Request SmbFs::Mark(Request r) const {
  r.replay = replay_;
  return r;
}

namespace {

CreateRequest FileCreate(std::string name, const OpenParams& p) {
  CreateRequest c;
  c.name = std::move(name);
  c.desired_access = kFileReadAttributes | kSynchronize;
  if (p.read) c.desired_access |= p.directory ? kFileListDirectory : kFileReadData | kFileReadEa;
  if (p.write) c.desired_access |= kFileWriteData | kFileAppendData | kFileWriteAttributes | kFileWriteEa;
  // An open for neither reading nor writing data is the attribute-only
  // handle that setattr (chmod, utimens) uses: SET_INFO of
  // FileBasicInformation needs FILE_WRITE_ATTRIBUTES (MS-FSA 2.1.5.14.2),
  // which Samba 4.17 enforces with STATUS_ACCESS_DENIED. It is granted on a
  // file with the DOS read-only attribute too, so chmod u+w can clear it.
  if (!p.read && !p.write) c.desired_access |= kFileWriteAttributes;
  if (p.delete_access) c.desired_access |= kDelete;
  c.share_access = kFileShareRead | kFileShareWrite | kFileShareDelete;
  c.create_disposition = DispositionOf(p.disposition);
  if (p.directory) c.create_options |= kFileDirectoryFile;
  if (p.non_directory) c.create_options |= kFileNonDirectoryFile;
  c.file_attributes = p.file_attributes;
  c.contexts.push_back({kCreateQueryOnDiskId, {}});
  return c;
}

// A lease request context, v2 on 3.x (MS-SMB2 2.2.13.2.10).
Bytes LeaseContext(const std::array<std::uint8_t, 16>& key, std::uint32_t state) {
  Lease l;
  l.lease_key = key;
  l.lease_state = state;
  l.v2 = true;
  return EncodeLease(l);
}

void RandomGuid(std::array<std::uint8_t, 16>& g) {
  if (g == std::array<std::uint8_t, 16>{}) auth::OsRandom()(g);
}

// Fills `o` from a CREATE response, with what the server granted of `want`.
OpenResult FromCreateResponse(const CreateResponse& c, const DurableState& want) {
  OpenResult o;
  o.handle = ToHandle(c.file_id);
  o.attrs = FromCreate(c);
  o.created = c.create_action == kFileCreated;
  o.durable.create_guid = want.create_guid;
  o.durable.lease_key = want.lease_key;
  if (c.oplock_level == kOplockLevelLease) {
    if (const CreateContextView* l = FindCreateContext(c.contexts, kCreateRequestLease)) {
      if (auto lease = ParseLease(l->data); lease && lease->lease_key == want.lease_key) {
        o.durable.lease_state = lease->lease_state;
      }
    }
  }
  if (const CreateContextView* d = FindCreateContext(c.contexts, kCreateDurableHandleRequestV2)) {
    if (auto r = ParseDurableHandleResponseV2(d->data)) {
      o.durable.durable = true;
      o.durable.persistent = r->flags & kDurableHandleFlagPersistent;
      o.durable.timeout_ms = r->timeout;
    }
  }
  return o;
}

}  // namespace

void SmbFs::Open(std::string path, OpenParams p, Callback<OpenResult> cb) {
  OpenWith(std::move(path), p, DurableState{}, std::move(cb));
}

void SmbFs::OpenWith(std::string path, OpenParams p, DurableState want, Callback<OpenResult> cb) {
  auto name = ToSmbName(path);
  if (Forward(name, cb)) return;
  CreateRequest c = FileCreate(std::move(*name), p);
  if (!p.directory && durable_handles()) {
    if (p.lease_key != LeaseKey{}) want.lease_key = p.lease_key;
    RandomGuid(want.create_guid);
    RandomGuid(want.lease_key);
    c.requested_oplock_level = kOplockLevelLease;
    // Read, handle and write caching (as kernel cifs asks): the server
    // grants less where other opens exist, and breaks it when they come.
    c.contexts.push_back({kCreateRequestLease,
                          LeaseContext(want.lease_key, kLeaseReadCaching | kLeaseHandleCaching | kLeaseWriteCaching)});
    DurableHandleRequestV2 d;
    d.create_guid = want.create_guid;
    // MS-SMB2 3.2.4.3.5: persistent where the share is continuously
    // available and the server offers persistent handles.
    if ((tree_->share_capabilities() & kShareCapContinuousAvailability) &&
        (tree_->connection().negotiated().server_capabilities & kCapPersistentHandles)) {
      d.flags = kDurableHandleFlagPersistent;
    }
    c.contexts.push_back({kCreateDurableHandleRequestV2, EncodeDurableHandleRequestV2(d)});
  } else {
    want = {};
  }
  auto tree = tree_;
  Send(tree, Mark(CreateOn(*tree, c)), [cb = std::move(cb), want](Result<Response> r) {
    if (Forward(r, cb)) return;
    auto c2 = DecodeCreateResponse(r->message);
    if (Forward(c2, cb)) return;
    cb(FromCreateResponse(*c2, want));
  });
}

void SmbFs::Reclaim(std::string path, OpenParams p, Handle old, DurableState held, Callback<OpenResult> cb) {
  auto name = ToSmbName(path);
  if (Forward(name, cb)) return;
  // MS-SMB2 3.2.4.4: the same name and access, the DH2C context with the
  // old FileId and CreateGuid, and the lease context with the same key and
  // state; the disposition is ignored by the server.
  p.disposition = OpenDisposition::kOpen;
  CreateRequest c = FileCreate(std::move(*name), p);
  // Samba 4.17 takes a DH2C with the lease context only (no QFid).
  c.contexts.clear();
  DurableHandleReconnectV2 d;
  d.file_id = ToFileId(old);
  d.create_guid = held.create_guid;
  if (held.persistent) d.flags = kDurableHandleFlagPersistent;
  c.contexts.push_back({kCreateDurableHandleReconnectV2, EncodeDurableHandleReconnectV2(d)});
  if (held.lease_state) {
    c.requested_oplock_level = kOplockLevelLease;
    c.contexts.push_back({kCreateRequestLease, LeaseContext(held.lease_key, held.lease_state)});
  }
  auto tree = tree_;
  Send(tree, CreateOn(*tree, c), [cb = std::move(cb), held](Result<Response> r) {
    if (Forward(r, cb)) return;
    auto c2 = DecodeCreateResponse(r->message);
    if (Forward(c2, cb)) return;
    OpenResult o = FromCreateResponse(*c2, held);
    // A reclaimed open stays durable with what it had (the response
    // carries no DH2Q context, 3.3.5.9.12).
    o.durable.durable = true;
    o.durable.persistent = held.persistent;
    o.durable.timeout_ms = held.timeout_ms;
    if (!o.durable.lease_state) o.durable.lease_state = held.lease_state;
    cb(std::move(o));
  });
}

void SmbFs::Close(Handle h, Callback<void> cb) {
  CloseRequest c;
  c.file_id = ToFileId(h);
  Send(tree_, TreeRequest(*tree_, Command::kClose, c), [cb = std::move(cb)](Result<Response> r) {
    if (Forward(r, cb)) return;
    cb({});
  });
}

void SmbFs::Read(Handle h, std::uint64_t offset, std::uint32_t length, Callback<ReadResult> cb) {
  length = std::min(length, max_io_size());
  ReadRequest rr;
  rr.length = length;
  rr.offset = offset;
  rr.file_id = ToFileId(h);
  Request req = TreeRequest(*tree_, Command::kRead, rr);
  req.payload_size = length;
  Send(
      tree_, std::move(req),
      [cb = std::move(cb), length](Result<Response> r) {
        if (Forward(r, cb)) return;
        if (r->status() == status::kEndOfFile) return cb(ReadResult{});
        auto body = DecodeReadResponse(r->message);
        if (Forward(body, cb)) return;
        // An untrusted server must not hand back more than was asked for.
        if (body->data.size() > length) return cb(errc::malformed_response);
        cb(ReadResult{r->frame, body->data});
      },
      status::kEndOfFile);
}

void SmbFs::Write(Handle h, std::uint64_t offset, std::shared_ptr<const Bytes> data, Callback<std::uint32_t> cb) {
  if (data->size() > max_io_size()) return cb(client_errc::io_too_large);
  WriteRequest w;
  w.offset = offset;
  w.file_id = ToFileId(h);
  w.data = *data;
  Request req = Mark(TreeRequest(*tree_, Command::kWrite, w));
  req.payload_size = static_cast<std::uint32_t>(data->size());
  const std::size_t want = data->size();
  Send(tree_, std::move(req), [cb = std::move(cb), want](Result<Response> r) {
    if (Forward(r, cb)) return;
    auto body = DecodeWriteResponse(r->message);
    if (Forward(body, cb)) return;
    if (body->count > want) return cb(errc::malformed_response);
    cb(body->count);
  });
}

void SmbFs::Flush(Handle h, Callback<void> cb) {
  FlushRequest f;
  f.file_id = ToFileId(h);
  Send(tree_, TreeRequest(*tree_, Command::kFlush, f), [cb = std::move(cb)](Result<Response> r) {
    if (Forward(r, cb)) return;
    cb({});
  });
}

void SmbFs::GetAttributes(Handle h, Callback<FileAttributes> cb) {
  QueryInfoOn(tree_, ToFileId(h), kInfoFile, kFileAllInformation, [cb = std::move(cb)](Result<Response> r) {
    if (Forward(r, cb)) return;
    auto q = DecodeQueryInfoResponse(r->message);
    if (Forward(q, cb)) return;
    auto all = ParseFileAllInformation(q->buffer);
    if (Forward(all, cb)) return;
    cb(FromAll(*all));
  });
}

void SmbFs::Stat(std::string path, Callback<FileAttributes> cb) {
  auto name = ToSmbName(path);
  if (Forward(name, cb)) return;
  OpenActClose(tree_, MetaOpen(std::move(*name), 0), QueryInfoRequestFor(*tree_, kInfoFile, kFileAllInformation),
               [cb = std::move(cb)](Result<Response> q) {
                 if (Forward(q, cb)) return;
                 auto body = DecodeQueryInfoResponse(q->message);
                 if (Forward(body, cb)) return;
                 auto all = ParseFileAllInformation(body->buffer);
                 if (Forward(all, cb)) return;
                 cb(FromAll(*all));
               });
}

namespace {

// The output buffer of each QUERY_DIRECTORY: as large as the server takes
// (MaxTransactSize, MS-SMB2 2.2.4) up to 1 MiB, so a directory of
// thousands of entries comes in a few rounds.
std::uint32_t DirBufferFor(const Tree& tree) {
  const std::uint32_t most = tree.connection().negotiated().max_transact_size;
  return std::clamp<std::uint32_t>(most, kDirBuffer, 1u << 20);
}

Request QueryDirectoryFor(const Tree& tree, FileId id, bool restart = false) {
  QueryDirectoryRequest q;
  q.file_information_class = kFileIdBothDirectoryInformation;
  q.flags = restart ? kRestartScans : 0;
  q.file_id = id;
  q.output_buffer_length = DirBufferFor(tree);
  Request req = TreeRequest(tree, Command::kQueryDirectory, q);
  req.payload_size = q.output_buffer_length;
  return req;
}

// Takes one QUERY_DIRECTORY response into `out`; yields whether more may
// follow (false at STATUS_NO_MORE_FILES).
Result<bool> TakeDirRound(Result<Response>& r, std::vector<DirectoryEntry>& out) {
  if (!r) return r.error();
  if (r->status() == status::kNoMoreFiles) return false;
  if (r->status() != status::kSuccess) return MakeNtStatusError(r->status());
  auto body = DecodeQueryDirectoryResponse(r->message);
  if (!body) return body.error();
  auto parsed = ParseFileIdBothDirectoryInformation(body->buffer);
  if (!parsed) return parsed.error();
  // A server that answers success with nothing would be asked forever.
  if (parsed->empty()) return make_error_code(errc::malformed_response);
  out.reserve(out.size() + parsed->size());
  for (DirEntry& e : *parsed) {
    if (e.name == "." || e.name == "..") continue;
    DirectoryEntry d;
    d.attrs.creation_time = e.creation_time;
    d.attrs.last_access_time = e.last_access_time;
    d.attrs.last_write_time = e.last_write_time;
    d.attrs.change_time = e.change_time;
    d.attrs.end_of_file = e.end_of_file;
    d.attrs.allocation_size = e.allocation_size;
    d.attrs.file_attributes = e.file_attributes;
    d.attrs.file_id = e.file_id;
    d.name = std::move(e.name);
    out.push_back(std::move(d));
  }
  return true;
}

// A whole listing, gathered round by round (ReadDirectory).
struct WholeListing {
  std::shared_ptr<Tree> tree;
  FileId id;
  std::vector<DirectoryEntry> entries;
  Callback<std::vector<DirectoryEntry>> done;

  static void Next(const std::shared_ptr<WholeListing>& l) {
    l->tree->connection().Send(QueryDirectoryFor(*l->tree, l->id), [l](Result<Response> r) {
      auto more = TakeDirRound(r, l->entries);
      // Bounded: a server that never ends a listing is refused.
      if (more && *more && l->entries.size() > (std::size_t{1} << 22)) more = make_error_code(errc::malformed_response);
      if (more && *more) return Next(l);
      CloseQuietly(l->tree, l->id);
      if (!more) return l->done(more.error());
      l->done(std::move(l->entries));
    });
  }
};

}  // namespace

void SmbFs::OpenListing(std::string path, Callback<DirectoryPage> cb) {
  auto name = ToSmbName(path);
  if (Forward(name, cb)) return;
  auto tree = tree_;
  // CREATE and two QUERY_DIRECTORY rounds as one related compound (MS-SMB2
  // 3.2.4.1.4): a directory that fits in one buffer is listed in one round
  // trip (the second round answers STATUS_NO_MORE_FILES) and closed; a
  // larger one goes on from its open handle.
  std::vector<Request> reqs;
  reqs.push_back(CreateOn(*tree, MetaOpen(std::move(*name), kFileListDirectory, kFileDirectoryFile)));
  reqs.push_back(QueryDirectoryFor(*tree, kAllOnesFileId));
  reqs.push_back(QueryDirectoryFor(*tree, kAllOnesFileId));
  tree->connection().SendCompound(std::move(reqs), true, [tree, cb = std::move(cb)](std::vector<Result<Response>> rs) {
    Result<Response>& created = rs[0];
    if (!created) return cb(created.error());
    if (created->status() != status::kSuccess) return cb(MakeNtStatusError(created->status()));
    auto c = DecodeCreateResponse(created->message);
    if (!c) return cb(c.error());
    DirectoryPage page;
    for (std::size_t k = 1; k < rs.size(); ++k) {
      auto more = TakeDirRound(rs[k], page.entries);
      if (!more || !*more) {
        CloseQuietly(tree, c->file_id);
        if (!more) return cb(more.error());
        return cb(std::move(page));
      }
    }
    page.end = false;
    page.handle = ToHandle(c->file_id);
    cb(std::move(page));
  });
}

void SmbFs::ListMore(Handle h, bool restart, Callback<DirectoryPage> cb) {
  tree_->connection().Send(QueryDirectoryFor(*tree_, ToFileId(h), restart), [cb = std::move(cb)](Result<Response> r) {
    DirectoryPage page;
    auto more = TakeDirRound(r, page.entries);
    if (!more) return cb(more.error());
    page.end = !*more;
    cb(std::move(page));
  });
}

void SmbFs::ReadDirectory(std::string path, Callback<std::vector<DirectoryEntry>> cb) {
  auto tree = tree_;
  OpenListing(std::move(path), [tree, cb = std::move(cb)](Result<DirectoryPage> page) {
    if (!page) return cb(page.error());
    if (page->end) return cb(std::move(page->entries));
    auto l = std::make_shared<WholeListing>();
    l->tree = tree;
    l->id = ToFileId(page->handle);
    l->entries = std::move(page->entries);
    l->done = cb;
    WholeListing::Next(l);
  });
}

void SmbFs::MakeDirectory(std::string path, Callback<FileAttributes> cb) {
  auto name = ToSmbName(path);
  if (Forward(name, cb)) return;
  CreateRequest c = MetaOpen(std::move(*name), 0, kFileDirectoryFile);
  c.create_disposition = kFileCreate;
  c.contexts.push_back({kCreateQueryOnDiskId, {}});
  // CREATE and CLOSE as one related compound: the create response carries
  // the attributes (MS-SMB2 2.2.14), so a mkdir is one round trip.
  std::vector<Request> reqs;
  reqs.push_back(CreateOn(*tree_, c));
  CloseRequest close;
  close.file_id = kAllOnesFileId;
  reqs.push_back(TreeRequest(*tree_, Command::kClose, close));
  tree_->connection().SendCompound(std::move(reqs), true, [cb = std::move(cb)](std::vector<Result<Response>> rs) {
    for (auto& r : rs) {
      if (!r) return cb(r.error());
      if (r->status() != status::kSuccess) return cb(MakeNtStatusError(r->status()));
    }
    auto cr = DecodeCreateResponse(rs[0]->message);
    if (!cr) return cb(cr.error());
    cb(FromCreate(*cr));
  });
}

namespace {

void DeletePath(const std::shared_ptr<Tree>& tree, std::string name, bool directory, Callback<void> cb) {
  CreateRequest c = MetaOpen(std::move(name), kDelete, directory ? kFileDirectoryFile : kFileNonDirectoryFile);
  // MS-FSCC 2.4.11: set the delete disposition, so a non-empty directory is
  // refused here (STATUS_DIRECTORY_NOT_EMPTY) rather than silently at close.
  OpenActClose(tree, std::move(c),
               SetInfoRequestFor(*tree, kFileDispositionInformation, Encode(FileDispositionInformation{true})),
               [cb = std::move(cb)](Result<Response> r) {
                 if (Forward(r, cb)) return;
                 cb({});
               });
}

}  // namespace

void SmbFs::RemoveDirectory(std::string path, Callback<void> cb) {
  auto name = ToSmbName(path);
  if (Forward(name, cb)) return;
  DeletePath(tree_, std::move(*name), true, std::move(cb));
}

void SmbFs::Unlink(std::string path, Callback<void> cb) {
  auto name = ToSmbName(path);
  if (Forward(name, cb)) return;
  DeletePath(tree_, std::move(*name), false, std::move(cb));
}

void SmbFs::Rename(std::string from, std::string to, bool replace, Callback<void> cb) {
  auto src = ToSmbName(from);
  if (Forward(src, cb)) return;
  auto dst = ToSmbName(to);
  if (Forward(dst, cb)) return;
  FileRenameInformation info;
  info.replace_if_exists = replace;
  info.file_name = std::move(*dst);  // MS-FSCC 2.4.37.2: full path from the share root
  OpenActClose(tree_, MetaOpen(std::move(*src), kDelete),
               SetInfoRequestFor(*tree_, kFileRenameInformation, Encode(info)),
               [cb = std::move(cb)](Result<Response> r) {
                 if (Forward(r, cb)) return;
                 cb({});
               });
}

void SmbFs::Truncate(Handle h, std::uint64_t size, Callback<void> cb) {
  SetInfoOn(tree_, ToFileId(h), kInfoFile, kFileEndOfFileInformation, Encode(FileEndOfFileInformation{size}),
            std::move(cb));
}

void SmbFs::SetInfo(Handle h, SetAttributes a, Callback<void> cb) {
  // MS-FSCC 2.4.7: zero in a time or in FileAttributes leaves it unchanged.
  FileBasicInformation b;
  b.creation_time = a.creation_time;
  b.last_access_time = a.last_access_time;
  b.last_write_time = a.last_write_time;
  b.change_time = a.change_time;
  b.file_attributes = a.file_attributes;
  SetInfoOn(tree_, ToFileId(h), kInfoFile, kFileBasicInformation, Encode(b), std::move(cb));
}

namespace {

// The SET_INFO requests of `change` and a QUERY_INFO of FileAllInformation
// after them, on `first` for the first member and on the chain's handle
// (all ones) after it.
std::vector<Request> UpdateChain(const Tree& tree, const AttributeChange& change, FileId first) {
  std::vector<Request> reqs;
  auto next_id = [&reqs, first] { return reqs.empty() ? first : kAllOnesFileId; };
  if (change.set_size) {
    SetInfoRequest si;
    si.info_type = kInfoFile;
    si.file_info_class = kFileEndOfFileInformation;
    const Bytes buffer = Encode(FileEndOfFileInformation{change.size});  // the request borrows it
    si.buffer = buffer;
    si.file_id = next_id();
    reqs.push_back(TreeRequest(tree, Command::kSetInfo, si));
  }
  if (change.set_basic) {
    // MS-FSCC 2.4.7: zero in a time or in FileAttributes leaves it unchanged.
    FileBasicInformation b;
    b.creation_time = change.basic.creation_time;
    b.last_access_time = change.basic.last_access_time;
    b.last_write_time = change.basic.last_write_time;
    b.change_time = change.basic.change_time;
    b.file_attributes = change.basic.file_attributes;
    SetInfoRequest si;
    si.info_type = kInfoFile;
    si.file_info_class = kFileBasicInformation;
    const Bytes buffer = Encode(b);
    si.buffer = buffer;
    si.file_id = next_id();
    reqs.push_back(TreeRequest(tree, Command::kSetInfo, si));
  }
  QueryInfoRequest q;
  q.info_type = kInfoFile;
  q.file_info_class = kFileAllInformation;
  q.output_buffer_length = kInfoBuffer;
  q.file_id = next_id();
  Request r = TreeRequest(tree, Command::kQueryInfo, q);
  r.payload_size = kInfoBuffer;
  reqs.push_back(std::move(r));
  return reqs;
}

// The attributes from the QUERY_INFO at `at`, or the first failing
// member's status.
Result<FileAttributes> UpdateResult(std::vector<Result<Response>>& rs, std::size_t at) {
  for (auto& r : rs) {
    if (!r) return r.error();
    if (r->status() != status::kSuccess) return MakeNtStatusError(r->status());
  }
  auto q = DecodeQueryInfoResponse(rs[at]->message);
  if (!q) return q.error();
  auto all = ParseFileAllInformation(q->buffer);
  if (!all) return all.error();
  return FromAll(*all);
}

}  // namespace

void SmbFs::Update(Handle h, AttributeChange change, Callback<FileAttributes> cb) {
  std::vector<Request> reqs = UpdateChain(*tree_, change, ToFileId(h));
  const std::size_t at = reqs.size() - 1;
  tree_->connection().SendCompound(
      std::move(reqs), true, [cb = std::move(cb), at](std::vector<Result<Response>> rs) { cb(UpdateResult(rs, at)); });
}

void SmbFs::UpdatePath(std::string path, AttributeChange change, Callback<FileAttributes> cb) {
  auto name = ToSmbName(path);
  if (Forward(name, cb)) return;
  // CREATE, the changes, QUERY_INFO and CLOSE: one round trip. SET_INFO of
  // FileBasicInformation needs FILE_WRITE_ATTRIBUTES (MS-FSA 2.1.5.14.2),
  // of the end of file FILE_WRITE_DATA.
  std::uint32_t access = kFileWriteAttributes;
  if (change.set_size) access |= kFileWriteData;
  std::vector<Request> reqs;
  reqs.push_back(CreateOn(*tree_, MetaOpen(std::move(*name), access)));
  for (Request& r : UpdateChain(*tree_, change, kAllOnesFileId)) reqs.push_back(std::move(r));
  const std::size_t at = reqs.size() - 1;
  CloseRequest close;
  close.file_id = kAllOnesFileId;
  reqs.push_back(TreeRequest(*tree_, Command::kClose, close));
  tree_->connection().SendCompound(
      std::move(reqs), true, [cb = std::move(cb), at](std::vector<Result<Response>> rs) { cb(UpdateResult(rs, at)); });
}

namespace {

// Server-side copy, one FSCTL_SRV_COPYCHUNK_WRITE at a time, each of up to
// 16 chunks of 1 MiB (MS-SMB2 3.3.3 defaults), until `length` bytes are
// copied or the server copies less (the end of the source).
void CopyChunks(const std::shared_ptr<Tree>& tree, const ResumeKey& key, FileId dst, std::uint64_t src_offset,
                std::uint64_t dst_offset, std::uint64_t length, std::uint64_t done, Callback<std::uint64_t> cb) {
  if (length == 0) return cb(done);
  std::vector<CopyChunk> chunks;
  std::uint64_t asked = 0;
  while (asked < length && asked < kCopyChunkMaxTotal && chunks.size() < 16) {
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(length - asked, kCopyChunkMaxChunkSize));
    chunks.push_back({src_offset + asked, dst_offset + asked, n});
    asked += n;
  }
  const Bytes payload = EncodeCopyChunkCopy(key, chunks);
  IoctlRequest io;
  io.ctl_code = kFsctlSrvCopychunkWrite;
  io.file_id = dst;
  io.input = payload;
  io.max_output_response = 12;  // SRV_COPYCHUNK_RESPONSE
  io.flags = kIoctlIsFsctl;
  Send(tree, TreeRequest(*tree, Command::kIoctl, io),
       [tree, key, dst, src_offset, dst_offset, length, done, asked, cb = std::move(cb)](Result<Response> r) {
         if (Forward(r, cb)) return;
         auto body = DecodeIoctlResponse(r->message);
         if (Forward(body, cb)) return;
         auto copied = ParseCopyChunkResponse(body->output);
         if (Forward(copied, cb)) return;
         const std::uint64_t n = std::min<std::uint64_t>(copied->total_bytes_written, asked);
         if (n < asked) return cb(done + n);
         CopyChunks(tree, key, dst, src_offset + n, dst_offset + n, length - n, done + n, cb);
       });
}

}  // namespace

void SmbFs::CopyRange(Handle src, std::uint64_t src_offset, Handle dst, std::uint64_t dst_offset, std::uint64_t length,
                      Callback<std::uint64_t> cb) {
  // MS-SMB2 3.2.4.20.1: the source's resume key first.
  IoctlRequest io;
  io.ctl_code = kFsctlSrvRequestResumeKey;
  io.file_id = ToFileId(src);
  io.max_output_response = 32;  // SRV_REQUEST_RESUME_KEY response without context
  io.flags = kIoctlIsFsctl;
  auto tree = tree_;
  Send(tree, TreeRequest(*tree, Command::kIoctl, io),
       [tree, dst = ToFileId(dst), src_offset, dst_offset, length, cb = std::move(cb)](Result<Response> r) {
         if (Forward(r, cb)) return;
         auto body = DecodeIoctlResponse(r->message);
         if (Forward(body, cb)) return;
         auto key = ParseResumeKeyResponse(body->output);
         if (Forward(key, cb)) return;
         CopyChunks(tree, *key, dst, src_offset, dst_offset, length, 0, cb);
       });
}

void SmbFs::HardLink(std::string existing, std::string new_path, Callback<void> cb) {
  auto src = ToSmbName(existing);
  if (Forward(src, cb)) return;
  auto dst = ToSmbName(new_path);
  if (Forward(dst, cb)) return;
  FileLinkInformation info;
  info.replace_if_exists = false;
  info.file_name = std::move(*dst);
  OpenActClose(tree_, MetaOpen(std::move(*src), kFileWriteAttributes),
               SetInfoRequestFor(*tree_, kFileLinkInformation, Encode(info)), [cb = std::move(cb)](Result<Response> r) {
                 if (Forward(r, cb)) return;
                 cb({});
               });
}

void SmbFs::StatFs(Callback<FsStats> cb) {
  auto name = ToSmbName("");
  if (Forward(name, cb)) return;
  OpenActClose(tree_, MetaOpen(std::move(*name), 0, kFileDirectoryFile),
               QueryInfoRequestFor(*tree_, kInfoFilesystem, kFileFsFullSizeInformation),
               [cb = std::move(cb)](Result<Response> r) {
                 if (Forward(r, cb)) return;
                 auto q = DecodeQueryInfoResponse(r->message);
                 if (Forward(q, cb)) return;
                 auto fs = ParseFileFsFullSizeInformation(q->buffer);
                 if (Forward(fs, cb)) return;
                 FsStats s;
                 const std::uint64_t unit = std::uint64_t{fs->sectors_per_allocation_unit} * fs->bytes_per_sector;
                 s.block_size = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(unit, 512, 1 << 20));
                 s.total_bytes = fs->total_allocation_units * unit;
                 s.free_bytes = fs->caller_available_allocation_units * unit;
                 cb(s);
               });
}

void SmbFs::Lock(Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait, Callback<void> cb) {
  LockWithSequence(h, offset, length, type, wait, 0, std::move(cb));
}

void SmbFs::LockWithSequence(Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait,
                             std::uint32_t sequence, Callback<void> cb) {
  LockRequest lr;
  lr.file_id = ToFileId(h);
  lr.lock_sequence_number = static_cast<std::uint8_t>(sequence & 0xF);
  lr.lock_sequence_index = sequence >> 4;
  LockElement e;
  e.offset = offset;
  e.length = length;
  switch (type) {
    case LockType::kShared:
      e.flags = kLockFlagSharedLock;
      break;
    case LockType::kExclusive:
      e.flags = kLockFlagExclusiveLock;
      break;
    case LockType::kUnlock:
      e.flags = kLockFlagUnlock;
      break;
  }
  // MS-SMB2 2.2.26.1: FAIL_IMMEDIATELY is only valid with a lock, not an unlock.
  if (!wait && type != LockType::kUnlock) e.flags |= kLockFlagFailImmediately;
  lr.locks.push_back(e);
  Request req = Mark(TreeRequest(*tree_, Command::kLock, lr));
  // A waiting lock stays pending on the server (interim STATUS_PENDING)
  // until the range is free: give it an hour, not the default deadline.
  if (wait) req.timeout = std::chrono::hours(1);
  Send(tree_, std::move(req), [cb = std::move(cb)](Result<Response> r) {
    if (Forward(r, cb)) return;
    cb({});
  });
}

}  // namespace smbgate::smb2
