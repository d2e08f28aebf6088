// MS-SMB2 2.2.13 / 2.2.14 CREATE, with the create contexts of 2.2.13.2 and
// 2.2.14.2, and the access, share, disposition, option and attribute
// constants (MS-SMB2 2.2.13, MS-DTYP 2.4.3, MS-FSCC 2.6).
//
// Decoded spans point INTO the message passed to the decoder: a decoded
// struct must not outlive that buffer.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/common/result.h"
#include "smb2/codec/file_id.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.13 RequestedOplockLevel / 2.2.14 OplockLevel
inline constexpr std::uint8_t kOplockLevelNone = 0x00;
inline constexpr std::uint8_t kOplockLevelII = 0x01;
inline constexpr std::uint8_t kOplockLevelExclusive = 0x08;
inline constexpr std::uint8_t kOplockLevelBatch = 0x09;
inline constexpr std::uint8_t kOplockLevelLease = 0xFF;

// MS-SMB2 2.2.13 ImpersonationLevel
inline constexpr std::uint32_t kImpersonationAnonymous = 0;
inline constexpr std::uint32_t kImpersonationIdentification = 1;
inline constexpr std::uint32_t kImpersonationImpersonation = 2;
inline constexpr std::uint32_t kImpersonationDelegate = 3;

// MS-SMB2 2.2.13.1 access masks (file/pipe/printer, and directory aliases)
inline constexpr std::uint32_t kFileReadData = 0x00000001;
inline constexpr std::uint32_t kFileListDirectory = 0x00000001;
inline constexpr std::uint32_t kFileWriteData = 0x00000002;
inline constexpr std::uint32_t kFileAddFile = 0x00000002;
inline constexpr std::uint32_t kFileAppendData = 0x00000004;
inline constexpr std::uint32_t kFileAddSubdirectory = 0x00000004;
inline constexpr std::uint32_t kFileReadEa = 0x00000008;
inline constexpr std::uint32_t kFileWriteEa = 0x00000010;
inline constexpr std::uint32_t kFileExecute = 0x00000020;
inline constexpr std::uint32_t kFileTraverse = 0x00000020;
inline constexpr std::uint32_t kFileDeleteChild = 0x00000040;
inline constexpr std::uint32_t kFileReadAttributes = 0x00000080;
inline constexpr std::uint32_t kFileWriteAttributes = 0x00000100;
inline constexpr std::uint32_t kDelete = 0x00010000;
inline constexpr std::uint32_t kReadControl = 0x00020000;
inline constexpr std::uint32_t kWriteDac = 0x00040000;
inline constexpr std::uint32_t kWriteOwner = 0x00080000;
inline constexpr std::uint32_t kSynchronize = 0x00100000;
inline constexpr std::uint32_t kAccessSystemSecurity = 0x01000000;
inline constexpr std::uint32_t kMaximumAllowed = 0x02000000;
inline constexpr std::uint32_t kGenericAll = 0x10000000;
inline constexpr std::uint32_t kGenericExecute = 0x20000000;
inline constexpr std::uint32_t kGenericWrite = 0x40000000;
inline constexpr std::uint32_t kGenericRead = 0x80000000;

// MS-SMB2 2.2.13 ShareAccess
inline constexpr std::uint32_t kFileShareRead = 0x00000001;
inline constexpr std::uint32_t kFileShareWrite = 0x00000002;
inline constexpr std::uint32_t kFileShareDelete = 0x00000004;

// MS-SMB2 2.2.13 CreateDisposition
inline constexpr std::uint32_t kFileSupersede = 0x00000000;
inline constexpr std::uint32_t kFileOpen = 0x00000001;
inline constexpr std::uint32_t kFileCreate = 0x00000002;
inline constexpr std::uint32_t kFileOpenIf = 0x00000003;
inline constexpr std::uint32_t kFileOverwrite = 0x00000004;
inline constexpr std::uint32_t kFileOverwriteIf = 0x00000005;

