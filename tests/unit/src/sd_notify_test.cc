#include "src/sd_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>

namespace smbgate {
namespace {

namespace fs = std::filesystem;

// A datagram socket bound to `name` (a path, or '@' for an abstract name),
// standing in for systemd; NOTIFY_SOCKET points at it while alive.
class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (name[0] == '@') a.sun_path[0] = '\0';
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a),
                    static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                           name.size())) == 0;
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~FakeSystemd() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
  }
  bool bound() const { return bound_; }
  std::string Receive() {
    char buf[512];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }

 private:
  int fd_;
  bool bound_ = false;
};

TEST(SdNotifyTest, NotUnderSystemd) {
  ::unsetenv("NOTIFY_SOCKET");
  auto r = SdNotify("READY=1");
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_FALSE(NotifySystemdReady());
}

TEST(SdNotifyTest, PathSocket) {
  const fs::path p = fs::temp_directory_path() /
                     ("smbgate-notify-" + std::to_string(::getpid()));
  fs::remove(p);
  {
    FakeSystemd systemd(p.string());
    ASSERT_TRUE(systemd.bound());
    EXPECT_TRUE(NotifySystemdReady());
    EXPECT_EQ(systemd.Receive(), "READY=1");
    EXPECT_TRUE(NotifySystemdStopping());
    EXPECT_EQ(systemd.Receive(), "STOPPING=1");
    auto r = SdNotify("STATUS=mounted //fs1/data");
    ASSERT_TRUE(r);
    EXPECT_EQ(systemd.Receive(), "STATUS=mounted //fs1/data");
  }
  fs::remove(p);
}

TEST(SdNotifyTest, AbstractSocket) {
  FakeSystemd systemd("@smbgate-notify-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(systemd.bound());
  EXPECT_TRUE(NotifySystemdReady());
  EXPECT_EQ(systemd.Receive(), "READY=1");
}

TEST(SdNotifyTest, Errors) {
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_EQ(SdNotify("READY=1").error(),
            std::make_error_code(std::errc::invalid_argument));
  ::setenv("NOTIFY_SOCKET", "/nonexistent/smbgate/notify", 1);
  auto r = SdNotify("READY=1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::error_code(ENOENT, std::system_category()));
  EXPECT_FALSE(NotifySystemdReady());  // logged, not fatal
  ::unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace smbgate
