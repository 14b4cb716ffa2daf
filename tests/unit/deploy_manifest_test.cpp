// SPDX-License-Identifier: Apache-2.0
// deploy/kubernetes/modgate.yaml: the DaemonSet runs the agent with only the privileges it needs,
// mounts what must not change read-only, and its arguments are ones `modgate run` accepts (parsed
// by the real command line, so a renamed option breaks this test, not a cluster).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/cli/app.h"

namespace modgate {
namespace {

using ::testing::UnorderedElementsAre;

struct Manifest {
  std::map<std::string, YAML::Node> by_kind_name;  // "Kind/name"
};

Manifest load() {
  Manifest m;
  for (const YAML::Node& doc :
       YAML::LoadAllFromFile(std::string(MODGATE_SOURCE_DIR) + "/deploy/kubernetes/modgate.yaml"))
    m.by_kind_name[doc["kind"].as<std::string>() + "/" +
                   doc["metadata"]["name"].as<std::string>()] = doc;
  return m;
}

YAML::Node container(const Manifest& m) {
  return m.by_kind_name.at("DaemonSet/modgate")["spec"]["template"]["spec"]["containers"][0];
}

TEST(KubernetesManifest, ContainerHasOnlyTheCapabilitiesItNeeds) {
  Manifest m = load();
  ASSERT_TRUE(m.by_kind_name.count("DaemonSet/modgate"));
  YAML::Node pod = m.by_kind_name["DaemonSet/modgate"]["spec"]["template"]["spec"];
  EXPECT_FALSE(pod["hostPID"].as<bool>());
  EXPECT_FALSE(pod["hostNetwork"].as<bool>());
  EXPECT_FALSE(pod["automountServiceAccountToken"].as<bool>());
  YAML::Node sc = container(m)["securityContext"];
  EXPECT_FALSE(sc["privileged"].as<bool>());
  EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>());
  EXPECT_TRUE(sc["readOnlyRootFilesystem"].as<bool>());
  EXPECT_EQ(sc["capabilities"]["drop"].as<std::vector<std::string>>(),
            std::vector<std::string>{"ALL"});
  EXPECT_THAT(sc["capabilities"]["add"].as<std::vector<std::string>>(),
              UnorderedElementsAre("BPF", "PERFMON", "SYS_ADMIN"));
}

TEST(KubernetesManifest, HostInputsAreReadOnlyAndEveryMountHasAVolume) {
  Manifest m = load();
  YAML::Node pod = m.by_kind_name["DaemonSet/modgate"]["spec"]["template"]["spec"];
  std::set<std::string> volumes;
  for (const auto& v : pod["volumes"]) volumes.insert(v["name"].as<std::string>());
  std::map<std::string, bool> read_only;
  for (const auto& vm : container(m)["volumeMounts"]) {
    std::string name = vm["name"].as<std::string>();
    EXPECT_TRUE(volumes.count(name)) << name;
    read_only[vm["mountPath"].as<std::string>()] = vm["readOnly"] && vm["readOnly"].as<bool>();
  }
  for (const char* path : {"/lib/modules", "/sys/kernel/security", "/etc/machine-id",
                           "/etc/modgate/policy", "/etc/modgate/trust"}) {
    ASSERT_TRUE(read_only.count(path)) << path << " is not mounted";
    EXPECT_TRUE(read_only[path]) << path << " must be read-only";
  }
  // Pins must reach the host's bpffs, or enforcement would die with the pod.
  EXPECT_FALSE(read_only.at("/sys/fs/bpf"));
}

TEST(KubernetesManifest, ArgumentsParseWithTheRealCommandLineAndPointAtTheConfigMaps) {
  Manifest m = load();
  YAML::Node c = container(m);
  EXPECT_EQ(c["command"][0].as<std::string>(), "/usr/sbin/modgate");
  std::vector<std::string> args = c["args"].as<std::vector<std::string>>();
  ASSERT_FALSE(args.empty());
  EXPECT_EQ(args[0], "run");

  auto cli = cli::make_cli();
  std::vector<std::string> argv(args.rbegin(), args.rend());  // CLI11 takes them reversed
  ASSERT_NO_THROW(cli->app.parse(argv));
  CLI::App* run = cli->app.get_subcommand("run");
  ASSERT_TRUE(run->parsed());
  EXPECT_EQ(run->get_option("--policy")->as<std::string>(), "/etc/modgate/policy/policy.bundle");
  EXPECT_FALSE(run->get_option("--trust")->as<std::string>().empty())
      << "the fleet deployment must only accept signed bundles";
  // The file --policy names is a key of the ConfigMap mounted there.
  EXPECT_TRUE(m.by_kind_name.at("ConfigMap/modgate-policy")["data"]["policy.bundle"]);
}

}  // namespace
}  // namespace modgate
