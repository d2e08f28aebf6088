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

// Each account state a domain controller reports gets its own fix, not the
// class's: "disabled" alone would not tell logon hours from a disabled account.
TEST(AuthFailureClassTest, DomainAccountStatesHaveSpecificFixes) {
  const std::pair<std::uint32_t, const char*> rows[] = {
      {st::kAccountDisabled, "enable the account"},
      {st::kAccountLockedOut, "unlock the account"},
      {st::kPasswordExpired, "set a new password"},
      {st::kPasswordMustChange, "must change password at next logon"},
      {st::kAccountExpired, "expiry date"},
      {st::kInvalidLogonHours, "logon hours"},
      {st::kInvalidWorkstation, "'log on to' computers"},
      {st::kAccountRestriction, "Protected Users"},
      {st::kLogonTypeNotGranted, "Access this computer from the network"},
      {st::kLogonFailure, "check the user name, domain and password"},
  };
  for (const auto& [status, words] : rows) {
    const std::string fix = LikelyFix("session_setup", smb2::MakeNtStatusError(status));
    EXPECT_NE(fix.find(words), std::string::npos) << smb2::NtStatusName(status) << ": " << fix;
    EXPECT_EQ(fix.find('\n'), std::string::npos) << fix;
  }
}

}  // namespace
}  // namespace smbgate
