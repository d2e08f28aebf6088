// Server-side copy (MS-SMB2 2.2.31.1, 2.2.32.1, 2.2.32.3): the resume key
// of a source file, and the chunks of a copy into a target file, done by
// the server without the data crossing the network.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "auth/common/result.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

using ResumeKey = std::array<std::uint8_t, 24>;

// MS-SMB2 3.3.3: the limits a server applies by default (Windows and
// Samba): chunks per request, bytes per chunk, bytes per request.
inline constexpr std::uint32_t kCopyChunkMaxChunks = 256;
inline constexpr std::uint32_t kCopyChunkMaxChunkSize = 1 << 20;
inline constexpr std::uint32_t kCopyChunkMaxTotal = 16 << 20;

// MS-SMB2 2.2.32.3 SRV_REQUEST_RESUME_KEY Response: the key (the context
// that follows is not used).
Result<ResumeKey> ParseResumeKeyResponse(ByteSpan output);

// MS-SMB2 2.2.31.1.1 SRV_COPYCHUNK
struct CopyChunk {
  std::uint64_t source_offset = 0;
  std::uint64_t target_offset = 0;
  std::uint32_t length = 0;
};

// MS-SMB2 2.2.31.1 SRV_COPYCHUNK_COPY
Bytes EncodeCopyChunkCopy(const ResumeKey& key, const std::vector<CopyChunk>& chunks);

// MS-SMB2 2.2.32.1 SRV_COPYCHUNK_RESPONSE. On success the counts of what
// was copied; with STATUS_INVALID_PARAMETER the server's limits instead
// (chunks, bytes per chunk, bytes per request), MS-SMB2 3.3.5.15.6.2.
struct CopyChunkResponse {
  std::uint32_t chunks_written = 0;
  std::uint32_t chunk_bytes_written = 0;
  std::uint32_t total_bytes_written = 0;
};
Result<CopyChunkResponse> ParseCopyChunkResponse(ByteSpan output);

}  // namespace smbgate::smb2
