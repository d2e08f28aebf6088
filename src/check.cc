#include "src/check.h"

#include <chrono>
#include <cstdio>
#include <optional>

#include "smb2/client/names.h"
#include "smb2/codec/negotiate.h"
#include "smb2/codec/status.h"
#include "src/connect.h"
#include "src/credentials.h"
#include "src/dfs.h"
#include "src/logging.h"
#include "src/target.h"

namespace smbgate {
namespace {

constexpr const char* kUsage =
    "usage: smbgate check //HOST[:PORT]/SHARE --credentials PATH [--vers 2.0|2.1|3.0|3.02|3.1.1] "
    "[--timeout SECONDS] [--seal] [--spn SPN] [--output text|json]";

struct CheckArgs {
  std::string target;
  std::string credentials;
  std::optional<std::uint16_t> vers;
  int timeout_s = 30;
  bool seal = false;
  std::string spn;  // empty: DefaultSpn(target)
  bool json = false;
};

// Accepts `--name VALUE` and `--name=VALUE`.
bool TakeValue(const std::vector<std::string>& a, std::size_t& i, const std::string& name, std::string* v) {
  if (a[i] == name) {
    if (i + 1 >= a.size()) return false;
    *v = a[++i];
    return true;
  }
  if (a[i].rfind(name + "=", 0) == 0) {
    *v = a[i].substr(name.size() + 1);
    return true;
  }
  return false;
}

std::optional<CheckArgs> Parse(const std::vector<std::string>& a, std::ostream& err) {
  CheckArgs c;
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::string v;
    if (TakeValue(a, i, "--credentials", &v)) {
      c.credentials = v;
    } else if (TakeValue(a, i, "--vers", &v)) {
      c.vers = smb2::ParseDialect(v);
      if (!c.vers) {
        err << "check: --vers " << v << " is not a dialect (use 2.0, 2.1, 3.0, 3.02 or 3.1.1)\n";
        return std::nullopt;
      }
    } else if (TakeValue(a, i, "--timeout", &v)) {
      char* end = nullptr;
      const long t = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || t < 1 || t > 3600) {
        err << "check: --timeout " << v << " is not a number of seconds from 1 to 3600\n";
        return std::nullopt;
      }
      c.timeout_s = static_cast<int>(t);
    } else if (TakeValue(a, i, "--spn", &v)) {
      std::string why;
      if (!ValidateSpn(v, &why)) {
        err << "check: --spn " << why << "\n";
        return std::nullopt;
      }
      c.spn = v;
    } else if (TakeValue(a, i, "--output", &v)) {
      if (v != "text" && v != "json") {
        err << "check: --output " << v << " is not an output format (use text or json)\n";
        return std::nullopt;
      }
      c.json = v == "json";
    } else if (a[i] == "--seal") {
      c.seal = true;
    } else if (a[i].rfind("-", 0) == 0) {
      err << "check: unknown option " << a[i] << "\n" << kUsage << "\n";
      return std::nullopt;
    } else if (c.target.empty()) {
      c.target = a[i];
    } else {
      err << "check: unexpected argument " << a[i] << " (one share at a time)\n" << kUsage << "\n";
      return std::nullopt;
    }
  }
  if (c.target.empty() || c.credentials.empty()) {
    err << "check: " << (c.target.empty() ? "the share" : "--credentials PATH") << " is missing\n"
        << kUsage << "\n";
    return std::nullopt;
  }
  return c;
}

}  // namespace

