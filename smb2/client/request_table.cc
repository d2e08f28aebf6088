#include "smb2/client/request_table.h"

#include <algorithm>

#include "smb2/client/errors.h"

namespace smbgate::smb2 {

std::uint64_t RequestTable::Allocate(std::uint16_t charge) {
  const std::uint64_t mid = next_mid_;
  next_mid_ += charge;
  credits_ -= std::min<std::uint32_t>(charge, credits_);
  in_flight_ += charge;
  return mid;
}

std::uint16_t RequestTable::CreditRequest(std::uint16_t charge) const {
  // MS-SMB2 3.2.4.1.2 leaves the amount to the client: ask for what was
  // spent plus up to 64 more until credits_target is in hand.
  const std::uint32_t balance = credits_ + in_flight_;
  std::uint32_t ask = charge;
  if (balance < credits_target_) ask += std::min<std::uint32_t>(credits_target_ - balance, 64);
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(ask, 0xffff));
}

RequestTable::Entry* RequestTable::Find(std::uint64_t message_id) {
  auto it = entries_.find(message_id);
  return it == entries_.end() ? nullptr : &it->second;
}

RequestTable::Entry RequestTable::Take(std::uint64_t message_id) {
  auto it = entries_.find(message_id);
  Entry e = std::move(it->second);
  entries_.erase(it);
  in_flight_ -= std::min<std::uint32_t>(e.charge, in_flight_);
  return e;
}

void RequestTable::Grant(std::uint16_t credits) {
  const std::uint32_t held = credits_ + in_flight_;
  if (held >= kMaxCredits) return;
  credits_ += std::min<std::uint32_t>(credits, kMaxCredits - held);
}

std::vector<std::pair<std::uint64_t, std::error_code>> RequestTable::Expire(
    Clock::time_point now, std::chrono::milliseconds zombie_lifetime) {
  std::vector<std::pair<std::uint64_t, std::error_code>> expired;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (now < e.deadline) {
      ++it;
    } else if (e.done) {
      // A request whose only answers were dropped (forged, unsigned, not
      // encrypted) reports why, not just that time ran out.
      expired.emplace_back(it->first, e.dropped ? e.dropped : make_error_code(client_errc::timeout));
      // The caller takes `done` by the returned id.
      e.deadline = now + zombie_lifetime;
      e.sent.clear();
      ++it;
    } else {
      in_flight_ -= std::min<std::uint32_t>(e.charge, in_flight_);
      it = entries_.erase(it);
    }
  }
  return expired;
}

std::map<std::uint64_t, RequestTable::Entry> RequestTable::TakeAll() {
  auto all = std::move(entries_);
  entries_.clear();
  in_flight_ = 0;
  return all;
}

}  // namespace smbgate::smb2
