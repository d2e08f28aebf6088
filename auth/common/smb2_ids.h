// MS-SMB2 dialect revisions (2.2.3) and cipher ids (2.2.3.1.2): shared by the
// wire codec (smb2/codec) and the key derivation (auth/smb_keys), which
// both depend on this common library and not on each other.
#pragma once

#include <cstdint>

namespace smbgate::smb2 {

inline constexpr std::uint16_t kDialect202 = 0x0202;
inline constexpr std::uint16_t kDialect210 = 0x0210;
inline constexpr std::uint16_t kDialect300 = 0x0300;
inline constexpr std::uint16_t kDialect302 = 0x0302;
inline constexpr std::uint16_t kDialect311 = 0x0311;

inline constexpr std::uint16_t kCipherAes128Ccm = 0x0001;
inline constexpr std::uint16_t kCipherAes128Gcm = 0x0002;
inline constexpr std::uint16_t kCipherAes256Ccm = 0x0003;
inline constexpr std::uint16_t kCipherAes256Gcm = 0x0004;

}  // namespace smbgate::smb2
