#include "fuse/fuse_impl.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

namespace smbgate::fuse {
namespace {

// The mount whose loop the stop signals end (InstallSignalHandlers).
std::atomic<FuseFs::Impl*> g_signal_mount{nullptr};

// SIGTERM, SIGINT, SIGHUP. Only async-signal-safe calls: a flag store
// (fuse_session_exit) and sem_post.
void OnStopSignal(int) {
  if (FuseFs::Impl* i = g_signal_mount.load()) {
    fuse_session_exit(i->se);
    sem_post(&i->stop_sem);
  }
}

// The kicker's signal: its only job is to interrupt the loop's sem_wait.
void OnKick(int) {}
constexpr int kKickSignal = SIGURG;

bool SetHandler(int sig, void (*fn)(int)) {
  struct sigaction sa {};
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the loop must see EINTR
  return sigaction(sig, &sa, nullptr) == 0;
}

}  // namespace

void FuseFs::Impl::NotePeakNodes() {
  const std::size_t now = inodes.size();
  std::size_t peak = nodes_peak.load();
  while (now > peak && !nodes_peak.compare_exchange_weak(peak, now)) {
  }
}

void FuseFs::Impl::GiveBackMemory() {
  NotePeakNodes();
  const std::size_t now = inodes.size();
  const std::size_t peak = nodes_peak.load();
  const std::size_t gone = peak > now ? peak - now : 0;
  // 8192 nodes freed, or half of them gone (the last of a big listing's
  // nodes).
  if (gone < 8192 && !(gone >= 1024 && now * 2 < peak)) return;
  nodes_peak = now;
  malloc_trim(0);
}

namespace {

FuseFs::Impl* I(fuse_req_t req) { return static_cast<FuseFs::Impl*>(fuse_req_userdata(req)); }

void OpInit(void* userdata, fuse_conn_info* conn) {
  auto* impl = static_cast<FuseFs::Impl*>(userdata);
  conn->max_write = impl->opts.max_io;
  conn->max_read = impl->opts.max_io;
  conn->max_readahead = std::min<unsigned>(conn->max_readahead, impl->opts.max_io);
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  auto want = [conn](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  want(FUSE_CAP_ASYNC_READ);
  want(FUSE_CAP_ATOMIC_O_TRUNC);
  want(FUSE_CAP_READDIRPLUS);
  want(FUSE_CAP_READDIRPLUS_AUTO);
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_POSIX_LOCKS);
  want(FUSE_CAP_FLOCK_LOCKS);
  want(FUSE_CAP_ASYNC_DIO);
  // The writeback cache lets the kernel batch and parallelise writes, but
  // with it the kernel trusts its own file size and mtime for good: it
  // never takes the server's size again for a regular file it knows
  // (fuse_change_attributes keeps i_size when writeback_cache is on), so a
  // file changed by another client, or through another hard link, keeps
  // its old size, and reads past it return zeros or stop short (seen in
  // the e2e tests with Linux 6.18). That is only acceptable with
  // cache=loose; strict (the default, like cifs) and none write through.
  if (impl->opts.cache == CacheMode::kLoose) {
    want(FUSE_CAP_WRITEBACK_CACHE);
  } else {
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  }
  conn->time_gran = 100;  // FILETIME resolution, in ns
  {
    std::lock_guard<std::mutex> l(impl->init_mu);
    impl->initialized = true;
  }
  impl->init_cv.notify_all();
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) { I(req)->Lookup(req, parent, name); }
void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t n) {
  I(req)->Forget(ino, n);
  fuse_reply_none(req);
}
void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) I(req)->Forget(forgets[i].ino, forgets[i].nlookup);
  I(req)->GiveBackMemory();
  fuse_reply_none(req);
}
void OpGetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { I(req)->GetAttr(req, ino, fi); }
void OpSetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  I(req)->SetAttr(req, ino, attr, to_set, fi);
}
void OpReadlink(fuse_req_t req, fuse_ino_t ino) { I(req)->Readlink(req, ino); }
void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
  if (!S_ISREG(mode)) {
    // Devices, FIFOs and sockets have no SMB2 form without the POSIX
    // extensions; cifs answers the same.
    fuse_reply_err(req, EPERM);
    return;
  }
  I(req)->CreateFile(req, "mknod", parent, name, O_EXCL, nullptr);
}
void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t) { I(req)->MkDir(req, parent, name); }
void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) { I(req)->Remove(req, parent, name, false); }
void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) { I(req)->Remove(req, parent, name, true); }
void OpSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  I(req)->Symlink(req, link, parent, name);
}
void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
              unsigned int flags) {
  I(req)->Rename(req, parent, name, newparent, newname, flags);
}
void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  I(req)->Link(req, ino, newparent, newname);
}
void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { I(req)->Open(req, ino, fi); }
void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  I(req)->Read(req, ino, size, off, fi);
}
void OpWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  I(req)->Write(req, ino, buf, size, off, fi);
}
void OpFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { I(req)->Flush(req, ino, fi); }
void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  auto* impl = I(req);
  impl->Release(fi->fh, impl->Begin(req, "release"));
}
void OpFsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  I(req)->Fsync(req, ino, datasync, fi);
}
void OpOpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { I(req)->OpenDir(req, ino, fi); }
void OpReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  I(req)->ReadDir(req, ino, size, off, fi, false);
}
void OpReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  I(req)->ReadDir(req, ino, size, off, fi, true);
}
void OpReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) { I(req)->ReleaseDir(req, fi); }
void OpFsyncDir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) { fuse_reply_err(req, 0); }
void OpStatFs(fuse_req_t req, fuse_ino_t) { I(req)->StatFs(req); }
void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t, fuse_file_info* fi) {
  I(req)->CreateFile(req, "create", parent, name, fi->flags, fi);
}
void OpGetLk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock) {
  I(req)->GetLock(req, ino, fi, lock);
}
void OpSetLk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock, int sleep) {
  I(req)->SetLock(req, ino, fi, lock, sleep != 0);
}
void OpFlock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int op) { I(req)->Flock(req, ino, fi, op); }
void OpCopyFileRange(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, fuse_file_info* fi_in, fuse_ino_t ino_out,
                     off_t off_out, fuse_file_info* fi_out, size_t len, int flags) {
  I(req)->CopyFileRange(req, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len, flags);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops o{};
  o.init = OpInit;
  o.lookup = OpLookup;
  o.forget = OpForget;
  o.forget_multi = OpForgetMulti;
  o.getattr = OpGetAttr;
  o.setattr = OpSetAttr;
  o.readlink = OpReadlink;
  o.mknod = OpMknod;
  o.mkdir = OpMkdir;
  o.unlink = OpUnlink;
  o.rmdir = OpRmdir;
  o.symlink = OpSymlink;
  o.rename = OpRename;
  o.link = OpLink;
  o.open = OpOpen;
  o.read = OpRead;
  o.write = OpWrite;
  o.flush = OpFlush;
  o.release = OpRelease;
  o.fsync = OpFsync;
  o.opendir = OpOpenDir;
  o.readdir = OpReadDir;
  o.readdirplus = OpReadDirPlus;
  o.releasedir = OpReleaseDir;
  o.fsyncdir = OpFsyncDir;
  o.statfs = OpStatFs;
  o.create = OpCreate;
  o.getlk = OpGetLk;
  o.setlk = OpSetLk;
  o.flock = OpFlock;
  o.copy_file_range = OpCopyFileRange;
  return o;
}

}  // namespace

