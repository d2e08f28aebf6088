#include "smb2/client/reconnecting_fs.h"

#include <cerrno>
#include <random>

#include "smb2/client/names.h"
#include "smb2/codec/session_setup.h"
#include "smb2/codec/status.h"

namespace smbgate::smb2 {

bool ReconnectingFs::IsConnectionError(const std::error_code& ec) {
  if (ec == client_errc::connection_lost || ec == client_errc::timeout || ec == client_errc::credits_exhausted ||
      ec == errc::malformed_response || ec == errc::unexpected_command) {
    return true;
  }
  if (IsNtStatus(ec)) {
    switch (NtStatusOf(ec)) {
      // MS-SMB2 3.2.5.1.6 and the cifs model: the session or tree is gone,
      // set everything up again.
      case status::kNetworkSessionExpired:
      case status::kUserSessionDeleted:
      case status::kNetworkNameDeleted:
        return true;
      default:
        return false;
    }
  }
  return false;
}

bool ReconnectingFs::IsSessionGone(const std::error_code& ec) {
  return IsNtStatus(ec) &&
         (NtStatusOf(ec) == status::kUserSessionDeleted || NtStatusOf(ec) == status::kNetworkSessionExpired);
}

std::string ReconnectingFs::DowngradeBetween(const NegotiatedState& first, const NegotiatedState& now) {
  std::string what;
  auto add = [&what](const std::string& s) { what += (what.empty() ? "" : ", ") + s; };
  if (first.server_guid != now.server_guid) add("ServerGuid changed (another server answered)");
  if (first.dialect != now.dialect) {
    add("dialect " + std::string(DialectName(first.dialect)) + " -> " + std::string(DialectName(now.dialect)));
  }
  if (first.signing_algorithm != now.signing_algorithm) {
    add("signing " + std::string(SigningAlgorithmName(first.signing_algorithm)) + " -> " +
        std::string(SigningAlgorithmName(now.signing_algorithm)));
  }
  if (first.cipher_id != now.cipher_id) {
    add("cipher " + std::string(CipherName(first.cipher_id)) + " -> " + std::string(CipherName(now.cipher_id)));
  }
  return what;
}

std::shared_ptr<ReconnectingFs> ReconnectingFs::Create(std::shared_ptr<SmbFs> initial, Factory factory,
                                                       Options options) {
  std::shared_ptr<ReconnectingFs> fs(new ReconnectingFs(std::move(initial), std::move(factory), std::move(options)));
  fs->reconnect_thread_ = std::thread([fs_raw = fs.get()] { fs_raw->ReconnectLoop(); });
  if (fs->options_.echo_interval.count() > 0) {
    fs->echo_thread_ = std::thread([fs_raw = fs.get()] { fs_raw->EchoLoop(); });
  }
  return fs;
}

ReconnectingFs::ReconnectingFs(std::shared_ptr<SmbFs> initial, Factory factory, Options options)
    : factory_(std::move(factory)), options_(std::move(options)), current_(std::move(initial)) {
  max_io_ = current_->max_io_size();
  first_ = current_->tree()->connection().negotiated();
}

ReconnectingFs::~ReconnectingFs() { Stop(); }

void ReconnectingFs::Stop() {
  std::deque<Waiting> w;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_ && !reconnect_thread_.joinable() && !echo_thread_.joinable()) return;
    stopping_ = true;
    w = std::move(waiting_);
    waiting_.clear();
  }
  cv_.notify_all();
  if (reconnect_thread_.joinable() && reconnect_thread_.get_id() != std::this_thread::get_id()) {
    reconnect_thread_.join();
  }
  if (echo_thread_.joinable() && echo_thread_.get_id() != std::this_thread::get_id()) echo_thread_.join();
  for (auto& x : w) x.fail(client_errc::cancelled);
}

bool ReconnectingFs::up() const {
  std::lock_guard<std::mutex> l(mu_);
  return !down_ && current_ != nullptr;
}

