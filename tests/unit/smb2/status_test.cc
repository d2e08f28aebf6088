#include <gtest/gtest.h>

#include <string>

#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"

namespace smbgate::smb2 {
namespace {

TEST(NtStatusTable, IsSorted) { EXPECT_TRUE(NtStatusTableIsSorted()); }

TEST(NtStatusTable, ImportantRows) {
  EXPECT_STREQ(NtStatusName(status::kSuccess), "STATUS_SUCCESS");
  EXPECT_STREQ(NtStatusName(status::kLogonFailure), "STATUS_LOGON_FAILURE");
  EXPECT_STREQ(NtStatusName(status::kAccessDenied), "STATUS_ACCESS_DENIED");
  EXPECT_STREQ(NtStatusName(status::kObjectNameNotFound),
               "STATUS_OBJECT_NAME_NOT_FOUND");
  EXPECT_STREQ(NtStatusName(status::kBadNetworkName), "STATUS_BAD_NETWORK_NAME");
  EXPECT_STREQ(NtStatusName(status::kNetworkSessionExpired),
               "STATUS_NETWORK_SESSION_EXPIRED");
  EXPECT_STREQ(NtStatusName(status::kMoreProcessingRequired),
               "STATUS_MORE_PROCESSING_REQUIRED");
  EXPECT_STREQ(NtStatusName(status::kBufferOverflow), "STATUS_BUFFER_OVERFLOW");
  EXPECT_STREQ(NtStatusName(status::kStoppedOnSymlink),
               "STATUS_STOPPED_ON_SYMLINK");
  EXPECT_STREQ(NtStatusName(status::kFileTooLarge), "STATUS_FILE_TOO_LARGE");
  // The values themselves (MS-ERREF 2.3.1).
  EXPECT_EQ(status::kLogonFailure, 0xC000006Du);
  EXPECT_EQ(status::kMoreProcessingRequired, 0xC0000016u);
  EXPECT_EQ(status::kBufferOverflow, 0x80000005u);
  EXPECT_EQ(status::kPending, 0x00000103u);
  EXPECT_EQ(status::kNetworkSessionExpired, 0xC000035Cu);
  EXPECT_EQ(status::kUserSessionDeleted, 0xC0000203u);
}

TEST(NtStatusTable, UnknownValueIsFormatted) {
  EXPECT_STREQ(NtStatusName(0xC0DEC0DE), "NTSTATUS 0xC0DEC0DE");
  EXPECT_EQ(NtStatusExplanation(0xC0DEC0DE), nullptr);
}

TEST(NtStatusTable, ExplanationInMessage) {
  const std::error_code ec = MakeNtStatusError(status::kLogonFailure);
  EXPECT_TRUE(IsNtStatus(ec));
  EXPECT_EQ(NtStatusOf(ec), status::kLogonFailure);
  EXPECT_NE(ec.message().find("STATUS_LOGON_FAILURE ("), std::string::npos);
}

TEST(Smb2Category, Messages) {
  const std::error_code ec = make_error_code(errc::malformed_response);
  EXPECT_STREQ(ec.category().name(), "smb2");
  EXPECT_FALSE(ec.message().empty());
  EXPECT_FALSE(IsNtStatus(ec));
}

}  // namespace
}  // namespace smbgate::smb2
