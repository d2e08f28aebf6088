#include "smb2/client/session.h"

#include <algorithm>

#include "auth/crypto.h"
#include "auth/smb_keys.h"
#include "auth/spnego.h"
#include "smb2/codec/ioctl.h"
#include "smb2/codec/negotiate.h"
#include "smb2/codec/session_setup.h"
#include "smb2/codec/status.h"
#include "smb2/codec/tree.h"

namespace smbgate::smb2 {

Result<std::shared_ptr<Session>> Session::Setup(std::shared_ptr<Connection> conn,
                                                auth::NtlmCredentials creds, std::string target_spn) {
  const auto started = std::chrono::steady_clock::now();
  const NegotiatedState& neg = conn->negotiated();
  auth::NtlmClient ntlm(std::move(creds));
  if (!target_spn.empty()) ntlm.SetTargetSpn(std::move(target_spn));
  auth::SpnegoNtlmClient spnego{std::move(ntlm)};

  // MS-SMB2 3.2.5.3.1: Session.PreauthIntegrityHashValue starts from the
  // connection's value after NEGOTIATE and takes in every SESSION_SETUP
  // request and response except the final successful response.
  const bool preauth = neg.dialect == kDialect311;
  auth::PreauthHash hash = neg.preauth;

  auto token = spnego.Start(neg.server_security_buffer);
  if (!token) return token.error();

  std::uint64_t session_id = 0;
  Bytes token_storage = std::move(*token);
  for (int round = 0;; ++round) {
    // NTLM takes exactly two round trips; a server asking for more is not
    // running the protocol smbgate speaks.
    if (round == 2) return errc::malformed_response;
    SessionSetupRequest ss;
    ss.security_mode = kSessionSecurityModeSigningRequired;
    ss.security_buffer = token_storage;
    Request req = MakeRequest(Command::kSessionSetup, ss, session_id, 0);
    req.sign = false;
    req.keep_sent = true;
    auto resp = conn->Call(std::move(req));
    if (!resp) return resp.error();
    const std::uint32_t st = resp->status();
    if (st != status::kSuccess && st != status::kMoreProcessingRequired) return MakeNtStatusError(st);
    auto body = DecodeSessionSetupResponse(resp->message);
    if (!body) return body.error();
    if (preauth) hash.Update(resp->sent);

    if (st == status::kMoreProcessingRequired) {
      if (round != 0) return errc::malformed_response;
      session_id = resp->header.session_id;
      if (session_id == 0) return errc::malformed_response;
      if (preauth) hash.Update(resp->message);
      auto next = spnego.Continue(body->security_buffer);
      if (!next) return next.error();
      token_storage = std::move(*next);
      continue;
    }

    // STATUS_SUCCESS: the final response.
    if (session_id == 0) session_id = resp->header.session_id;
    if (resp->header.session_id != session_id) return client_errc::unknown_session;
    // A guest or anonymous session cannot sign, and would mean the server
    // ignored the credentials: refuse it (MS-SMB2 3.2.5.3.1; Windows 11 24H2 refuses guest
    // sessions when signing is required too).
    if (body->session_flags & (kSessionFlagIsGuest | kSessionFlagIsNull)) {
      return client_errc::guest_session_refused;
    }
    if (auto fin = spnego.Finish(body->security_buffer); !fin) return fin.error();

    auth::SmbSessionKeys keys = auth::DeriveSmbKeys(neg.dialect, spnego.session_key().span(),
                                                    preauth ? hash.value() : ByteSpan{}, neg.cipher_id);
    // MS-SMB2 3.2.5.3.1: the final response is signed with the new signing
    // key. smbgate always requires signing, so an unsigned one is refused:
    // verifying it is what binds the negotiation (and, in 3.1.1, the whole
    // preauth transcript) to the password.
    if (!resp->header.is_signed()) return client_errc::unsigned_response;
    if (!conn->VerifySignature(resp->message, keys.signing_key.span())) return client_errc::signature_mismatch;

    // 3.2.5.3.1: SMB2_SESSION_FLAG_ENCRYPT_DATA means every later message
    // of the session is encrypted; `seal` asks for the same.
    const bool encrypt = (body->session_flags & kSessionFlagEncryptData) || conn->options().seal;
    if (auto a = conn->AddSession(session_id, std::move(keys), encrypt); !a) return a.error();
    std::shared_ptr<Session> s(new Session(conn, session_id));
    s->encrypted_ = encrypt;
    s->setup_duration_ = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    return s;
  }
}

Session::~Session() {
  if (!logged_off_ && conn_->is_open()) (void)Logoff();
  conn_->ForgetSession(id_);
}

Result<void> Session::Logoff() {
  if (logged_off_) return {};
  logged_off_ = true;
  auto resp = conn_->Call(MakeRequest(Command::kLogoff, LogoffRequest{}, id_, 0));
  if (!resp) return resp.error();
  if (auto e = StatusError(*resp)) return e;
  return {};
}

Result<std::shared_ptr<Tree>> Tree::Connect(std::shared_ptr<Session> session, const std::string& unc) {
  TreeConnectRequest tc;
  tc.path = unc;
  Connection& conn = session->connection();
  auto resp = conn.Call(MakeRequest(Command::kTreeConnect, tc, session->id(), 0));
  if (!resp) return resp.error();
  if (auto e = StatusError(*resp)) return e;
  auto body = DecodeTreeConnectResponse(resp->message);
  if (!body) return body.error();
  std::shared_ptr<Tree> t(new Tree(std::move(session), resp->header.tree_id, unc));
  t->share_type_ = body->share_type;
  t->share_flags_ = body->share_flags;
  t->share_capabilities_ = body->capabilities;
  t->maximal_access_ = body->maximal_access;
  // MS-SMB2 3.2.5.5: a share with SHI1005_FLAGS_ENCRYPT_DATA is encrypted
  // from its next request on; so is every tree of an encrypted session.
  const Session& sess = t->session();
  if (sess.encrypted()) {
    t->encrypted_ = true;
  } else if ((body->share_flags & kShareFlagEncryptData) || conn.options().seal) {
    if (auto e = conn.EncryptTree(sess.id(), t->id_); !e) {
      t->disconnected_ = true;  // nothing may be sent to it unencrypted
      return e.error();
    }
    t->encrypted_ = true;
  }
  const NegotiatedState& neg = conn.negotiated();
  const std::uint16_t best_offered =
      neg.offered_dialects.empty() ? neg.dialect : neg.offered_dialects.back();
  // 3.2.5.5 validates on 3.0 and 3.0.2. smbgate also validates whenever
  // the dialect is below the best it offered, 2.x included (as Samba's own
  // client does): that is what a man in the middle who rewrote NEGOTIATE
  // would have caused. 3.1.1 is protected by the preauth hash instead.
  if (neg.dialect == kDialect300 || neg.dialect == kDialect302 || neg.dialect < best_offered) {
    if (auto v = t->ValidateNegotiate(); !v) {
      // 3.2.5.14.12: on a failed validation the client MUST terminate the
      // connection: someone rewrote the negotiation.
      conn.Close();
      t->disconnected_ = true;
      return v.error();
    }
  }
  return t;
}

Result<void> Tree::ValidateNegotiate() {
  const NegotiatedState& neg = connection().negotiated();
  ValidateNegotiateInfoRequest v;
  v.capabilities = neg.client_capabilities;
  v.guid = neg.client_guid;
  v.security_mode = neg.client_security_mode;
  v.dialects = neg.offered_dialects;
  const Bytes payload = EncodeValidateNegotiateInfoRequest(v);
  IoctlRequest io;
  io.ctl_code = kFsctlValidateNegotiateInfo;
  io.file_id = kAllOnesFileId;
  io.input = payload;
  io.max_output_response = 24;
  io.flags = kIoctlIsFsctl;
  auto resp = connection().Call(MakeRequest(Command::kIoctl, io, session_->id(), id_));
  if (!resp) {
    // MS-SMB2 3.3.5.15.12: a server that finds the negotiation was
    // rewritten terminates the connection instead of answering.
    if (resp.error() == client_errc::connection_lost) return client_errc::validate_negotiate_failed;
    return resp.error();
  }
  if (resp->status() != status::kSuccess) {
    // A genuine 2.x-only server does not know the FSCTL and says so:
    // Windows Server 2008 and Samba 4.17 on 2.0.2 with STATUS_FILE_CLOSED
    // (the MS-SMB2 3.3.5.15.12 product note), others with NOT_SUPPORTED or
    // INVALID_DEVICE_REQUEST. The answer is signed, so it is the server's
    // own. On 3.x the FSCTL is mandatory and no failure is accepted.
    const bool unknown_fsctl = resp->status() == status::kNotSupported ||
                               resp->status() == status::kInvalidDeviceRequest ||
                               resp->status() == status::kFileClosed;
    if (neg.dialect < kDialect300 && unknown_fsctl) return {};
    return client_errc::validate_negotiate_failed;
  }
  auto body = DecodeIoctlResponse(resp->message);
  if (!body) return body.error();
  auto info = DecodeValidateNegotiateInfoResponse(body->output);
  if (!info) return info.error();
  if (info->capabilities != neg.server_capabilities || info->guid != neg.server_guid ||
      info->security_mode != neg.server_security_mode || info->dialect != neg.dialect) {
    return client_errc::validate_negotiate_failed;
  }
  return {};
}

Tree::~Tree() {
  if (!disconnected_ && connection().is_open()) (void)Disconnect();
}

Result<void> Tree::Disconnect() {
  if (disconnected_) return {};
  disconnected_ = true;
  auto resp = connection().Call(MakeRequest(Command::kTreeDisconnect, TreeDisconnectRequest{}, session_->id(), id_));
  if (!resp) return resp.error();
  if (auto e = StatusError(*resp)) return e;
  return {};
}

}  // namespace smbgate::smb2
