#include "src/metrics.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <type_traits>

#include "src/version.h"

namespace smbgate {
namespace {

[[maybe_unused]] bool ValidName(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Prometheus floats: "+Inf", "-Inf", "NaN", else the shortest text that
// reads back to the same double ("0.005", "1", "1e+06").
void AppendDouble(double v, std::string* out) {
  if (std::isnan(v)) {
    *out += "NaN";
  } else if (std::isinf(v)) {
    *out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto [end, ec] =
        std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
    out->append(buf, ec == std::errc() ? end : buf);
  }
}

// Label values: backslash, double quote and line feed are escaped (text
// format 0.0.4). HELP text: backslash and line feed.
void AppendEscaped(std::string_view s, bool quote_too, std::string* out) {
  for (char c : s) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '"' && quote_too) {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

// `{a="x",b="y"` (no closing brace, so `le` can follow) or "" for no labels.
void AppendLabels(const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string* out) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    *out += i == 0 ? '{' : ',';
    *out += names[i];
    *out += "=\"";
    AppendEscaped(i < values.size() ? values[i] : std::string_view(), true,
                  out);
    *out += '"';
  }
}

int CompareKey(const std::vector<std::string>& a,
               std::span<const std::string_view> b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const int c = std::string_view(a[i]).compare(b[i]);
    if (c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

const double kAuthBuckets[] = {0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25,
                               0.3,  0.5,   1,    2.5, 5,    10};
// Round trips to the server: loopback and LAN (sub-millisecond) to WAN.
const double kRttBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                              0.05,   0.1,   0.25,   0.5,   1,    2.5};
// SMB2 requests: a cached QUERY_INFO to an 8 MiB WRITE over a slow link.
const double kRequestBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                  0.1,    0.25,  0.5,    1,     2.5,  5};
// FUSE operations range from cached getattr (microseconds) to a flush of a
// large write-back (seconds).
const double kFuseBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                               1,      2.5,     5,      10};

}  // namespace

