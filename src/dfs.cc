#include "src/dfs.h"

#include <arpa/inet.h>

#include <algorithm>

#include "smb2/client/dfs_cache.h"
#include "smb2/client/dfs_referral_client.h"
#include "smb2/codec/errors.h"
#include "smb2/codec/tree.h"

namespace smbgate {
namespace {

// Referrals followed before giving up (links that point at each other).
constexpr int kMaxHops = 8;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

bool IsDfsShare(const smb2::Tree& tree) {
  return tree.share_flags() & (smb2::kShareFlagDfs | smb2::kShareFlagDfsRoot);
}

std::string DfsPathOf(const Target& t) { return smb2::JoinUnc("\\" + t.host + "\\" + t.share, t.subdir); }

Result<Target> TargetOfDfsPath(const std::string& dfs_path) {
  auto u = smb2::SplitUnc(dfs_path);
  if (!u) return make_error_code(smb2::errc::malformed_response);
  Target t;
  t.host = u->server;
  t.port = kDefaultSmbPort;
  t.share = u->share;
  t.subdir = u->rest;
  return t;
}

Result<ShareSession> FollowReferrals(const Target& target, ShareSession first, const Credentials& creds,
                                     const smb2::ConnectionOptions& opts, std::vector<DfsHop>* hops,
                                     Target* final_target, std::string* error) {
  Target cur = target;
  ShareSession share = std::move(first);
  smb2::DfsReferralCache cache;
  for (int hop = 0; hop < kMaxHops; ++hop) {
    // The root of a namespace share refers to itself: nothing to follow.
    if (!IsDfsShare(*share.tree) || cur.subdir.empty()) break;
    const std::string path = DfsPathOf(cur);
    auto resp = smb2::GetDfsReferral(share.session, cur.host, path);
    // STATUS_NOT_FOUND (Samba 4.17: STATUS_OBJECT_PATH_NOT_FOUND) when no
    // link covers the path: it is in this share.
    if (!resp) break;
    auto entry = cache.Insert(path, *resp, smb2::DfsReferralCache::Clock::now());
    if (!entry || !*entry) break;
    smb2::DfsReferralCache::Entry e = **entry;
    DfsHop h{e.prefix, e.targets, 0, e.ttl_s};
    Result<ShareSession> next = make_error_code(smb2::errc::malformed_response);
    Target next_target;
    for (std::size_t k = 0; k < e.targets.size(); ++k) {
      e.active = k;
      auto t = TargetOfDfsPath(smb2::DfsReferralCache::Rewrite(e, path));
      if (!t) continue;
      std::string msg;
      next = ConnectToShare(*t, creds, opts, "", &msg, {}, nullptr);
      if (next) {
        h.used = k;
        next_target = *t;
        break;
      }
      *error = "DFS target " + e.targets[k] + " of " + e.prefix + ": " + msg;
    }
    hops->push_back(h);
    if (!next) return next.error();
    (void)share.tree->Disconnect();
    (void)share.session->Logoff();
    share = std::move(*next);
    cur = next_target;
  }
  *final_target = cur;
  return share;
}

namespace {

bool IsIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// "\name" of a name list entry, or "name" as it came: the bare name.
std::string BareName(const std::string& n) {
  std::size_t i = 0;
  while (i < n.size() && n[i] == '\\') ++i;
  return n.substr(i);
}

}  // namespace

Result<std::optional<std::vector<Target>>> ResolveDomainRoot(
    const Target& target, const Credentials& creds, const smb2::ConnectionOptions& opts, const std::string& spn,
    std::vector<DfsHop>* hops, std::string* error, ConnectReport* report,
    const std::function<void(const AuthEvent&)>& on_auth) {
  using None = std::optional<std::vector<Target>>;
  if (IsIpLiteral(target.host) || target.share.empty()) return None{};
  Target ipc = target;
  ipc.share = "IPC$";
  ipc.subdir.clear();
  auto first = ConnectToShare(ipc, creds, opts, spn, error, on_auth, report);
  if (!first) return first.error();
  (void)first->tree->Disconnect();
  // MS-DFSC 3.1.4.1 step 5, 2.2.2: a DC referral is a request for the
  // domain name alone; a server that is not a DC of such a domain answers
  // it with an error (STATUS_NOT_FOUND, or STATUS_FS_DRIVER_REQUIRED when it
  // does no DFS).
  std::vector<std::string> dcs;
  if (auto dc = smb2::GetDfsReferral(first->session, target.host, "\\" + target.host)) {
    for (const smb2::DfsReferralEntry& e : dc->referrals) {
      if (!(e.referral_entry_flags & smb2::kDfsNameListReferral)) continue;
      for (const std::string& n : e.expanded_names) dcs.push_back(BareName(n));
    }
  }
  if (dcs.empty()) {
    (void)first->session->Logoff();
    return None{};
  }
  // MS-DFSC 3.1.4.1 step 6: the root referral, to a DC: the one connected
  // first (DNS picked it), then the others.
  const std::string path = DfsPathOf(target);
  const std::string root = "\\" + target.host + "\\" + target.share;
  Result<smb2::DfsReferralResponse> resp = smb2::GetDfsReferral(first->session, target.host, root);
  (void)first->session->Logoff();
  for (std::size_t k = 0; !resp && k < dcs.size(); ++k) {
    if (Lower(dcs[k]) == Lower(target.host)) continue;
    Target t = ipc;
    t.host = dcs[k];
    t.port = kDefaultSmbPort;
    std::string msg;
    auto s = ConnectToShare(t, creds, opts, "", &msg, {}, nullptr);
    if (!s) continue;
    (void)s->tree->Disconnect();
    resp = smb2::GetDfsReferral(s->session, t.host, root);
    (void)s->session->Logoff();
  }
  // A domain, but no namespace of that name: the share may still be one of
  // the DC's own (tree connect says).
  if (!resp) return None{};
  smb2::DfsReferralCache cache;
  auto entry = cache.Insert(path, *resp, smb2::DfsReferralCache::Clock::now());
  if (!entry || !*entry) return None{};
  smb2::DfsReferralCache::Entry e = **entry;
  // The targets kept and the hop's list stay index for index: the caller
  // mounts out[k] as hop.targets[k].
  std::vector<Target> out;
  std::vector<std::string> kept;
  for (std::size_t k = 0; k < e.targets.size(); ++k) {
    e.active = k;
    if (auto t = TargetOfDfsPath(smb2::DfsReferralCache::Rewrite(e, path))) {
      out.push_back(*t);
      kept.push_back(e.targets[k]);
    }
  }
  if (out.empty()) return None{};
  hops->push_back(DfsHop{e.prefix, kept, kept.size(), e.ttl_s});  // none used yet
  return std::optional<std::vector<Target>>(std::move(out));
}

void DfsSessions::Put(const std::string& server, const std::shared_ptr<smb2::Session>& s) {
  std::lock_guard<std::mutex> l(mu_);
  sessions_[Lower(server)] = s;
}

std::shared_ptr<smb2::Session> DfsSessions::Get(const std::string& server) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = sessions_.find(Lower(server));
  return it == sessions_.end() ? nullptr : it->second.lock();
}

}  // namespace smbgate
