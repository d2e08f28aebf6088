#include "src/metrics.h"

#include <gtest/gtest.h>
#include <openssl/crypto.h>

#include <cerrno>
#include <string>
#include <thread>
#include <vector>

namespace smbgate {
namespace {

TEST(MetricsRegistryTest, CountersGaugesAndLabelEscaping) {
  MetricsRegistry r;
  auto& c = r.AddCounter("t_requests_total",
                         "Requests.\nSecond line with \\ backslash.",
                         {"path", "code"});
  c.WithLabels({"/a", "200"})->Inc();
  c.WithLabels({"/a", "200"})->Inc(2);
  c.WithLabels({"say \"hi\"\\\n", "500"})->Inc();
  auto& g = r.AddGauge("t_temperature", "A gauge.");
  g.WithLabels({})->Set(-1.5);
  r.AddCounter("t_unused_total", "Never incremented; still rendered at 0.");
  r.AddCounter("t_labelled_unused_total", "No series yet.", {"x"});
  EXPECT_EQ(
      r.RenderPrometheus(),
      "# HELP t_requests_total Requests.\\nSecond line with \\\\ backslash.\n"
      "# TYPE t_requests_total counter\n"
      "t_requests_total{path=\"/a\",code=\"200\"} 3\n"
      "t_requests_total{path=\"say \\\"hi\\\"\\\\\\n\",code=\"500\"} 1\n"
      "# HELP t_temperature A gauge.\n"
      "# TYPE t_temperature gauge\n"
      "t_temperature -1.5\n"
      "# HELP t_unused_total Never incremented; still rendered at 0.\n"
      "# TYPE t_unused_total counter\n"
      "t_unused_total 0\n"
      "# HELP t_labelled_unused_total No series yet.\n"
      "# TYPE t_labelled_unused_total counter\n");
}

TEST(MetricsRegistryTest, SameLabelsSameSeries) {
  MetricsRegistry r;
  auto& c = r.AddCounter("t_total", "x", {"a"});
  Counter* p = c.WithLabels({"v"});
  EXPECT_EQ(c.WithLabels({std::string("v")}), p);
  EXPECT_NE(c.WithLabels({"w"}), p);
}

TEST(MetricsRegistryTest, HistogramBucketsAreInclusiveAndCumulative) {
  MetricsRegistry r;
  auto& h = r.AddHistogram("t_seconds", "Durations.", {0.1, 1, 10}, {"op"});
  Histogram* x = h.WithLabels({"read"});
  x->Observe(0.05);
  x->Observe(0.1);  // le is inclusive
  x->Observe(0.5);
  x->Observe(10);
  x->Observe(11);
  x->Observe(0.0 / 0.0);  // NaN is dropped
  EXPECT_EQ(r.RenderPrometheus(),
            "# HELP t_seconds Durations.\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_bucket{op=\"read\",le=\"0.1\"} 2\n"
            "t_seconds_bucket{op=\"read\",le=\"1\"} 3\n"
            "t_seconds_bucket{op=\"read\",le=\"10\"} 4\n"
            "t_seconds_bucket{op=\"read\",le=\"+Inf\"} 5\n"
            "t_seconds_sum{op=\"read\"} 21.65\n"
            "t_seconds_count{op=\"read\"} 5\n");
}

TEST(MetricsRegistryTest, SeriesAreBounded) {
  MetricsRegistry r;
  auto& c = r.AddCounter("t_total", "x", {"a", "b"});
  for (std::size_t i = 0; i < CounterFamily::kMaxSeries + 50; ++i) {
    c.WithLabels({std::to_string(i), "x"})->Inc();
  }
  Counter* overflow = c.WithLabels({"_overflow", "_overflow"});
  EXPECT_EQ(overflow->value(), 50u);
  // Known series still find themselves.
  EXPECT_EQ(c.WithLabels({"7", "x"})->value(), 1u);
}

TEST(MetricsRegistryTest, ConcurrentIncrementsAreExact) {
  MetricsRegistry r;
  auto& c = r.AddCounter("t_total", "x", {"t"});
  auto& h = r.AddHistogram("t_seconds", "x", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c.WithLabels({(i % 2) ? "odd" : "even"})->Inc();
        h.WithLabels({})->Observe(t);
        if (i % 1000 == 0) (void)r.RenderPrometheus();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c.WithLabels({"odd"})->value(), 20000u);
  EXPECT_EQ(c.WithLabels({"even"})->value(), 20000u);
  const auto counts = h.WithLabels({})->BucketCounts();
  EXPECT_EQ(counts[0], 20000u);  // t = 0, 1
  EXPECT_EQ(counts[1], 20000u);  // t = 2, 3
  EXPECT_EQ(h.WithLabels({})->sum(), 60000.0);
}

TEST(MetricsTest, ErrnoLabel) {
  EXPECT_EQ(ErrnoLabel(0), "0");
  EXPECT_EQ(ErrnoLabel(ENOENT), "ENOENT");
  EXPECT_EQ(ErrnoLabel(-EACCES), "EACCES");
  EXPECT_EQ(ErrnoLabel(EIO), "EIO");
  EXPECT_EQ(ErrnoLabel(ENOTEMPTY), "ENOTEMPTY");
  EXPECT_EQ(ErrnoLabel(100000), "100000");
}

// The names are a contract with dashboards and alerts: a golden text.
const char kGolden[] = R"(# HELP smbgate_auth_attempts_total Authentications attempted (connect and SMB2 session setup, at mount and each reconnect), by result (success, the NTSTATUS name, or error), class (success, wrong_password, locked, expired, disabled, unreachable, refused_by_policy, protocol_error, server_error) and server (host:port, the server actually used, e.g. a DFS target; "other" past 8 servers).
# TYPE smbgate_auth_attempts_total counter
smbgate_auth_attempts_total{result="STATUS_LOGON_FAILURE",class="wrong_password",server="127.0.0.3:445"} 1
smbgate_auth_attempts_total{result="success",class="success",server="127.0.0.2:445"} 1
# HELP smbgate_auth_duration_seconds Duration of authentications, successful or not.
# TYPE smbgate_auth_duration_seconds histogram
smbgate_auth_duration_seconds_bucket{le="0.01"} 0
smbgate_auth_duration_seconds_bucket{le="0.025"} 1
smbgate_auth_duration_seconds_bucket{le="0.05"} 1
smbgate_auth_duration_seconds_bucket{le="0.1"} 1
smbgate_auth_duration_seconds_bucket{le="0.15"} 1
smbgate_auth_duration_seconds_bucket{le="0.2"} 1
smbgate_auth_duration_seconds_bucket{le="0.25"} 1
smbgate_auth_duration_seconds_bucket{le="0.3"} 1
smbgate_auth_duration_seconds_bucket{le="0.5"} 1
smbgate_auth_duration_seconds_bucket{le="1"} 1
smbgate_auth_duration_seconds_bucket{le="2.5"} 2
smbgate_auth_duration_seconds_bucket{le="5"} 2
smbgate_auth_duration_seconds_bucket{le="10"} 2
smbgate_auth_duration_seconds_bucket{le="+Inf"} 2
smbgate_auth_duration_seconds_sum 2.12
smbgate_auth_duration_seconds_count 2
# HELP smbgate_session_setups_total SMB2 sessions set up, at mount and after each reconnect.
# TYPE smbgate_session_setups_total counter
smbgate_session_setups_total 1
# HELP smbgate_reconnects_total Reconnects to the server, by the cause of the loss: connection_lost, timeout, session_expired, share_deleted or other.
# TYPE smbgate_reconnects_total counter
smbgate_reconnects_total{cause="connection_lost"} 1
smbgate_reconnects_total{cause="other"} 0
smbgate_reconnects_total{cause="session_expired"} 0
smbgate_reconnects_total{cause="share_deleted"} 0
smbgate_reconnects_total{cause="timeout"} 0
# HELP smbgate_smb_requests_total SMB2 requests completed, by command, NTSTATUS name and server (host:port; "other" past 8 servers).
# TYPE smbgate_smb_requests_total counter
smbgate_smb_requests_total{command="CREATE",status="STATUS_OBJECT_NAME_NOT_FOUND",server="127.0.0.2:445"} 1
smbgate_smb_requests_total{command="READ",status="STATUS_SUCCESS",server="127.0.0.2:445"} 2
# HELP smbgate_smb_request_duration_seconds Time from sending an SMB2 request to its final response, by command.
# TYPE smbgate_smb_request_duration_seconds histogram
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="0.0005"} 0
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="0.001"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="0.0025"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="0.005"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="0.01"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="0.025"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="0.05"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="0.1"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="0.25"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="0.5"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="1"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="2.5"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="5"} 1
smbgate_smb_request_duration_seconds_bucket{command="CREATE",le="+Inf"} 1
smbgate_smb_request_duration_seconds_sum{command="CREATE"} 0.0007
smbgate_smb_request_duration_seconds_count{command="CREATE"} 1
smbgate_smb_request_duration_seconds_bucket{command="READ",le="0.0005"} 1
smbgate_smb_request_duration_seconds_bucket{command="READ",le="0.001"} 1
smbgate_smb_request_duration_seconds_bucket{command="READ",le="0.0025"} 1
smbgate_smb_request_duration_seconds_bucket{command="READ",le="0.005"} 2
smbgate_smb_request_duration_seconds_bucket{command="READ",le="0.01"} 2
smbgate_smb_request_duration_seconds_bucket{command="READ",le="0.025"} 2
smbgate_smb_request_duration_seconds_bucket{command="READ",le="0.05"} 2
smbgate_smb_request_duration_seconds_bucket{command="READ",le="0.1"} 2
smbgate_smb_request_duration_seconds_bucket{command="READ",le="0.25"} 2
smbgate_smb_request_duration_seconds_bucket{command="READ",le="0.5"} 2
smbgate_smb_request_duration_seconds_bucket{command="READ",le="1"} 2
smbgate_smb_request_duration_seconds_bucket{command="READ",le="2.5"} 2
smbgate_smb_request_duration_seconds_bucket{command="READ",le="5"} 2
smbgate_smb_request_duration_seconds_bucket{command="READ",le="+Inf"} 2
smbgate_smb_request_duration_seconds_sum{command="READ"} 0.0034000000000000002
smbgate_smb_request_duration_seconds_count{command="READ"} 2
# HELP smbgate_server_rtt_seconds Round trips to the server: each keepalive ECHO on the session and the NEGOTIATE of each connect.
# TYPE smbgate_server_rtt_seconds histogram
smbgate_server_rtt_seconds_bucket{le="0.0005"} 1
smbgate_server_rtt_seconds_bucket{le="0.001"} 1
smbgate_server_rtt_seconds_bucket{le="0.0025"} 1
smbgate_server_rtt_seconds_bucket{le="0.005"} 1
smbgate_server_rtt_seconds_bucket{le="0.01"} 1
smbgate_server_rtt_seconds_bucket{le="0.025"} 1
smbgate_server_rtt_seconds_bucket{le="0.05"} 1
smbgate_server_rtt_seconds_bucket{le="0.1"} 1
smbgate_server_rtt_seconds_bucket{le="0.25"} 1
smbgate_server_rtt_seconds_bucket{le="0.5"} 1
smbgate_server_rtt_seconds_bucket{le="1"} 1
smbgate_server_rtt_seconds_bucket{le="2.5"} 1
smbgate_server_rtt_seconds_bucket{le="+Inf"} 1
smbgate_server_rtt_seconds_sum 0.0002
smbgate_server_rtt_seconds_count 1
# HELP smbgate_lease_breaks_total Lease breaks that ended read caching of a file: another client opened or changed it, and the kernel's caches of it were dropped before the break was acknowledged.
# TYPE smbgate_lease_breaks_total counter
smbgate_lease_breaks_total 0
# HELP smbgate_bytes_read_total File data bytes read from the server.
# TYPE smbgate_bytes_read_total counter
smbgate_bytes_read_total 1048576
# HELP smbgate_bytes_written_total File data bytes written to the server.
# TYPE smbgate_bytes_written_total counter
smbgate_bytes_written_total 4096
# HELP smbgate_fuse_operations_total FUSE operations answered, by operation and errno name ("0" for success).
# TYPE smbgate_fuse_operations_total counter
smbgate_fuse_operations_total{op="lookup",errno="0"} 1
smbgate_fuse_operations_total{op="lookup",errno="ENOENT"} 1
smbgate_fuse_operations_total{op="read",errno="0"} 1
# HELP smbgate_fuse_operation_duration_seconds Duration of FUSE operations, by operation.
# TYPE smbgate_fuse_operation_duration_seconds histogram
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.0001"} 0
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.00025"} 0
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.0005"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.001"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.0025"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.005"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.01"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.025"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.05"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.1"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.25"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="0.5"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="1"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="2.5"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="5"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="10"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="lookup",le="+Inf"} 2
smbgate_fuse_operation_duration_seconds_sum{op="lookup"} 0.0023
smbgate_fuse_operation_duration_seconds_count{op="lookup"} 2
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.0001"} 0
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.00025"} 0
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.0005"} 0
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.001"} 0
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.0025"} 0
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.005"} 0
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.01"} 0
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.025"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.05"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.1"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.25"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="0.5"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="1"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="2.5"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="5"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="10"} 1
smbgate_fuse_operation_duration_seconds_bucket{op="read",le="+Inf"} 1
smbgate_fuse_operation_duration_seconds_sum{op="read"} 0.02
smbgate_fuse_operation_duration_seconds_count{op="read"} 1
# HELP smbgate_credential_rotations_total Credentials re-read after they changed on disk.
# TYPE smbgate_credential_rotations_total counter
smbgate_credential_rotations_total 1
# HELP smbgate_mounted 1 while the share is mounted, else 0.
# TYPE smbgate_mounted gauge
smbgate_mounted 1
# HELP smbgate_fuse_objects What the FUSE layer holds now, by kind: inodes (the kernel's lookups), open_files and open_dirs (handles), cached_entries (names of cached directory listings).
# TYPE smbgate_fuse_objects gauge
smbgate_fuse_objects{kind="cached_entries"} 0
smbgate_fuse_objects{kind="inodes"} 0
smbgate_fuse_objects{kind="open_dirs"} 0
smbgate_fuse_objects{kind="open_files"} 0
# HELP smbgate_session_up 1 while an authenticated SMB session to the server is up, else 0.
# TYPE smbgate_session_up gauge
smbgate_session_up 0
# HELP smbgate_unsigned_responses_total Responses that should have been signed and were not (each dropped; its request kept waiting for the genuine one).
# TYPE smbgate_unsigned_responses_total counter
smbgate_unsigned_responses_total 1
# HELP smbgate_bad_signatures_total Responses whose signature did not verify (each dropped; its request kept waiting for the genuine one).
# TYPE smbgate_bad_signatures_total counter
smbgate_bad_signatures_total 2
# HELP smbgate_encryption_failures_total Responses of an encrypted session or share that came unencrypted or did not decrypt (each dropped).
# TYPE smbgate_encryption_failures_total counter
smbgate_encryption_failures_total 1
# HELP smbgate_guest_sessions_refused_total Guest or anonymous sessions the server offered and smbgate refused.
# TYPE smbgate_guest_sessions_refused_total counter
smbgate_guest_sessions_refused_total 1
# HELP smbgate_ntlmv1_enabled Always 0: smbgate never offers LM or NTLMv1 (NTLMv2 only, a build constant).
# TYPE smbgate_ntlmv1_enabled gauge
smbgate_ntlmv1_enabled 0
# HELP smbgate_credentials_read_failures_total The credentials file or Secret could not be read or parsed (at a session setup or when a change was re-read).
# TYPE smbgate_credentials_read_failures_total counter
smbgate_credentials_read_failures_total 1
# HELP smbgate_credentials_changed_timestamp_seconds Unix time of the last change of the credentials in use (their age is time() minus this).
# TYPE smbgate_credentials_changed_timestamp_seconds gauge
smbgate_credentials_changed_timestamp_seconds 1.7e+09
# HELP smbgate_build_info Always 1; the labels say which smbgate this is.
# TYPE smbgate_build_info gauge
smbgate_build_info{version="0.1.0",openssl="@OPENSSL@",dialects="2.0.2-3.1.1"} 1
# HELP smbgate_downgrade_refusals_total Connections refused because the negotiation was tampered with or a reconnect reached another server or weaker parameters than the first connection.
# TYPE smbgate_downgrade_refusals_total counter
smbgate_downgrade_refusals_total 1
)";

