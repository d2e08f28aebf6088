// MS-SMB2 2.2.9 / 2.2.10 TREE_CONNECT and 2.2.11 / 2.2.12 TREE_DISCONNECT.
#pragma once

#include <cstdint>
#include <string>

#include "auth/common/result.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.9 Flags (3.1.1)
inline constexpr std::uint16_t kTreeConnectFlagClusterReconnect = 0x0001;
inline constexpr std::uint16_t kTreeConnectFlagRedirectToOwner = 0x0002;
inline constexpr std::uint16_t kTreeConnectFlagExtensionPresent = 0x0004;

// MS-SMB2 2.2.10 ShareType
inline constexpr std::uint8_t kShareTypeDisk = 0x01;
inline constexpr std::uint8_t kShareTypePipe = 0x02;
inline constexpr std::uint8_t kShareTypePrint = 0x03;

// MS-SMB2 2.2.10 ShareFlags
inline constexpr std::uint32_t kShareFlagManualCaching = 0x00000000;
inline constexpr std::uint32_t kShareFlagAutoCaching = 0x00000010;
inline constexpr std::uint32_t kShareFlagVdoCaching = 0x00000020;
inline constexpr std::uint32_t kShareFlagNoCaching = 0x00000030;
inline constexpr std::uint32_t kShareFlagCachingMask = 0x00000030;
inline constexpr std::uint32_t kShareFlagDfs = 0x00000001;
inline constexpr std::uint32_t kShareFlagDfsRoot = 0x00000002;
inline constexpr std::uint32_t kShareFlagRestrictExclusiveOpens = 0x00000100;
inline constexpr std::uint32_t kShareFlagForceSharedDelete = 0x00000200;
inline constexpr std::uint32_t kShareFlagAllowNamespaceCaching = 0x00000400;
inline constexpr std::uint32_t kShareFlagAccessBasedDirectoryEnum = 0x00000800;
inline constexpr std::uint32_t kShareFlagForceLevel2Oplock = 0x00001000;
inline constexpr std::uint32_t kShareFlagEnableHashV1 = 0x00002000;
inline constexpr std::uint32_t kShareFlagEnableHashV2 = 0x00004000;
// SMB2_SHAREFLAG_ENCRYPT_DATA is 0x00008000 in MS-SMB2 2.2.10 (0x8 is
// SMB2_SHARE_CAP_DFS, a Capabilities bit).
inline constexpr std::uint32_t kShareFlagEncryptData = 0x00008000;
inline constexpr std::uint32_t kShareFlagIdentityRemoting = 0x00040000;
inline constexpr std::uint32_t kShareFlagCompressData = 0x00100000;
inline constexpr std::uint32_t kShareFlagIsolatedTransport = 0x00200000;

// MS-SMB2 2.2.10 Capabilities
inline constexpr std::uint32_t kShareCapDfs = 0x00000008;
inline constexpr std::uint32_t kShareCapContinuousAvailability = 0x00000010;
inline constexpr std::uint32_t kShareCapScaleout = 0x00000020;
inline constexpr std::uint32_t kShareCapCluster = 0x00000040;
inline constexpr std::uint32_t kShareCapAsymmetric = 0x00000080;
inline constexpr std::uint32_t kShareCapRedirectToOwner = 0x00000100;

// MS-SMB2 2.2.9 SMB2 TREE_CONNECT Request
struct TreeConnectRequest {
  std::uint16_t flags = 0;
  // UTF-8 here, UTF-16LE on the wire, e.g. "\\\\host\\share". Must be valid
  // UTF-8 (IsValidName in body.h). The TREE_CONNECT extension
  // (kTreeConnectFlagExtensionPresent) is not supported.
  std::string path;
};

// MS-SMB2 2.2.10 SMB2 TREE_CONNECT Response
struct TreeConnectResponse {
  std::uint8_t share_type = kShareTypeDisk;
  std::uint32_t share_flags = 0;
  std::uint32_t capabilities = 0;
  std::uint32_t maximal_access = 0;
};

// MS-SMB2 2.2.11 SMB2 TREE_DISCONNECT Request
struct TreeDisconnectRequest {};
// MS-SMB2 2.2.12 SMB2 TREE_DISCONNECT Response
struct TreeDisconnectResponse {};

// Errors of the decoders: malformed_response (also for a path that is not
// valid UTF-16), bad_structure_size, unexpected_command.
void Encode(const TreeConnectRequest& r, WireWriter& w);
Result<TreeConnectRequest> DecodeTreeConnectRequest(ByteSpan msg);
void Encode(const TreeConnectResponse& r, WireWriter& w);
Result<TreeConnectResponse> DecodeTreeConnectResponse(ByteSpan msg);

void Encode(const TreeDisconnectRequest& r, WireWriter& w);
Result<TreeDisconnectRequest> DecodeTreeDisconnectRequest(ByteSpan msg);
void Encode(const TreeDisconnectResponse& r, WireWriter& w);
Result<TreeDisconnectResponse> DecodeTreeDisconnectResponse(ByteSpan msg);

}  // namespace smbgate::smb2
