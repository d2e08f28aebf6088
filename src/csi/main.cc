// smbgate-csi-node: smbgate's CSI node driver. It serves the CSI Identity and Node services on
// a unix socket for the kubelet, and for each ephemeral inline smbgate volume mounts /dev/fuse
// at the kubelet's target path and hands the descriptor to the pod's unprivileged sidecar
// (see handoff.h), so application pods need no privilege, no capability and no hostPath.
#include <errno.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "src/csi/csi.grpc.pb.h"
#include "src/csi/node.h"
#include "src/logging.h"
#include "src/version.h"

namespace smbgate::csi {
namespace {

namespace pb = ::csi::v1;

constexpr char kUsage[] =
    "usage: smbgate-csi-node --endpoint unix:///PATH/csi.sock --node-id NAME\n"
    "         [--driver-name csi.smbgate.io] [--kubelet-dir /var/lib/kubelet]\n"
    "         [--state-dir DIR] [--handoff-timeout SECONDS] [--emptydir-wait SECONDS]\n"
    "         [--log-level info] [--log-format text|json]\n"
    "  --endpoint and --node-id default to $CSI_ENDPOINT and $NODE_NAME;\n"
    "  --state-dir defaults to the endpoint's directory + /state.\n";

struct Flags {
  std::string endpoint;
  std::string node_id;
  std::string driver_name = "csi.smbgate.io";
  std::string log_level = "info";
  std::string log_format = "text";
  DriverConfig driver;
};

[[noreturn]] void UsageError(const std::string& what) {
  std::fprintf(stderr, "smbgate-csi-node: %s\n%s", what.c_str(), kUsage);
  std::exit(2);
}

std::chrono::seconds Seconds(const std::string& flag, const std::string& v, long min) {
  long s = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), s);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || s < min || s > 86400) {
    UsageError(flag + " " + v + ": not a number of seconds from " + std::to_string(min) +
               " to 86400");
  }
  return std::chrono::seconds(s);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  if (const char* e = std::getenv("CSI_ENDPOINT")) f.endpoint = e;
  if (const char* n = std::getenv("NODE_NAME")) f.node_id = n;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    std::string v;
    const auto eq = a.find('=');
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (a == "--version") {
      std::printf("smbgate-csi-node %s\n", Version());
      std::exit(0);
    }
    if (eq != std::string::npos) {
      v = a.substr(eq + 1);
      a.resize(eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      UsageError(a + " needs a value");
    }
    if (a == "--endpoint") {
      f.endpoint = v;
    } else if (a == "--node-id") {
      f.node_id = v;
    } else if (a == "--driver-name") {
      f.driver_name = v;
    } else if (a == "--kubelet-dir") {
      while (v.size() > 1 && v.back() == '/') v.pop_back();
      f.driver.kubelet_dir = v;
    } else if (a == "--state-dir") {
      f.driver.state_dir = v;
    } else if (a == "--log-level") {
      f.log_level = v;
    } else if (a == "--log-format") {
      f.log_format = v;
    } else if (a == "--handoff-timeout") {
      f.driver.handoff_timeout = Seconds(a, v, 1);
    } else if (a == "--emptydir-wait") {
      f.driver.socket_dir_wait = Seconds(a, v, 0);
    } else {
      UsageError("unknown option " + a);
    }
  }
  if (f.endpoint.rfind("unix://", 0) != 0 || f.endpoint.size() <= 7 || f.endpoint[7] != '/') {
    UsageError("--endpoint " + (f.endpoint.empty() ? std::string("(unset)") : f.endpoint) +
               ": give unix:///ABSOLUTE/PATH (or set CSI_ENDPOINT)");
  }
  if (f.node_id.empty()) UsageError("--node-id is unset (or set NODE_NAME from spec.nodeName)");
  if (f.driver.kubelet_dir.empty() || f.driver.kubelet_dir[0] != '/') {
    UsageError("--kubelet-dir must be an absolute path");
  }
  if (f.driver.state_dir.empty()) {
    const std::string path = f.endpoint.substr(7);
    f.driver.state_dir = path.substr(0, path.rfind('/')) + "/state";
  }
  return f;
}

grpc::Status ToGrpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code), s.message);
}

class IdentityService final : public pb::Identity::Service {
 public:
  IdentityService(std::string name, const NodeDriver& driver)
      : name_(std::move(name)), driver_(driver) {}

