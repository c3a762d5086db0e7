#include "kube/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace agentbudget::kube {
namespace {

constexpr char kKubeconfig[] = R"(
apiVersion: v1
kind: Config
current-context: admin
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Q0EtUEVN
    tls-server-name: kubernetes.default.svc
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
- name: robot
  user:
    token: s3cr3t
contexts:
- name: admin
  context: {cluster: local, user: admin, namespace: team-a}
- name: robot
  context: {cluster: local, user: robot}
)";

TEST(KubeconfigTest, CurrentContextGivesServerCaAndClientCertificate) {
  Result<RestConfig> config = ParseKubeconfig(kKubeconfig, "/tmp", "", "test");
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->transport.server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->transport.ca_pem, "CA-PEM");
  EXPECT_EQ(config->transport.client_cert_pem, "CERT");
  EXPECT_EQ(config->transport.client_key_pem, "KEY");
  EXPECT_EQ(config->transport.tls_server_name, "kubernetes.default.svc");
  EXPECT_EQ(config->default_namespace, "team-a");
}

TEST(KubeconfigTest, NamedContextSelectsItsUser) {
  Result<RestConfig> config = ParseKubeconfig(kKubeconfig, "/tmp", "robot", "test");
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->bearer_token, "s3cr3t");
  EXPECT_TRUE(config->transport.client_cert_pem.empty());
  EXPECT_EQ(config->default_namespace, "default");
}

TEST(KubeconfigTest, UnknownContextIsAnErrorNamingIt) {
  Result<RestConfig> config = ParseKubeconfig(kKubeconfig, "/tmp", "prod", "test");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(config.error().message.find("'prod'"), std::string::npos);
}

TEST(KubeconfigTest, InvalidYamlAndBadBase64AreErrors) {
  EXPECT_FALSE(ParseKubeconfig("clusters: [", "/tmp", "", "test").ok());
  std::string bad = kKubeconfig;
  bad.replace(bad.find("Q0EtUEVN"), 8, "Q0E*UEVN");
  Result<RestConfig> config = ParseKubeconfig(bad, "/tmp", "", "test");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("certificate-authority-data"), std::string::npos);
}

TEST(KubeconfigTest, DataFieldsMayBeWrappedOverLines) {
  std::string wrapped = kKubeconfig;
  wrapped.replace(wrapped.find("Q0EtUEVN"), 8, "|\n      Q0Et\n      UEVN");
  Result<RestConfig> config = ParseKubeconfig(wrapped, "/tmp", "", "test");
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->transport.ca_pem, "CA-PEM");
}

TEST(KubeconfigTest, DataFieldsMustBePaddedBase64) {
  std::string unpadded = kKubeconfig;
  unpadded.replace(unpadded.find("Q0VSVA=="), 8, "Q0VSVA");
  Result<RestConfig> config = ParseKubeconfig(unpadded, "/tmp", "", "test");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("client-certificate-data' is not valid base64: length"),
            std::string::npos)
      << config.error().message;
}

TEST(KubeconfigTest, RelativeFilePathsResolveAgainstTheKubeconfigsDirectory) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("kubeconfig-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ca.crt") << "FILE-CA";
  std::ofstream(dir / "config") << R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", certificate-authority: ca.crt}}]
users: [{name: u, user: {tokenFile: token}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
  Result<RestConfig> config = LoadKubeconfig((dir / "config").string());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->transport.ca_pem, "FILE-CA");
  EXPECT_EQ(config->bearer_token_file, (dir / "token").string());
}

TEST(KubeconfigTest, MissingFileIsNotFound) {
  Result<RestConfig> config = LoadKubeconfig("/nonexistent/kubeconfig");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, ErrorCode::kNotFound);
}

TEST(InClusterConfigTest, ReadsServiceEnvironmentTokenFileCaAndNamespace) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("sa-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "tok";
  std::ofstream(dir / "ca.crt") << "SA-CA";
  std::ofstream(dir / "namespace") << "agentbudget-system";
  ::setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  Result<RestConfig> config = InClusterConfig(dir.string());
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->transport.server, "https://10.0.0.1:443");
  EXPECT_EQ(config->transport.ca_pem, "SA-CA");
  EXPECT_EQ(config->bearer_token_file, (dir / "token").string());
  EXPECT_EQ(config->default_namespace, "agentbudget-system");
}

TEST(InClusterConfigTest, OutsideAClusterIsAFailedPrecondition) {
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  Result<RestConfig> config = InClusterConfig("/nonexistent");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace agentbudget::kube
