// Seed frames for the codec fuzzers, built with the codec's encoders, and a
// replay of those seeds (and of the checked-in corpus) through the fuzz
// targets' checks. To (re)write the corpus, run
//   SMBGATE_SEED_DIR=tests/fuzz/corpus build/tests/unit_codec
//   --gtest_also_run_disabled_tests --gtest_filter='FuzzSeeds.DISABLED_Write'
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "tests/unit/smb2/codec_test_util.h"
#include "tests/unit/smb2/fuzz_targets.h"

namespace smbgate::smb2 {
namespace {

using Target = std::function<void(const std::uint8_t*, std::size_t)>;
struct Seed {
  std::string name;
  Bytes bytes;  // selector byte, then the message or payload
};
struct Family {
  std::string target;
  Target run;
  std::vector<Seed> seeds;
};

Bytes Sel(std::uint8_t selector, const Bytes& body) {
  Bytes b(body.size() + 1);
  b[0] = selector;
  std::copy(body.begin(), body.end(), b.begin() + 1);
  return b;
}

// Payload buffers referenced by spans in the seeds below.
const Bytes kToken = {0x60, 0x06, 0x06, 0x2B, 0x06, 0x01, 0x05, 0x05};
const Bytes kSalt(32, 0x11);
const Bytes kData(64, 0x42);

std::vector<Family> Families() {
  std::vector<Family> f;
  {
    Header h;
    h.command = Command::kCreate;
    h.message_id = 3;
    h.tree_id = 1;
    h.session_id = 2;
    WireWriter w;
    Encode(h, w);
    Encode(CreateRequest{}, w);
    const Bytes one = w.Take();
    Header a = h;
    a.flags = kFlagAsyncCommand | kFlagServerToRedir;
    a.async_id = 9;
    a.status = 0x103;
    WireWriter wa;
    Encode(a, wa);
    Encode(ErrorResponse{}, wa);
    TransformHeader t;
    t.original_message_size = static_cast<std::uint32_t>(one.size());
    t.session_id = 2;
    WireWriter wt;
    Encode(t, wt);
    wt.Bytes(one);
    f.push_back({"smb2_header_fuzz", fuzz::FuzzHeader,
                 {{"header_sync", Sel(0, one)},
                  {"header_async", Sel(0, wa.buf())},
                  {"compound", Sel(1, BuildCompound({one, one, wa.buf()}))},
                  {"transform", Sel(2, wt.buf())}}});
  }
  {
    NegotiateRequest q;
    q.dialects = {kDialect202, kDialect210, kDialect300, kDialect302, kDialect311};
    q.capabilities = kCapLargeMtu | kCapEncryption;
    q.preauth.salt = kSalt;
    q.cipher_ids = {kCipherAes128Gcm, kCipherAes128Ccm};
    q.signing_algorithm_ids = {kSigningAesGmac, kSigningAesCmac};
    NegotiateRequest old = q;
    old.dialects = {kDialect202, kDialect210};
    NegotiateResponse p;
    p.dialect_revision = kDialect311;
    p.security_buffer = kToken;
    p.preauth_hash_algorithm = kHashAlgorithmSha512;
    p.preauth_salt = kSalt;
    p.cipher = kCipherAes128Gcm;
    p.signing_algorithm = kSigningAesCmac;
    p.max_read_size = p.max_write_size = p.max_transact_size = 1 << 23;
    NegotiateResponse p2 = p;
    p2.dialect_revision = kDialect302;
    f.push_back({"smb2_negotiate_fuzz", fuzz::FuzzNegotiate,
                 {{"request_311", Sel(1, test::Req(Command::kNegotiate, q))},
                  {"request_210", Sel(1, test::Req(Command::kNegotiate, old))},
                  {"response_311", Sel(0, test::Rsp(Command::kNegotiate, p))},
                  {"response_302", Sel(0, test::Rsp(Command::kNegotiate, p2))}}});
  }
  {
    SessionSetupRequest q;
    q.security_buffer = kToken;
    SessionSetupResponse p;
    p.security_buffer = kToken;
    f.push_back({"smb2_session_setup_fuzz", fuzz::FuzzSessionSetup,
                 {{"request", Sel(0, test::Req(Command::kSessionSetup, q))},
                  {"response", Sel(1, test::Rsp(Command::kSessionSetup, p))},
                  {"logoff", Sel(2, test::Req(Command::kLogoff, LogoffRequest{}))},
                  {"echo", Sel(5, test::Rsp(Command::kEcho, EchoResponse{}))}}});
  }
  {
    TreeConnectRequest q;
    q.path = "\\\\127.0.0.1\\share";
    TreeConnectResponse p;
    p.share_flags = kShareFlagEncryptData;
    p.maximal_access = 0x001F01FF;
    f.push_back({"smb2_tree_fuzz", fuzz::FuzzTree,
                 {{"connect_request", Sel(0, test::Req(Command::kTreeConnect, q))},
                  {"connect_response", Sel(1, test::Rsp(Command::kTreeConnect, p))},
                  {"disconnect", Sel(2, test::Req(Command::kTreeDisconnect,
                                                  TreeDisconnectRequest{}))}}});
  }
  {
    CreateRequest q;
    q.name = "dir\\file.txt";
    q.desired_access = kGenericRead;
    q.contexts = {{kCreateQueryMaximalAccess, {}},
                  {kCreateRequestLease, EncodeLease(Lease{})},
                  {kCreateDurableHandleRequestV2,
                   EncodeDurableHandleRequestV2(DurableHandleRequestV2{})}};
    static const Bytes mx = EncodeMaximalAccessResponse({0, 0x1F01FF});
    static const Bytes qfid = EncodeQueryOnDiskIdResponse({1, 2});
    CreateResponse p;
    p.file_id = {1, 2};
    p.contexts = {{kCreateQueryMaximalAccess, mx}, {kCreateQueryOnDiskId, qfid}};
    WireWriter chain;
    EncodeCreateContexts(p.contexts, chain);
    Lease v2;
    v2.v2 = true;
    f.push_back({"smb2_create_fuzz", fuzz::FuzzCreate,
                 {{"request", Sel(0, test::Req(Command::kCreate, q))},
                  {"request_root", Sel(0, test::Req(Command::kCreate, CreateRequest{}))},
                  {"response", Sel(1, test::Rsp(Command::kCreate, p))},
                  {"chain", Sel(2, chain.buf())},
                  {"mxac", Sel(3, mx)},
                  {"qfid", Sel(4, qfid)},
                  {"lease_v2", Sel(5, EncodeLease(v2))},
                  {"dh2q", Sel(6, EncodeDurableHandleRequestV2({}))},
                  {"dh2q_response", Sel(7, EncodeDurableHandleResponseV2({}))},
                  {"dh2c", Sel(8, EncodeDurableHandleReconnectV2({}))}}});
  }
  {
    ReadRequest rq;
    rq.length = 65536;
    ReadResponse rp;
    rp.data = kData;
    WriteRequest wq;
    wq.data = kData;
    LockRequest lq;
    lq.locks = {{0, 10, kLockFlagExclusiveLock}, {20, 5, kLockFlagSharedLock}};
    CloseResponse cp;
    cp.flags = kCloseFlagPostqueryAttrib;
    f.push_back({"smb2_read_write_fuzz", fuzz::FuzzReadWrite,
                 {{"read_request", Sel(0, test::Req(Command::kRead, rq))},
                  {"read_response", Sel(1, test::Rsp(Command::kRead, rp))},
                  {"write_request", Sel(2, test::Req(Command::kWrite, wq))},
                  {"write_response", Sel(3, test::Rsp(Command::kWrite, WriteResponse{64, 0}))},
                  {"close_request", Sel(4, test::Req(Command::kClose, CloseRequest{1, {}}))},
                  {"close_response", Sel(5, test::Rsp(Command::kClose, cp))},
                  {"flush_request", Sel(6, test::Req(Command::kFlush, FlushRequest{}))},
                  {"lock_request", Sel(8, test::Req(Command::kLock, lq))},
                  {"cancel", Sel(10, test::Req(Command::kCancel, CancelRequest{}))},
                  {"read_bounds", Sel(11, test::Rsp(Command::kRead, rp))}}});
  }
  {
    ValidateNegotiateInfoRequest v;
    v.dialects = {kDialect202, kDialect302};
    static const Bytes vni = EncodeValidateNegotiateInfoRequest(v);
    static const Bytes vnr = EncodeValidateNegotiateInfoResponse({});
    IoctlRequest q;
    q.ctl_code = kFsctlValidateNegotiateInfo;
    q.file_id = kAllOnesFileId;
    q.input = vni;
    IoctlResponse p;
    p.ctl_code = kFsctlValidateNegotiateInfo;
    p.output = vnr;
    SymlinkReparseBuffer s;
    s.substitute_name = "target";
    s.print_name = "target";
    s.flags = kSymlinkFlagRelative;
    f.push_back({"smb2_ioctl_fuzz", fuzz::FuzzIoctl,
                 {{"request", Sel(0, test::Req(Command::kIoctl, q))},
                  {"response", Sel(1, test::Rsp(Command::kIoctl, p))},
                  {"vni_request", Sel(2, vni)},
                  {"vni_response", Sel(3, vnr)},
                  {"symlink", Sel(4, EncodeSymlinkReparseBuffer(s))}}});
  }
  {
    DirEntry a;
    a.name = ".";
    a.file_attributes = 0x10;
    DirEntry b;
    b.name = "file.txt";
    b.short_name = "FILE.TXT";
    b.end_of_file = 10;
    static const Bytes both = EncodeFileIdBothDirectoryInformation({a, b});
    const Bytes full = EncodeFileIdFullDirectoryInformation({a, b});
    QueryDirectoryRequest q;
    q.output_buffer_length = 65536;
    QueryDirectoryResponse p;
    p.buffer = both;
    f.push_back({"smb2_query_directory_fuzz", fuzz::FuzzQueryDirectory,
                 {{"request", Sel(0, test::Req(Command::kQueryDirectory, q))},
                  {"response", Sel(1, test::Rsp(Command::kQueryDirectory, p))},
                  {"id_both", Sel(2, both)},
                  {"id_full", Sel(3, full)}}});
  }
  {
    FileAllInformation all;
    all.name = "\\dir\\file";
    static const Bytes all_bytes = Encode(all);
    QueryInfoRequest q;
    q.file_info_class = kFileAllInformation;
    q.output_buffer_length = 4096;
    QueryInfoResponse p;
    p.buffer = all_bytes;
    FileRenameInformation rn;
    rn.file_name = "new";
    static const Bytes rn_bytes = Encode(rn);
    SetInfoRequest s;
    s.file_info_class = kFileRenameInformation;
    s.buffer = rn_bytes;
    f.push_back(
        {"smb2_info_fuzz",
         fuzz::FuzzInfo,
         {{"query_request", Sel(0, test::Req(Command::kQueryInfo, q))},
          {"query_response", Sel(1, test::Rsp(Command::kQueryInfo, p))},
          {"set_request", Sel(2, test::Req(Command::kSetInfo, s))},
          {"set_response", Sel(3, test::Rsp(Command::kSetInfo, SetInfoResponse{}))},
          {"basic", Sel(4, Encode(FileBasicInformation{1, 2, 3, 4, 0x20}))},
          {"standard", Sel(5, Encode(FileStandardInformation{4096, 1, 1, false, false}))},
          {"internal", Sel(6, Encode(FileInternalInformation{5}))},
          {"all", Sel(7, all_bytes)},
          {"network_open", Sel(8, Encode(FileNetworkOpenInformation{}))},
          {"eof", Sel(9, Encode(FileEndOfFileInformation{10}))},
          {"rename", Sel(10, rn_bytes)},
          {"disposition", Sel(11, Encode(FileDispositionInformation{true}))},
          {"fs_volume", Sel(12, Encode(FileFsVolumeInformation{0, 1, false, "vol"}))},
          {"fs_size", Sel(13, Encode(FileFsSizeInformation{10, 5, 8, 512}))},
          {"fs_full_size", Sel(14, Encode(FileFsFullSizeInformation{10, 4, 5, 8, 512}))},
          {"fs_attribute", Sel(15, Encode(FileFsAttributeInformation{7, 255, "NTFS"}))}}});
  }
  {
    static const Bytes notes =
        EncodeFileNotifyInformation({{kFileActionAdded, "a"}, {kFileActionRemoved, "bc"}});
    ChangeNotifyRequest q;
    q.completion_filter = kFileNotifyChangeFileName;
    ChangeNotifyResponse p;
    p.buffer = notes;
    LeaseBreakNotification n;
    n.flags = kNotifyBreakLeaseFlagAckRequired;
    n.current_lease_state = 7;
    f.push_back({"smb2_notify_fuzz", fuzz::FuzzNotify,
                 {{"request", Sel(0, test::Req(Command::kChangeNotify, q))},
                  {"response", Sel(1, test::Rsp(Command::kChangeNotify, p))},
                  {"entries", Sel(2, notes)},
                  {"oplock_break", Sel(3, test::Rsp(Command::kOplockBreak, OplockBreak{1, {}}))},
                  {"lease_break", Sel(4, test::Rsp(Command::kOplockBreak, n))},
                  {"lease_ack", Sel(5, test::Req(Command::kOplockBreak, LeaseBreakAck{}))},
                  {"classify", Sel(6, test::Rsp(Command::kOplockBreak, n))}}});
  }
  {
    SymbolicLinkErrorResponse s;
    s.substitute_name = "\\??\\C:\\x";
    s.print_name = "C:\\x";
    WireWriter sw;
    Encode(s, sw);
    static const Bytes sym = sw.Take();
    ErrorResponse e;
    e.error_data = sym;
    WireWriter cw;
    cw.U32(static_cast<std::uint32_t>(sym.size()));
    cw.U32(kErrorIdDefault);
    cw.Bytes(sym);
    static const Bytes ctx = cw.Take();
    ErrorResponse ec;
    ec.error_context_count = 1;
    ec.error_data = ctx;
    f.push_back({"smb2_error_fuzz", fuzz::FuzzError,
                 {{"empty", Sel(0, test::Rsp(Command::kCreate, ErrorResponse{}))},
                  {"symlink", Sel(0, test::Rsp(Command::kCreate, e))},
                  {"contexts", Sel(1, test::Rsp(Command::kCreate, ec))},
                  {"symlink_data", Sel(2, sym)}}});
  }
  {
    DfsReferralRequest q;
    q.request_file_name = "\\srv\\dfs\\link\\dir";
    DfsReferralRequestEx qx;
    qx.request_flags = kDfsRequestFlagSiteName;
    qx.request_file_name = q.request_file_name;
    qx.site_name = "Default-First-Site-Name";
    DfsReferralResponse r;
    r.path_consumed = 30;
    r.referral_header_flags = kDfsStorageServers;
    DfsReferralEntry e;
    e.time_to_live = 300;
    e.dfs_path = e.dfs_alternate_path = "\\srv\\dfs\\link";
    e.network_address = "\\127.0.0.2\\share1";
    r.referrals.push_back(e);
    e.network_address = "\\127.0.0.3\\share1";
    r.referrals.push_back(e);
    DfsReferralResponse mixed;
    DfsReferralEntry v1;
    v1.version_number = 1;
    v1.server_type = kDfsServerTypeRoot;
    v1.network_address = "\\srv\\dfs";
    DfsReferralEntry v2 = e;
    v2.version_number = 2;
    v2.proximity = 1;
    DfsReferralEntry names;
    names.referral_entry_flags = kDfsNameListReferral;
    names.special_name = "\\CORP";
    names.expanded_names = {"\\dc1.corp", "\\dc2.corp"};
    mixed.referrals = {v1, v2, names};
    f.push_back({"smb2_dfs_referral_fuzz", fuzz::FuzzDfsReferral,
                 {{"request", Sel(0, EncodeDfsReferralRequest(q))},
                  {"request_ex", Sel(1, EncodeDfsReferralRequestEx(qx))},
                  {"response_v3", Sel(2, EncodeDfsReferralResponse(r))},
                  {"response_mixed", Sel(2, EncodeDfsReferralResponse(mixed))}}});
  }
  return f;
}

TEST(FuzzSeeds, ReplayThroughFuzzTargets) {
  for (const Family& fam : Families()) {
    for (const Seed& s : fam.seeds) {
      SCOPED_TRACE(fam.target + "/" + s.name);
      const std::size_t before = fuzz::decoded_count;
      fam.run(s.bytes.data(), s.bytes.size());
      EXPECT_GT(fuzz::decoded_count, before) << "seed does not decode";
      // Every truncation of a seed too: the decoders must fail cleanly.
      for (std::size_t n = 0; n < s.bytes.size(); ++n) fam.run(s.bytes.data(), n);
    }
  }
}

TEST(FuzzSeeds, ReplayCheckedInCorpus) {
  namespace fs = std::filesystem;
  const fs::path corpus =
      fs::path(__FILE__).parent_path() / ".." / ".." / "fuzz" / "corpus";
  std::size_t replayed = 0;
  for (const Family& fam : Families()) {
    const fs::path dir = corpus / fam.target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::ifstream in(e.path(), std::ios::binary);
      const Bytes b((std::istreambuf_iterator<char>(in)), {});
      fam.run(b.data(), b.size());
      ++replayed;
    }
  }
  RecordProperty("replayed", static_cast<int>(replayed));
}

TEST(FuzzSeeds, DISABLED_Write) {
  const char* dir = std::getenv("SMBGATE_SEED_DIR");
  ASSERT_NE(dir, nullptr) << "set SMBGATE_SEED_DIR";
  namespace fs = std::filesystem;
  for (const Family& fam : Families()) {
    const fs::path d = fs::path(dir) / fam.target;
    fs::create_directories(d);
    for (const Seed& s : fam.seeds) {
      std::ofstream out(d / s.name, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(s.bytes.data()),
                static_cast<std::streamsize>(s.bytes.size()));
    }
  }
}

}  // namespace
}  // namespace smbgate::smb2
