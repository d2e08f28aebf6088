#include "smb2/client/reconnecting_fs.h"

#include <algorithm>
#include <cerrno>
#include <future>
#include <random>

#include "auth/crypto.h"
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

void ReconnectingFs::SetLeaseBreakHandler(LeaseBreakHandler handler) {
  std::shared_ptr<SmbFs> fs;
  {
    std::lock_guard<std::mutex> l(mu_);
    lease_handler_ = handler;
    fs = current_;
  }
  if (fs) fs->SetLeaseBreakHandler(std::move(handler));
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
Callback<T> ReconnectingFs::Watch(std::uint64_t generation, Callback<T> cb, std::function<void(bool)> retry) {
  std::weak_ptr<ReconnectingFs> weak = weak_from_this();
  return [weak, generation, cb = std::move(cb), retry = std::move(retry)](Result<T> r) {
    if (!r) {
      if (auto self = weak.lock()) {
        self->ReportError(generation, r.error());
        // MS-SMB2 3.2.5.1.6: the server lost or expired the session, so it
        // did not carry the request out: set up a new session with the
        // newest credentials, then send it again. A lost connection may
        // have lost the request before or after the server carried it out:
        // it is replayed after the reconnect (3.2.4.1.1), marked as such.
        bool stopping;
        {
          std::lock_guard<std::mutex> l(self->mu_);
          stopping = self->stopping_;
        }
        if (retry && !stopping && IsConnectionError(r.error())) return retry(!IsSessionGone(r.error()));
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
    if (fresh) {
      std::uint64_t next;
      {
        std::lock_guard<std::mutex> l(mu_);
        next = generation_ + 1;
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        (*fresh)->SetLeaseBreakHandler(lease_handler_);
      }
      // MS-SMB2 3.2.4.1.1: requests on the new channel, replays first,
      // carry a higher ChannelSequence than any left on the old one.
      (*fresh)->tree()->connection().SetChannelSequence(static_cast<std::uint16_t>(next - 1));
      // The durable opens come back before any request may use them.
      ReclaimAll(*fresh, next);
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
        const bool hard = options_.wait_limit == std::chrono::milliseconds::max();
        while (!hard && !waiting_.empty() && now - waiting_.front().since >= options_.wait_limit) {
          expired.push_back(std::move(waiting_.front()));
          waiting_.pop_front();
        }
      }
    }
    if (fresh) {
      if (replaced) replaced->tree()->connection().Close();
      // What was cached under a lease before the connection went may be
      // stale now (a refused reclaim lost its lease, and another client
      // may have written in the gap): every lease counts as broken.
      std::vector<LeaseKey> leases;
      LeaseBreakHandler handler;
      {
        std::lock_guard<std::mutex> l(mu_);
        handler = lease_handler_;
        for (const auto& [id, h] : handles_) {
          if (h.durable.lease_state && std::find(leases.begin(), leases.end(), h.durable.lease_key) == leases.end()) {
            leases.push_back(h.durable.lease_key);
          }
        }
      }
      if (handler) {
        for (const LeaseKey& k : leases) handler(k, 0, [] {});
      }
      if (options_.on_reconnected) options_.on_reconnected();
      for (auto& w : run) w.job(fs, gen);
      continue;
    }
    for (auto& w : expired) w.fail(client_errc::connection_lost);
    // Jittered exponential backoff: Windows Server 2025 delays every failed
    // NTLM logon by 2 s, and clients that retry in a tight loop flood it
    // and the domain controller.
    std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count());
    auto sleep = std::chrono::milliseconds(jitter(rng));
    backoff = std::min(options_.max_backoff, backoff * 2);
    std::unique_lock<std::mutex> l(mu_);
    if (options_.wait_limit != std::chrono::milliseconds::max() && !waiting_.empty()) {
      // `soft`: wake when the oldest waiting request is due to fail, not
      // a whole backoff later.
      const auto due = std::chrono::duration_cast<std::chrono::milliseconds>(
          waiting_.front().since + options_.wait_limit - std::chrono::steady_clock::now());
      sleep = std::max(std::chrono::milliseconds(1), std::min(sleep, due));
    }
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

std::optional<ReconnectingFs::VirtualHandle> ReconnectingFs::FindHandle(Handle vh) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = handles_.find(vh.persistent);
  if (it == handles_.end()) return std::nullopt;
  return it->second;
}

template <class T>
void ReconnectingFs::WithHandle(Handle vh, Callback<T> cb, HandleBody<T> body, int attempt, bool maybe_done) {
  auto self = shared_from_this();
  std::function<void(bool)> retry;
  if (attempt < options_.max_replays) {
    retry = [self, vh, cb, body, attempt](bool done) { self->WithHandle<T>(vh, cb, body, attempt + 1, done); };
  }
  Submit(
      [self, vh, cb, body, retry, attempt, maybe_done](const std::shared_ptr<SmbFs>& current, std::uint64_t gen) {
        // A request sent again is marked as a replay (MS-SMB2 3.2.4.1.1).
        const std::shared_ptr<SmbFs> fs = attempt > 0 ? current->Replaying() : current;
        // A handle closed meanwhile (its release ran alongside) fails the
        // request; callbacks never run under mu_ (they may take it again).
        std::optional<VirtualHandle> found = self->FindHandle(vh);
        if (!found) return cb(make_error_code(client_errc::cancelled));
        const VirtualHandle h = *found;
        auto run = [self, vh, body, fs, maybe_done](Handle real, Callback<T> c) {
          std::optional<VirtualHandle> v = self->FindHandle(vh);
          if (!v) return c(make_error_code(client_errc::cancelled));
          body(fs, real, *v, maybe_done, std::move(c));
        };
        if (h.locks_lost) return cb(std::error_code(EIO, std::generic_category()));
        if (h.generation == gen) return run(h.real, self->Watch(gen, cb, retry));
        // Its file was unlinked while open and went with the old connection;
        // whatever has its name now is another file (e2e
        // ReconnectFollowsRenameAndRefusesUnlinked).
        if (h.unlinked || h.listing) return cb(std::error_code(ESTALE, std::generic_category()));
        // The connection was replaced and the open not reclaimed (not
        // durable, or the server refused): reopen by path (never truncating
        // or creating again) and carry on with the new handle.
        OpenParams p = h.params;
        p.disposition = OpenDisposition::kOpen;
        current->Open(h.path, p,
                      self->Watch<OpenResult>(
                          gen,
                          [self, vh, gen, cb, run, retry, current, h](Result<OpenResult> o) {
                            if (!o) return cb(o.error());
                            {
                              std::lock_guard<std::mutex> l(self->mu_);
                              auto it = self->handles_.find(vh.persistent);
                              if (it != self->handles_.end()) {
                                it->second.real = o->handle;
                                it->second.generation = gen;
                                it->second.durable = o->durable;
                              }
                            }
                            // The locks went with the old open: take them again (as kernel
                            // cifs does), each without waiting. One that another client took
                            // in the gap is lost, and the handle fails from now on rather
                            // than let the application write under a lock it no longer holds.
                            auto relock = std::make_shared<std::function<void(std::size_t)>>();
                            // The function holds itself weakly; each pending Lock holds it.
                            std::weak_ptr<std::function<void(std::size_t)>> weak_relock = relock;
                            *relock = [self, vh, gen, cb, run, retry, current, h, handle = o->handle,
                                       weak_relock](std::size_t k) {
                              if (k == h.locks.size()) {
                                bool lost = false;
                                {
                                  std::lock_guard<std::mutex> l(self->mu_);
                                  auto it = self->handles_.find(vh.persistent);
                                  lost = it != self->handles_.end() && it->second.locks_lost;
                                }
                                if (lost) return cb(std::error_code(EIO, std::generic_category()));
                                return run(handle, self->Watch(gen, cb, retry));
                              }
                              const auto& r = h.locks[k];
                              auto keep = weak_relock.lock();
                              current->Lock(handle, r.offset, r.length,
                                            r.exclusive ? LockType::kExclusive : LockType::kShared, false,
                                            [self, vh, keep, k, h](Result<void> res) {
                                              if (!res) {
                                                {
                                                  std::lock_guard<std::mutex> l(self->mu_);
                                                  auto it = self->handles_.find(vh.persistent);
                                                  if (it != self->handles_.end()) it->second.locks_lost = true;
                                                }
                                                if (self->options_.on_lock_lost)
                                                  self->options_.on_lock_lost(h.path, res.error());
                                              }
                                              (*keep)(k + 1);
                                            });
                            };
                            (*relock)(0);
                          },
                          retry));
      },
      [cb](std::error_code ec) { cb(ec); });
}

void ReconnectingFs::ReclaimAll(const std::shared_ptr<SmbFs>& fs, std::uint64_t generation) {
  struct Item {
    std::uint64_t id;
    VirtualHandle h;
  };
  std::vector<Item> items;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [id, h] : handles_) {
      if (h.generation < generation && h.durable.durable && !h.unlinked) items.push_back({id, h});
    }
  }
  // Sends every reclaim at once (one round trip for the lot) and waits.
  auto reclaim = [&fs](const std::vector<Item>& batch) {
    std::vector<std::future<Result<OpenResult>>> pending;
    for (const Item& it : batch) {
      auto p = std::make_shared<std::promise<Result<OpenResult>>>();
      pending.push_back(p->get_future());
      fs->Reclaim(it.h.path, it.h.params, it.h.real, it.h.durable,
                  [p](Result<OpenResult> r) { p->set_value(std::move(r)); });
    }
    std::vector<Result<OpenResult>> out;
    for (auto& f : pending) out.push_back(f.get());
    return out;
  };
  // The server may not have seen the old connection go yet when the new
  // one asks (Samba answers OBJECT_NAME_NOT_FOUND for an open still
  // attached to its old connection): refusals are asked again, a few times
  // over about a second, before they count.
  for (int round = 0; !items.empty(); ++round) {
    auto results = reclaim(items);
    std::vector<Item> again;
    for (std::size_t k = 0; k < items.size(); ++k) {
      const Result<OpenResult>& r = results[k];
      const bool refused = !r && IsNtStatus(r.error()) && !IsConnectionError(r.error());
      if (refused && round < 4 && fs->tree()->connection().is_open()) {
        again.push_back(items[k]);
        continue;
      }
      bool report = true;
      {
        std::lock_guard<std::mutex> l(mu_);
        auto h = handles_.find(items[k].id);
        if (h != handles_.end()) {
          if (r) {
            h->second.real = r->handle;
            h->second.generation = generation;
            h->second.durable = r->durable;
            h->second.reclaim_losses = 0;
          } else if (!refused && ++h->second.reclaim_losses < 3) {
            // The new connection went down too: the open is still the
            // server's to give back, at the next reconnect.
            report = false;
          } else {
            // Refused, or three connections lost on it (Samba 4.17.12
            // aborts the smbd process that reclaims an open with byte-range
            // locks under `posix locking = yes`): reopen by path instead.
            h->second.durable = {};
          }
        }
      }
      if (report && options_.on_reclaim) options_.on_reclaim(items[k].h.path, r ? std::error_code{} : r.error());
    }
    items = std::move(again);
    if (!items.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50 << round));
  }
}