FuseFs::FuseFs(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<FuseFs> FuseFs::Mount(std::shared_ptr<smb2::RemoteFs> fs, const std::string& mountpoint,
                                      FsOptions options, std::string* error) {
  auto impl = std::make_unique<Impl>();
  impl->fs = std::move(fs);
  impl->locks = std::make_shared<LockManager>(impl->fs);
  impl->opts = std::move(options);
  impl->inodes.SetOwnedTimeout(
      std::chrono::duration_cast<InodeTable::Clock::duration>(std::chrono::duration<double>(impl->Timeout())));
  impl->mountpoint = mountpoint;
  // Permission checks by the kernel against the uid/gid/modes we report,
  // as cifs does with its file_mode/dir_mode.
  std::vector<std::string> argv = {"smbgate",
                                   "-o",
                                   "default_permissions",
                                   "-o",
                                   "subtype=smbgate",
                                   "-o",
                                   "max_read=" + std::to_string(impl->opts.max_io)};
  if (!impl->opts.fsname.empty()) {
    std::string fsname;
    // libfuse splits options at commas; escape them in the name.
    for (char c : impl->opts.fsname) {
      if (c == ',' || c == '\\') fsname += '\\';
      fsname += c;
    }
    argv.push_back("-o");
    argv.push_back("fsname=" + fsname);
  }
  if (impl->opts.allow_other) {
    argv.push_back("-o");
    argv.push_back("allow_other");
  }
  if (impl->opts.read_only) {
    argv.push_back("-o");
    argv.push_back("ro");
  }
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(cargv.size()), cargv.data());
  static const fuse_lowlevel_ops kOps = MakeOps();
  impl->se = fuse_session_new(&args, &kOps, sizeof kOps, impl.get());
  // The session keeps nothing of `args`; libfuse may have copied them to
  // the heap while parsing (LeakSanitizer in the e2e tests found it).
  fuse_opt_free_args(&args);
  if (!impl->se) {
    *error = "FUSE: could not create a session (bad options?)";
    return nullptr;
  }
  if (fuse_session_mount(impl->se, mountpoint.c_str()) != 0) {
    *error = "FUSE: could not mount on " + mountpoint +
             " (is /dev/fuse available and is fusermount3 installed? does the directory exist?)";
    fuse_session_destroy(impl->se);
    impl->se = nullptr;
    return nullptr;
  }
  impl->is_mounted = true;
  Impl* raw = impl.get();
  sem_init(&raw->stop_sem, 0, 0);
  auth::OsRandom()(raw->lease_salt);
  raw->inval_thread = std::thread([raw] { raw->InvalidateLoop(); });
  if (raw->opts.close_timeout > 0) raw->park_thread = std::thread([raw] { raw->ParkLoop(); });
  raw->fs->SetLeaseBreakHandler([raw](const smb2::LeaseKey& key, std::uint32_t state, std::function<void()> ack) {
    raw->OnLeaseBreak(key, state, std::move(ack));
  });
  return std::unique_ptr<FuseFs>(new FuseFs(std::move(impl)));
}

