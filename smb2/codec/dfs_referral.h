// MS-DFSC 2.2.2-2.2.5: the DFS referral request and response, the payloads of
// the SMB2 IOCTLs FSCTL_DFS_GET_REFERRALS (0x00060194) and
// FSCTL_DFS_GET_REFERRALS_EX (0x000601B0) (MS-SMB2 2.2.31, 3.2.4.20.3).
//
// Strings are UTF-8 here and UTF-16LE on the wire. Decoders check every count,
// size and offset against the buffer (in size_t: `off <= n && len <= n -
// off`), cap the number of entries by what the buffer can hold before
// allocating, and require each string to end with its NUL inside the buffer.
// Pure; standard library only; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "auth/common/bytes.h"
#include "auth/common/result.h"

namespace smbgate::smb2 {

// MS-DFSC 2.2.2 REQ_GET_DFS_REFERRAL: the highest referral version the client
// understands and the path to resolve ("\server\share\link\rest"; empty for a
// domain referral, MS-DFSC 3.1.4.1).
struct DfsReferralRequest {
  std::uint16_t max_referral_level = 4;
  std::string request_file_name;
};

// MS-DFSC 2.2.3 REQ_GET_DFS_REFERRAL_EX (with RequestData, 2.2.3.1).
inline constexpr std::uint16_t kDfsRequestFlagSiteName = 0x0001;
struct DfsReferralRequestEx {
  std::uint16_t max_referral_level = 4;
  std::uint16_t request_flags = 0;  // kDfsRequestFlagSiteName when site_name is sent
  std::string request_file_name;
  std::string site_name;
};

// MS-DFSC 2.2.4 ReferralHeaderFlags.
inline constexpr std::uint32_t kDfsReferralServers = 0x00000001;  // R: targets are DFS root servers
inline constexpr std::uint32_t kDfsStorageServers = 0x00000002;   // S: targets hold the data
inline constexpr std::uint32_t kDfsTargetFailback = 0x00000004;   // T: go back to the best target
// MS-DFSC 2.2.5.2-2.2.5.4 ServerType.
inline constexpr std::uint16_t kDfsServerTypeLink = 0x0000;   // non-root targets (a link)
inline constexpr std::uint16_t kDfsServerTypeRoot = 0x0001;   // root targets (a namespace)
// MS-DFSC 2.2.5.3/2.2.5.4 ReferralEntryFlags.
inline constexpr std::uint16_t kDfsNameListReferral = 0x0002;   // a domain or DC referral
inline constexpr std::uint16_t kDfsTargetSetBoundary = 0x0004;  // V4: first target of a priority set

// One referral entry, any version (MS-DFSC 2.2.5.1 V1, 2.2.5.2 V2, 2.2.5.3 V3,
// 2.2.5.4 V4). Which fields travel depends on `version_number`:
// - V1: server_type, referral_entry_flags, share_name (in network_address);
// - V2: server_type, proximity, time_to_live, dfs_path,
//   dfs_alternate_path, network_address;
// - V3/V4: server_type, referral_entry_flags, time_to_live, then either
//   dfs_path, dfs_alternate_path, network_address and service_site_guid, or
//   with kDfsNameListReferral special_name and expanded_names.
struct DfsReferralEntry {
  std::uint16_t version_number = 3;
  std::uint16_t server_type = kDfsServerTypeLink;
  std::uint16_t referral_entry_flags = 0;
  std::uint32_t proximity = 0;     // V2 only
  std::uint32_t time_to_live = 0;  // seconds; V2-V4
  std::string dfs_path;            // "\server\share\link": the path this entry resolves
  std::string dfs_alternate_path;  // the same in 8.3 form
  std::string network_address;     // "\server\share[\path]": the target (V1: ShareName)
  std::array<std::uint8_t, 16> service_site_guid{};  // V3/V4, zero on the wire
  std::string special_name;                           // name list referrals
  std::vector<std::string> expanded_names;            // name list referrals
};

// MS-DFSC 2.2.4 RESP_GET_DFS_REFERRAL.
struct DfsReferralResponse {
  // Bytes (of UTF-16) of the request's path that the referral covers, without
  // a terminating NUL.
  std::uint16_t path_consumed = 0;
  std::uint32_t referral_header_flags = 0;
  std::vector<DfsReferralEntry> referrals;
};

// At most this many entries are decoded (a response of more is malformed):
// a namespace with more targets than this is not one smbgate can use well.
inline constexpr std::size_t kMaxDfsReferrals = 256;
// At most this many expanded names per name list entry.
inline constexpr std::size_t kMaxDfsExpandedNames = 256;

// Encoders write the canonical layout (entries, then their strings in entry
// order). Strings must be valid UTF-8.
Bytes EncodeDfsReferralRequest(const DfsReferralRequest& r);
Bytes EncodeDfsReferralRequestEx(const DfsReferralRequestEx& r);
Bytes EncodeDfsReferralResponse(const DfsReferralResponse& r);

// Errors: errc::malformed_response (short, a count, size or offset outside
// the buffer, a string without its NUL or not UTF-16, an unknown version,
// more than kMaxDfsReferrals entries).
Result<DfsReferralRequest> DecodeDfsReferralRequest(ByteSpan payload);
Result<DfsReferralRequestEx> DecodeDfsReferralRequestEx(ByteSpan payload);
Result<DfsReferralResponse> DecodeDfsReferralResponse(ByteSpan payload);

}  // namespace smbgate::smb2