// --- Histogram ---

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double v) noexcept {
  if (std::isnan(v)) return;
  // `le` is inclusive: v goes to the first bucket whose bound is >= v.
  const auto i = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::BucketCounts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

// --- MetricFamily ---

template <class T>
bool MetricFamily<T>::Less::operator()(
    const std::vector<std::string>& a,
    std::span<const std::string_view> b) const {
  return CompareKey(a, b) < 0;
}

template <class T>
bool MetricFamily<T>::Less::operator()(
    std::span<const std::string_view> a,
    const std::vector<std::string>& b) const {
  return CompareKey(b, a) > 0;
}

template <class T>
MetricFamily<T>::MetricFamily(std::string name, std::string help,
                              std::vector<std::string> label_names,
                              std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {
  if (label_names_.empty()) WithLabels(std::span<const std::string_view>());
}

template <class T>
T* MetricFamily<T>::WithLabels(std::initializer_list<std::string_view> values) {
  return WithLabels(
      std::span<const std::string_view>(values.begin(), values.size()));
}

template <class T>
T* MetricFamily<T>::WithLabels(std::span<const std::string_view> values) {
  assert(values.size() == label_names_.size());
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = series_.find(values);
    if (it != series_.end()) return it->second.get();
  }
  std::vector<std::string> key(label_names_.size());
  for (std::size_t i = 0; i < key.size() && i < values.size(); ++i)
    key[i] = values[i];
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = series_.find(key);
  if (it == series_.end() && series_.size() >= kMaxSeries) {
    // Bounded memory whatever the label values: the rest share one series.
    std::fill(key.begin(), key.end(), "_overflow");
    it = series_.find(key);
  }
  if (it == series_.end()) {
    std::unique_ptr<T> series;
    if constexpr (std::is_same_v<T, Histogram>) {
      series = std::make_unique<Histogram>(bounds_);
    } else {
      series = std::make_unique<T>();
    }
    it = series_.emplace(std::move(key), std::move(series)).first;
  }
  return it->second.get();
}

template <class T>
void MetricFamily<T>::Render(MetricType type, std::string* out) const {
  *out += "# HELP ";
  *out += name_;
  *out += ' ';
  AppendEscaped(help_, false, out);
  *out += "\n# TYPE ";
  *out += name_;
  *out += type == MetricType::kCounter
              ? " counter\n"
              : (type == MetricType::kGauge ? " gauge\n" : " histogram\n");
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (const auto& entry : series_) {
    // Named references, not a structured binding: clang 14 cannot capture
    // one in the lambda below.
    const std::vector<std::string>& labels = entry.first;
    const std::unique_ptr<T>& series = entry.second;
    if constexpr (std::is_same_v<T, Histogram>) {
      const std::vector<std::uint64_t> counts = series->BucketCounts();
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        *out += name_;
        *out += "_bucket";
        AppendLabels(label_names_, labels, out);
        *out += label_names_.empty() ? "{le=\"" : ",le=\"";
        if (i < bounds_.size()) {
          AppendDouble(bounds_[i], out);
        } else {
          *out += "+Inf";
        }
        *out += "\"} ";
        *out += std::to_string(cumulative);
        *out += '\n';
      }
      const auto suffix = [&](std::string_view s) {
        *out += name_;
        *out += s;
        AppendLabels(label_names_, labels, out);
        if (!label_names_.empty()) *out += '}';
        *out += ' ';
      };
      suffix("_sum");
      AppendDouble(series->sum(), out);
      *out += '\n';
      suffix("_count");
      *out += std::to_string(cumulative);
      *out += '\n';
    } else {
      *out += name_;
      AppendLabels(label_names_, labels, out);
      if (!label_names_.empty()) *out += '}';
      *out += ' ';
      if constexpr (std::is_same_v<T, Counter>) {
        *out += std::to_string(series->value());
      } else {
        AppendDouble(series->value(), out);
      }
      *out += '\n';
    }
  }
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

// --- MetricsRegistry ---

struct MetricsRegistry::Entry {
  MetricType type;
  std::unique_ptr<CounterFamily> counter;
  std::unique_ptr<GaugeFamily> gauge;
  std::unique_ptr<HistogramFamily> histogram;

  const std::string& name() const {
    return counter ? counter->name()
           : gauge ? gauge->name()
                   : histogram->name();
  }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

CounterFamily& MetricsRegistry::AddCounter(
    std::string name, std::string help, std::vector<std::string> label_names) {
  assert(ValidName(name));
  assert(std::all_of(label_names.begin(), label_names.end(), ValidName));
  auto e = std::make_unique<Entry>();
  e->type = MetricType::kCounter;
  e->counter.reset(new CounterFamily(std::move(name), std::move(help),
                                     std::move(label_names), {}));
  std::lock_guard<std::mutex> lock(mu_);
  assert(std::none_of(entries_.begin(), entries_.end(),
                      [&](const auto& x) { return x->name() == e->name(); }));
  entries_.push_back(std::move(e));
  return *entries_.back()->counter;
}

GaugeFamily& MetricsRegistry::AddGauge(std::string name, std::string help,
                                       std::vector<std::string> label_names) {
  assert(ValidName(name));
  assert(std::all_of(label_names.begin(), label_names.end(), ValidName));
  auto e = std::make_unique<Entry>();
  e->type = MetricType::kGauge;
  e->gauge.reset(new GaugeFamily(std::move(name), std::move(help),
                                 std::move(label_names), {}));
  std::lock_guard<std::mutex> lock(mu_);
  assert(std::none_of(entries_.begin(), entries_.end(),
                      [&](const auto& x) { return x->name() == e->name(); }));
  entries_.push_back(std::move(e));
  return *entries_.back()->gauge;
}

HistogramFamily& MetricsRegistry::AddHistogram(
    std::string name, std::string help, std::vector<double> bounds,
    std::vector<std::string> label_names) {
  assert(ValidName(name));
  assert(std::all_of(label_names.begin(), label_names.end(), ValidName));
  assert(std::find(label_names.begin(), label_names.end(), "le") ==
         label_names.end());
  auto e = std::make_unique<Entry>();
  e->type = MetricType::kHistogram;
  e->histogram.reset(new HistogramFamily(std::move(name), std::move(help),
                                         std::move(label_names),
                                         std::move(bounds)));
  std::lock_guard<std::mutex> lock(mu_);
  assert(std::none_of(entries_.begin(), entries_.end(),
                      [&](const auto& x) { return x->name() == e->name(); }));
  entries_.push_back(std::move(e));
  return *entries_.back()->histogram;
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::string out;
  out.reserve(8192);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& e : entries_) {
    switch (e->type) {
      case MetricType::kCounter:
        e->counter->Render(e->type, &out);
        break;
      case MetricType::kGauge:
        e->gauge->Render(e->type, &out);
        break;
      case MetricType::kHistogram:
        e->histogram->Render(e->type, &out);
        break;
    }
  }
  return out;
}

// --- smbgate's metrics ---

std::string ErrnoLabel(int err) {
  if (err == 0) return "0";
  const int e = err < 0 ? -err : err;
  // glibc 2.32+: "ENOENT" for ENOENT, null for an unknown value.
  if (const char* name = strerrorname_np(e)) return name;
  return std::to_string(e);
}

Metrics::Metrics() {
  auth_attempts_ =
      &registry_.AddCounter("smbgate_auth_attempts_total",
                            "Authentications attempted (connect and SMB2 session setup, at mount and "
                            "each reconnect), by result (success, the NTSTATUS name, or error), "
                            "class (success, wrong_password, locked, expired, disabled, unreachable, "
                            "refused_by_policy, protocol_error, server_error) and server (host:port, the "
                            "server actually used, e.g. a DFS target; \"other\" past 8 servers).",
                            {"result", "class", "server"});
  auth_duration_ = &registry_.AddHistogram(
      "smbgate_auth_duration_seconds",
      "Duration of authentications, successful or not.",
      std::vector<double>(std::begin(kAuthBuckets), std::end(kAuthBuckets)));
  session_setups_ =
      registry_
          .AddCounter(
              "smbgate_session_setups_total",
              "SMB2 sessions set up, at mount and after each reconnect.")
          .WithLabels({});
  reconnects_ =
      &registry_
          .AddCounter("smbgate_reconnects_total",
                      "Reconnects to the server, by the cause of the loss: connection_lost, "
                      "timeout, session_expired, share_deleted or other.",
                      {"cause"});
  // Every cause from the start at 0, so the first reconnect of a cause is
  // an increase that rate() and increase() see.
  for (const char* cause : {"connection_lost", "timeout", "session_expired", "share_deleted", "other"}) {
    reconnects_->WithLabels({cause});
  }
  smb_requests_ = &registry_.AddCounter(
      "smbgate_smb_requests_total",
      "SMB2 requests completed, by command, NTSTATUS name and server (host:port; \"other\" past 8 servers).",
      {"command", "status", "server"});
  smb_request_duration_ = &registry_.AddHistogram(
      "smbgate_smb_request_duration_seconds",
      "Time from sending an SMB2 request to its final response, by command.",
      std::vector<double>(std::begin(kRequestBuckets), std::end(kRequestBuckets)), {"command"});
  server_rtt_ = &registry_.AddHistogram(
      "smbgate_server_rtt_seconds",
      "Round trips to the server: each keepalive ECHO on the session and the NEGOTIATE of each connect.",
      std::vector<double>(std::begin(kRttBuckets), std::end(kRttBuckets)));
  lease_breaks_ = registry_
                     .AddCounter("smbgate_lease_breaks_total",
                                 "Lease breaks that ended read caching of a file: another client opened or "
                                 "changed it, and the kernel's caches of it were dropped before the break was "
                                 "acknowledged.")
                     .WithLabels({});
  bytes_read_ = registry_
                    .AddCounter("smbgate_bytes_read_total",
                                "File data bytes read from the server.")
                    .WithLabels({});
  bytes_written_ = registry_
                       .AddCounter("smbgate_bytes_written_total",
                                   "File data bytes written to the server.")
                       .WithLabels({});
  fuse_ops_ = &registry_.AddCounter(
      "smbgate_fuse_operations_total",
      "FUSE operations answered, by operation and errno name "
      "(\"0\" for success).",
      {"op", "errno"});
  fuse_duration_ = &registry_.AddHistogram(
      "smbgate_fuse_operation_duration_seconds",
      "Duration of FUSE operations, by operation.",
      std::vector<double>(std::begin(kFuseBuckets), std::end(kFuseBuckets)),
      {"op"});
  credential_rotations_ =
      registry_
          .AddCounter("smbgate_credential_rotations_total",
                      "Credentials re-read after they changed on disk.")
          .WithLabels({});
  mounted_ =
      registry_
          .AddGauge("smbgate_mounted", "1 while the share is mounted, else 0.")
          .WithLabels({});
  fuse_objects_ = &registry_.AddGauge(
      "smbgate_fuse_objects",
      "What the FUSE layer holds now, by kind: inodes (the kernel's lookups), open_files and open_dirs "
      "(handles), cached_entries (names of cached directory listings).",
      {"kind"});
  SetFuseObjects(0, 0, 0, 0);
  session_up_ = registry_
                    .AddGauge("smbgate_session_up",
                              "1 while an authenticated SMB session to the "
                              "server is up, else 0.")
                    .WithLabels({});
  unsigned_responses_ =
      registry_
          .AddCounter("smbgate_unsigned_responses_total",
                      "Responses that should have been signed and were not "
                      "(each dropped; its request kept waiting for the genuine one).")
          .WithLabels({});
  bad_signatures_ =
      registry_
          .AddCounter(
              "smbgate_bad_signatures_total",
              "Responses whose signature did not verify (each dropped; its "
              "request kept waiting for the genuine one).")
          .WithLabels({});
  encryption_failures_ =
      registry_
          .AddCounter("smbgate_encryption_failures_total",
                      "Responses of an encrypted session or share that came "
                      "unencrypted or did not decrypt (each dropped).")
          .WithLabels({});
  guest_refused_ = registry_
                       .AddCounter("smbgate_guest_sessions_refused_total",
                                   "Guest or anonymous sessions the server offered and smbgate refused.")
                       .WithLabels({});
  registry_
      .AddGauge("smbgate_ntlmv1_enabled",
                "Always 0: smbgate never offers LM or NTLMv1 (NTLMv2 only, a build constant).")
      .WithLabels({})
      ->Set(0);
  credentials_read_failures_ =
      registry_
          .AddCounter("smbgate_credentials_read_failures_total",
                      "The credentials file or Secret could not be read or parsed (at a session setup "
                      "or when a change was re-read).")
          .WithLabels({});
  credentials_changed_ =
      registry_
          .AddGauge("smbgate_credentials_changed_timestamp_seconds",
                    "Unix time of the last change of the credentials in use (their age is time() minus this).")
          .WithLabels({});
  registry_
      .AddGauge("smbgate_build_info", "Always 1; the labels say which smbgate this is.",
                {"version", "openssl", "dialects"})
      .WithLabels({Version(), OpenSSL_version(OPENSSL_VERSION_STRING), "2.0.2-3.1.1"})
      ->Set(1);
  downgrade_refusals_ =
      registry_
          .AddCounter("smbgate_downgrade_refusals_total",
                      "Connections refused because the negotiation was "
                      "tampered with or a reconnect reached another server "
                      "or weaker parameters than the first connection.")
          .WithLabels({});
}

std::string Metrics::ServerLabel(std::string_view server) {
  std::lock_guard<std::mutex> l(servers_mu_);
  for (const std::string& s : servers_) {
    if (s == server) return s;
  }
  if (servers_.size() < kMaxServerLabels) {
    servers_.emplace_back(server);
    return servers_.back();
  }
  return "other";
}

void Metrics::AuthAttempt(std::string_view result, std::string_view cls, double seconds, std::string_view server) {
  const std::string label = ServerLabel(server);
  auth_attempts_->WithLabels({result, cls, label})->Inc();
  auth_duration_->WithLabels({})->Observe(seconds);
}

void Metrics::SessionSetup() { session_setups_->Inc(); }
void Metrics::Reconnect(std::string_view cause) { reconnects_->WithLabels({cause})->Inc(); }

void Metrics::SmbRequest(std::string_view command, std::string_view status, double seconds,
                         std::string_view server) {
  const std::string label = ServerLabel(server);
  smb_requests_->WithLabels({command, status, label})->Inc();
  smb_request_duration_->WithLabels({command})->Observe(seconds);
}

void Metrics::ServerRtt(double seconds) { server_rtt_->WithLabels({})->Observe(seconds); }
void Metrics::GuestRefused() { guest_refused_->Inc(); }
void Metrics::CredentialsReadFailure() { credentials_read_failures_->Inc(); }
void Metrics::SetCredentialsChanged(double unix_seconds) { credentials_changed_->Set(unix_seconds); }

void Metrics::BytesRead(std::uint64_t n) { bytes_read_->Inc(n); }
void Metrics::LeaseBreak() { lease_breaks_->Inc(1); }
void Metrics::BytesWritten(std::uint64_t n) { bytes_written_->Inc(n); }

void Metrics::FuseOp(std::string_view op, int err, double seconds) {
  const std::string e = ErrnoLabel(err);
  fuse_ops_->WithLabels({op, e})->Inc();
  fuse_duration_->WithLabels({op})->Observe(seconds);
}

void Metrics::CredentialRotation() { credential_rotations_->Inc(); }
void Metrics::SetMounted(bool mounted) { mounted_->Set(mounted ? 1 : 0); }
void Metrics::SetFuseObjects(double inodes, double open_files, double open_dirs, double cached_entries) {
  fuse_objects_->WithLabels({"inodes"})->Set(inodes);
  fuse_objects_->WithLabels({"open_files"})->Set(open_files);
  fuse_objects_->WithLabels({"open_dirs"})->Set(open_dirs);
  fuse_objects_->WithLabels({"cached_entries"})->Set(cached_entries);
}
void Metrics::SetSessionUp(bool up) { session_up_->Set(up ? 1 : 0); }
void Metrics::UnsignedResponse() { unsigned_responses_->Inc(); }
void Metrics::BadSignature() { bad_signatures_->Inc(); }
void Metrics::EncryptionFailure() { encryption_failures_->Inc(); }
void Metrics::DowngradeRefusal() { downgrade_refusals_->Inc(); }

Metrics& GlobalMetrics() {
  static Metrics* metrics = new Metrics();
  return *metrics;
}

}  // namespace smbgate
