// A small metrics registry (counters, gauges, histograms with labels) that
// renders the Prometheus text exposition format, and the metrics smbgate
// exports, declared once so their names stay stable.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace smbgate {

// A monotonically increasing count. Lock-free; thread-safe.
class Counter {
 public:
  void Inc(std::uint64_t n = 1) noexcept {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down. Lock-free; thread-safe.
class Gauge {
 public:
  void Set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) noexcept {
    value_.fetch_add(d, std::memory_order_relaxed);
  }
  double value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is
// implicit). Lock-free; thread-safe. A render that runs during Observe may
// see the new count but not yet the new sum; every bucket is consistent with
// _count.
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void Observe(double v) noexcept;

  std::span<const double> bounds() const noexcept { return bounds_; }
  // Per-bucket (not cumulative) counts, bounds().size() + 1 of them.
  std::vector<std::uint64_t> BucketCounts() const;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// All the series of one metric name, one per combination of label values.
// WithLabels takes a shared lock to find an existing series (an exclusive one
// once, to add it) and returns a pointer that stays valid as long as the
// family. At most kMaxSeries series are kept; label values beyond that share
// one series whose values are all "_overflow". Thread-safe.
template <class T>
class MetricFamily {
 public:
  static constexpr std::size_t kMaxSeries = 1000;

  // `values` in the order of the family's label names; a wrong count is a
  // programming error (asserted; missing values are "" in release builds).
  T* WithLabels(std::initializer_list<std::string_view> values);
  T* WithLabels(std::span<const std::string_view> values);

  const std::string& name() const noexcept { return name_; }

 private:
  friend class MetricsRegistry;
  struct Less {
    using is_transparent = void;
    bool operator()(const std::vector<std::string>& a,
                    const std::vector<std::string>& b) const {
      return a < b;
    }
    bool operator()(const std::vector<std::string>& a,
                    std::span<const std::string_view> b) const;
    bool operator()(std::span<const std::string_view> a,
                    const std::vector<std::string>& b) const;
  };

  MetricFamily(std::string name, std::string help,
               std::vector<std::string> label_names,
               std::vector<double> bounds);
  void Render(MetricType type, std::string* out) const;

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>, Less> series_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

// Owns metric families and renders them in registration order. Registering
// is meant for start-up (a duplicate name is a programming error); every
// other method is thread-safe.
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // `name` and label names must match [a-zA-Z_][a-zA-Z0-9_]* (asserted).
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  // `bounds`: ascending upper bounds of the buckets, without +Inf.
  HistogramFamily& AddHistogram(std::string name, std::string help,
                                std::vector<double> bounds,
                                std::vector<std::string> label_names = {});

  // The text exposition format 0.0.4: `# HELP`, `# TYPE`, one line per
  // series (label values escaped), histograms as cumulative `_bucket{le=..}`
  // plus `_sum` and `_count`. Series sorted by label values. A family without
  // labels always has its one series, at zero until used.
  std::string RenderPrometheus() const;

 private:
  struct Entry;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// The symbolic name of an errno value for the `errno` label: "0" for 0,
// "ENOENT", ...; negative values are taken as their absolute value (FUSE
// replies carry -errno); an unknown value as its decimal number.
std::string ErrnoLabel(int err);

// smbgate's metrics, all named `smbgate_...`. Methods are thread-safe and
// cheap: unlabelled series are cached; labelled ones cost a shared-lock map
// look-up.
class Metrics {
 public:
  Metrics();

  // One authentication attempt (connect and session setup) with `server`
  // ("host:port", the server actually used: a DFS target, not the
  // namespace's name): `result` is "success", the NTSTATUS name or "error";
  // `cls` its AuthFailureClass; `seconds` feeds auth_duration_seconds.
  void AuthAttempt(std::string_view result, std::string_view cls, double seconds, std::string_view server);
  // A session set up (first connection or reconnect).
  void SessionSetup();
  // A reconnect after a lost connection, with the cause of the loss.
  void Reconnect(std::string_view cause);
  // One SMB2 request done: `command` like "READ", `status` the NTSTATUS
  // name like "STATUS_SUCCESS" (or an error name when none arrived);
  // `server` as for AuthAttempt.
  void SmbRequest(std::string_view command, std::string_view status, double seconds, std::string_view server);
  // The `server` label value for `server`: itself for the first
  // kMaxServerLabels distinct servers, "other" after, so a mount that
  // follows many DFS targets keeps a bounded number of series.
  std::string ServerLabel(std::string_view server);
  static constexpr std::size_t kMaxServerLabels = 8;
  // One round trip to the server (keepalive ECHO, NEGOTIATE).
  void ServerRtt(double seconds);
  // A guest or anonymous session refused.
  void GuestRefused();
  // The credentials could not be read or parsed.
  void CredentialsReadFailure();
  // The credentials in use last changed at this unix time.
  void SetCredentialsChanged(double unix_seconds);
  void BytesRead(std::uint64_t n);
  // A lease break that ended read caching of a file.
  void LeaseBreak();
  void BytesWritten(std::uint64_t n);
  // One FUSE operation done: `op` like "lookup", `err` 0 or an errno value
  // (positive or negative), `seconds` its duration.
  void FuseOp(std::string_view op, int err, double seconds);
  // Credentials re-read after a change of the credentials file or Secret.
  void CredentialRotation();
  void SetMounted(bool mounted);
  // The FUSE layer's inodes, open handles and cached directory entries.
  void SetFuseObjects(double inodes, double open_files, double open_dirs, double cached_entries);
  void SetSessionUp(bool up);
  // A response that should have been signed and was not / whose signature
  // did not verify.
  void UnsignedResponse();
  void BadSignature();
  // A response of an encrypted session or tree that was not encrypted or
  // did not decrypt.
  void EncryptionFailure();
  // A connection refused as a downgrade: VALIDATE_NEGOTIATE_INFO failed, or
  // a reconnect reached another ServerGuid, dialect, signing algorithm or
  // cipher than the first connection.
  void DowngradeRefusal();

  std::string RenderPrometheus() const { return registry_.RenderPrometheus(); }
  // For adding metrics of one's own.
  MetricsRegistry& registry() noexcept { return registry_; }

 private:
  MetricsRegistry registry_;
  CounterFamily* auth_attempts_;
  HistogramFamily* auth_duration_;
  Counter* session_setups_;
  CounterFamily* reconnects_;
  CounterFamily* smb_requests_;
  Counter* bytes_read_;
  Counter* lease_breaks_;
  Counter* bytes_written_;
  CounterFamily* fuse_ops_;
  HistogramFamily* fuse_duration_;
  Counter* credential_rotations_;
  Gauge* mounted_;
  GaugeFamily* fuse_objects_;
  Gauge* session_up_;
  Counter* unsigned_responses_;
  Counter* bad_signatures_;
  Counter* encryption_failures_;
  HistogramFamily* smb_request_duration_;
  HistogramFamily* server_rtt_;
  Counter* guest_refused_;
  Counter* credentials_read_failures_;
  Gauge* credentials_changed_;
  Counter* downgrade_refusals_;
  std::mutex servers_mu_;
  std::vector<std::string> servers_;  // the servers with a label of their own
};

// The process's metrics, created on first use and never destroyed.
// Thread-safe.
Metrics& GlobalMetrics();

}  // namespace smbgate
