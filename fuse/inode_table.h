// InodeTable: FUSE node ids for the paths of a path-based protocol. Ids are
// generated 64-bit numbers (never pointers), each with the kernel's lookup
// count; a node lives until the kernel forgets it. Renames move whole
// subtrees; an unlinked node keeps its id (an open file stays usable) but
// has no path any more.
//
// Memory (a directory of a million files listed with `ls -l` makes a million
// nodes): a node is 56 bytes in a slab plus 4 to 8 in the children index,
// with names of up to 22 bytes inside it; attributes are cached for at most
// kMaxAttrs nodes. Both give their memory back as the kernel forgets nodes.
//
// Thread-safety: every member is safe to call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "smb2/client/remote_fs.h"

namespace smbgate::fuse {

class InodeTable {
 public:
  static constexpr std::uint64_t kRoot = 1;  // FUSE_ROOT_ID
  using Clock = std::chrono::steady_clock;

  InodeTable();

  // The node of `name` in directory `parent`, created if new; the kernel's
  // lookup count goes up by one. 0 if `parent` is unknown.
  std::uint64_t Lookup(std::uint64_t parent, std::string_view name);
  // The node of `name` in `parent` if the table has one (lookup count
  // unchanged), else 0.
  std::uint64_t Child(std::uint64_t parent, std::string_view name) const;
  // Drops `n` kernel references; the node is freed at zero (never the root).
  void Forget(std::uint64_t ino, std::uint64_t n);

  // '/'-separated path from the share root ("" for the root), or nullopt if
  // the node is unknown or was unlinked.
  std::optional<std::string> Path(std::uint64_t ino) const;
  // The path `name` would have in `parent`.
  std::optional<std::string> ChildPath(std::uint64_t parent, std::string_view name) const;

  // Moves the entry; a node that was at the target is detached.
  void Rename(std::uint64_t old_parent, std::string_view old_name, std::uint64_t new_parent, std::string_view new_name);
  // Detaches the entry (after unlink/rmdir).
  void Remove(std::uint64_t parent, std::string_view name);

  // The directory and name of a node; nullopt for the root and for unknown
  // or unlinked nodes.
  std::optional<std::pair<std::uint64_t, std::string>> Parent(std::uint64_t ino) const;

  // Attribute cache, valid until `expiry`; `symlink`: the file is an
  // mfsymlink (its attributes alone cannot tell). Owned attributes stay.
  void SetAttributes(std::uint64_t ino, const smb2::FileAttributes& a, Clock::time_point expiry, bool symlink = false);
  std::optional<smb2::FileAttributes> CachedAttributes(std::uint64_t ino) const;
  struct Cached {
    smb2::FileAttributes attrs;
    bool symlink = false;
    Clock::time_point expiry;
    bool owned = false;  // see Own
  };
  // The cached attributes while valid (owned ones always, with an expiry
  // owned_timeout from now).
  std::optional<Cached> Fresh(std::uint64_t ino) const;

  // ---- attributes this mount owns --------------------------------------
  // While this mount holds a file's write lease (MS-SMB2 2.2.13.2.8) and has
  // it open for writing, no other client can open or change it: the
  // server's attributes of it are what this mount last learned plus what its
  // own writes did since. They are kept without expiry, moved by Wrote, and
  // answer stats with no round trip (an untar's fchmod and the kernel's
  // getattr after each write).
  void SetOwnedTimeout(Clock::duration d);
  // Counts this mount's writes to `ino`, for Own.
  std::uint64_t WriteCount(std::uint64_t ino) const;
  // Takes `a` as the owned attributes of `ino` if no write came since
  // `write_count` was read (else the attributes are dropped: they may lack
  // that write's size). The caller holds the write lease. `time_set`: the
  // modification time in `a` was set explicitly, and the server keeps it
  // through later writes (Samba's sticky write time, as NTFS does for
  // MS-FSCC 2.4.7's LastWriteTime) until every handle of the file is closed
  // (Closed).
  // Owning moves the count too: an answer asked for before this one is
  // older and is not owned after it.
  void Own(std::uint64_t ino, const smb2::FileAttributes& a, std::uint64_t write_count, bool time_set = false);
  // A setattr set the modification time: the server keeps it through later
  // writes until the last close (see Own), owned or not.
  void TimeSet(std::uint64_t ino);
  // The lease or the writable handle is gone: attributes are cached again
  // for actimeo only, and dropped now (`keep_dos` as in InvalidateAttributes).
  void Disown(std::uint64_t ino, bool keep_dos);
  // The last handle of `ino` was closed: Disown, and a time set explicitly
  // no longer holds against writes.
  void Closed(std::uint64_t ino);
  // A write of this mount is on its way in: the write count moves (before
  // it is queued, and again once it is), cached attributes that are not
  // owned are dropped (DOS attributes kept).
  void Writing(std::uint64_t ino);
  // The write, queued, reaches up to offset `end`, at `now` (FILETIME): an
  // owned file grows and takes the time as its modification and change
  // time (called before the write is answered, and only for a write that
  // is queued: a drain after it waits for it).
  void Wrote(std::uint64_t ino, std::uint64_t end, std::uint64_t now);
  bool Owned(std::uint64_t ino) const;
  // This mount changed `ino` in a way it cannot follow (a server-side
  // copy): not owned, attributes dropped (DOS kept), and the write count
  // moves.
  void Changed(std::uint64_t ino);
  // Drops the cached attributes. `keep_dos`: the file's DOS attributes
  // stay known until the old expiry (this mount's writes change sizes and
  // times, never those; another client's changes end them too).
  void InvalidateAttributes(std::uint64_t ino, bool keep_dos = false);
  // The DOS attributes (FileAttributes.file_attributes) fetched less than
  // actimeo ago, through writes of this mount.
  std::optional<std::uint32_t> DosAttributes(std::uint64_t ino) const;
  // A directory whose entries this mount changed: the server moved its
  // modification and change times to about `now` (FILETIME); so does the
  // cached copy, which keeps its expiry.
  void Modified(std::uint64_t ino, std::uint64_t now);

