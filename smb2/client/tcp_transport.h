// The TCP transport (MS-SMB2 2.1 Direct TCP): a zero byte and a 24-bit
// length before each frame. Internal to smb2/client: it includes Asio, so
// only connection.cc includes it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "auth/common/result.h"
#include "smb2/client/connection.h"
#include "smb2/client/transport.h"

namespace smbgate::smb2 {

// Resolves and connects to opts.host:opts.port within opts.connect_timeout,
// on `io` (run by another thread; never call this from that thread).
// Errors: client_errc::timeout, client_errc::connection_lost, or the
// resolver's or socket's system error.
// The resolution and the connect are timed into `report` (dns, connect),
// and a failed resolution sets its failed_step to "dns".
Result<std::unique_ptr<Transport>> ConnectTcp(boost::asio::io_context& io, const ConnectionOptions& opts,
                                              OpenReport* report);

}  // namespace smbgate::smb2
