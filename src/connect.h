// The three steps from credentials to a share, shared by `smbgate check` and
// `smbgate mount`: connect and negotiate, session setup, tree connect. On
// failure, one line naming the step and the cause in plain words.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>
#include <system_error>
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

// How far ConnectToShare got and how long each stage took, for `smbgate
// check` and the metrics. Stages: "dns", "connect", "negotiate",
// "session_setup", "tree_connect".
struct ConnectReport {
  std::string failed_stage;  // empty on success
  std::error_code error;
  std::chrono::microseconds dns{0};
  std::chrono::microseconds connect{0};
  std::chrono::microseconds negotiate{0};  // one round trip to the server
  std::chrono::microseconds session_setup{0};
  std::chrono::microseconds tree_connect{0};
};

// The class of an authentication attempt's outcome, a bounded label for
// metrics: "success", "wrong_password", "locked", "expired", "disabled",
// "unreachable" (the server could not be reached or did not answer),
// "refused_by_policy" (smbgate's or the server's security policy),
// "protocol_error", "server_error".
std::string_view AuthFailureClass(const std::error_code& ec);

// The likely fix for a failed stage and error, one sentence, for `smbgate
// check` and the runbooks; empty when there is nothing better to say.
std::string LikelyFix(const std::string& stage, const std::error_code& ec);

// "DOMAIN\user", or "user" without a domain.
std::string DisplayUser(const Credentials& c);
// "host:port", IPv6 hosts bracketed.
std::string DisplayServer(const Target& t);

// "AES-128-GCM", ... when the tree or its session is encrypted, else "none".
std::string EncryptionName(const smb2::NegotiatedState& n, const smb2::Session& session, const smb2::Tree* tree);

// Connects to `target` with `creds` (host and port of `opts` are set from
// the target). `spn` is sent as NTLM MsvAvTargetName; empty sends
// DefaultSpn(target). `on_auth`, if given, is told the outcome of every
// attempt, including one that never reached the session setup (then
// failure_class is "unreachable", "refused_by_policy" or
// "protocol_error"); never a secret. `report`, if given, gets each stage's
// time and the failed stage. Blocking; thread-safe. Errors: the failing
// step's error, with the one-line message in *error.
Result<ShareSession> ConnectToShare(const Target& target, const Credentials& creds, smb2::ConnectionOptions opts,
                                    const std::string& spn, std::string* error,
                                    const std::function<void(const AuthEvent&)>& on_auth = {},
                                    ConnectReport* report = nullptr);

}  // namespace smbgate
