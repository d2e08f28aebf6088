#include "src/connect.h"

#include <chrono>

#include "smb2/client/names.h"
#include "smb2/codec/status.h"

namespace smbgate {

std::string DisplayUser(const Credentials& c) { return c.domain.empty() ? c.user : c.domain + "\\" + c.user; }

std::string DisplayServer(const Target& t) { return t.HostForDisplay() + ":" + std::to_string(t.port); }

std::string EncryptionName(const smb2::NegotiatedState& n, const smb2::Session& session, const smb2::Tree* tree) {
  const bool encrypted = session.encrypted() || (tree != nullptr && tree->encrypted());
  return std::string(encrypted ? smb2::CipherName(n.cipher_id) : smb2::CipherName(0));
}

std::string_view AuthFailureClass(const std::error_code& ec) {
  namespace st = smb2::status;
  if (!ec) return "success";
  if (smb2::IsNtStatus(ec)) {
    switch (smb2::NtStatusOf(ec)) {
      case st::kLogonFailure:
      case st::kWrongPassword:
      case st::kNoSuchUser:
        return "wrong_password";
      case st::kAccountLockedOut:
        return "locked";
      case st::kPasswordExpired:
      case st::kPasswordMustChange:
      case st::kAccountExpired:
        return "expired";
      case st::kAccountDisabled:
      case st::kAccountRestriction:
      case st::kInvalidLogonHours:
      case st::kInvalidWorkstation:
      case st::kLogonTypeNotGranted:
        return "disabled";
      case st::kAccessDenied:
        return "refused_by_policy";
      default:
        return "server_error";
    }
  }
  if (ec.category() == smb2::client_category()) {
    switch (static_cast<smb2::client_errc>(ec.value())) {
      case smb2::client_errc::connection_lost:
      case smb2::client_errc::timeout:
      case smb2::client_errc::credits_exhausted:
      case smb2::client_errc::host_not_found:
        return "unreachable";
      case smb2::client_errc::guest_session_refused:
      case smb2::client_errc::signing_not_supported:
      case smb2::client_errc::encryption_unavailable:
      case smb2::client_errc::no_common_dialect:
      case smb2::client_errc::downgrade_refused:
      case smb2::client_errc::validate_negotiate_failed:
        return "refused_by_policy";
      default:
        return "protocol_error";
    }
  }
  if (ec.category() == std::system_category() || ec.category() == std::generic_category()) return "unreachable";
  return "protocol_error";
}

std::string LikelyFix(const std::string& stage, const std::error_code& ec) {
  namespace st = smb2::status;
  if (stage == "dns") return "check the server name (DNS) from this pod or host";
  if (stage == "dfs_referral") {
    return "no target of the DFS link answered: check each target (smbgate check //SERVER/SHARE) and the "
           "namespace's link";
  }
  if (stage == "connect") {
    return "check that the server listens on that port and that no firewall or NetworkPolicy blocks TCP to it";
  }
  const std::string_view cls = AuthFailureClass(ec);
  if (smb2::IsNtStatus(ec)) {
    // The account states a domain controller reports (MS-ERREF 2.3.1 values; a
    // member server passes the DC's NETLOGON answer through). Each names what
    // an administrator changes; AD's PowerShell and samba-tool names are given
    // because those are what a runbook reader types.
    switch (smb2::NtStatusOf(ec)) {
      case st::kBadNetworkName: return "check the share name (smbclient -L lists the shares)";
      case st::kAccessDenied:
        return stage == "tree_connect" ? "grant the user access to the share on the server"
                                       : "the server refused this account or client by policy";
      case st::kAccountDisabled:
        return "enable the account on the domain controller (Enable-ADAccount, samba-tool user enable) or "
               "give the Secret an enabled account";
      case st::kAccountLockedOut:
        return "unlock the account on the domain controller (Unlock-ADAccount, samba-tool user unlock) or "
               "wait out the lockout duration, then fix whatever used a stale password";
      case st::kPasswordExpired:
        return "set a new password for the account on the domain controller and put it in the credentials "
               "(Secret); a service account's password should not expire";
      case st::kPasswordMustChange:
        return "the account is marked 'must change password at next logon', which a network logon cannot do: "
               "set a new password on the domain controller without that flag and put it in the Secret";
      case st::kAccountExpired:
        return "extend or clear the account's expiry date on the domain controller (Set-ADAccountExpiration, "
               "Clear-ADAccountExpiration, samba-tool user setexpiry --days=N)";
      case st::kInvalidLogonHours:
        return "allow this time of day in the account's logon hours on the domain controller";
      case st::kInvalidWorkstation:
        return "add the file server to the account's 'log on to' computers on the domain controller, or clear "
               "that list";
      case st::kAccountRestriction:
        return "the domain refuses this logon by an account restriction (a blank password, or a Protected Users "
               "member, which may not use NTLM): check the account on the domain controller";
      case st::kLogonTypeNotGranted:
        return "grant the account 'Access this computer from the network' on the file server (and no 'Deny "
               "access to this computer from the network')";
      default: break;
    }
  }
  if (cls == "wrong_password") return "check the user name, domain and password in the credentials (Secret)";
  if (ec == smb2::client_errc::encryption_unavailable) return "drop seal or use a server that offers SMB 3 encryption";
  if (ec == smb2::client_errc::validate_negotiate_failed || ec == smb2::client_errc::downgrade_refused) {
    return "something between this client and the server rewrites SMB traffic; investigate before retrying";
  }
  if (cls == "unreachable") return "the server stopped answering; check its health and the network path";
  return "";
}

namespace {

std::chrono::microseconds Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
}

}  // namespace

