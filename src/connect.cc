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

Result<ShareSession> ConnectToShare(const Target& target, const Credentials& creds, smb2::ConnectionOptions opts,
                                    const std::string& spn, std::string* error,
                                    const std::function<void(const AuthEvent&)>& on_auth) {
  const std::string where = DisplayServer(target);
  opts.host = target.host;
  opts.port = target.port;
  const char* step = nullptr;
  auto conn = smb2::Connection::Open(opts, &step);
  if (!conn) {
    *error = std::string(step) + " failed for " + where + ": " + conn.error().message();
    return conn.error();
  }
  auth::NtlmCredentials nc;
  nc.user = creds.user;
  nc.domain = creds.domain;
  nc.password = creds.password.Clone();
  const auto t0 = std::chrono::steady_clock::now();
  auto session = smb2::Session::Setup(*conn, std::move(nc), spn.empty() ? DefaultSpn(target) : spn);
  if (on_auth) {
    AuthEvent ev;
    ev.user = creds.user;
    ev.domain = creds.domain;
    ev.server = where;
    ev.dialect = std::string(smb2::DialectName((*conn)->negotiated().dialect));
    ev.signing = std::string(smb2::SigningAlgorithmName((*conn)->negotiated().signing_algorithm));
    ev.encryption =
        session ? EncryptionName((*conn)->negotiated(), **session, nullptr) : std::string(smb2::CipherName(0));
    ev.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (session) {
      ev.result = "success";
    } else {
      const std::error_code ec = session.error();
      ev.result = smb2::IsNtStatus(ec) ? smb2::NtStatusName(smb2::NtStatusOf(ec)) : ec.message();
    }
    on_auth(ev);
  }
  if (!session) {
    *error = "authentication failed for " + DisplayUser(creds) + " at " + where + ": " + session.error().message();
    return session.error();
  }
  auto tree = smb2::Tree::Connect(*session, target.UncPath());
  if (!tree) {
    *error = "tree connect failed for " + target.UncPath() + " at " + where + ": " + tree.error().message();
    return tree.error();
  }
  return ShareSession{*conn, *session, *tree};
}

}  // namespace smbgate