std::uint64_t ReconnectingFs::reconnects() const {
  std::lock_guard<std::mutex> l(mu_);
  return reconnects_;
}

std::shared_ptr<SmbFs> ReconnectingFs::current() const {
  std::lock_guard<std::mutex> l(mu_);
  return down_ ? nullptr : current_;
}

std::uint32_t ReconnectingFs::max_io_size() const {
  std::lock_guard<std::mutex> l(mu_);
  return max_io_;
}

void ReconnectingFs::Submit(Job job, std::function<void(std::error_code)> fail) {
  std::shared_ptr<SmbFs> fs;
  std::uint64_t gen = 0;
  bool noticed_loss = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) {
      fail(client_errc::cancelled);
      return;
    }
    // The connection may have died while idle (the server restarted): then
    // this request waits for the reconnect instead of failing on it.
    if (!down_ && current_ && !current_->tree()->connection().is_open()) {
      down_ = true;
      noticed_loss = true;
    }
    if (down_) {
      waiting_.push_back({std::move(job), std::move(fail), std::chrono::steady_clock::now()});
    } else {
      fs = current_;
      gen = generation_;
    }
  }
  if (noticed_loss) {
    if (options_.on_down) options_.on_down(client_errc::connection_lost);
    cv_.notify_all();
  }
  if (fs) job(fs, gen);
}

void ReconnectingFs::ReportError(std::uint64_t generation, const std::error_code& ec) {
  if (!IsConnectionError(ec)) return;
  std::shared_ptr<SmbFs> old;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (generation != generation_ || down_ || stopping_) return;
    down_ = true;
    old = current_;
  }
  // Make every other request of the old connection fail now rather than at
  // its deadline. A lost session leaves the connection up: the server
  // answers each request of it the same way, and each is sent again; the
  // old connection closes once the new one replaces it.
  if (old && !IsSessionGone(ec)) old->tree()->connection().Close();
  if (options_.on_down) options_.on_down(ec);
  cv_.notify_all();
}

template <class T>
Callback<T> ReconnectingFs::Watch(std::uint64_t generation, Callback<T> cb, std::function<void()> retry) {
  std::weak_ptr<ReconnectingFs> weak = weak_from_this();
  return [weak, generation, cb = std::move(cb), retry = std::move(retry)](Result<T> r) {
    if (!r) {
      if (auto self = weak.lock()) {
        self->ReportError(generation, r.error());
        // MS-SMB2 3.2.5.1.6: the server lost or expired the session, so it
        // did not carry the request out: set up a new session with the
        // newest credentials, then send it again (once).
        if (retry && IsSessionGone(r.error())) return retry();
      }
    }
    cb(std::move(r));
  };
}

void ReconnectingFs::ReconnectLoop() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = options_.first_backoff;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stopping_ || down_; });
      if (stopping_) return;
    }
    auto fresh = factory_();
    if (fresh) {
      const std::string changed = DowngradeBetween(first_, (*fresh)->tree()->connection().negotiated());
      if (!changed.empty()) {
        (*fresh)->tree()->connection().Close();
        fresh = make_error_code(client_errc::downgrade_refused);
        if (options_.on_refused) options_.on_refused(changed);
      }
    }
    std::deque<Waiting> run, expired;
    std::shared_ptr<SmbFs> fs, replaced;
    std::uint64_t gen = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) return;
      if (fresh) {
        replaced = current_;
        current_ = *fresh;
        ++generation_;
        ++reconnects_;
        down_ = false;
        max_io_ = std::min(max_io_, current_->max_io_size());
        run = std::move(waiting_);
        waiting_.clear();
        fs = current_;
        gen = generation_;
        backoff = options_.first_backoff;
      } else {
        const auto now = std::chrono::steady_clock::now();
        while (!waiting_.empty() && now - waiting_.front().since >= options_.wait_limit) {
          expired.push_back(std::move(waiting_.front()));
          waiting_.pop_front();
        }
      }
    }
    if (fresh) {
      if (replaced) replaced->tree()->connection().Close();
      if (options_.on_reconnected) options_.on_reconnected();
      for (auto& w : run) w.job(fs, gen);
      continue;
    }
    for (auto& w : expired) w.fail(client_errc::connection_lost);
    // Jittered exponential backoff: Windows Server 2025 delays every failed
    // NTLM logon by 2 s, and clients that retry in a tight loop flood it
    // and the domain controller.
    std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count());
    const auto sleep = std::chrono::milliseconds(jitter(rng));
    backoff = std::min(options_.max_backoff, backoff * 2);
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, sleep, [&] { return stopping_; });
    if (stopping_) return;
  }
}

