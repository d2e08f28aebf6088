#include "smb2/client/dfs_cache.h"

#include <algorithm>

#include "auth/common/utf16.h"
#include "smb2/codec/errors.h"

namespace smbgate::smb2 {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return Lower(x) == Lower(y);
         });
}

// One leading '\', no trailing one; '/' taken as '\' (Samba answers
// "127.0.0.1\dfs" when asked without the leading separator).
std::string Normalize(const std::string& p) {
  std::string out = "\\";
  for (char c : p) {
    if (c == '/' || c == '\\') {
      if (out.back() != '\\') out += '\\';
    } else {
      out += c;
    }
  }
  if (out.size() > 1 && out.back() == '\\') out.pop_back();
  return out;
}

}  // namespace

std::optional<UncParts> SplitUnc(const std::string& dfs_path) {
  const std::string p = Normalize(dfs_path);
  UncParts u;
  std::size_t i = 1;
  auto next = [&]() {
    const std::size_t j = std::min(p.find('\\', i), p.size());
    std::string c = p.substr(i, j - i);
    i = j + 1;
    return c;
  };
  u.server = next();
  if (i > p.size()) return std::nullopt;
  u.share = next();
  if (u.server.empty() || u.share.empty()) return std::nullopt;
  if (i < p.size()) {
    u.rest = p.substr(i);
    std::replace(u.rest.begin(), u.rest.end(), '\\', '/');
  }
  return u;
}

std::string JoinUnc(const std::string& base, const std::string& rest) {
  std::string out = Normalize(base);
  if (!rest.empty()) out = Normalize(out + "\\" + rest);
  return out;
}

bool CoversPath(const std::string& prefix, const std::string& path) {
  const std::string a = Normalize(prefix), b = Normalize(path);
  if (b.size() < a.size() || !EqualNoCase(a, std::string_view(b).substr(0, a.size()))) return false;
  return b.size() == a.size() || b[a.size()] == '\\' || a == "\\";
}

Result<std::optional<DfsReferralCache::Entry>> DfsReferralCache::Insert(const std::string& request_path,
                                                                       const DfsReferralResponse& r,
                                                                       Clock::time_point now) {
  const std::string req = Normalize(request_path);
  Entry e;
  std::uint32_t ttl = 0;
  bool have_ttl = false;
  for (const DfsReferralEntry& d : r.referrals) {
    // Name list entries answer domain and DC referrals (MS-DFSC 3.1.4.1),
    // which a path request does not get.
    if (d.referral_entry_flags & kDfsNameListReferral) continue;
    if (d.network_address.empty()) continue;
    if (e.prefix.empty() && !d.dfs_path.empty() && CoversPath(d.dfs_path, req)) {
      e.prefix = req.substr(0, Normalize(d.dfs_path).size());
    }
    e.targets.push_back(Normalize(d.network_address));
    e.root = d.server_type == kDfsServerTypeRoot;
    // MS-DFSC 3.1.5.4.3: the entry lives for the TimeToLive of the
    // referral; several targets may differ, the shortest wins.
    ttl = have_ttl ? std::min(ttl, d.time_to_live) : d.time_to_live;
    have_ttl = true;
  }
  if (e.targets.empty()) return errc::malformed_response;
  if (e.prefix.empty()) {
    // PathConsumed counts bytes of the request's UTF-16 form.
    Bytes wide;
    std::string prefix;
    if (!Utf8ToUtf16le(req, &wide) || r.path_consumed % 2 || r.path_consumed > wide.size() ||
        !Utf16leToUtf8(ByteSpan(wide).first(r.path_consumed), &prefix) || !CoversPath(prefix, req) ||
        prefix.size() < 2) {
      return errc::malformed_response;
    }
    e.prefix = Normalize(prefix);
  }
  if (e.targets.size() == 1 && EqualNoCase(e.targets[0], e.prefix)) return std::optional<Entry>();
  e.ttl_s = ttl;
  e.expires = now + std::chrono::seconds(ttl);
  std::lock_guard<std::mutex> l(mu_);
  for (Entry& old : entries_) {
    if (!EqualNoCase(old.prefix, e.prefix)) continue;
    // A refresh: stay on the target in use while it is still offered.
    const std::string current = old.target();
    for (std::size_t k = 0; k < e.targets.size(); ++k) {
      if (EqualNoCase(e.targets[k], current)) e.active = k;
    }
    e.version = old.version + 1;
    old = e;
    return std::optional<Entry>(e);
  }
  entries_.push_back(e);
  return std::optional<Entry>(e);
}

Result<void> DfsReferralCache::Put(Entry e, Clock::time_point now) {
  if (e.targets.empty() || e.active >= e.targets.size() || !SplitUnc(e.prefix)) return errc::malformed_response;
  e.prefix = Normalize(e.prefix);
  for (std::string& t : e.targets) t = Normalize(t);
  e.expires = now + std::chrono::seconds(e.ttl_s);
  std::lock_guard<std::mutex> l(mu_);
  for (Entry& old : entries_) {
    if (!EqualNoCase(old.prefix, e.prefix)) continue;
    e.version = old.version + 1;
    old = std::move(e);
    return {};
  }
  entries_.push_back(std::move(e));
  return {};
}

std::optional<DfsReferralCache::Entry> DfsReferralCache::Find(const std::string& path) const {
  std::lock_guard<std::mutex> l(mu_);
  const Entry* best = nullptr;
  for (const Entry& e : entries_) {
    if (CoversPath(e.prefix, path) && (!best || e.prefix.size() > best->prefix.size())) best = &e;
  }
  if (!best) return std::nullopt;
  return *best;
}

std::string DfsReferralCache::Rewrite(const Entry& e, const std::string& path) {
  const std::string p = Normalize(path);
  std::string rest = p.size() > e.prefix.size() ? p.substr(e.prefix.size() + 1) : "";
  std::replace(rest.begin(), rest.end(), '\\', '/');
  return JoinUnc(e.target(), rest);
}

std::optional<DfsReferralCache::Entry> DfsReferralCache::Failover(const std::string& prefix, std::uint64_t version) {
  std::lock_guard<std::mutex> l(mu_);
  for (Entry& e : entries_) {
    if (!EqualNoCase(e.prefix, prefix)) continue;
    if (e.version == version) {
      e.active = (e.active + 1) % e.targets.size();
      ++e.version;
    }
    return e;
  }
  return std::nullopt;
}

std::vector<DfsReferralCache::Entry> DfsReferralCache::Entries() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_;
}

}  // namespace smbgate::smb2
