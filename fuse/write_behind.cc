#include "fuse/write_behind.h"

#include <algorithm>
#include <utility>

namespace smbgate::fuse {

WriteBehind::WriteBehind(std::size_t chunk, std::size_t max_in_flight, Send send,
                         std::shared_ptr<std::atomic<std::size_t>> total)
    : chunk_(std::max<std::size_t>(chunk, 1)),
      max_in_flight_(std::max<std::size_t>(max_in_flight, 1)),
      send_(std::move(send)),
      total_(std::move(total)) {}

void WriteBehind::CountLocked(std::size_t add, std::size_t sub) {
  pending_bytes_ = pending_bytes_ + add - sub;
  if (total_) {
    *total_ += add;
    *total_ -= sub;
  }
}

void WriteBehind::Write(std::uint64_t offset, const std::uint8_t* p, std::size_t n, Accepted accepted) {
  Actions out;
  {
    std::lock_guard<std::mutex> l(mu_);
    CountLocked(n, 0);
    // Straight into the buffer when nothing waits before it (one copy);
    // what does not fit yet waits with a copy of its own.
    const std::size_t used = waiting_.empty() && !error_ ? AppendLocked(offset, p, n, out) : 0;
    if (used == n) {
      if (accepted) out.push_back([a = std::move(accepted)] { a(0); });
    } else {
      waiting_.push_back({offset + used, std::vector<std::uint8_t>(p + used, p + n), 0, std::move(accepted)});
    }
    PumpLocked(out);
  }
  for (auto& a : out) a();
}

void WriteBehind::Drain(bool take_error, std::function<void(int err)> done) {
  Actions out;
  {
    std::lock_guard<std::mutex> l(mu_);
    drainers_.push_back({take_error, std::move(done)});
    forced_ = true;
    PumpLocked(out);
  }
  for (auto& a : out) a();
}

std::size_t WriteBehind::pending_bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return pending_bytes_;
}

bool WriteBehind::MaySendLocked() const {
  if (in_flight_.size() >= max_in_flight_) return false;
  // Requests in flight may be carried out in any order by the server: a
  // range written again waits for the write before it.
  const std::uint64_t start = buffer_offset_, end = buffer_offset_ + buffer_.size();
  return std::none_of(in_flight_.begin(), in_flight_.end(),
                      [&](const Range& r) { return start < r.second && r.first < end; });
}

void WriteBehind::PumpLocked(Actions& out) {
  while (!waiting_.empty()) {
    Waiting& w = waiting_.front();
    if (error_) {
      // An earlier write failed after it was answered: this one reports
      // it, and its own data is not taken.
      const int e = std::exchange(error_, 0);
      CountLocked(0, w.data.size() - w.used);
      out.push_back([a = std::move(w.accepted), e] { a(e); });
      waiting_.pop_front();
      continue;
    }
    const std::size_t took = AppendLocked(w.offset + w.used, w.data.data() + w.used, w.data.size() - w.used, out);
    w.used += took;
    if (w.used < w.data.size()) break;  // the pipe is full
    if (w.accepted) out.push_back([a = std::move(w.accepted)] { a(0); });
    waiting_.pop_front();
  }
  if (!buffer_.empty() && (buffer_.size() >= chunk_ || in_flight_.empty() || forced_) && MaySendLocked()) {
    SendBufferLocked(out);
  }
  if (IdleLocked() && !drainers_.empty()) {
    forced_ = false;
    int e = error_;
    for (Drainer& d : drainers_) {
      int give = 0;
      if (d.take_error && e) {
        give = e;
        e = 0;
        error_ = 0;
      }
      out.push_back([f = std::move(d.done), give] { f(give); });
    }
    drainers_.clear();
  }
}

std::size_t WriteBehind::AppendLocked(std::uint64_t at, const std::uint8_t* p, std::size_t n, Actions& out) {
  std::size_t used = 0;
  while (used < n) {
    const bool follows = buffer_.empty() || at + used == buffer_offset_ + buffer_.size();
    if (!follows || buffer_.size() >= chunk_) {
      if (!MaySendLocked()) break;
      SendBufferLocked(out);
      continue;
    }
    if (buffer_.empty()) {
      buffer_offset_ = at + used;
    } else if (buffer_.capacity() < chunk_) {
      buffer_.reserve(chunk_);  // gathering: one allocation, not a doubling per write
    }
    const std::size_t take = std::min(chunk_ - buffer_.size(), n - used);
    buffer_.insert(buffer_.end(), p + used, p + used + take);
    used += take;
  }
  return used;
}

void WriteBehind::SendBufferLocked(Actions& out) {
  auto data = std::make_shared<const std::vector<std::uint8_t>>(std::move(buffer_));
  buffer_ = {};
  const std::uint64_t offset = buffer_offset_;
  const Range range{offset, offset + data->size()};
  in_flight_.push_back(range);
  out.push_back([self = shared_from_this(), offset, data, range] {
    self->send_(offset, data, [self, range, n = data->size()](int err) { self->Sent(range, n, err); });
  });
}

void WriteBehind::Sent(Range range, std::size_t bytes, int err) {
  Actions out;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = std::find(in_flight_.begin(), in_flight_.end(), range);
    if (it != in_flight_.end()) in_flight_.erase(it);
    CountLocked(0, bytes);
    if (err && !error_) error_ = err;
    PumpLocked(out);
  }
  for (auto& a : out) a();
}

}  // namespace smbgate::fuse
