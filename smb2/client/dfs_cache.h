// The DFS referral cache of one mount (MS-DFSC 3.1.1, 3.1.5.4): which path
// prefix ("\server\share\link") is referred to which targets, until when,
// and which target is in use. Paths are DFS paths with '\' separators and a
// leading '\'; prefixes match whole components, ASCII case-insensitively.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/common/result.h"
#include "smb2/codec/dfs_referral.h"

namespace smbgate::smb2 {

// "\server\share\rest..." split: server, share, and the rest '/'-separated
// (empty for the share root). Empty server or share: nullopt.
struct UncParts {
  std::string server;
  std::string share;
  std::string rest;
};
std::optional<UncParts> SplitUnc(const std::string& dfs_path);
// "\server\share" + "\a\b" for the '/'-separated `rest`.
std::string JoinUnc(const std::string& base, const std::string& rest);
// Whether `prefix` is `path` or a whole-component prefix of it (ASCII case
// insensitive).
bool CoversPath(const std::string& prefix, const std::string& path);

class DfsReferralCache {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    std::string prefix;                // the DFS path the referral covers
    std::vector<std::string> targets;  // "\server\share[\path]", in the server's order
    std::size_t active = 0;            // index into targets now in use
    Clock::time_point expires;         // TimeToLive after the answer
    std::uint32_t ttl_s = 0;
    bool root = false;                 // root targets (ServerType 1)
    std::uint64_t version = 0;         // raised by each change of `active`
    const std::string& target() const { return targets[active]; }
    bool expired(Clock::time_point now) const { return now >= expires; }
  };

  // Records the answer to a referral request for `request_path`. The covered
  // prefix is the entries' DFSPath when it prefixes the request (as Samba and
  // Windows fill it), else the first PathConsumed bytes of the request's
  // UTF-16 form (MS-DFSC 2.2.4). A self-referral (a namespace root whose only
  // target is itself, as a standalone root answers for its own share) is not
  // cached: it refers nowhere. A refreshed entry keeps its active target
  // when that target is still listed. Errors: errc::malformed_response (no
  // usable target, a prefix that is not one of the request path).
  // Returns the entry, or nullopt for a self-referral.
  Result<std::optional<Entry>> Insert(const std::string& request_path, const DfsReferralResponse& r,
                                      Clock::time_point now);
  // Records an entry learnt elsewhere (a domain namespace's root referral,
  // asked before the mount had a cache): it lives for its ttl_s from `now`
  // and replaces one of the same prefix. Errors: errc::malformed_response
  // (no target, `active` out of range, a prefix that is not a DFS path).
  Result<void> Put(Entry e, Clock::time_point now);
  // The entry with the longest prefix covering `path`, expired or not.
  std::optional<Entry> Find(const std::string& path) const;
  // `path` with the entry's prefix replaced by its active target.
  static std::string Rewrite(const Entry& e, const std::string& path);
  // Moves `prefix` on to the target after the one that failed, if the entry
  // is still at `version` (another request may have moved it already).
  // Returns the entry as it is afterwards.
  std::optional<Entry> Failover(const std::string& prefix, std::uint64_t version);
  // Every entry, for `smbgate check` and logs.
  std::vector<Entry> Entries() const;

 private:
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // a handful per mount: a linear scan is fine
};

}  // namespace smbgate::smb2