// MS-SMB2 2.2.13 CreateOptions
inline constexpr std::uint32_t kFileDirectoryFile = 0x00000001;
inline constexpr std::uint32_t kFileWriteThrough = 0x00000002;
inline constexpr std::uint32_t kFileSequentialOnly = 0x00000004;
inline constexpr std::uint32_t kFileNoIntermediateBuffering = 0x00000008;
inline constexpr std::uint32_t kFileSynchronousIoAlert = 0x00000010;
inline constexpr std::uint32_t kFileSynchronousIoNonalert = 0x00000020;
inline constexpr std::uint32_t kFileNonDirectoryFile = 0x00000040;
inline constexpr std::uint32_t kFileCompleteIfOplocked = 0x00000100;
inline constexpr std::uint32_t kFileNoEaKnowledge = 0x00000200;
inline constexpr std::uint32_t kFileOpenRemoteInstance = 0x00000400;
inline constexpr std::uint32_t kFileRandomAccess = 0x00000800;
inline constexpr std::uint32_t kFileDeleteOnClose = 0x00001000;
inline constexpr std::uint32_t kFileOpenByFileId = 0x00002000;
inline constexpr std::uint32_t kFileOpenForBackupIntent = 0x00004000;
inline constexpr std::uint32_t kFileNoCompression = 0x00008000;
inline constexpr std::uint32_t kFileOpenRequiringOplock = 0x00010000;
inline constexpr std::uint32_t kFileDisallowExclusive = 0x00020000;
inline constexpr std::uint32_t kFileReserveOpfilter = 0x00100000;
inline constexpr std::uint32_t kFileOpenReparsePoint = 0x00200000;
inline constexpr std::uint32_t kFileOpenNoRecall = 0x00400000;
inline constexpr std::uint32_t kFileOpenForFreeSpaceQuery = 0x00800000;

// MS-FSCC 2.6 File Attributes
inline constexpr std::uint32_t kFileAttributeReadonly = 0x00000001;
inline constexpr std::uint32_t kFileAttributeHidden = 0x00000002;
inline constexpr std::uint32_t kFileAttributeSystem = 0x00000004;
inline constexpr std::uint32_t kFileAttributeDirectory = 0x00000010;
inline constexpr std::uint32_t kFileAttributeArchive = 0x00000020;
inline constexpr std::uint32_t kFileAttributeNormal = 0x00000080;
inline constexpr std::uint32_t kFileAttributeTemporary = 0x00000100;
inline constexpr std::uint32_t kFileAttributeSparseFile = 0x00000200;
inline constexpr std::uint32_t kFileAttributeReparsePoint = 0x00000400;
inline constexpr std::uint32_t kFileAttributeCompressed = 0x00000800;
inline constexpr std::uint32_t kFileAttributeOffline = 0x00001000;
inline constexpr std::uint32_t kFileAttributeNotContentIndexed = 0x00002000;
inline constexpr std::uint32_t kFileAttributeEncrypted = 0x00004000;
inline constexpr std::uint32_t kFileAttributeIntegrityStream = 0x00008000;
inline constexpr std::uint32_t kFileAttributeNoScrubData = 0x00020000;

// MS-SMB2 2.2.14 CreateAction
inline constexpr std::uint32_t kFileSuperseded = 0x00000000;
inline constexpr std::uint32_t kFileOpened = 0x00000001;
inline constexpr std::uint32_t kFileCreated = 0x00000002;
inline constexpr std::uint32_t kFileOverwritten = 0x00000003;

// MS-SMB2 2.2.14 Flags
inline constexpr std::uint8_t kCreateFlagReparsepoint = 0x01;