void ReconnectingFs::EchoLoop() {
  for (;;) {
    std::shared_ptr<SmbFs> fs;
    std::uint64_t gen;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, options_.echo_interval, [&] { return stopping_; });
      if (stopping_) return;
      if (down_) continue;
      fs = current_;
      gen = generation_;
    }
    // The ECHO goes on the session, signed (or encrypted) like any other
    // request, so its answer proves the session and not only the TCP
    // connection: a server that lost the session answers
    // USER_SESSION_DELETED, and a new one is set up before the next request
    // needs it (Samba 4.17 signs ECHO responses of a session). Three silent
    // intervals mean the server is dead.
    Request req = MakeRequest(Command::kEcho, EchoRequest{}, fs->tree()->session().id(), 0);
    req.timeout = options_.echo_interval * 3;
    const auto sent = std::chrono::steady_clock::now();
    auto r = fs->tree()->connection().Call(std::move(req));
    if (r && r->status() == status::kSuccess && options_.on_echo) {
      options_.on_echo(std::chrono::steady_clock::now() - sent);
    }
    if (!r) {
      ReportError(gen, r.error());
    } else if (auto e = StatusError(*r); IsSessionGone(e)) {
      ReportError(gen, e);
    }
  }
}

template <class T>
void ReconnectingFs::WithHandle(Handle vh, Callback<T> cb,
                                std::function<void(const std::shared_ptr<SmbFs>&, Handle, Callback<T>)> body,
                                int attempt) {
  auto self = shared_from_this();
  std::function<void()> retry;
  if (attempt == 0) retry = [self, vh, cb, body] { self->WithHandle<T>(vh, cb, body, 1); };
  Submit(
      [self, vh, cb, body, retry](const std::shared_ptr<SmbFs>& fs, std::uint64_t gen) {
        VirtualHandle h;
        {
          std::lock_guard<std::mutex> l(self->mu_);
          auto it = self->handles_.find(vh.persistent);
          if (it == self->handles_.end()) return cb(make_error_code(client_errc::cancelled));
          h = it->second;
        }
        if (h.generation == gen) return body(fs, h.real, self->Watch(gen, cb, retry));
        // Its file was unlinked while open and went with the old connection;
        // whatever has its name now is another file (e2e
        // ReconnectFollowsRenameAndRefusesUnlinked).
        if (h.unlinked) return cb(std::error_code(ESTALE, std::generic_category()));
        // The connection was replaced: reopen by path (never truncating or
        // creating again) and carry on with the new handle.
        OpenParams p = h.params;
        p.disposition = OpenDisposition::kOpen;
        fs->Open(h.path, p, self->Watch<OpenResult>(gen, [self, vh, gen, fs, cb, body, retry](Result<OpenResult> o) {
          if (!o) return cb(o.error());
          {
            std::lock_guard<std::mutex> l(self->mu_);
            auto it = self->handles_.find(vh.persistent);
            if (it != self->handles_.end()) {
              it->second.real = o->handle;
              it->second.generation = gen;
            }
          }
          body(fs, o->handle, self->Watch(gen, cb, retry));
        }));
      },
      [cb](std::error_code ec) { cb(ec); });
}

