#include "fuse/errno_map.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "smb2/client/errors.h"
#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"

namespace smbgate::fuse {
namespace {

TEST(ErrnoMapTest, TableIsSortedWithoutDuplicates) { EXPECT_TRUE(ErrnoTableIsSorted()); }

TEST(ErrnoMapTest, ImportantRows) {
  namespace st = smb2::status;
  EXPECT_EQ(ErrnoForStatus(st::kSuccess), 0);
  EXPECT_EQ(ErrnoForStatus(st::kObjectNameNotFound), ENOENT);
  EXPECT_EQ(ErrnoForStatus(st::kObjectPathNotFound), ENOENT);
  EXPECT_EQ(ErrnoForStatus(st::kNoSuchFile), ENOENT);
  EXPECT_EQ(ErrnoForStatus(st::kObjectNameCollision), EEXIST);
  EXPECT_EQ(ErrnoForStatus(st::kAccessDenied), EACCES);
  EXPECT_EQ(ErrnoForStatus(st::kDirectoryNotEmpty), ENOTEMPTY);
  EXPECT_EQ(ErrnoForStatus(st::kSharingViolation), EBUSY);
  EXPECT_EQ(ErrnoForStatus(st::kDiskFull), ENOSPC);
  EXPECT_EQ(ErrnoForStatus(st::kQuotaExceeded), EDQUOT);
  EXPECT_EQ(ErrnoForStatus(st::kFileIsADirectory), EISDIR);
  EXPECT_EQ(ErrnoForStatus(st::kNotADirectory), ENOTDIR);
  EXPECT_EQ(ErrnoForStatus(st::kMediaWriteProtected), EROFS);
  EXPECT_EQ(ErrnoForStatus(st::kInvalidParameter), EINVAL);
  EXPECT_EQ(ErrnoForStatus(st::kObjectNameInvalid), EINVAL);
  EXPECT_EQ(ErrnoForStatus(0xC0000106), ENAMETOOLONG);
  EXPECT_EQ(ErrnoForStatus(st::kNotSupported), EOPNOTSUPP);
  EXPECT_EQ(ErrnoForStatus(st::kTooManyLinks), EMLINK);
  EXPECT_EQ(ErrnoForStatus(st::kNotSameDevice), EXDEV);
  EXPECT_EQ(ErrnoForStatus(st::kFileTooLarge), EFBIG);
  EXPECT_EQ(ErrnoForStatus(st::kLockNotGranted), EAGAIN);
  EXPECT_EQ(ErrnoForStatus(st::kFileLockConflict), EACCES);
}

TEST(ErrnoMapTest, UnknownStatusIsEio) {
  EXPECT_EQ(ErrnoForStatus(0xC0DEC0DE), EIO);
  EXPECT_EQ(ErrnoForStatus(0x80001234), EIO);
}

TEST(ErrnoMapTest, OtherErrorKinds) {
  EXPECT_EQ(ErrnoFor({}), 0);
  EXPECT_EQ(ErrnoFor(smb2::MakeNtStatusError(smb2::status::kAccessDenied)), EACCES);
  EXPECT_EQ(ErrnoFor(smb2::make_error_code(smb2::client_errc::timeout)), ETIMEDOUT);
  EXPECT_EQ(ErrnoFor(smb2::make_error_code(smb2::client_errc::signature_mismatch)), EIO);
  EXPECT_EQ(ErrnoFor(smb2::make_error_code(smb2::client_errc::name_invalid)), EINVAL);
  // Refusals by smbgate's own security policy read as permission errors,
  // never as EFBIG or another borrowed code.
  EXPECT_EQ(ErrnoFor(smb2::make_error_code(smb2::client_errc::encryption_unavailable)), EACCES);
  EXPECT_EQ(ErrnoFor(smb2::make_error_code(smb2::client_errc::downgrade_refused)), EACCES);
  EXPECT_EQ(ErrnoFor(smb2::make_error_code(smb2::client_errc::decryption_failed)), EIO);
  EXPECT_EQ(ErrnoFor(smb2::make_error_code(smb2::client_errc::io_too_large)), EMSGSIZE);
  EXPECT_EQ(ErrnoFor(smb2::make_error_code(smb2::errc::malformed_response)), EIO);
  EXPECT_NE(smb2::client_category().name(), smb2::smb2_category().name());
  EXPECT_EQ(ErrnoFor(std::make_error_code(std::errc::no_space_on_device)), ENOSPC);
  EXPECT_STREQ(ErrnoName(ENOENT), "ENOENT");
  EXPECT_STREQ(ErrnoName(0), "0");
}

}  // namespace
}  // namespace smbgate::fuse