// MS-SMB2 2.2.13.2 create context names (4-byte tags).
inline constexpr const char* kCreateEaBuffer = "ExtA";
inline constexpr const char* kCreateSdBuffer = "SecD";
inline constexpr const char* kCreateDurableHandleRequest = "DHnQ";
inline constexpr const char* kCreateDurableHandleReconnect = "DHnC";
inline constexpr const char* kCreateAllocationSize = "AlSi";
inline constexpr const char* kCreateQueryMaximalAccess = "MxAc";
inline constexpr const char* kCreateTimewarpToken = "TWrp";
inline constexpr const char* kCreateQueryOnDiskId = "QFid";
inline constexpr const char* kCreateRequestLease = "RqLs";
inline constexpr const char* kCreateDurableHandleRequestV2 = "DH2Q";
inline constexpr const char* kCreateDurableHandleReconnectV2 = "DH2C";

// Cap on the number of create contexts decoded from one message.
inline constexpr std::size_t kMaxCreateContexts = 64;
// Cap on a create context's name: the names MS-SMB2 defines are 4-byte tags
// or 16-byte GUIDs; a longer one is treated as malformed.
inline constexpr std::size_t kMaxCreateContextName = 255;

// MS-SMB2 2.2.13.2 SMB2_CREATE_CONTEXT (request side, owning).
struct CreateContext {
  std::string name;  // the tag, e.g. "MxAc"; may hold a binary GUID name
  Bytes data;
};

// MS-SMB2 2.2.13.2 / 2.2.14.2 SMB2_CREATE_CONTEXT (decoded: data is a span
// into the message).
struct CreateContextView {
  std::string name;
  ByteSpan data;
};

// MS-SMB2 2.2.13 SMB2 CREATE Request
struct CreateRequest {
  std::uint8_t security_flags = 0;  // MUST be 0
  std::uint8_t requested_oplock_level = kOplockLevelNone;
  std::uint32_t impersonation_level = kImpersonationImpersonation;
  std::uint32_t desired_access = 0;
  std::uint32_t file_attributes = 0;
  std::uint32_t share_access = 0;
  std::uint32_t create_disposition = kFileOpen;
  std::uint32_t create_options = 0;
  // Share-relative path, UTF-8 here and UTF-16LE on the wire, no leading
  // backslash; empty opens the share root. Must be valid UTF-8.
  std::string name;
  std::vector<CreateContext> contexts;
};

// MS-SMB2 2.2.14 SMB2 CREATE Response
struct CreateResponse {
  std::uint8_t oplock_level = 0;
  std::uint8_t flags = 0;
  std::uint32_t create_action = 0;
  std::uint64_t creation_time = 0;  // FILETIME
  std::uint64_t last_access_time = 0;
  std::uint64_t last_write_time = 0;
  std::uint64_t change_time = 0;
  std::uint64_t allocation_size = 0;
  std::uint64_t end_of_file = 0;
  std::uint32_t file_attributes = 0;
  FileId file_id;
  std::vector<CreateContextView> contexts;
};

// Encoders: the name is written at offset 0x78 (with one zero byte when it
// is empty, as 2.2.13 requires a Buffer of at least one byte; NameLength stays
// 0), the contexts 8-byte aligned after it, each context's data 8-aligned.
void Encode(const CreateRequest& r, WireWriter& w);
// Errors: malformed_response (bounds, chain, invalid UTF-16 name),
// bad_structure_size, unexpected_command.
Result<CreateRequest> DecodeCreateRequest(ByteSpan msg);
void Encode(const CreateResponse& r, WireWriter& w);
Result<CreateResponse> DecodeCreateResponse(ByteSpan msg);

// Parses a create-context chain (MS-SMB2 2.2.13.2): Next 8-aligned and
// strictly advancing, names and data inside each context, at most
// kMaxCreateContexts. `chain` is the CreateContextsOffset/Length span.
Result<std::vector<CreateContextView>> ParseCreateContexts(ByteSpan chain);
// Appends a chain (each context 8-aligned; Next set; last Next 0). `w.pos()`
// must be 8-aligned relative to the message start.
void EncodeCreateContexts(const std::vector<CreateContextView>& contexts,
                          WireWriter& w);

