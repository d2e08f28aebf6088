// ParsePublish: what the CSI node driver accepts from the kubelet, and the one-line reason
// for everything it refuses.
#include "src/csi/volume.h"

#include <gtest/gtest.h>

namespace smbgate::csi {
namespace {

constexpr char kKubelet[] = "/var/lib/kubelet";
constexpr char kUid[] = "6f1c2f9e-8a7b-4c3d-9e2f-0a1b2c3d4e5f";

PublishInput Good() {
  PublishInput in;
  in.volume_id = "csi-0123456789abcdef";
  in.target_path =
      std::string(kKubelet) + "/pods/" + kUid + "/volumes/kubernetes.io~csi/smbgate-share/mount";
  in.has_capability = true;
  in.volume_context = {{"csi.storage.k8s.io/pod.uid", kUid},
                       {"csi.storage.k8s.io/pod.name", "reports-0"},
                       {"csi.storage.k8s.io/pod.namespace", "apps"},
                       {"csi.storage.k8s.io/ephemeral", "true"}};
  return in;
}

Status Parse(const PublishInput& in, Publication* out = nullptr) {
  Publication p;
  return ParsePublish(in, kKubelet, out ? out : &p);
}

TEST(CsiVolume, AcceptsTheKubeletsEphemeralRequest) {
  Publication p;
  ASSERT_TRUE(Parse(Good(), &p).ok());
  EXPECT_EQ(p.pod_uid, kUid);
  EXPECT_EQ(p.volume_name, "smbgate-share");
  EXPECT_EQ(p.socket_volume, "smbgate-fuse");
  EXPECT_EQ(p.uid, 65534u);
  EXPECT_EQ(p.gid, 65534u);
  EXPECT_FALSE(p.readonly);
  EXPECT_EQ(p.SocketDir(kKubelet), std::string(kKubelet) + "/pods/" + kUid +
                                       "/volumes/kubernetes.io~empty-dir/smbgate-fuse");
  EXPECT_EQ(p.SocketName(), "smbgate-share.sock");
}

TEST(CsiVolume, ReadsAttributesAndReadOnly) {
  PublishInput in = Good();
  in.volume_context["socketVolume"] = "fuse-rendezvous";
  in.volume_context["uid"] = "1001";
  in.volume_context["gid"] = "2002";
  in.mount_flags = {"ro"};
  Publication p;
  ASSERT_TRUE(Parse(in, &p).ok());
  EXPECT_EQ(p.socket_volume, "fuse-rendezvous");
  EXPECT_EQ(p.uid, 1001u);
  EXPECT_EQ(p.gid, 2002u);
  EXPECT_TRUE(p.readonly);
  in.mount_flags.clear();
  in.readonly = true;
  ASSERT_TRUE(Parse(in, &p).ok());
  EXPECT_TRUE(p.readonly);
}

struct Refusal {
  const char* name;
  void (*change)(PublishInput&);
  const char* says;
};

TEST(CsiVolume, RefusesWithTheCause) {
  const Refusal cases[] = {
      {"no volume id", [](PublishInput& in) { in.volume_id.clear(); }, "volume_id is empty"},
      {"a volume id with a slash", [](PublishInput& in) { in.volume_id = "../x"; }, "volume_id"},
      {"no capability", [](PublishInput& in) { in.has_capability = false; }, "volume_capability"},
      {"block", [](PublishInput& in) { in.block = true; }, "block access"},
      {"ext4", [](PublishInput& in) { in.fs_type = "ext4"; }, "fs_type ext4"},
      {"a mount flag", [](PublishInput& in) { in.mount_flags = {"noexec"}; }, "mount flag noexec"},
      {"no pod uid",
       [](PublishInput& in) { in.volume_context.erase("csi.storage.k8s.io/pod.uid"); },
       "podInfoOnMount"},
      {"a persistent volume",
       [](PublishInput& in) { in.volume_context.erase("csi.storage.k8s.io/ephemeral"); },
       "ephemeral"},
      {"an unknown attribute", [](PublishInput& in) { in.volume_context["server"] = "x"; },
       "unknown volume attribute server"},
      {"a bad socket volume", [](PublishInput& in) { in.volume_context["socketVolume"] = "../x"; },
       "socketVolume=../x"},
      {"a negative uid", [](PublishInput& in) { in.volume_context["uid"] = "-1"; }, "uid=-1"},
      {"a huge gid", [](PublishInput& in) { in.volume_context["gid"] = "4294967295"; },
       "gid=4294967295"},
      {"a target elsewhere", [](PublishInput& in) { in.target_path = "/mnt/x/mount"; },
       "not inside /var/lib/kubelet/pods/"},
      {"a relative target", [](PublishInput& in) { in.target_path = "var/lib/kubelet/pods/x"; },
       "not inside"},
      {"a target with ..",
       [](PublishInput& in) { in.target_path = "/var/lib/kubelet/pods/../../../etc/mount"; },
       "not inside"},
      {"another pod's target",
       [](PublishInput& in) {
         in.target_path = "/var/lib/kubelet/pods/other/volumes/kubernetes.io~csi/v/mount";
       },
       "of pod"},
      {"not a csi target",
       [](PublishInput& in) {
         in.target_path = std::string("/var/lib/kubelet/pods/") + kUid +
                          "/volumes/kubernetes.io~empty-dir/v/mount";
       },
       "NAME/mount"},
      {"a nested name",
       [](PublishInput& in) {
         in.target_path = std::string("/var/lib/kubelet/pods/") + kUid +
                          "/volumes/kubernetes.io~csi/a/b/mount";
       },
       "not a volume name"},
  };
  for (const auto& c : cases) {
    PublishInput in = Good();
    c.change(in);
    const Status s = Parse(in);
    EXPECT_EQ(s.code, Code::kInvalidArgument) << c.name;
    EXPECT_NE(s.message.find(c.says), std::string::npos) << c.name << ": " << s.message;
    EXPECT_EQ(s.message.find('\n'), std::string::npos) << c.name;
  }
}

TEST(CsiVolume, SameRequestComparesWhatMatters) {
  Publication a, b;
  ASSERT_TRUE(Parse(Good(), &a).ok());
  PublishInput in = Good();
  in.volume_context["csi.storage.k8s.io/pod.name"] = "renamed";  // for logs only
  ASSERT_TRUE(Parse(in, &b).ok());
  EXPECT_TRUE(a.SameRequest(b));
  in.readonly = true;
  ASSERT_TRUE(Parse(in, &b).ok());
  EXPECT_FALSE(a.SameRequest(b));
}

TEST(CsiVolume, RecordsRoundTripAndRejectTampering) {
  Publication p;
  ASSERT_TRUE(Parse(Good(), &p).ok());
  const auto back = DecodeRecord(EncodeRecord(p));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->SameRequest(p));
  EXPECT_EQ(back->volume_name, p.volume_name);
  EXPECT_FALSE(DecodeRecord("garbage").has_value());
  std::string tampered = EncodeRecord(p);
  tampered.replace(tampered.find("volume_name=smbgate-share"), 25, "volume_name=../../etc");
  EXPECT_FALSE(DecodeRecord(tampered).has_value());
}

TEST(CsiVolume, TargetCheckForUnpublish) {
  EXPECT_TRUE(CheckTarget("/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/v/mount", kKubelet).ok());
  EXPECT_EQ(CheckTarget("/etc", kKubelet).code, Code::kInvalidArgument);
  EXPECT_EQ(CheckTarget("/var/lib/kubelet/pods//x", kKubelet).code, Code::kInvalidArgument);
  EXPECT_EQ(CheckTarget("", kKubelet).code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace smbgate::csi