void ReconnectingFs::Open(std::string path, OpenParams params, Callback<OpenResult> cb) {
  OpenAttempt(std::move(path), params, DurableState{}, std::move(cb), 0, false);
}

void ReconnectingFs::OpenAttempt(std::string path, OpenParams params, DurableState want, Callback<OpenResult> cb,
                                 int attempt, bool maybe_done) {
  auto self = shared_from_this();
  // The CreateGuid and lease key are chosen once, so a replay of this
  // create names the same open (MS-SMB2 3.3.5.9.10 finds it by CreateGuid).
  if (want.create_guid == std::array<std::uint8_t, 16>{}) {
    auth::OsRandom()(want.create_guid);
    want.lease_key = params.lease_key;
    if (want.lease_key == LeaseKey{}) auth::OsRandom()(want.lease_key);
  }
  std::function<void(bool)> retry;
  if (attempt < options_.max_replays) {
    retry = [self, path, params, want, cb, attempt](bool done) {
      self->OpenAttempt(path, params, want, cb, attempt + 1, done);
    };
  }
  Submit(
      [self, path, params, want, cb, retry, attempt, maybe_done](const std::shared_ptr<SmbFs>& current,
                                                                 std::uint64_t gen) {
        const std::shared_ptr<SmbFs> fs = attempt > 0 ? current->Replaying() : current;
        auto record = [self, path, params, gen, cb](Result<OpenResult> o) {
          if (!o) return cb(std::move(o));
          OpenResult v = *o;
          {
            std::lock_guard<std::mutex> l(self->mu_);
            const std::uint64_t id = self->next_handle_++;
            VirtualHandle h;
            h.path = path;
            h.params = params;
            h.real = o->handle;
            h.generation = gen;
            h.durable = o->durable;
            self->handles_[id] = std::move(h);
            v.handle = Handle{id, 0};
          }
          cb(std::move(v));
        };
        Callback<OpenResult> done = record;
        if (maybe_done && params.disposition == OpenDisposition::kCreate) {
          // An exclusive create that may have been carried out before the
          // connection was lost, on a server that no longer knows its
          // CreateGuid (it restarted): the file it finds is the one this
          // create made, so open it.
          done = [self, fs, path, params, record](Result<OpenResult> o) {
            if (o || !IsNtStatus(o.error()) || NtStatusOf(o.error()) != status::kObjectNameCollision) {
              return record(std::move(o));
            }
            OpenParams p = params;
            p.disposition = OpenDisposition::kOpen;
            fs->Open(path, p, [record](Result<OpenResult> r) {
              if (r) r->created = true;
              record(std::move(r));
            });
          };
        }
        fs->OpenWith(path, params, want, self->Watch<OpenResult>(gen, std::move(done), retry));
      },
      [cb](std::error_code ec) { cb(ec); });
}