FuseFs::~FuseFs() {
  impl_->fs->SetLeaseBreakHandler({});
  impl_->StopInvalidations();
  impl_->StopParking();
  if (!impl_->se) return;
  if (impl_->signals_installed) RemoveSignalHandlers();
  if (impl_->is_mounted) fuse_session_unmount(impl_->se);
  fuse_session_destroy(impl_->se);
  sem_destroy(&impl_->stop_sem);
}

// Not libfuse's handlers: they only set the session's exit flag, and a
// signal that lands between the loop's check of that flag and its
// sem_wait leaves the loop waiting for good (libfuse before 3.18 wakes
// nobody on exit; seen here as a daemon that ignored SIGTERM under ASan).
// Ours also wake Run's kicker, which interrupts the loop until it ends.
bool FuseFs::InstallSignalHandlers() {
  FuseFs::Impl* expected = nullptr;
  if (!g_signal_mount.compare_exchange_strong(expected, impl_.get())) return false;
  bool ok = SetHandler(kKickSignal, OnKick);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) ok = ok && SetHandler(sig, OnStopSignal);
  ok = ok && ::signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  impl_->signals_installed = true;
  if (!ok) RemoveSignalHandlers();
  return ok;
}

void FuseFs::RemoveSignalHandlers() {
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::signal(sig, SIG_DFL);
  // The kick signal's handler stays: a late kick must not find SIGURG's
  // default (ignored, harmless) replaced by anything else; both do nothing.
  impl_->signals_installed = false;
  FuseFs::Impl* mine = impl_.get();
  g_signal_mount.compare_exchange_strong(mine, nullptr);
}

