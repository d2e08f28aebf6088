#include "smb2/codec/errors.h"

#include <string>

#include "smb2/codec/status.h"

namespace smbgate::smb2 {
namespace {

class Smb2Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "smb2"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::malformed_response: return "malformed response from the server";
      case errc::bad_structure_size: return "response with a wrong StructureSize";
      case errc::unexpected_command: return "response to a different command";
      case errc::too_large: return "request or response larger than allowed";
    }
    return "unknown smb2 error";
  }
};

class NtStatusCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ntstatus"; }
  std::string message(int ev) const override {
    const auto s = static_cast<std::uint32_t>(ev);
    std::string m = NtStatusName(s);
    if (const char* why = NtStatusExplanation(s)) {
      m += " (";
      m += why;
      m += ")";
    }
    return m;
  }
};

}  // namespace

const std::error_category& smb2_category() noexcept {
  static const Smb2Category c;
  return c;
}

const std::error_category& ntstatus_category() noexcept {
  static const NtStatusCategory c;
  return c;
}

}  // namespace smbgate::smb2
