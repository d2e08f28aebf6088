// MS-SMB2 2.2.3 NEGOTIATE Request, 2.2.4 NEGOTIATE Response and the
// negotiate contexts of SMB 3.1.1 (2.2.3.1).
//
// Decoded spans point INTO the message passed to the decoder: a decoded
// struct must not outlive that buffer.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "auth/common/result.h"
#include "auth/common/smb2_ids.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.3 SecurityMode
inline constexpr std::uint16_t kSecurityModeSigningEnabled = 0x0001;
inline constexpr std::uint16_t kSecurityModeSigningRequired = 0x0002;

// MS-SMB2 2.2.3 / 2.2.4 Capabilities
inline constexpr std::uint32_t kCapDfs = 0x00000001;
inline constexpr std::uint32_t kCapLeasing = 0x00000002;
inline constexpr std::uint32_t kCapLargeMtu = 0x00000004;
inline constexpr std::uint32_t kCapMultiChannel = 0x00000008;
inline constexpr std::uint32_t kCapPersistentHandles = 0x00000010;
inline constexpr std::uint32_t kCapDirectoryLeasing = 0x00000020;
inline constexpr std::uint32_t kCapEncryption = 0x00000040;
inline constexpr std::uint32_t kCapNotifications = 0x00000080;

// MS-SMB2 2.2.3 Dialects (the revisions themselves are in auth/common/smb2_ids.h)
inline constexpr std::uint16_t kDialectWildcard = 0x02FF;

// MS-SMB2 2.2.3.1 ContextType
inline constexpr std::uint16_t kPreauthIntegrityCapabilities = 0x0001;
inline constexpr std::uint16_t kEncryptionCapabilities = 0x0002;
inline constexpr std::uint16_t kCompressionCapabilities = 0x0003;
inline constexpr std::uint16_t kNetnameNegotiateContextId = 0x0005;
inline constexpr std::uint16_t kTransportCapabilities = 0x0006;
inline constexpr std::uint16_t kRdmaTransformCapabilities = 0x0007;
inline constexpr std::uint16_t kSigningCapabilities = 0x0008;

// MS-SMB2 2.2.3.1.1 HashAlgorithms
inline constexpr std::uint16_t kHashAlgorithmSha512 = 0x0001;
// MS-SMB2 2.2.3.1.7 SigningAlgorithms
inline constexpr std::uint16_t kSigningHmacSha256 = 0x0000;
inline constexpr std::uint16_t kSigningAesCmac = 0x0001;
inline constexpr std::uint16_t kSigningAesGmac = 0x0002;

// Caps applied before anything is allocated from a count on the wire.
inline constexpr std::size_t kMaxDialects = 64;
inline constexpr std::size_t kMaxNegotiateContexts = 64;
inline constexpr std::size_t kMaxNegotiateAlgorithms = 64;

// MS-SMB2 2.2.3.1 NEGOTIATE_CONTEXT, kept opaque (NETNAME, compression,
// transport, RDMA and unknown types).
struct NegotiateContext {
  std::uint16_t context_type = 0;
  ByteSpan data;
};

// MS-SMB2 2.2.3.1.1 SMB2_PREAUTH_INTEGRITY_CAPABILITIES
struct PreauthIntegrityCapabilities {
  std::vector<std::uint16_t> hash_algorithms{kHashAlgorithmSha512};
  Bytes salt;  // 32 random bytes from the caller
};

// MS-SMB2 2.2.3 SMB2 NEGOTIATE Request
struct NegotiateRequest {
  std::uint16_t security_mode = kSecurityModeSigningEnabled;
  std::uint32_t capabilities = 0;
  std::array<std::uint8_t, 16> client_guid{};
  std::vector<std::uint16_t> dialects;
  // The negotiate contexts are written only when kDialect311 is among
  // `dialects`: PREAUTH always, ENCRYPTION when cipher_ids is not empty,
  // SIGNING when signing_algorithm_ids is not empty, then other_contexts.
  PreauthIntegrityCapabilities preauth;
  std::vector<std::uint16_t> cipher_ids;
  std::vector<std::uint16_t> signing_algorithm_ids;
  std::vector<NegotiateContext> other_contexts;
  // ClientStartTime when 3.1.1 is not offered (MUST be 0 per 2.2.3).
  std::uint64_t client_start_time = 0;
};

// MS-SMB2 2.2.4 SMB2 NEGOTIATE Response
struct NegotiateResponse {
  std::uint16_t security_mode = 0;
  std::uint16_t dialect_revision = 0;
  std::array<std::uint8_t, 16> server_guid{};
  std::uint32_t capabilities = 0;
  std::uint32_t max_transact_size = 0;
  std::uint32_t max_read_size = 0;
  std::uint32_t max_write_size = 0;
  std::uint64_t system_time = 0;        // FILETIME
  std::uint64_t server_start_time = 0;  // FILETIME
  ByteSpan security_buffer;             // GSS/SPNEGO token
  // 3.1.1 only (absent otherwise).
  std::optional<std::uint16_t> preauth_hash_algorithm;
  ByteSpan preauth_salt;
  std::optional<std::uint16_t> cipher;  // 0 = no common cipher
  std::optional<std::uint16_t> signing_algorithm;
  std::vector<NegotiateContext> other_contexts;
};

// Appends the request body (StructureSize 36) and, for 3.1.1, the 8-byte
// aligned context list.
void Encode(const NegotiateRequest& r, WireWriter& w);
// Decodes a request (tests, fake servers). Errors: malformed_response,
// bad_structure_size, unexpected_command.
Result<NegotiateRequest> DecodeNegotiateRequest(ByteSpan msg);

// Appends the response body (StructureSize 65); the contexts are written when
// dialect_revision is 0x0311, from the optionals that are set, then
// other_contexts.
void Encode(const NegotiateResponse& r, WireWriter& w);
// Decodes the response, enforcing MS-SMB2 2.2.4 and 3.2.5.2: contexts only
// for 0x0311; NegotiateContextOffset 8-aligned and inside the message; each
// context's DataLength inside; a context list that must hold exactly one
// PREAUTH context with one hash algorithm, and at most one ENCRYPTION (one
// cipher) and one SIGNING (one algorithm) context. Whether the chosen values
// were offered is left to the caller. Errors: malformed_response,
// bad_structure_size, unexpected_command.
Result<NegotiateResponse> DecodeNegotiateResponse(ByteSpan msg);

}  // namespace smbgate::smb2
