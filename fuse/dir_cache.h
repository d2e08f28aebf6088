// DirCache: complete directory listings, kept for the attribute timeout
// (actimeo), so that lookups in a directory listed (or created) a moment
// ago need no round trip: a name in the listing is there, with its
// attributes; a name not in it is not (a negative entry). This mount's own
// changes (create, mkdir, unlink, rename) are applied to the listings at
// once; other clients' changes are seen when a listing expires, the same
// rule as for attributes.
//
// SMB names are case-insensitive (and case-preserving): a listing answers
// "absent" only for a name that is plain ASCII and matches no entry in any
// case, and "present" only for an exact match. Anything else (a name that
// differs from an entry only in case, a non-ASCII name the server may fold
// differently) is left to the server.
//
// Bounded: at most `max_entries` entries over all directories; the oldest
// listings go first, and a listing larger than the whole budget is not
// kept.
//
// Thread-safety: every member is safe to call from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "smb2/client/remote_fs.h"

namespace smbgate::fuse {

class DirCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit DirCache(std::size_t max_entries = 1 << 16);

  // The most entries it holds (a larger listing is not kept).
  std::size_t capacity() const { return max_entries_; }

  enum class Answer {
    kUnknown,  // ask the server
    kPresent,  // there; `attrs` set when known
    kAbsent,   // not there (until `expiry`)
  };
  struct Found {
    Answer answer = Answer::kUnknown;
    std::optional<smb2::FileAttributes> attrs;
    Clock::time_point expiry{};
  };

  // A change counter for `dir`: read it before asking the server for a
  // listing and pass it to Fill, which then stores nothing if this mount
  // changed the directory meanwhile (the listing may miss that change).
  std::uint64_t Generation(std::uint64_t dir) const;

  // Stores the complete listing of `dir`, valid until `expiry`.
  void Fill(std::uint64_t dir, std::uint64_t generation, const std::vector<smb2::DirectoryEntry>& entries,
            Clock::time_point expiry);

  Found Find(std::uint64_t dir, std::string_view name, Clock::time_point now) const;

  // Whether `dir` has an expired listing of at most `max` entries (worth
  // listing again rather than asking for one name).
  bool HadSmallListing(std::uint64_t dir, std::size_t max, Clock::time_point now) const;

  // This mount's changes. `attrs` may be empty (the entry is known to be
  // there; its attributes are not).
  void Added(std::uint64_t dir, std::string_view name, std::optional<smb2::FileAttributes> attrs);
  void Removed(std::uint64_t dir, std::string_view name);
  // The entry's attributes changed (a write, a setattr): keep the name,
  // drop the attributes (and count a change).
  void Touched(std::uint64_t dir, std::string_view name);
  // Drops the listing of `dir` (and counts a change).
  void Forget(std::uint64_t dir);

  std::size_t entries() const;

 private:
  struct Item {
    std::string name;  // as the server spells it
    std::optional<smb2::FileAttributes> attrs;
  };
  struct Listing {
    std::unordered_map<std::string, Item> items;  // by ASCII-lowercased name
    Clock::time_point expiry{};
    std::list<std::uint64_t>::iterator age;  // position in order_
  };

  void DropLocked(std::uint64_t dir);
  void ChangedLocked(std::uint64_t dir);
  void TrimLocked();

  const std::size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Listing> dirs_;
  std::unordered_map<std::uint64_t, std::uint64_t> generations_;  // directories changed at least once
  std::list<std::uint64_t> order_;                                // oldest listing first
  std::size_t total_ = 0;
  std::uint64_t clock_ = 0;  // source of generations
  std::uint64_t floor_ = 0;  // the generation of a directory without a counter
};

}  // namespace smbgate::fuse
