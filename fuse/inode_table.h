// InodeTable: FUSE node ids for the paths of a path-based protocol. Ids are
// generated 64-bit numbers (never pointers), each with the kernel's lookup
// count; a node lives until the kernel forgets it. Renames move whole
// subtrees; an unlinked node keeps its id (an open file stays usable) but
// has no path any more.
//
// Thread-safety: every member is safe to call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

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
  void Own(std::uint64_t ino, const smb2::FileAttributes& a, std::uint64_t write_count, bool time_set = false);
  // The lease or the writable handle is gone: attributes are cached again
  // for actimeo only, and dropped now (`keep_dos` as in InvalidateAttributes).
  void Disown(std::uint64_t ino, bool keep_dos);
  // The last handle of `ino` was closed: Disown, and a time set explicitly
  // no longer holds against writes.
  void Closed(std::uint64_t ino);
  // A write of this mount reaching up to offset `end`, at `now` (FILETIME):
  // an owned file grows and takes the time as its modification and change
  // time; other cached attributes are dropped, DOS attributes kept.
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
  struct Node {
    std::uint64_t parent = 0;
    std::string name;
    std::uint64_t nlookup = 0;
    bool detached = false;
    bool symlink = false;
    bool owned = false;
    bool time_set = false;  // see Own
    std::uint64_t writes = 0;
    smb2::FileAttributes attrs;
    Clock::time_point attrs_expiry{};
    Clock::time_point dos_expiry{};
  };
  struct Key {
    std::uint64_t parent;
    std::string name;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<std::string>()(k.name) ^ (k.parent * 0x9E3779B97F4A7C15ull);
    }
  };

  std::optional<std::string> PathLocked(std::uint64_t ino) const;
  void DetachLocked(std::uint64_t ino);

  mutable std::mutex mu_;
  std::uint64_t next_id_ = kRoot + 1;
  Clock::duration owned_timeout_ = std::chrono::seconds(1);
  std::unordered_map<std::uint64_t, Node> nodes_;
  std::unordered_map<Key, std::uint64_t, KeyHash> children_;
};

}  // namespace smbgate::fuse