void ReconnectingFs::Close(Handle h, Callback<void> cb) {
  VirtualHandle v;
  std::uint64_t gen;
  bool down;
  std::shared_ptr<SmbFs> fs;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = handles_.find(h.persistent);
    if (it == handles_.end()) return cb({});
    v = it->second;
    gen = generation_;
    down = down_;
    fs = down_ ? nullptr : current_;
    if (down && v.durable.durable && !v.unlinked) {
      // A durable open outlives the connection on the server, with its
      // locks: it is reclaimed with the others after the reconnect and
      // closed then. The application's close succeeds now.
      it->second.closing = true;
    } else {
      handles_.erase(it);
    }
  }
  if (down && v.durable.durable && !v.unlinked) {
    std::weak_ptr<ReconnectingFs> weak = weak_from_this();
    const std::uint64_t id = h.persistent;
    Submit(
        [weak, id](const std::shared_ptr<SmbFs>& now, std::uint64_t now_gen) {
          auto self = weak.lock();
          if (!self) return;
          VirtualHandle c;
          {
            std::lock_guard<std::mutex> l(self->mu_);
            auto it = self->handles_.find(id);
            if (it == self->handles_.end()) return;
            c = it->second;
            self->handles_.erase(it);
          }
          if (c.generation == now_gen) now->Close(c.real, [](Result<void>) {});
        },
        [weak, id](std::error_code) {
          if (auto self = weak.lock()) {
            std::lock_guard<std::mutex> l(self->mu_);
            self->handles_.erase(id);
          }
        });
    return cb({});
  }
  // A handle of a lost connection was closed by the server with it.
  if (!fs || v.generation != gen) return cb({});
  fs->Close(v.real, Watch(gen, std::move(cb)));
}

