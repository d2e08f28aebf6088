// DirStream over the fake share with small pages: entries by position
// across pages, a read behind the pages at hand starting again, a handle
// that fails opened again at the same place, the filter, the first pass
// handed over whole only when it fits, and the server's handle closed at
// the end or when the stream goes.
#include "fuse/dir_stream.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "smb2/codec/errors.h"
#include "smb2/codec/status.h"
#include "tests/unit/fuse/fake_remote_fs.h"

namespace smbgate::fuse {
namespace {

namespace st = smb2::status;

std::string NameOf(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "f%05d", i);
  return buf;
}

class DirStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakeRemoteFs>();
    for (int i = 0; i < kEntries; ++i) fake_->PutFile("d/" + NameOf(i), "x");
    fake_->set_list_page(kPage);
  }

  std::shared_ptr<DirStream> Make(DirStream::Filter keep = nullptr, std::size_t complete_max = 0,
                                  DirStream::Complete on_complete = nullptr) {
    if (!keep) keep = [](const smb2::DirectoryEntry&) { return true; };
    return std::make_shared<DirStream>(
        fake_, [] { return std::optional<std::string>("d"); }, keep, complete_max, on_complete);
  }

  // The names from `position` on as one Read gives them, or the error.
  static Result<std::vector<std::string>> Get(DirStream& s, std::uint64_t position) {
    std::promise<Result<std::vector<std::string>>> p;
    s.Read(position, [&p](Result<std::span<const smb2::DirectoryEntry>> r) {
      if (!r) return p.set_value(r.error());
      std::vector<std::string> names;
      for (const auto& e : *r) names.push_back(e.name);
      p.set_value(std::move(names));
    });
    auto f = p.get_future();
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "no answer";
      return std::error_code(ETIMEDOUT, std::generic_category());
    }
    return f.get();
  }

  // Every name in order, read as readdir does: from where the last read
  // ended.
  static std::vector<std::string> All(DirStream& s, std::uint64_t from = 0) {
    std::vector<std::string> out;
    for (std::uint64_t at = from;;) {
      auto r = Get(s, at);
      if (!r) {
        ADD_FAILURE() << r.error().message();
        return out;
      }
      if (r->empty()) return out;
      // Take a few at a time, as a small readdir buffer would.
      const std::size_t n = std::min<std::size_t>(r->size(), 7);
      out.insert(out.end(), r->begin(), r->begin() + static_cast<std::ptrdiff_t>(n));
      at += n;
    }
  }

  template <class Pred>
  static bool Soon(Pred p) {
    for (int i = 0; i < 500 && !p(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return p();
  }

  static std::vector<std::string> Expected(int from = 0) {
    std::vector<std::string> out;
    for (int i = from; i < kEntries; ++i) out.push_back(NameOf(i));
    return out;
  }

  static constexpr int kEntries = 250;
  static constexpr int kPage = 20;
  std::shared_ptr<FakeRemoteFs> fake_;
};

TEST_F(DirStreamTest, ReadsEveryEntryInOrderAPageAtATime) {
  auto s = Make();
  EXPECT_EQ(All(*s), Expected());
  EXPECT_EQ(fake_->calls("OpenListing"), 1);
  // 40 in the first page (two rounds), 20 a page after, and the empty end.
  EXPECT_EQ(fake_->calls("ListMore"), (kEntries - 2 * kPage + kPage - 1) / kPage + 1);
  // Done with the handle at the end, not at the stream's end.
  EXPECT_EQ(fake_->open_handles(), 0u);
  EXPECT_EQ(fake_->calls("Close"), 1);
  // Past the end: nothing, and no more requests.
  auto past = Get(*s, kEntries + 5);
  ASSERT_TRUE(past);
  EXPECT_TRUE(past->empty());
  EXPECT_EQ(fake_->calls("ListMore"), (kEntries - 2 * kPage + kPage - 1) / kPage + 1);
}

TEST_F(DirStreamTest, ASmallDirectoryIsOneOpenAndNoHandleKept) {
  fake_->set_list_page(0);
  auto s = Make();
  EXPECT_EQ(All(*s), Expected());
  EXPECT_EQ(fake_->calls("OpenListing"), 1);
  EXPECT_EQ(fake_->calls("ListMore"), 0);
  EXPECT_EQ(fake_->calls("Close"), 0);
}

TEST_F(DirStreamTest, HoldsOnlyTheLastTwoPagesAndStartsAgainForOlderPositions) {
  auto s = Make();
  // Forward to position 200: the pages before are let go.
  auto at200 = Get(*s, 200);
  ASSERT_TRUE(at200);
  ASSERT_FALSE(at200->empty());
  EXPECT_EQ(at200->front(), NameOf(200));
  const int more = fake_->calls("ListMore");
  // The page before is still at hand: no request.
  auto at185 = Get(*s, 185);
  ASSERT_TRUE(at185);
  EXPECT_EQ(at185->front(), NameOf(185));
  EXPECT_EQ(fake_->calls("ListMore"), more);
  // Older: the listing starts again on the same handle and reads forward.
  auto at3 = Get(*s, 3);
  ASSERT_TRUE(at3);
  EXPECT_EQ(at3->front(), NameOf(3));
  EXPECT_GT(fake_->calls("ListMore"), more);
  EXPECT_EQ(fake_->calls("OpenListing"), 1);
  EXPECT_EQ(All(*s, 3), Expected(3));
  // Once the listing ended its handle is closed: from the top again is a
  // new open.
  EXPECT_EQ(All(*s, 0), Expected());
  EXPECT_EQ(fake_->calls("OpenListing"), 2);
  EXPECT_EQ(fake_->open_handles(), 0u);
}

TEST_F(DirStreamTest, AFailedHandleIsOpenedAgainAtTheSamePlace) {
  auto s = Make();
  auto first = Get(*s, 0);
  ASSERT_TRUE(first);
  // The connection was replaced: the handle is gone (ESTALE from
  // ReconnectingFs); the stream opens the listing again and reads forward.
  fake_->FailNext("ListMore", std::error_code(ESTALE, std::generic_category()));
  auto at100 = Get(*s, 100);
  ASSERT_TRUE(at100) << at100.error().message();
  EXPECT_EQ(at100->front(), NameOf(100));
  EXPECT_EQ(fake_->calls("OpenListing"), 2);
  EXPECT_EQ(All(*s, 100), Expected(100));
  EXPECT_EQ(fake_->open_handles(), 0u);
}

TEST_F(DirStreamTest, AFailureAfterOpeningAgainIsTheReadsError) {
  auto s = Make();
  ASSERT_TRUE(Get(*s, 0));
  fake_->FailNext("ListMore", std::error_code(ESTALE, std::generic_category()));
  fake_->FailNext("OpenListing", smb2::MakeNtStatusError(st::kAccessDenied));
  auto r = Get(*s, 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), smb2::MakeNtStatusError(st::kAccessDenied));
  // The next read tries again, and succeeds.
  auto again = Get(*s, 100);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->front(), NameOf(100));
}