  grpc::Status GetPluginInfo(grpc::ServerContext*, const pb::GetPluginInfoRequest*,
                             pb::GetPluginInfoResponse* out) override {
    out->set_name(name_);
    out->set_vendor_version(Version());
    return grpc::Status::OK;
  }
  grpc::Status GetPluginCapabilities(grpc::ServerContext*,
                                     const pb::GetPluginCapabilitiesRequest*,
                                     pb::GetPluginCapabilitiesResponse*) override {
    return grpc::Status::OK;  // node service only: no controller, no topology
  }
  grpc::Status Probe(grpc::ServerContext*, const pb::ProbeRequest*,
                     pb::ProbeResponse* out) override {
    const Status s = driver_.Probe();
    if (!s.ok()) return ToGrpc(s);
    out->mutable_ready()->set_value(true);
    return grpc::Status::OK;
  }

 private:
  const std::string name_;
  const NodeDriver& driver_;
};

class NodeService final : public pb::Node::Service {
 public:
  NodeService(std::string node_id, NodeDriver& driver)
      : node_id_(std::move(node_id)), driver_(driver) {}

  grpc::Status NodePublishVolume(grpc::ServerContext*, const pb::NodePublishVolumeRequest* req,
                                 pb::NodePublishVolumeResponse*) override {
    PublishInput in;
    in.volume_id = req->volume_id();
    in.target_path = req->target_path();
    in.has_capability = req->has_volume_capability();
    in.block = req->volume_capability().has_block();
    in.fs_type = req->volume_capability().mount().fs_type();
    for (const auto& f : req->volume_capability().mount().mount_flags()) {
      in.mount_flags.push_back(f);
    }
    in.readonly = req->readonly();
    for (const auto& [k, v] : req->volume_context()) in.volume_context[k] = v;
    // req->secrets() is never read: credentials stay in the pod's Secret.
    const Status s = driver_.Publish(in);
    if (!s.ok()) spdlog::warn("NodePublishVolume {}: {}", in.target_path, s.message);
    return ToGrpc(s);
  }
  grpc::Status NodeUnpublishVolume(grpc::ServerContext*,
                                   const pb::NodeUnpublishVolumeRequest* req,
                                   pb::NodeUnpublishVolumeResponse*) override {
    const Status s = driver_.Unpublish(req->volume_id(), req->target_path());
    if (!s.ok()) spdlog::warn("NodeUnpublishVolume {}: {}", req->target_path(), s.message);
    return ToGrpc(s);
  }
  grpc::Status NodeGetCapabilities(grpc::ServerContext*, const pb::NodeGetCapabilitiesRequest*,
                                   pb::NodeGetCapabilitiesResponse*) override {
    return grpc::Status::OK;  // no staging, no stats, no expansion
  }
  grpc::Status NodeGetInfo(grpc::ServerContext*, const pb::NodeGetInfoRequest*,
                           pb::NodeGetInfoResponse* out) override {
    out->set_node_id(node_id_);
    return grpc::Status::OK;
  }

 private:
  const std::string node_id_;
  NodeDriver& driver_;
};

int Run(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  // smbgate's logging (src/logging.h): the same text or JSON lines as the sidecar's.
  if (flags.log_format != "text" && flags.log_format != "json") {
    UsageError("--log-format " + flags.log_format + ": text or json");
  }
  if (!InitLogging(flags.log_level, flags.log_format == "json" ? LogFormat::kJson : LogFormat::kText)) {
    UsageError("--log-level " + flags.log_level + ": trace, debug, info, warn or error");
  }

  if (mkdir(flags.driver.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "smbgate-csi-node: --state-dir %s: %s\n",
                 flags.driver.state_dir.c_str(), strerror(errno));
    return 1;
  }
  const std::string socket_path = flags.endpoint.substr(7);
  unlink(socket_path.c_str());  // a previous run's socket

  // Block the signals before any thread starts; one thread waits for them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  NodeDriver driver(flags.driver);
  driver.Recover();
  IdentityService identity(flags.driver_name, driver);
  NodeService node(flags.node_id, driver);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(flags.endpoint, grpc::InsecureServerCredentials());
  builder.RegisterService(&identity);
  builder.RegisterService(&node);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "smbgate-csi-node: cannot listen on %s (is its directory there?)\n",
                 flags.endpoint.c_str());
    return 1;
  }
  spdlog::info("smbgate-csi-node {} serving {} as {} on node {} (kubelet {}, state {})",
               Version(), flags.endpoint, flags.driver_name, flags.node_id,
               flags.driver.kubelet_dir, flags.driver.state_dir);

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    spdlog::info("signal {}: stopping; published volumes stay mounted", sig);
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  });
  server->Wait();
  waiter.join();
  driver.Shutdown();
  unlink(socket_path.c_str());
  return 0;
}

}  // namespace
}  // namespace smbgate::csi

int main(int argc, char** argv) { return smbgate::csi::Run(argc, argv); }