void ReconnectingFs::Read(Handle h, std::uint64_t offset, std::uint32_t length, Callback<ReadResult> cb) {
  WithHandle<ReadResult>(h, std::move(cb),
                         [offset, length](const std::shared_ptr<SmbFs>& fs, Handle r, VirtualHandle&, bool,
                                          Callback<ReadResult> c) { fs->Read(r, offset, length, std::move(c)); });
}

void ReconnectingFs::Write(Handle h, std::uint64_t offset, std::shared_ptr<const Bytes> data,
                           Callback<std::uint32_t> cb) {
  WithHandle<std::uint32_t>(h, std::move(cb),
                            [offset, data](const std::shared_ptr<SmbFs>& fs, Handle r, VirtualHandle&, bool,
                                           Callback<std::uint32_t> c) { fs->Write(r, offset, data, std::move(c)); });
}

void ReconnectingFs::Flush(Handle h, Callback<void> cb) {
  WithHandle<void>(h, std::move(cb),
                   [](const std::shared_ptr<SmbFs>& fs, Handle r, VirtualHandle&, bool, Callback<void> c) {
                     fs->Flush(r, std::move(c));
                   });
}

void ReconnectingFs::GetAttributes(Handle h, Callback<FileAttributes> cb) {
  WithHandle<FileAttributes>(h, std::move(cb),
                             [](const std::shared_ptr<SmbFs>& fs, Handle r, VirtualHandle&, bool,
                                Callback<FileAttributes> c) { fs->GetAttributes(r, std::move(c)); });
}

