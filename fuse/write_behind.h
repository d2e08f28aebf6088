// WriteBehind: the writes of one open file, gathered into server-sized
// WRITE requests that are sent while the application goes on (cache=strict
// under a write lease, as kernel cifs caches writes under an exclusive
// oplock). A write is taken into a buffer and answered at once; the buffer
// goes to the server when it reaches `chunk` bytes, when a write does not
// follow on from it, or when nothing is in flight (so a lone write waits for
// no one). At most `max_in_flight` requests are in flight: a write that finds
// the pipe full is answered when there is room, which bounds the memory at
// (max_in_flight + 1) * chunk per file.
//
// An error of a write already answered is kept and reported once, by the
// next Write or a Drain that takes it (write, fsync, close), as NFS and
// kernel cifs report errors of cached writes.
//
// Thread-safety: every member is safe to call from any thread; callbacks
// run outside the lock, possibly on the calling thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace smbgate::fuse {

// Always held by a shared_ptr (requests in flight keep it alive).
class WriteBehind : public std::enable_shared_from_this<WriteBehind> {
 public:
  // Sends `data` at `offset`; `done(errno)` (0 when all of it was written).
  using Send = std::function<void(std::uint64_t offset, std::shared_ptr<const std::vector<std::uint8_t>> data,
                                  std::function<void(int err)> done)>;
  // `err`: 0, or an earlier write's error (this write's data was not taken).
  using Accepted = std::function<void(int err)>;

  // `total`, when set, counts this file's pending bytes together with
  // other files' (a mount-wide bound).
  WriteBehind(std::size_t chunk, std::size_t max_in_flight, Send send,
              std::shared_ptr<std::atomic<std::size_t>> total = nullptr);
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Takes a copy of `n` bytes at `offset`; `accepted` runs when they are
  // buffered or sent (at once unless the pipe is full).
  void Write(std::uint64_t offset, const std::uint8_t* p, std::size_t n, Accepted accepted);

  // Sends what is buffered; `done(err)` once every write taken before is
  // on the server. `take_error`: err is the first error not yet reported,
  // which is then cleared (fsync, close); otherwise err is 0 and the error
  // stays for the writer (a read or a stat that only needs the data there).
  void Drain(bool take_error, std::function<void(int err)> done);

  // Bytes taken and not yet acknowledged by the server.
  std::size_t pending_bytes() const;

 private:
  struct Waiting {
    std::uint64_t offset;
    std::vector<std::uint8_t> data;
    std::size_t used;  // bytes of `data` already in the buffer
    Accepted accepted;
  };
  using Range = std::pair<std::uint64_t, std::uint64_t>;  // [first, second)
  struct Drainer {
    bool take_error;
    std::function<void(int)> done;
  };
  using Actions = std::vector<std::function<void()>>;

  // Moves waiting writes into the buffer and sends what may go; what is to
  // run after the lock is released goes into `out`.
  void PumpLocked(Actions& out);
  // Copies what it can of `n` bytes at `at` into the buffer, sending full
  // buffers while the pipe has room; the bytes taken.
  std::size_t AppendLocked(std::uint64_t at, const std::uint8_t* p, std::size_t n, Actions& out);
  void SendBufferLocked(Actions& out);
  // Whether the buffer may go now: room in the pipe, and no request in
  // flight for any of its bytes.
  bool MaySendLocked() const;
  void Sent(Range range, std::size_t bytes, int err);
  void CountLocked(std::size_t add, std::size_t sub);
  bool IdleLocked() const { return in_flight_.empty() && buffer_.empty() && waiting_.empty(); }

  const std::size_t chunk_;
  const std::size_t max_in_flight_;
  const Send send_;
  const std::shared_ptr<std::atomic<std::size_t>> total_;

  mutable std::mutex mu_;
  std::vector<std::uint8_t> buffer_;
  std::uint64_t buffer_offset_ = 0;
  std::vector<Range> in_flight_;
  std::size_t pending_bytes_ = 0;
  int error_ = 0;
  bool forced_ = false;  // a Drain is waiting: send a partial buffer now
  std::deque<Waiting> waiting_;
  std::vector<Drainer> drainers_;
};

}  // namespace smbgate::fuse
