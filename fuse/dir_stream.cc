#include "fuse/dir_stream.h"

#include <cerrno>
#include <utility>

#include "smb2/codec/errors.h"

namespace smbgate::fuse {

namespace {

// Entries of one pass beyond which the server is taken to be looping.
constexpr std::uint64_t kMaxPass = std::uint64_t{1} << 24;

}  // namespace

DirStream::DirStream(std::shared_ptr<smb2::RemoteFs> fs, PathFn path, Filter keep, std::size_t complete_max,
                     Complete on_complete)
    : fs_(std::move(fs)),
      path_(std::move(path)),
      keep_(std::move(keep)),
      complete_max_(complete_max),
      on_complete_(std::move(on_complete)) {}

DirStream::~DirStream() { CloseHandle(); }

void DirStream::CloseHandle(std::function<void()> done) {
  if (!handle_) {
    if (done) done();
    return;
  }
  const smb2::Handle h = *handle_;
  handle_.reset();
  fs_->Close(h, [done](Result<void>) {
    if (done) done();
  });
}

void DirStream::Park(std::function<void()> done) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (busy_) return done();
    busy_ = true;
  }
  CloseHandle(std::move(done));
  // Reads that came meanwhile waited for this.
  Pump();
}

void DirStream::Read(std::uint64_t position, Use use) {
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back({position, std::move(use)});
    if (busy_) return;
    busy_ = true;
  }
  Pump();
}

void DirStream::Pump() {
  for (;;) {
    std::uint64_t at;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (queue_.empty()) {
        busy_ = false;
        return;
      }
      at = queue_.front().position;
    }
    const std::uint64_t held_from = cur_start_ - prev_.size();
    const std::uint64_t taken = cur_start_ + cur_.size();
    if (at < held_from) return Fetch(true);
    if (at >= taken && !end_) return Fetch(false);
    std::span<const smb2::DirectoryEntry> from;
    if (at >= cur_start_ && at < taken) {
      from = std::span<const smb2::DirectoryEntry>(cur_).subspan(at - cur_start_);
    } else if (at < cur_start_) {
      from = std::span<const smb2::DirectoryEntry>(prev_).subspan(at - held_from);
    }
    Use use;
    {
      std::lock_guard<std::mutex> l(mu_);
      use = std::move(queue_.front().use);
      queue_.pop_front();
    }
    retried_ = false;
    use(from);
  }
}

void DirStream::Fetch(bool restart) {
  auto self = shared_from_this();
  if (!handle_) {
    // Not open (yet, or any more): a new open starts from the top.
    auto path = path_();
    if (!path) {
      return Took(std::error_code(ENOENT, std::generic_category()), true);
    }
    fs_->OpenListing(*path, [self](Result<smb2::DirectoryPage> page) { self->Took(std::move(page), true); });
    return;
  }
  fs_->ListMore(*handle_, restart,
                [self, restart](Result<smb2::DirectoryPage> page) { self->Took(std::move(page), restart); });
}

void DirStream::Took(Result<smb2::DirectoryPage> page, bool fresh) {
  const bool first = !took_;
  took_ = true;
  if (!page) {
    // The handle went bad (a reconnect, a server that lost it): open the
    // listing again and read forward, once per read.
    const bool opened = !handle_;
    CloseHandle();
    if (!opened && !retried_) {
      retried_ = true;
      return Fetch(false);
    }
    Use use;
    {
      std::lock_guard<std::mutex> l(mu_);
      use = std::move(queue_.front().use);
      queue_.pop_front();
    }
    retried_ = false;
    use(page.error());
    return Pump();
  }
  if (fresh) {
    // From the top: what was held is behind. Only the first pass is
    // gathered whole.
    prev_.clear();
    cur_.clear();
    cur_start_ = 0;
    end_ = false;
    pass_entries_ = 0;
    if (!first) {
      collecting_ = false;
      complete_ = {};
    }
    if (!page->end && !handle_) handle_ = page->handle;
  }
  pass_entries_ += page->entries.size() + 1;  // an empty page counts too
  if (pass_entries_ > kMaxPass) {
    CloseHandle();  // not opened again: fail the read
    return Took(make_error_code(smb2::errc::malformed_response), true);
  }
  std::vector<smb2::DirectoryEntry> kept;
  kept.reserve(page->entries.size());
  for (auto& e : page->entries) {
    if (keep_(e)) kept.push_back(std::move(e));
  }
  if (collecting_) {
    if (complete_.size() + kept.size() > complete_max_) {
      collecting_ = false;
      complete_ = {};
    } else {
      complete_.insert(complete_.end(), kept.begin(), kept.end());
    }
  }
  if (!kept.empty()) {
    cur_start_ += cur_.size();
    prev_ = std::move(cur_);
    cur_ = std::move(kept);
  }
  if (page->end) {
    end_ = true;
    // Done with the handle; a read from the top again opens a new one.
    CloseHandle();
    if (collecting_) {
      collecting_ = false;
      if (on_complete_) on_complete_(complete_);
      complete_ = {};
    }
  }
  Pump();
}

}  // namespace smbgate::fuse
