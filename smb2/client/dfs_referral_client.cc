#include "smb2/client/dfs_referral_client.h"

#include "smb2/codec/ioctl.h"

namespace smbgate::smb2 {
namespace {

// Room for dozens of targets with long names; Windows clients ask for 4 KiB
// first and more on STATUS_BUFFER_OVERFLOW, one round trip is simpler.
constexpr std::uint32_t kMaxReferralResponse = 16 * 1024;

}  // namespace

Result<DfsReferralResponse> GetDfsReferral(const std::shared_ptr<Session>& session, const std::string& server,
                                           const std::string& path) {
  auto ipc = Tree::Connect(session, "\\\\" + server + "\\IPC$");
  if (!ipc) return ipc.error();
  DfsReferralRequest q;
  // MS-DFSC 3.1.4.2: the highest version the client understands.
  q.max_referral_level = 4;
  q.request_file_name = path;
  const Bytes input = EncodeDfsReferralRequest(q);
  IoctlRequest io;
  io.ctl_code = kFsctlDfsGetReferrals;
  // MS-SMB2 3.2.4.20.3: FileId is { 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF }.
  io.file_id = kAllOnesFileId;
  io.input = input;
  io.max_output_response = kMaxReferralResponse;
  io.flags = kIoctlIsFsctl;
  Request req = MakeRequest(Command::kIoctl, io, session->id(), (*ipc)->id());
  req.payload_size = kMaxReferralResponse;
  auto rsp = session->connection().Call(std::move(req));
  (void)(*ipc)->Disconnect();
  if (!rsp) return rsp.error();
  if (auto ec = StatusError(*rsp)) return ec;
  auto body = DecodeIoctlResponse(rsp->message);
  if (!body) return body.error();
  return DecodeDfsReferralResponse(body->output);
}

}  // namespace smbgate::smb2
