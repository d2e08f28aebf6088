// DFS namespaces for `smbgate mount` and `smbgate check`: whether a share is a
// DFS namespace, its DFS path, and following its referrals to the final
// target share (MS-DFSC 3.1.4.2, 3.1.5.4).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <map>
#include <string>
#include <vector>

#include "smb2/client/session.h"
#include "src/connect.h"
#include "src/target.h"

namespace smbgate {

// Whether the tree is a DFS share (SMB2_SHAREFLAG_DFS or _DFS_ROOT, MS-SMB2
// 2.2.10): its paths may lie under links to other servers.
bool IsDfsShare(const smb2::Tree& tree);
// "\host\share\sub\dir" for //host/share/sub/dir (no port: DFS paths have none).
std::string DfsPathOf(const Target& t);
// //server/share/rest for "\server\share\rest" on port 445 (referrals carry
// no port, MS-DFSC 2.2.5).
Result<Target> TargetOfDfsPath(const std::string& dfs_path);

// One referral followed: the path it covers, its targets, the one used.
struct DfsHop {
  std::string prefix;
  std::vector<std::string> targets;
  std::size_t used = 0;
  std::uint32_t ttl_s = 0;
};

// From the connected share `first` of `target`, follows the referrals of the
// target's path: each step asks the server whether a link covers the path
// and connects to the first target of the link that answers (the next one
// when it does not). On success `*final_target` and the returned session
// are the share that holds the path. Blocking. Errors: the last target's
// failure, with its line in *error.
Result<ShareSession> FollowReferrals(const Target& target, ShareSession first, const Credentials& creds,
                                     const smb2::ConnectionOptions& opts, std::vector<DfsHop>* hops,
                                     Target* final_target, std::string* error);

// A domain-based namespace (MS-DFSC 3.1.4.1): when `target.host` names an
// Active Directory domain (`//corp.example.com/dfs/...`), its domain
// controllers answer a DC referral for "\domain" (their own names) and a
// root referral for "\domain\namespace" (the namespace's root servers).
// Asks the server `target.host` resolves to (for a domain: one of its DCs,
// through DNS) for both, then the other DCs of the list for the root
// referral if that one cannot answer. Returns the root targets, each as the
// Target to mount (the subdirectory carried over), in the server's order
// and with the hop in *hops; nullopt when the host is not a domain (an IP
// address, a server that answers no DC referral): mount it as it is. Errors:
// the host cannot be reached or refuses the credentials (*error and
// *report as ConnectToShare's, so callers report it as they would that).
// `spn` and `on_auth` go to the session setup with `target.host`, as
// ConnectToShare's: the one logon of a mount that fails is logged and
// counted like any other.
Result<std::optional<std::vector<Target>>> ResolveDomainRoot(
    const Target& target, const Credentials& creds, const smb2::ConnectionOptions& opts, const std::string& spn,
    std::vector<DfsHop>* hops, std::string* error, ConnectReport* report,
    const std::function<void(const AuthEvent&)>& on_auth = {});

// The sessions of a DFS mount, by server, for referral requests on a session
// that already exists. Thread-safe.
class DfsSessions {
 public:
  void Put(const std::string& server, const std::shared_ptr<smb2::Session>& s);
  std::shared_ptr<smb2::Session> Get(const std::string& server);

 private:
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<smb2::Session>> sessions_;
};

}  // namespace smbgate
