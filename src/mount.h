// `smbgate mount`: connects to the share and serves it through FUSE until
// unmounted or stopped by SIGTERM/SIGINT.
#pragma once

#include <string>
#include <vector>

namespace smbgate {

// Runs `smbgate mount` with the arguments after "mount". Returns the exit
// code: 0 after a clean stop (or, in the background mode, once the mount
// answers), 1 when a step failed, 2 for bad arguments or configuration.
int RunMount(const std::vector<std::string>& args);

}  // namespace smbgate