void ReconnectingFs::Open(std::string path, OpenParams params, Callback<OpenResult> cb) {
  OpenAttempt(std::move(path), params, std::move(cb), 0);
}

void ReconnectingFs::OpenAttempt(std::string path, OpenParams params, Callback<OpenResult> cb, int attempt) {
  auto self = shared_from_this();
  std::function<void()> retry;
  if (attempt == 0) retry = [self, path, params, cb] { self->OpenAttempt(path, params, cb, 1); };
  Submit(
      [self, path, params, cb, retry](const std::shared_ptr<SmbFs>& fs, std::uint64_t gen) {
        fs->Open(path, params, self->Watch<OpenResult>(gen, [self, path, params, gen, cb](Result<OpenResult> o) {
          if (!o) return cb(std::move(o));
          OpenResult v = *o;
          {
            std::lock_guard<std::mutex> l(self->mu_);
            const std::uint64_t id = self->next_handle_++;
            self->handles_[id] = {path, params, o->handle, gen};
            v.handle = Handle{id, 0};
          }
          cb(std::move(v));
        }, retry));
      },
      [cb](std::error_code ec) { cb(ec); });
}

void ReconnectingFs::Close(Handle h, Callback<void> cb) {
  VirtualHandle v;
  std::uint64_t gen;
  std::shared_ptr<SmbFs> fs;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = handles_.find(h.persistent);
    if (it == handles_.end()) return cb({});
    v = it->second;
    handles_.erase(it);
    gen = generation_;
    fs = down_ ? nullptr : current_;
  }
  // A handle of a lost connection was closed by the server with it.
  if (!fs || v.generation != gen) return cb({});
  fs->Close(v.real, Watch(gen, std::move(cb)));
}

void ReconnectingFs::Read(Handle h, std::uint64_t offset, std::uint32_t length, Callback<ReadResult> cb) {
  WithHandle<ReadResult>(h, std::move(cb), [offset, length](const std::shared_ptr<SmbFs>& fs, Handle r, Callback<ReadResult> c) {
    fs->Read(r, offset, length, std::move(c));
  });
}

void ReconnectingFs::Write(Handle h, std::uint64_t offset, std::shared_ptr<const Bytes> data,
                           Callback<std::uint32_t> cb) {
  WithHandle<std::uint32_t>(h, std::move(cb),
                            [offset, data](const std::shared_ptr<SmbFs>& fs, Handle r, Callback<std::uint32_t> c) {
                              fs->Write(r, offset, data, std::move(c));
                            });
}

void ReconnectingFs::Flush(Handle h, Callback<void> cb) {
  WithHandle<void>(h, std::move(cb), [](const std::shared_ptr<SmbFs>& fs, Handle r, Callback<void> c) {
    fs->Flush(r, std::move(c));
  });
}

void ReconnectingFs::GetAttributes(Handle h, Callback<FileAttributes> cb) {
  WithHandle<FileAttributes>(h, std::move(cb),
                             [](const std::shared_ptr<SmbFs>& fs, Handle r, Callback<FileAttributes> c) {
                               fs->GetAttributes(r, std::move(c));
                             });
}

void ReconnectingFs::Truncate(Handle h, std::uint64_t size, Callback<void> cb) {
  WithHandle<void>(h, std::move(cb), [size](const std::shared_ptr<SmbFs>& fs, Handle r, Callback<void> c) {
    fs->Truncate(r, size, std::move(c));
  });
}

void ReconnectingFs::SetInfo(Handle h, SetAttributes attrs, Callback<void> cb) {
  WithHandle<void>(h, std::move(cb), [attrs](const std::shared_ptr<SmbFs>& fs, Handle r, Callback<void> c) {
    fs->SetInfo(r, attrs, std::move(c));
  });
}

