// Telling systemd about the service's state (Type=notify units), without
// libsystemd: one datagram to the socket named by $NOTIFY_SOCKET.
#pragma once

#include <string_view>

#include "auth/common/result.h"

namespace smbgate {

// Sends `state` (like "READY=1" or "STOPPING=1\nSTATUS=unmounting"; see
// sd_notify(3)) to $NOTIFY_SOCKET, a path or an abstract name starting with
// '@'. Returns false when NOTIFY_SOCKET is unset or empty (not started by
// systemd with Type=notify), true when sent. Errors: the socket(2)/sendto(2)
// error, or std::errc::invalid_argument for a malformed NOTIFY_SOCKET.
// Thread-safe (reads the environment; do not call setenv concurrently).
Result<bool> SdNotify(std::string_view state);

// SdNotify("READY=1"): call once the mount answers. Failures are logged at
// warn level and otherwise ignored. Returns whether systemd was told.
bool NotifySystemdReady() noexcept;

// SdNotify("STOPPING=1"): call when a clean stop begins. As above.
bool NotifySystemdStopping() noexcept;

}  // namespace smbgate
