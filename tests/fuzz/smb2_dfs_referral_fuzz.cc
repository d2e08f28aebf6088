// libFuzzer target for the SMB2 codec; the checks live in
// tests/unit/smb2/fuzz_targets.h (shared with the unit tests, which replay the
// seeds in tests/fuzz/corpus/smb2_dfs_referral_fuzz/).
#include <cstddef>
#include <cstdint>

#include "tests/unit/smb2/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  smbgate::smb2::fuzz::FuzzDfsReferral(data, size);
  return 0;
}