void ReconnectingFs::Truncate(Handle h, std::uint64_t size, Callback<void> cb) {
  WithHandle<void>(h, std::move(cb),
                   [size](const std::shared_ptr<SmbFs>& fs, Handle r, VirtualHandle&, bool, Callback<void> c) {
                     fs->Truncate(r, size, std::move(c));
                   });
}

void ReconnectingFs::SetInfo(Handle h, SetAttributes attrs, Callback<void> cb) {
  WithHandle<void>(h, std::move(cb),
                   [attrs](const std::shared_ptr<SmbFs>& fs, Handle r, VirtualHandle&, bool, Callback<void> c) {
                     fs->SetInfo(r, attrs, std::move(c));
                   });
}

void ReconnectingFs::Update(Handle h, AttributeChange change, Callback<FileAttributes> cb) {
  WithHandle<FileAttributes>(h, std::move(cb),
                             [change](const std::shared_ptr<SmbFs>& fs, Handle r, VirtualHandle&, bool,
                                      Callback<FileAttributes> c) { fs->Update(r, change, std::move(c)); });
}

void ReconnectingFs::CopyRange(Handle src, std::uint64_t src_offset, Handle dst, std::uint64_t dst_offset,
                               std::uint64_t length, Callback<std::uint64_t> cb) {
  auto self = shared_from_this();
  WithHandle<std::uint64_t>(
      dst, std::move(cb),
      [self, src, src_offset, dst_offset, length](const std::shared_ptr<SmbFs>& fs, Handle real_dst, VirtualHandle& vd,
                                                  bool, Callback<std::uint64_t> c) {
        std::optional<VirtualHandle> vs = self->FindHandle(src);
        if (!vs) return c(make_error_code(client_errc::cancelled));
        // The source must be open on the same connection; if it is not
        // (not reopened yet after a reconnect) the caller copies itself.
        if (vs->generation != vd.generation) return c(MakeNtStatusError(status::kNotSupported));
        fs->CopyRange(vs->real, src_offset, real_dst, dst_offset, length, std::move(c));
      });
}

void ReconnectingFs::UpdatePath(std::string path, AttributeChange change, Callback<FileAttributes> cb) {
  PathOp(std::move(cb), [path, change](const auto& fs, bool, auto c) { fs->UpdatePath(path, change, std::move(c)); });
}

