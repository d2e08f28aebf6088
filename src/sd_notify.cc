#include "src/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "src/logging.h"

namespace smbgate {

Result<bool> SdNotify(std::string_view state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || *env == '\0') return false;
  const std::string_view path(env);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A path must be absolute; '@' names a Linux abstract socket, whose
  // address starts with a NUL byte and is as long as the name, no more.
  if ((path[0] != '/' && path[0] != '@') || path.size() < 2 ||
      path.size() > sizeof addr.sun_path) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';
  const auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::error_code(errno, std::system_category());
  ssize_t n;
  do {
    n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&addr), len);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (n < 0) return std::error_code(err, std::system_category());
  return true;
}

namespace {

bool NotifyOrWarn(std::string_view state) noexcept {
  try {
    auto r = SdNotify(state);
    if (!r) {
      LogWarn("could not notify systemd",
              {{"state", state}, {"error", r.error().message()}});
      return false;
    }
    return *r;
  } catch (...) {
    return false;  // out of memory while building the message
  }
}

}  // namespace

bool NotifySystemdReady() noexcept { return NotifyOrWarn("READY=1"); }
bool NotifySystemdStopping() noexcept { return NotifyOrWarn("STOPPING=1"); }

}  // namespace smbgate
