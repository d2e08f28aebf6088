// The bounded `class` label of smbgate_auth_attempts_total and the likely
// fixes `smbgate check` prints.
#include <gtest/gtest.h>

#include "smb2/client/errors.h"
#include "smb2/codec/status.h"
#include "src/connect.h"

namespace smbgate {
namespace {

namespace st = smb2::status;

TEST(AuthFailureClassTest, EveryKindHasItsClass) {
  EXPECT_EQ(AuthFailureClass({}), "success");
  EXPECT_EQ(AuthFailureClass(smb2::MakeNtStatusError(st::kLogonFailure)), "wrong_password");
  EXPECT_EQ(AuthFailureClass(smb2::MakeNtStatusError(st::kWrongPassword)), "wrong_password");
  EXPECT_EQ(AuthFailureClass(smb2::MakeNtStatusError(st::kAccountLockedOut)), "locked");
  EXPECT_EQ(AuthFailureClass(smb2::MakeNtStatusError(st::kPasswordExpired)), "expired");
  EXPECT_EQ(AuthFailureClass(smb2::MakeNtStatusError(st::kPasswordMustChange)), "expired");
  EXPECT_EQ(AuthFailureClass(smb2::MakeNtStatusError(st::kAccountExpired)), "expired");
  EXPECT_EQ(AuthFailureClass(smb2::MakeNtStatusError(st::kAccountDisabled)), "disabled");
  EXPECT_EQ(AuthFailureClass(smb2::MakeNtStatusError(st::kLogonTypeNotGranted)), "disabled");
  EXPECT_EQ(AuthFailureClass(smb2::MakeNtStatusError(st::kAccessDenied)), "refused_by_policy");
  EXPECT_EQ(AuthFailureClass(smb2::MakeNtStatusError(st::kBadNetworkName)), "server_error");
  EXPECT_EQ(AuthFailureClass(smb2::client_errc::timeout), "unreachable");
  EXPECT_EQ(AuthFailureClass(smb2::client_errc::host_not_found), "unreachable");
  EXPECT_EQ(AuthFailureClass(std::make_error_code(std::errc::connection_refused)), "unreachable");
  EXPECT_EQ(AuthFailureClass(smb2::client_errc::guest_session_refused), "refused_by_policy");
  EXPECT_EQ(AuthFailureClass(smb2::client_errc::validate_negotiate_failed), "refused_by_policy");
  EXPECT_EQ(AuthFailureClass(smb2::client_errc::signature_mismatch), "protocol_error");
  EXPECT_EQ(AuthFailureClass(smb2::make_error_code(smb2::errc::malformed_response)), "protocol_error");
}

TEST(AuthFailureClassTest, LikelyFixes) {
  EXPECT_NE(LikelyFix("dns", smb2::client_errc::host_not_found).find("DNS"), std::string::npos);
  EXPECT_NE(LikelyFix("connect", std::make_error_code(std::errc::connection_refused)).find("port"),
            std::string::npos);
  EXPECT_NE(LikelyFix("session_setup", smb2::MakeNtStatusError(st::kAccountLockedOut)).find("unlock"),
            std::string::npos);
  EXPECT_NE(LikelyFix("tree_connect", smb2::MakeNtStatusError(st::kBadNetworkName)).find("share name"),
            std::string::npos);
  EXPECT_NE(LikelyFix("tree_connect", smb2::client_errc::validate_negotiate_failed).find("rewrites"),
            std::string::npos);
}

}  // namespace
}  // namespace smbgate