void ReconnectingFs::Lock(Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait,
                          Callback<void> cb) {
  // The LockSequence is fixed at the first attempt (MS-SMB2 3.2.4.19):
  // index 1..64 in turn, the 4-bit number advancing each round, so a
  // replay names the same lock and a new lock never does.
  // Counted per lock request of the handle only: the server remembers the
  // last number of each index, and consecutive uses of an index differ.
  std::uint32_t seq = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = handles_.find(h.persistent);
    if (it != handles_.end()) {
      const std::uint32_t n = it->second.lock_count++;
      seq = (n % 64 + 1) << 4 | ((n / 64 + 1) % 16);
    }
  }
  // Remember what is held, to take it again after a reopen by path.
  std::weak_ptr<ReconnectingFs> weak = weak_from_this();
  cb = [weak, id = h.persistent, offset, length, type, cb = std::move(cb)](Result<void> r) {
    if (r) {
      if (auto self = weak.lock()) {
        std::lock_guard<std::mutex> l(self->mu_);
        auto it = self->handles_.find(id);
        if (it != self->handles_.end()) {
          auto& locks = it->second.locks;
          if (type == LockType::kUnlock) {
            // SMB unlocks name exactly one locked range (MS-SMB2 3.3.5.14.2).
            auto m = std::find_if(locks.begin(), locks.end(), [&](const VirtualHandle::Range& x) {
              return x.offset == offset && x.length == length;
            });
            if (m != locks.end()) locks.erase(m);
          } else {
            locks.push_back({offset, length, type == LockType::kExclusive});
          }
        }
      }
    }
    cb(std::move(r));
  };
  WithHandle<void>(h, std::move(cb),
                   [offset, length, type, wait, seq](const std::shared_ptr<SmbFs>& fs, Handle r, VirtualHandle&,
                                                     bool maybe_done, Callback<void> c) {
                     if (maybe_done && type == LockType::kUnlock) {
                       // An unlock carried out before the loss finds nothing to unlock.
                       c = [c](Result<void> res) {
                         if (!res && IsNtStatus(res.error()) && NtStatusOf(res.error()) == status::kRangeNotLocked) {
                           return c({});
                         }
                         c(std::move(res));
                       };
                     }
                     fs->LockWithSequence(r, offset, length, type, wait, seq, std::move(c));
                   });
}

template <class T, class F>
void ReconnectingFs::PathOp(Callback<T> cb, F call, int attempt, bool maybe_done) {
  auto self = shared_from_this();
  std::function<void(bool)> retry;
  if (attempt < options_.max_replays) {
    retry = [self, cb, call, attempt](bool done) { self->PathOp<T>(cb, call, attempt + 1, done); };
  }
  Submit(
      [self, cb, call, retry, attempt, maybe_done](const std::shared_ptr<SmbFs>& current, std::uint64_t gen) {
        const std::shared_ptr<SmbFs> fs = attempt > 0 ? current->Replaying() : current;
        call(fs, maybe_done, self->Watch(gen, cb, retry));
      },
      [cb](std::error_code ec) { cb(ec); });
}

namespace {

bool HasStatus(const std::error_code& ec, std::uint32_t s) { return IsNtStatus(ec) && NtStatusOf(ec) == s; }

// A replayed deletion that finds nothing to delete was carried out before
// the connection was lost.
Callback<void> DoneIfGone(bool maybe_done, Callback<void> c) {
  if (!maybe_done) return c;
  return [c](Result<void> r) {
    if (!r &&
        (HasStatus(r.error(), status::kObjectNameNotFound) || HasStatus(r.error(), status::kObjectPathNotFound))) {
      return c({});
    }
    c(std::move(r));
  };
}

}  // namespace

// Path operations: run on the current generation, watched for connection
// errors.
void ReconnectingFs::Stat(std::string path, Callback<FileAttributes> cb) {
  PathOp(std::move(cb), [path](const auto& fs, bool, auto c) { fs->Stat(path, std::move(c)); });
}

void ReconnectingFs::ReadDirectory(std::string path, Callback<std::vector<DirectoryEntry>> cb) {
  PathOp(std::move(cb), [path](const auto& fs, bool, auto c) { fs->ReadDirectory(path, std::move(c)); });
}

void ReconnectingFs::OpenListing(std::string path, Callback<DirectoryPage> cb) {
  ListingAttempt(std::move(path), std::move(cb), 0);
}

void ReconnectingFs::ListingAttempt(std::string path, Callback<DirectoryPage> cb, int attempt) {
  auto self = shared_from_this();
  std::function<void(bool)> retry;
  if (attempt < options_.max_replays) {
    retry = [self, path, cb, attempt](bool) { self->ListingAttempt(path, cb, attempt + 1); };
  }
  Submit(
      [self, path, cb, retry](const std::shared_ptr<SmbFs>& current, std::uint64_t gen) {
        auto record = [self, path, gen, cb](Result<DirectoryPage> page) {
          if (page && !page->end) {
            std::lock_guard<std::mutex> l(self->mu_);
            const std::uint64_t id = self->next_handle_++;
            VirtualHandle h;
            h.path = path;
            h.params.directory = true;
            h.real = page->handle;
            h.generation = gen;
            h.listing = true;
            self->handles_[id] = std::move(h);
            page->handle = Handle{id, 0};
          }
          cb(std::move(page));
        };
        current->OpenListing(path, self->Watch<DirectoryPage>(gen, record, retry));
      },
      [cb](std::error_code ec) { cb(ec); });
}