int FuseFs::Run() {
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  // Handlers only hand work over and return, so a few threads keep the
  // kernel's queue drained; replies come from the SMB connection's thread.
  fuse_loop_cfg_set_idle_threads(cfg, 4);
  fuse_loop_cfg_set_max_threads(cfg, 16);
  // The loop's main thread waits in sem_wait for its workers and looks at
  // the exit flag only when woken. After a stop (a signal or Exit) the
  // kicker interrupts it every 100 ms until the loop has ended; the loop
  // then cancels its workers, which wait in read(2). The kicker takes no
  // stop signals itself (blocked here, inherited).
  Impl& i = *impl_;
  i.loop_ended = false;
  const pthread_t loop_thread = pthread_self();
  sigset_t stops, old;
  sigemptyset(&stops);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, kKickSignal}) sigaddset(&stops, sig);
  pthread_sigmask(SIG_BLOCK, &stops, &old);
  std::thread kicker([&i, loop_thread] {
    while (sem_wait(&i.stop_sem) != 0) {
    }
    while (!i.loop_ended) {
      pthread_kill(loop_thread, kKickSignal);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  const int rc = fuse_session_loop_mt(i.se, cfg);
  i.loop_ended = true;
  sem_post(&i.stop_sem);  // ends a kicker that was never woken
  kicker.join();
  // Posts left over (a second signal) must not end the next Run at once.
  while (sem_trywait(&i.stop_sem) == 0) {
  }
  fuse_loop_cfg_destroy(cfg);
  return rc < 0 ? -rc : 0;
}

void FuseFs::Exit() {
  if (!impl_->se) return;
  fuse_session_exit(impl_->se);
  sem_post(&impl_->stop_sem);
}

void FuseFs::Shutdown(std::chrono::milliseconds drain_timeout) {
  Impl& i = *impl_;
  {
    // Every request but the blocking locks: those wait for another client
    // (with no deadline of their own) and would hold the stop for the whole
    // drain timeout (e2e StopWithABlockedLockWaiter).
    std::unique_lock<std::mutex> l(i.flight_mu);
    i.flight_cv.wait_for(l, drain_timeout, [&] { return i.in_flight <= i.lock_waiters; });
  }
  // Lock requests waiting for another process of this mount end now.
  i.locks->CancelAll();
  // Close what the kernel did not release (a stop with files still open),
  // and the handles kept after their close.
  i.StopParking();
  std::vector<OpenFile> left = i.handles.TakeAll();
  for (const OpenFile& f : i.TakeParked(0)) left.push_back(f);
  // Writes taken behind the application reach the server first: all
  // files at once, within one minute in all.
  std::vector<std::future<void>> drained;
  for (const OpenFile& f : left) {
    if (!f.behind) continue;
    auto d = std::make_shared<std::promise<void>>();
    drained.push_back(d->get_future());
    f.behind->Drain(false, [d](int) { d->set_value(); });
  }
  const auto drain_end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (auto& d : drained) d.wait_until(drain_end);
  for (const OpenFile& f : left) {
    if (f.behind) i.ForgetWriteBehind(f.ino, f.behind);
    auto p = std::make_shared<std::promise<void>>();
    i.fs->Close(f.handle, [p](Result<void>) { p->set_value(); });
    p->get_future().wait_for(std::chrono::seconds(10));
  }
  {
    // Closing a handle ends the locks still waiting on it (Samba 4.17
    // answers them then), so their replies go out before the unmount.
    std::unique_lock<std::mutex> l(i.flight_mu);
    i.flight_cv.wait_for(l, std::chrono::seconds(5), [&] { return i.in_flight == 0; });
  }
  // Lease breaks from here on are acknowledged at once by the client.
  i.fs->SetLeaseBreakHandler({});
  i.StopInvalidations();
  if (i.se && i.is_mounted) {
    if (i.signals_installed) {
      RemoveSignalHandlers();
    }
    fuse_session_unmount(i.se);
    i.is_mounted = false;
  }
}

bool FuseFs::WaitInitialized(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(impl_->init_mu);
  return impl_->init_cv.wait_for(l, timeout, [this] { return impl_->initialized; });
}

bool FuseFs::mounted() const { return impl_->is_mounted; }

std::size_t FuseFs::open_dirs() const { return impl_->handles.dirs(); }

std::size_t FuseFs::inodes() const { return impl_->inodes.size(); }
std::size_t FuseFs::cached_entries() const { return impl_->dircache.entries(); }

std::size_t FuseFs::open_files() const { return impl_->handles.files(); }

}  // namespace smbgate::fuse
