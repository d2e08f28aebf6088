// WriteBehind with a scripted server: the test decides when each request
// completes and with what, and checks what was sent, when writes are
// answered, the bound on requests in flight, the order of overlapping
// writes, and that every error is reported exactly once.
#include "fuse/write_behind.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace smbgate::fuse {
namespace {

struct Sent {
  std::uint64_t offset;
  std::string data;
  std::function<void(int)> done;
};

class WriteBehindTest : public ::testing::Test {
 protected:
  std::shared_ptr<WriteBehind> Make(std::size_t chunk, std::size_t in_flight) {
    total = std::make_shared<std::atomic<std::size_t>>(0);
    return std::make_shared<WriteBehind>(
        chunk, in_flight,
        [this](std::uint64_t off, std::shared_ptr<const std::vector<std::uint8_t>> d, std::function<void(int)> done) {
          sent.push_back({off, std::string(d->begin(), d->end()), std::move(done)});
        },
        total);
  }
  // Writes `s` at `off`; the answer (errno) lands in *answer (-1: none yet).
  void Write(WriteBehind& wb, std::uint64_t off, const std::string& s, int* answer) {
    *answer = -1;
    wb.Write(off, reinterpret_cast<const std::uint8_t*>(s.data()), s.size(), [answer](int e) { *answer = e; });
  }
  // Completes request `i` with `err`.
  void Complete(std::size_t i, int err = 0) {
    auto done = std::move(sent.at(i).done);
    ASSERT_TRUE(done) << "request " << i << " completed twice";
    done(err);
  }

  std::vector<Sent> sent;
  std::shared_ptr<std::atomic<std::size_t>> total;
};

TEST_F(WriteBehindTest, ALoneWriteGoesAtOnceAndLaterOnesGatherBehindIt) {
  auto wb = Make(16, 4);
  int a, b, c;
  Write(*wb, 0, "abcd", &a);
  ASSERT_EQ(sent.size(), 1u);  // nothing in flight: sent at once
  EXPECT_EQ(a, 0);             // and answered
  Write(*wb, 4, "efgh", &b);
  Write(*wb, 8, "ijkl", &c);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(c, 0);
  EXPECT_EQ(sent.size(), 1u);  // gathered while the first is in flight
  EXPECT_EQ(wb->pending_bytes(), 12u);
  EXPECT_EQ(*total, 12u);
  Complete(0);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].offset, 4u);
  EXPECT_EQ(sent[1].data, "efghijkl");
  Complete(1);
  EXPECT_EQ(wb->pending_bytes(), 0u);
  EXPECT_EQ(*total, 0u);
}

TEST_F(WriteBehindTest, FullChunksGoUpToTheBoundAndTheNextWriteWaitsForRoom) {
  auto wb = Make(4, 2);
  int a, b, c, d;
  Write(*wb, 0, "0000", &a);  // sent: nothing in flight
  Write(*wb, 4, "1111", &b);  // a full chunk: sent (2 in flight)
  ASSERT_EQ(sent.size(), 2u);
  Write(*wb, 8, "2222", &c);  // buffered (room for one chunk)
  EXPECT_EQ(c, 0);
  Write(*wb, 12, "3333", &d);  // the buffer is full and so is the pipe: waits
  EXPECT_EQ(d, -1);
  EXPECT_EQ(sent.size(), 2u);
  Complete(0);
  EXPECT_EQ(d, 0);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].data, "2222");
  Complete(1);
  Complete(2);
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[3].offset, 12u);
  Complete(3);
  EXPECT_EQ(wb->pending_bytes(), 0u);
}

TEST_F(WriteBehindTest, AWriteLargerThanAChunkIsSplit) {
  auto wb = Make(4, 8);
  int a;
  Write(*wb, 100, "abcdefghij", &a);
  EXPECT_EQ(a, 0);
  // The full chunks go; the short tail waits while they are in flight.
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].offset, 100u);
  EXPECT_EQ(sent[0].data, "abcd");
  EXPECT_EQ(sent[1].offset, 104u);
  Complete(0);
  EXPECT_EQ(sent.size(), 2u);
  Complete(1);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].offset, 108u);
  EXPECT_EQ(sent[2].data, "ij");
  Complete(2);
}

TEST_F(WriteBehindTest, BytesWrittenAgainWaitForTheWriteBeforeThem) {
  auto wb = Make(16, 4);
  int a, b;
  Write(*wb, 0, "old!", &a);
  ASSERT_EQ(sent.size(), 1u);
  Write(*wb, 2, "NEW", &b);  // overlaps the request in flight
  int drained = -1;
  wb->Drain(false, [&](int e) { drained = e; });
  EXPECT_EQ(sent.size(), 1u);  // held back even though a drain asks
  Complete(0);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].offset, 2u);
  EXPECT_EQ(drained, -1);
  Complete(1);
  EXPECT_EQ(drained, 0);
}

TEST_F(WriteBehindTest, AnErrorIsReportedOnceByTheNextWriteOrDrainThatTakesIt) {
  auto wb = Make(16, 4);
  int a, b, c;
  Write(*wb, 0, "abcd", &a);
  EXPECT_EQ(a, 0);
  Complete(0, ENOSPC);
  // A drain that only waits (a read) leaves the error for the writer.
  int plain = -1;
  wb->Drain(false, [&](int e) { plain = e; });
  EXPECT_EQ(plain, 0);
  Write(*wb, 4, "efgh", &b);
  EXPECT_EQ(b, ENOSPC);  // reported, and this write's data not taken
  EXPECT_EQ(sent.size(), 1u);
  EXPECT_EQ(wb->pending_bytes(), 0u);
  Write(*wb, 4, "efgh", &c);
  EXPECT_EQ(c, 0);
  ASSERT_EQ(sent.size(), 2u);
  Complete(1, EIO);
  int first = -1, second = -1;
  wb->Drain(true, [&](int e) { first = e; });
  wb->Drain(true, [&](int e) { second = e; });
  EXPECT_EQ(first, EIO);
  EXPECT_EQ(second, 0);
  EXPECT_EQ(*total, 0u);
}

TEST_F(WriteBehindTest, DrainSendsAPartialBufferAndAnswersWhenAllIsAcknowledged) {
  auto wb = Make(1024, 4);
  int a, b;
  Write(*wb, 0, "x", &a);
  Write(*wb, 1, "y", &b);  // buffered behind the first
  ASSERT_EQ(sent.size(), 1u);
  int drained = -1;
  wb->Drain(true, [&](int e) { drained = e; });
  Complete(0);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(drained, -1);
  Complete(1);
  EXPECT_EQ(drained, 0);
  // With nothing pending a drain answers at once.
  int idle = -1;
  wb->Drain(true, [&](int e) { idle = e; });
  EXPECT_EQ(idle, 0);
}

}  // namespace
}  // namespace smbgate::fuse
