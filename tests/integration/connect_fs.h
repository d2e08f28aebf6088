// An SmbFs on a test smbd's share, connected the way a mount connects
// (negotiate, NTLMv2 session setup, tree connect), for integration tests of
// the client layers above the connection.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>

#include "smb2/client/connection.h"
#include "smb2/client/session.h"
#include "smb2/client/smb_fs.h"
#include "tests/integration/smbd_fixture.h"

namespace smbgate::test {

// `port` 0 is the server's own (another reaches it through a proxy);
// `client_guid` all zero draws a random one (a mount keeps one for its
// reconnects).
inline Result<std::shared_ptr<smb2::SmbFs>> ConnectFs(const SmbdServer& s, std::uint16_t port = 0,
                                                      std::array<std::uint8_t, 16> client_guid = {}) {
  smb2::ConnectionOptions o;
  o.host = s.host();
  o.port = port ? port : s.port();
  o.request_timeout = std::chrono::seconds(10);
  o.client_guid = client_guid;
  auto conn = smb2::Connection::Open(o);
  if (!conn) return conn.error();
  auth::NtlmCredentials c;
  c.user = s.user();
  c.domain = s.domain();
  c.password = SecretString(s.password());
  auto session = smb2::Session::Setup(*conn, std::move(c));
  if (!session) return session.error();
  auto tree = smb2::Tree::Connect(*session, "\\\\" + s.host() + "\\" + s.share());
  if (!tree) return tree.error();
  return std::make_shared<smb2::SmbFs>(*tree);
}

}  // namespace smbgate::test