// Finds a context by name; nullptr when absent.
const CreateContextView* FindCreateContext(
    const std::vector<CreateContextView>& contexts, std::string_view name);

// MS-SMB2 2.2.14.2.5 SMB2_CREATE_QUERY_MAXIMAL_ACCESS_RESPONSE ("MxAc")
struct MaximalAccessResponse {
  std::uint32_t query_status = 0;
  std::uint32_t maximal_access = 0;
};
Result<MaximalAccessResponse> ParseMaximalAccessResponse(ByteSpan data);
Bytes EncodeMaximalAccessResponse(const MaximalAccessResponse& m);

// MS-SMB2 2.2.14.2.9 SMB2_CREATE_QUERY_ON_DISK_ID ("QFid" response)
struct QueryOnDiskIdResponse {
  std::uint64_t disk_file_id = 0;
  std::uint64_t volume_id = 0;
};
Result<QueryOnDiskIdResponse> ParseQueryOnDiskIdResponse(ByteSpan data);
Bytes EncodeQueryOnDiskIdResponse(const QueryOnDiskIdResponse& q);

// MS-SMB2 2.2.13.2.8 / 2.2.13.2.10 SMB2_CREATE_REQUEST_LEASE(_V2) and the
// lease response contexts 2.2.14.2.10 / 2.2.14.2.11 (same layouts, "RqLs").
inline constexpr std::uint32_t kLeaseNone = 0x00;
inline constexpr std::uint32_t kLeaseReadCaching = 0x01;
inline constexpr std::uint32_t kLeaseHandleCaching = 0x02;
inline constexpr std::uint32_t kLeaseWriteCaching = 0x04;
inline constexpr std::uint32_t kLeaseFlagBreakInProgress = 0x00000002;
inline constexpr std::uint32_t kLeaseFlagParentLeaseKeySet = 0x00000004;
struct Lease {
  std::array<std::uint8_t, 16> lease_key{};
  std::uint32_t lease_state = 0;
  std::uint32_t lease_flags = 0;
  std::uint64_t lease_duration = 0;
  bool v2 = false;  // 52-byte form with the fields below (dialects 3.x)
  std::array<std::uint8_t, 16> parent_lease_key{};
  std::uint16_t epoch = 0;
};
Result<Lease> ParseLease(ByteSpan data);  // 32 (v1) or 52 (v2) bytes
Bytes EncodeLease(const Lease& l);

// MS-SMB2 2.2.13.2.11 SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 ("DH2Q")
inline constexpr std::uint32_t kDurableHandleFlagPersistent = 0x00000002;
struct DurableHandleRequestV2 {
  std::uint32_t timeout = 0;  // milliseconds; 0 lets the server choose
  std::uint32_t flags = 0;
  std::array<std::uint8_t, 16> create_guid{};
};
Result<DurableHandleRequestV2> ParseDurableHandleRequestV2(ByteSpan data);
Bytes EncodeDurableHandleRequestV2(const DurableHandleRequestV2& d);
// MS-SMB2 2.2.14.2.12 SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2 ("DH2Q")
struct DurableHandleResponseV2 {
  std::uint32_t timeout = 0;
  std::uint32_t flags = 0;
};
Result<DurableHandleResponseV2> ParseDurableHandleResponseV2(ByteSpan data);
Bytes EncodeDurableHandleResponseV2(const DurableHandleResponseV2& d);
// MS-SMB2 2.2.13.2.12 SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2 ("DH2C")
struct DurableHandleReconnectV2 {
  FileId file_id;
  std::array<std::uint8_t, 16> create_guid{};
  std::uint32_t flags = 0;
};
Result<DurableHandleReconnectV2> ParseDurableHandleReconnectV2(ByteSpan data);
Bytes EncodeDurableHandleReconnectV2(const DurableHandleReconnectV2& d);

}  // namespace smbgate::smb2