TEST_F(DirStreamTest, AnOpenThatFailsIsTheError) {
  fake_->FailNext("OpenListing", smb2::MakeNtStatusError(st::kAccessDenied));
  auto s = Make();
  auto r = Get(*s, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), smb2::MakeNtStatusError(st::kAccessDenied));
  EXPECT_EQ(fake_->calls("OpenListing"), 1);
}

TEST_F(DirStreamTest, FilteredEntriesTakeNoPosition) {
  int dropped = 0;
  auto s = Make([&dropped](const smb2::DirectoryEntry& e) {
    const bool keep = e.name.back() != '3';
    dropped += !keep;
    return keep;
  });
  std::vector<std::string> want;
  for (const auto& n : Expected()) {
    if (n.back() != '3') want.push_back(n);
  }
  EXPECT_EQ(All(*s), want);
  EXPECT_EQ(dropped, kEntries / 10);
}

TEST_F(DirStreamTest, TheFirstPassIsHandedOverWholeOnlyWhenItFits) {
  int calls = 0;
  std::size_t size = 0;
  auto fits = Make(nullptr, kEntries, [&](const std::vector<smb2::DirectoryEntry>& all) {
    ++calls;
    size = all.size();
  });
  All(*fits);
  All(*fits);  // a second pass is not handed over
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(size, static_cast<std::size_t>(kEntries));

  calls = 0;
  auto too_big = Make(nullptr, kEntries - 1, [&](const std::vector<smb2::DirectoryEntry>&) { ++calls; });
  All(*too_big);
  EXPECT_EQ(calls, 0);

  // A first pass broken by a restart is not whole either.
  auto restarted = Make(nullptr, kEntries, [&](const std::vector<smb2::DirectoryEntry>&) { ++calls; });
  ASSERT_TRUE(Get(*restarted, 200));
  ASSERT_TRUE(Get(*restarted, 0));
  All(*restarted);
  EXPECT_EQ(calls, 0);
}

TEST_F(DirStreamTest, TheHandleIsClosedWhenTheStreamGoesBeforeTheEnd) {
  {
    auto s = Make();
    ASSERT_TRUE(Get(*s, 0));
    EXPECT_EQ(fake_->open_handles(), 1u);
  }
  // The last reference may go with the fake's callback, just after the
  // answer: the close follows it.
  EXPECT_TRUE(Soon([&] { return fake_->open_handles() == 0; }));
}

TEST_F(DirStreamTest, AParkedListingIsOpenedAgainByItsPathThenAndReadOn) {
  std::string path = "d";
  auto s = std::make_shared<DirStream>(
      fake_, [&path] { return std::optional<std::string>(path); }, [](const smb2::DirectoryEntry&) { return true; }, 0,
      nullptr);
  ASSERT_TRUE(Get(*s, 100));
  EXPECT_EQ(fake_->open_handles(), 1u);
  std::promise<void> parked;
  s->Park([&parked] { parked.set_value(); });
  ASSERT_EQ(parked.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(fake_->open_handles(), 0u);
  // Moved meanwhile: the listing goes on from the new path.
  ASSERT_FALSE(fake_->OtherRename("d", "e"));
  path = "e";
  EXPECT_EQ(All(*s, 100), Expected(100));
  EXPECT_EQ(fake_->calls_for("OpenListing", "e"), 1) << fake_->CallLog();
}

TEST_F(DirStreamTest, ReadsFromManyThreadsAreServedOneAtATime) {
  auto s = Make();
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 20; ++k) {
        const int at = (t * 61 + k * 37) % kEntries;
        auto r = Get(*s, static_cast<std::uint64_t>(at));
        if (!r || r->empty() || r->front() != NameOf(at)) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace smbgate::fuse
