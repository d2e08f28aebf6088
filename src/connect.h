// The three steps from credentials to a share, shared by `smbgate check` and
// `smbgate mount`: connect and negotiate, session setup, tree connect. On
// failure, one line naming the step and the cause in plain words.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "auth/common/result.h"
#include "smb2/client/connection.h"
#include "smb2/client/session.h"
#include "src/credentials.h"
#include "src/logging.h"
#include "src/target.h"

namespace smbgate {

struct ShareSession {
  std::shared_ptr<smb2::Connection> connection;
  std::shared_ptr<smb2::Session> session;
  std::shared_ptr<smb2::Tree> tree;
};

// "DOMAIN\user", or "user" without a domain.
std::string DisplayUser(const Credentials& c);
// "host:port", IPv6 hosts bracketed.
std::string DisplayServer(const Target& t);

// "AES-128-GCM", ... when the tree or its session is encrypted, else "none".
std::string EncryptionName(const smb2::NegotiatedState& n, const smb2::Session& session, const smb2::Tree* tree);

// Connects to `target` with `creds` (host and port of `opts` are set from
// the target). `spn` is sent as NTLM MsvAvTargetName; empty sends
// DefaultSpn(target). `on_auth`, if given, is told the outcome of the
// session setup (success or the NTSTATUS name; never a secret). Blocking;
// thread-safe. Errors: the failing step's error, with the one-line message
// in *error.
Result<ShareSession> ConnectToShare(const Target& target, const Credentials& creds, smb2::ConnectionOptions opts,
                                    const std::string& spn, std::string* error,
                                    const std::function<void(const AuthEvent&)>& on_auth = {});

}  // namespace smbgate
