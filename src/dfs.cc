#include "src/dfs.h"

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
