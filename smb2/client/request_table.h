// RequestTable: the requests of one connection that wait for an answer.
// Message ids and credits (MS-SMB2 3.2.4.1.2, 3.2.4.1.3, 3.2.4.1.5), each
// request's deadline and the protection its response must carry, and the
// request bytes kept until it is answered.
//
// Pure bookkeeping: no sockets, no clock of its own (times are passed in).
// Thread-safety: none; the Connection uses it from its I/O thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <system_error>
#include <utility>
#include <vector>

#include "auth/common/bytes.h"
#include "smb2/client/message.h"
#include "smb2/client/message_security.h"
#include "smb2/codec/header.h"

namespace smbgate::smb2 {

class RequestTable {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    ResponseHandler done;  // runs once; empty after a timeout
    Command command = Command::kEcho;
    std::uint64_t session_id = 0;
    std::uint16_t charge = 1;
    Protection protection = Protection::kNone;
    Clock::time_point sent_at;
    Clock::time_point deadline;
    std::chrono::milliseconds timeout{0};
    Bytes sent;                 // the request as sent, when asked to keep it
    bool interim_seen = false;  // an interim STATUS_PENDING extended it once
    // The last response for this id that was dropped for failing its
    // protection: reported at the deadline instead of a plain timeout.
    std::error_code dropped;
    bool timed_out = false;  // failed at its deadline; kept for the credits
  };

  // The most credits smbgate holds (granted plus in flight): a server that
  // grants more is capped, so a hostile or broken one cannot make the
  // client's arithmetic wrap.
  static constexpr std::uint32_t kMaxCredits = 8192;

  explicit RequestTable(std::uint16_t credits_target) : credits_target_(credits_target) {}

  // Whether `charge` credits are in hand now.
  bool CanSend(std::uint32_t charge) const { return credits_ >= charge; }
  // Nothing in flight: no response can grant more credits.
  bool Starved(std::uint32_t charge) const { return credits_ < charge && in_flight_ == 0; }
  // Takes `charge` message ids and credits; returns the first id.
  std::uint64_t Allocate(std::uint16_t charge);
  // CreditRequest for a request of `charge`: enough to keep credits_target
  // in hand, a bounded step at a time.
  std::uint16_t CreditRequest(std::uint16_t charge) const;

  void Add(std::uint64_t message_id, Entry e) { entries_.emplace(message_id, std::move(e)); }
  // The entry waiting for `message_id`, or null.
  Entry* Find(std::uint64_t message_id);
  // Removes the entry (its credits leave flight) and returns it.
  Entry Take(std::uint64_t message_id);
  // Credits granted by a response that passed its checks; capped.
  void Grant(std::uint16_t credits);

  // Entries whose deadline passed at `now`: the ones still waiting are
  // returned (with the error to report) and kept a while as timed out, so
  // the credits their late responses grant are not lost; timed-out ones
  // past `zombie_lifetime` are forgotten.
  std::vector<std::pair<std::uint64_t, std::error_code>> Expire(Clock::time_point now,
                                                                  std::chrono::milliseconds zombie_lifetime);
  // Every entry, removed (the connection failed).
  std::map<std::uint64_t, Entry> TakeAll();

  // Every waiting entry, for marking (not for adding or removing).
  std::map<std::uint64_t, Entry>& entries() { return entries_; }

  std::uint32_t credits() const { return credits_; }
  std::uint32_t in_flight() const { return in_flight_; }
  std::size_t size() const { return entries_.size(); }

 private:
  std::uint16_t credits_target_;
  std::uint64_t next_mid_ = 0;
  std::uint32_t credits_ = 1;  // MS-SMB2 3.2.4.1.3: one credit to start
  std::uint32_t in_flight_ = 0;
  std::map<std::uint64_t, Entry> entries_;
};

}  // namespace smbgate::smb2
