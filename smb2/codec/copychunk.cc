#include "smb2/codec/copychunk.h"

#include <algorithm>

#include "smb2/codec/errors.h"

namespace smbgate::smb2 {

Result<ResumeKey> ParseResumeKeyResponse(ByteSpan output) {
  WireReader r(output);
  ResumeKey k{};
  const ByteSpan key = r.Bytes(k.size());
  r.U32();  // ContextLength
  if (!r.ok()) return errc::malformed_response;
  std::copy(key.begin(), key.end(), k.begin());
  return k;
}

Bytes EncodeCopyChunkCopy(const ResumeKey& key, const std::vector<CopyChunk>& chunks) {
  WireWriter w;
  w.Bytes(ByteSpan(key.data(), key.size()));
  w.U32(static_cast<std::uint32_t>(chunks.size()));
  w.U32(0);  // Reserved
  for (const CopyChunk& c : chunks) {
    w.U64(c.source_offset);
    w.U64(c.target_offset);
    w.U32(c.length);
    w.U32(0);  // Reserved
  }
  return w.Take();
}

Result<CopyChunkResponse> ParseCopyChunkResponse(ByteSpan output) {
  WireReader r(output);
  CopyChunkResponse v;
  v.chunks_written = r.U32();
  v.chunk_bytes_written = r.U32();
  v.total_bytes_written = r.U32();
  if (!r.ok()) return errc::malformed_response;
  return v;
}

}  // namespace smbgate::smb2