  // Number of live nodes, the root included (for tests and metrics).
  std::size_t size() const;

 private:
  // A name of at most 255 UTF-16 characters (765 bytes of UTF-8): up to 22
  // bytes inside the node (most names), longer ones on the heap. 24 bytes.
  class Name {
   public:
    Name() = default;
    Name(const Name&) = delete;
    Name& operator=(const Name&) = delete;
    ~Name() { Clear(); }
    void Set(std::string_view v);
    void Clear();
    std::string_view view() const {
      if (small()) return {reinterpret_cast<const char*>(raw_), raw_[kInline]};
      const char* p;
      std::uint32_t len;
      std::memcpy(&p, raw_, sizeof p);
      std::memcpy(&len, raw_ + sizeof p, sizeof len);
      return {p, len};
    }

   private:
    // raw_: the bytes and, at kInline, their count; or a heap pointer and a
    // 32-bit length, with kHeap in the last byte.
    static constexpr std::size_t kInline = 22;
    static constexpr unsigned char kHeap = 0xFF;
    bool small() const { return raw_[kInline + 1] != kHeap; }
    alignas(8) unsigned char raw_[kInline + 2] = {};
  };
  // One node: 56 bytes, in chunks of kChunk (slot number = the low 32 bits
  // of its id, the slot's generation the high ones, so ids are never
  // reused); its attributes live apart in a bounded table.
  struct Node {
    std::uint64_t parent = 0;
    std::uint64_t nlookup = 0;
    Name name;
    std::uint32_t gen = 0;
    std::uint32_t writes = 0;  // this mount's writes, for Own
    std::uint8_t flags = 0;    // kUsed | kDetached | kOwned | kTimeSet
  };
  // A chunk's memory goes back once none of its nodes is in use.
  static constexpr std::uint32_t kChunk = 4096;
  struct Chunk {
    std::unique_ptr<Node[]> nodes;    // null while released
    std::vector<std::uint16_t> free;  // its free slots
    std::uint32_t used = 0;
    std::uint32_t next_gen = 0;  // the generation its slots start at when made again
    bool roomy = false;          // listed in roomy_
  };
  static constexpr std::uint8_t kUsed = 1, kDetached = 2, kOwned = 4, kTimeSet = 8;
  struct Attrs {
    smb2::FileAttributes attrs;
    Clock::time_point expiry{};
    Clock::time_point dos_expiry{};
    bool symlink = false;
  };
  // Attributes are kept for at most this many nodes (owned ones always):
  // past it, expired and then other entries go.
  static constexpr std::size_t kMaxAttrs = 1 << 16;

  Node* Find(std::uint64_t ino);
  const Node* Find(std::uint64_t ino) const;
  // The node in `slot` (in use).
  Node& At(std::uint32_t slot) { return chunks_[slot / kChunk].nodes[slot % kChunk]; }
  const Node& At(std::uint32_t slot) const { return chunks_[slot / kChunk].nodes[slot % kChunk]; }
  std::uint64_t IdOf(std::uint32_t slot) const { return (std::uint64_t{At(slot).gen} << 32) | slot; }
  std::uint32_t AllocateLocked();
  std::optional<std::string> PathLocked(std::uint64_t ino) const;
  void DetachLocked(std::uint32_t slot);
  void FreeLocked(std::uint32_t slot);
  // Attributes of a node: the entry, or null / a new one.
  Attrs* AttrsOf(std::uint64_t ino);
  const Attrs* AttrsOf(std::uint64_t ino) const;
  Attrs& AttrsFor(std::uint64_t ino);
  void TrimAttrsLocked();
  void ExpireLocked(std::uint64_t ino, bool keep_dos);

  // The children index: slots of attached nodes by (parent, name), open
  // addressing with linear probing (4 bytes a slot, at most half full).
  static std::size_t HashOf(std::uint64_t parent, std::string_view name);
  // The index position holding (parent, name), or the first free one after
  // its probe sequence when absent (*found false).
  std::size_t Probe(std::uint64_t parent, std::string_view name, bool* found) const;
  std::uint32_t ChildLocked(std::uint64_t parent, std::string_view name) const;
  void IndexLocked(std::uint32_t slot);
  void UnindexLocked(std::uint64_t parent, std::string_view name);
  void ResizeIndexLocked(std::size_t capacity);

  mutable std::mutex mu_;
  std::vector<Chunk> chunks_;         // slot 0 never used (0 marks a free index cell)
  std::vector<std::uint32_t> roomy_;  // chunks that may have a free slot
  std::size_t used_ = 0;
  std::vector<std::uint32_t> index_;
  std::size_t index_used_ = 0, index_dead_ = 0;
  std::unordered_map<std::uint64_t, Attrs> attrs_;
  Clock::duration owned_timeout_ = std::chrono::seconds(1);
};

}  // namespace smbgate::fuse