void ReconnectingFs::ListMore(Handle h, bool restart, Callback<DirectoryPage> cb) {
  WithHandle<DirectoryPage>(h, std::move(cb),
                            [restart](const std::shared_ptr<SmbFs>& fs, Handle r, VirtualHandle&, bool,
                                      Callback<DirectoryPage> c) { fs->ListMore(r, restart, std::move(c)); });
}

void ReconnectingFs::MakeDirectory(std::string path, Callback<FileAttributes> cb) {
  PathOp(std::move(cb), [path](const std::shared_ptr<SmbFs>& fs, bool maybe_done, Callback<FileAttributes> c) {
    if (!maybe_done) return fs->MakeDirectory(path, std::move(c));
    // A replayed mkdir that finds a directory there made it.
    fs->MakeDirectory(path, [fs, path, c](Result<FileAttributes> r) {
      if (r || !HasStatus(r.error(), status::kObjectNameCollision)) return c(std::move(r));
      fs->Stat(path, [c, r](Result<FileAttributes> st) {
        if (st && st->is_directory()) return c(std::move(st));
        c(r);
      });
    });
  });
}

void ReconnectingFs::RemoveDirectory(std::string path, Callback<void> cb) {
  PathOp(std::move(cb), [path](const auto& fs, bool maybe_done, Callback<void> c) {
    fs->RemoveDirectory(path, DoneIfGone(maybe_done, std::move(c)));
  });
}

void ReconnectingFs::Unlink(std::string path, Callback<void> cb) {
  std::weak_ptr<ReconnectingFs> weak = weak_from_this();
  Callback<void> track = [weak, path, cb = std::move(cb)](Result<void> r) {
    if (r) {
      if (auto self = weak.lock()) self->PathUnlinked(path);
    }
    cb(std::move(r));
  };
  PathOp(std::move(track), [path](const auto& fs, bool maybe_done, Callback<void> c) {
    fs->Unlink(path, DoneIfGone(maybe_done, std::move(c)));
  });
}

void ReconnectingFs::Rename(std::string from, std::string to, bool replace, Callback<void> cb) {
  std::weak_ptr<ReconnectingFs> weak = weak_from_this();
  Callback<void> track = [weak, from, to, cb = std::move(cb)](Result<void> r) {
    if (r) {
      if (auto self = weak.lock()) self->PathRenamed(from, to);
    }
    cb(std::move(r));
  };
  PathOp(std::move(track), [from, to, replace](const std::shared_ptr<SmbFs>& fs, bool maybe_done, Callback<void> c) {
    if (!maybe_done) return fs->Rename(from, to, replace, std::move(c));
    // A replayed rename whose source is gone and whose target exists was
    // carried out before the connection was lost.
    fs->Rename(from, to, replace, [fs, from, to, c](Result<void> r) {
      if (r ||
          !(HasStatus(r.error(), status::kObjectNameNotFound) || HasStatus(r.error(), status::kObjectPathNotFound) ||
            HasStatus(r.error(), status::kObjectNameCollision))) {
        return c(std::move(r));
      }
      fs->Stat(from, [fs, to, c, r](Result<FileAttributes> src) {
        if (src) return c(r);
        fs->Stat(to, [c, r](Result<FileAttributes> dst) { c(dst ? Result<void>{} : r); });
      });
    });
  });
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
  PathOp(std::move(cb), [existing, new_path](const auto& fs, bool maybe_done, Callback<void> c) {
    if (!maybe_done) return fs->HardLink(existing, new_path, std::move(c));
    // A replayed link that finds its name taken made it.
    fs->HardLink(existing, new_path, [c](Result<void> r) {
      if (!r && HasStatus(r.error(), status::kObjectNameCollision)) return c({});
      c(std::move(r));
    });
  });
}

void ReconnectingFs::StatFs(Callback<FsStats> cb) {
  PathOp(std::move(cb), [](const auto& fs, bool, auto c) { fs->StatFs(std::move(c)); });
}

}  // namespace smbgate::smb2