TEST(MetricsTest, ServerLabelsAreBounded) {
  Metrics m;
  for (int i = 0; i < 20; ++i) {
    m.SmbRequest("READ", "STATUS_SUCCESS", 0.001, "127.0.0." + std::to_string(i) + ":445");
  }
  const std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("server=\"127.0.0.7:445\"} 1"), std::string::npos);
  EXPECT_EQ(text.find("server=\"127.0.0.8:445\""), std::string::npos);
  EXPECT_NE(text.find("smbgate_smb_requests_total{command=\"READ\",status=\"STATUS_SUCCESS\",server=\"other\"} 12"),
            std::string::npos);
  EXPECT_EQ(m.ServerLabel("127.0.0.3:445"), "127.0.0.3:445");
  EXPECT_EQ(m.ServerLabel("10.9.9.9:445"), "other");
}

TEST(MetricsTest, GoldenExposition) {
  Metrics m;
  m.AuthAttempt("success", "success", 0.02, "127.0.0.2:445");
  m.EncryptionFailure();
  m.DowngradeRefusal();
  m.AuthAttempt("STATUS_LOGON_FAILURE", "wrong_password", 2.1, "127.0.0.3:445");
  m.SessionSetup();
  m.Reconnect("connection_lost");
  m.SmbRequest("READ", "STATUS_SUCCESS", 0.003, "127.0.0.2:445");
  m.SmbRequest("READ", "STATUS_SUCCESS", 0.0004, "127.0.0.2:445");
  m.SmbRequest("CREATE", "STATUS_OBJECT_NAME_NOT_FOUND", 0.0007, "127.0.0.2:445");
  m.ServerRtt(0.0002);
  m.GuestRefused();
  m.CredentialsReadFailure();
  m.SetCredentialsChanged(1700000000);
  m.BytesRead(1 << 20);
  m.BytesWritten(4096);
  m.FuseOp("lookup", -ENOENT, 0.0003);
  m.FuseOp("lookup", 0, 0.002);
  m.FuseOp("read", 0, 0.02);
  m.CredentialRotation();
  m.SetMounted(true);
  m.SetSessionUp(true);
  m.SetSessionUp(false);
  m.UnsignedResponse();
  m.BadSignature();
  m.BadSignature();
  // The OpenSSL version label is the running library's.
  std::string want = kGolden;
  want.replace(want.find("@OPENSSL@"), 9, OpenSSL_version(OPENSSL_VERSION_STRING));
  EXPECT_EQ(m.RenderPrometheus(), want);
}

TEST(MetricsTest, GlobalIsOneInstance) {
  EXPECT_EQ(&GlobalMetrics(), &GlobalMetrics());
  GlobalMetrics().SetMounted(false);
  EXPECT_NE(GlobalMetrics().RenderPrometheus().find("smbgate_mounted 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace smbgate