void ReconnectingFs::Lock(Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait,
                          Callback<void> cb) {
  WithHandle<void>(h, std::move(cb),
                   [offset, length, type, wait](const std::shared_ptr<SmbFs>& fs, Handle r, Callback<void> c) {
                     fs->Lock(r, offset, length, type, wait, std::move(c));
                   });
}

template <class T, class F>
void ReconnectingFs::PathOp(Callback<T> cb, F call, int attempt) {
  auto self = shared_from_this();
  std::function<void()> retry;
  if (attempt == 0) retry = [self, cb, call] { self->PathOp<T>(cb, call, 1); };
  Submit([self, cb, call, retry](const std::shared_ptr<SmbFs>& fs,
                                 std::uint64_t gen) { call(fs, self->Watch(gen, cb, retry)); },
         [cb](std::error_code ec) { cb(ec); });
}

// Path operations: run on the current generation, watched for connection
// errors.
void ReconnectingFs::Stat(std::string path, Callback<FileAttributes> cb) {
  PathOp(std::move(cb), [path](const auto& fs, auto c) { fs->Stat(path, std::move(c)); });
}

void ReconnectingFs::ReadDirectory(std::string path, Callback<std::vector<DirectoryEntry>> cb) {
  PathOp(std::move(cb), [path](const auto& fs, auto c) { fs->ReadDirectory(path, std::move(c)); });
}

void ReconnectingFs::MakeDirectory(std::string path, Callback<FileAttributes> cb) {
  PathOp(std::move(cb), [path](const auto& fs, auto c) { fs->MakeDirectory(path, std::move(c)); });
}

void ReconnectingFs::RemoveDirectory(std::string path, Callback<void> cb) {
  PathOp(std::move(cb), [path](const auto& fs, auto c) { fs->RemoveDirectory(path, std::move(c)); });
}

void ReconnectingFs::Unlink(std::string path, Callback<void> cb) {
  std::weak_ptr<ReconnectingFs> weak = weak_from_this();
  Callback<void> track = [weak, path, cb = std::move(cb)](Result<void> r) {
    if (r) {
      if (auto self = weak.lock()) self->PathUnlinked(path);
    }
    cb(std::move(r));
  };
  PathOp(std::move(track), [path](const auto& fs, auto c) { fs->Unlink(path, std::move(c)); });
}

void ReconnectingFs::Rename(std::string from, std::string to, bool replace, Callback<void> cb) {
  std::weak_ptr<ReconnectingFs> weak = weak_from_this();
  Callback<void> track = [weak, from, to, cb = std::move(cb)](Result<void> r) {
    if (r) {
      if (auto self = weak.lock()) self->PathRenamed(from, to);
    }
    cb(std::move(r));
  };
  PathOp(std::move(track),
         [from, to, replace](const auto& fs, auto c) { fs->Rename(from, to, replace, std::move(c)); });
}

void ReconnectingFs::PathUnlinked(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [id, h] : handles_) {
    if (h.path == path) h.unlinked = true;
  }
}

void ReconnectingFs::PathRenamed(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  // A file replaced by the rename is unlinked; then the renamed file, or
  // everything under a renamed directory, moves.
  for (auto& [id, h] : handles_) {
    if (h.path == to) h.unlinked = true;
  }
  const std::string prefix = from + "/";
  for (auto& [id, h] : handles_) {
    if (h.unlinked) continue;
    if (h.path == from) {
      h.path = to;
    } else if (h.path.compare(0, prefix.size(), prefix) == 0) {
      h.path = to + "/" + h.path.substr(prefix.size());
    }
  }
}

void ReconnectingFs::HardLink(std::string existing, std::string new_path, Callback<void> cb) {
  PathOp(std::move(cb), [existing, new_path](const auto& fs, auto c) { fs->HardLink(existing, new_path, std::move(c)); });
}

void ReconnectingFs::StatFs(Callback<FsStats> cb) {
  PathOp(std::move(cb), [](const auto& fs, auto c) { fs->StatFs(std::move(c)); });
}

}  // namespace smbgate::smb2