Result<ShareSession> ConnectToShare(const Target& target, const Credentials& creds, smb2::ConnectionOptions opts,
                                    const std::string& spn, std::string* error,
                                    const std::function<void(const AuthEvent&)>& on_auth, ConnectReport* report) {
  ConnectReport ignored;
  ConnectReport& rep = report ? *report : ignored;
  const std::string where = DisplayServer(target);
  opts.host = target.host;
  opts.port = target.port;
  AuthEvent ev;
  ev.user = creds.user;
  ev.domain = creds.domain;
  ev.server = where;
  ev.encryption = std::string(smb2::CipherName(0));
  auto fail = [&](const std::string& stage, std::error_code ec, std::string msg) {
    rep.failed_stage = stage;
    rep.error = ec;
    *error = std::move(msg);
    return ec;
  };

  smb2::OpenReport open;
  const auto t_open = std::chrono::steady_clock::now();
  auto conn = smb2::Connection::Open(opts, &open);
  rep.dns = open.dns;
  rep.connect = open.connect;
  rep.negotiate = open.negotiate;
  if (!conn) {
    const std::string step = open.failed_step ? open.failed_step : "connect";
    if (on_auth) {
      ev.reached_session_setup = false;
      ev.result = "error";
      ev.failure_class = std::string(AuthFailureClass(conn.error()));
      ev.duration_ms = std::chrono::duration<double, std::milli>(Since(t_open)).count();
      on_auth(ev);
    }
    return fail(step, conn.error(), step + " failed for " + where + ": " + conn.error().message());
  }
  auth::NtlmCredentials nc;
  nc.user = creds.user;
  nc.domain = creds.domain;
  nc.password = creds.password.Clone();
  const auto t0 = std::chrono::steady_clock::now();
  auto session = smb2::Session::Setup(*conn, std::move(nc), spn.empty() ? DefaultSpn(target) : spn);
  rep.session_setup = Since(t0);
  if (on_auth) {
    ev.dialect = std::string(smb2::DialectName((*conn)->negotiated().dialect));
    ev.signing = std::string(smb2::SigningAlgorithmName((*conn)->negotiated().signing_algorithm));
    ev.encryption =
        session ? EncryptionName((*conn)->negotiated(), **session, nullptr) : std::string(smb2::CipherName(0));
    ev.duration_ms = std::chrono::duration<double, std::milli>(rep.session_setup).count();
    if (session) {
      ev.result = "success";
    } else {
      const std::error_code ec = session.error();
      ev.result = smb2::IsNtStatus(ec) ? smb2::NtStatusName(smb2::NtStatusOf(ec)) : ec.message();
      ev.failure_class = std::string(AuthFailureClass(ec));
    }
    on_auth(ev);
  }
  if (!session) {
    return fail("session_setup", session.error(),
                "authentication failed for " + DisplayUser(creds) + " at " + where + ": " + session.error().message());
  }
  const auto t1 = std::chrono::steady_clock::now();
  auto tree = smb2::Tree::Connect(*session, target.UncPath());
  rep.tree_connect = Since(t1);
  if (!tree) {
    return fail("tree_connect", tree.error(),
                "tree connect failed for " + target.UncPath() + " at " + where + ": " + tree.error().message());
  }
  return ShareSession{*conn, *session, *tree};
}

}  // namespace smbgate
