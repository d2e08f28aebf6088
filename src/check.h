// `smbgate check`: connect, negotiate, authenticate and connect to the share,
// then report what was negotiated.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace smbgate {

// Runs `smbgate check` with the arguments after "check". Writes the report
// (`key: value` lines) to `out` and errors (one line each) to `err`.
// Returns the process exit code: 0 success, 1 a failed step, 2 bad usage.
int RunCheck(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace smbgate
