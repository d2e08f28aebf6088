// MS-SMB2 2.2.14.1 SMB2_FILEID: the 16-byte handle of an open.
#pragma once

#include <cstdint>

#include "smb2/codec/wire.h"

namespace smbgate::smb2 {

// MS-SMB2 2.2.14.1 SMB2_FILEID
struct FileId {
  std::uint64_t persistent = 0;
  std::uint64_t volatile_ = 0;

  friend bool operator==(const FileId&, const FileId&) = default;
};

// MS-SMB2 3.2.4.1.4 / 2.2.31: the FileId sent with FSCTL_VALIDATE_NEGOTIATE_INFO
// and by the second and later requests of a related compound (both halves all
// ones: "use the FileId of the previous operation").
inline constexpr FileId kAllOnesFileId{0xFFFFFFFFFFFFFFFFull,
                                       0xFFFFFFFFFFFFFFFFull};

inline void Encode(const FileId& id, WireWriter& w) {
  w.U64(id.persistent);
  w.U64(id.volatile_);
}
// Reads 16 bytes; a short read sets the reader's sticky error.
inline FileId ReadFileId(WireReader& r) {
  FileId id;
  id.persistent = r.U64();
  id.volatile_ = r.U64();
  return id;
}

}  // namespace smbgate::smb2