int RunCheck(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto parsed = Parse(args, err);
  if (!parsed) return 2;
  std::string msg;
  auto target = ParseTarget(parsed->target, &msg);
  if (!target) {
    err << msg << "\n";
    return 2;
  }
  std::vector<std::string> warnings;
  auto creds = LoadCredentials(parsed->credentials, &warnings, &msg);
  for (const auto& w : warnings) err << "warning: " << w << "\n";
  if (!creds) {
    err << msg << "\n";
    return 2;
  }
  smb2::ConnectionOptions opts;
  opts.connect_timeout = std::chrono::seconds(parsed->timeout_s);
  opts.request_timeout = std::chrono::seconds(parsed->timeout_s);
  if (parsed->vers) opts.min_dialect = opts.max_dialect = *parsed->vers;
  opts.seal = parsed->seal;
  ConnectReport rep;
  // A domain-based namespace: its root servers, from the domain's DCs; else
  // the share as named.
  std::vector<DfsHop> hops;
  Target final_target = *target;
  Result<ShareSession> share = make_error_code(smb2::errc::malformed_response);
  auto roots = ResolveDomainRoot(*target, *creds, opts, parsed->spn, &hops, &msg, &rep);
  if (!roots) {
    share = roots.error();
  } else if (!*roots) {
    share = ConnectToShare(*target, *creds, opts, parsed->spn, &msg, {}, &rep);
  } else {
    for (std::size_t k = 0; k < (*roots)->size() && !share; ++k) {
      const Target& t = (**roots)[k];
      std::string why;
      rep = ConnectReport{};
      share = ConnectToShare(t, *creds, opts, "", &why, {}, &rep);
      if (share) {
        hops.back().used = k;
        final_target = t;
      } else {
        msg = "DFS root target " + hops.back().targets[k] + " of " + hops.back().prefix + ": " + why;
      }
    }
  }
  // A DFS namespace: follow its referrals to the share that holds the path
  // and describe that one below, after the chain.
  if (share && IsDfsShare(*share->tree)) {
    const Target from = final_target;
    share = FollowReferrals(from, *share, *creds, opts, &hops, &final_target, &msg);
    if (!share) {
      rep.failed_stage = "dfs_referral";
      rep.error = share.error();
    }
  }
  auto referrals_json = [&] {
    if (hops.empty()) return std::string();
    std::string j = ",\"referrals\":[";
    for (std::size_t k = 0; k < hops.size(); ++k) {
      j += std::string(k ? "," : "") + "{\"path\":\"" + JsonEscape(hops[k].prefix) + "\",\"targets\":[";
      for (std::size_t t = 0; t < hops[k].targets.size(); ++t) {
        j += std::string(t ? "," : "") + "\"" + JsonEscape(hops[k].targets[t]) + "\"";
      }
      j += "],\"used\":\"" + (hops[k].used < hops[k].targets.size() ? JsonEscape(hops[k].targets[hops[k].used]) : "") +
           "\",\"ttl_s\":" + std::to_string(hops[k].ttl_s) + "}";
    }
    return j + "],\"target\":\"" + JsonEscape(final_target.ToString()) + "\"";
  };
  auto referrals_text = [&] {
    std::string t;
    for (const DfsHop& h : hops) {
      t += "referral: " + h.prefix + " ->";
      for (std::size_t k = 0; k < h.targets.size(); ++k) {
        t += (k ? ", " : " ") + h.targets[k] + (k == h.used ? " (used)" : "");
      }
      t += " (ttl " + std::to_string(h.ttl_s) + " s)\n";
    }
    if (!hops.empty()) t += "target: " + final_target.ToString() + "\n";
    return t;
  };
  // Each stage's time, in the order they run; a stage not reached is left
  // out of the JSON.
  auto ms = [](std::chrono::microseconds us) { return us.count() / 1000.0; };
  const std::string stages[] = {"dns", "connect", "negotiate", "session_setup", "tree_connect"};
  const double values[] = {ms(rep.dns), ms(rep.connect), ms(rep.negotiate), ms(rep.session_setup),
                           ms(rep.tree_connect)};
  auto fmt = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return std::string(b);
  };
  auto stage_times_json = [&] {
    std::string j;
    for (std::size_t k = 0; k < 5 && stages[k] != rep.failed_stage; ++k) {
      j += ",\"" + stages[k] + "_ms\":" + fmt(values[k]);
    }
    return j;
  };
  if (!share) {
    const std::error_code ec = rep.error;
    const std::string status = smb2::IsNtStatus(ec) ? smb2::NtStatusName(smb2::NtStatusOf(ec)) : "";
    const std::string fix = LikelyFix(rep.failed_stage, ec);
    if (parsed->json) {
      out << "{\"result\":\"failed\",\"server\":\"" << JsonEscape(DisplayServer(*target)) << "\",\"share\":\""
          << JsonEscape(target->UncPath()) << "\",\"user\":\"" << JsonEscape(DisplayUser(*creds))
          << "\",\"stage\":\"" << rep.failed_stage << "\",\"error\":\"" << JsonEscape(msg)
          << "\",\"ntstatus\":\"" << status << "\",\"class\":\"" << AuthFailureClass(ec)
          << "\",\"likely_fix\":\"" << JsonEscape(fix) << "\"" << stage_times_json() << referrals_json() << "}\n";
    } else {
      err << referrals_text() << msg << (fix.empty() ? "" : " (likely fix: " + fix + ")") << "\n";
    }
    return 1;
  }
  const auto& [conn, session, tree] = *share;
  const smb2::NegotiatedState& n = conn->negotiated();
  if (parsed->json) {
    out << "{\"result\":\"ok\",\"server\":\"" << JsonEscape(DisplayServer(*target)) << "\",\"share\":\""
        << JsonEscape(target->UncPath()) << "\",\"user\":\"" << JsonEscape(DisplayUser(*creds))
        << "\",\"dialect\":\"" << smb2::DialectName(n.dialect) << "\",\"signing\":\""
        << smb2::SigningAlgorithmName(n.signing_algorithm) << "\",\"encryption\":\""
        << EncryptionName(n, *session, tree.get()) << "\"" << stage_times_json() << ",\"share_type\":\""
        << smb2::ShareTypeName(tree->share_type()) << "\",\"max_read\":" << n.max_read_size
        << ",\"max_write\":" << n.max_write_size << referrals_json() << "}\n";
  } else {
    out << "server: " << DisplayServer(*target) << "\n"
        << "share: " << target->UncPath() << "\n"
        << referrals_text()
        << "user: " << DisplayUser(*creds) << "\n"
        << "dialect: " << smb2::DialectName(n.dialect) << "\n"
        << "signing: " << smb2::SigningAlgorithmName(n.signing_algorithm) << "\n"
        << "encryption: " << EncryptionName(n, *session, tree.get()) << "\n"
        << "auth_ms: " << fmt(values[3]) << "\n";
    for (std::size_t k = 0; k < 5; ++k) out << stages[k] << "_ms: " << fmt(values[k]) << "\n";
    out << "share_type: " << smb2::ShareTypeName(tree->share_type()) << "\n"
        << "max_read: " << n.max_read_size << "\n"
        << "max_write: " << n.max_write_size << "\n";
  }
  // Leave politely: TREE_DISCONNECT and LOGOFF, both signed.
  (void)tree->Disconnect();
  (void)session->Logoff();
  return 0;
}

}  // namespace smbgate
