// The outcome of a CSI call as the driver's logic sees it: a gRPC status code and one line
// for the kubelet's event, kept free of gRPC types so the logic is testable without a server.
#pragma once

#include <string>
#include <utility>

namespace smbgate::csi {

// The subset of gRPC status codes (same numbers) the CSI spec asks node plugins to return.
enum class Code {
  kOk = 0,
  kNotFound = 5,
  kAlreadyExists = 6,
  kFailedPrecondition = 9,
  kInternal = 13,
  kUnavailable = 14,
  kInvalidArgument = 3,
};

struct Status {
  Code code = Code::kOk;
  std::string message;

  static Status Ok() { return {}; }
  static Status Error(Code c, std::string m) { return {c, std::move(m)}; }
  bool ok() const { return code == Code::kOk; }
};

}  // namespace smbgate::csi
