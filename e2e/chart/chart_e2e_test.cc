// The Helm chart (charts/agentbudget) against the local control plane: its copies of the
// CRDs and the rate card equal their sources, its metric names exist in the code, `helm
// lint` and `helm template` pass with default and non-default values (and bad values are
// refused by values.schema.json), the rendered webhook configurations are
// deploy/webhook/webhooks-chart.yaml, the NetworkPolicies admit only what they must, and
// the default rendering applies with a server-side dry run and then for real (kwok runs
// the Deployments' pods; a tenant's `edit` includes reading its own spend). Then the
// operator and the webhook run as local processes against the same cluster: the operator's
// leader issues the webhook certificates into Secrets and fills caBundle of the chart's
// webhook configurations, the webhook serves with that certificate (registered by URL at
// 127.0.0.1, as in e2e/webhook), and a governed Job created through the API server comes
// out injected and held, and the operator's admission queue admits it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "e2e/operator/operator_process.h"
#include "e2e/support/cluster_environment.h"
#include "e2e/support/command.h"
#include "e2e/support/local_cluster.h"
#include "e2e/webhook/webhook_process.h"
#include "kube/config.h"
#include "operator/certs/x509.h"
#include "tests/common/test_tls.h"

namespace agentbudget::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kNamespace[] = "agentbudget-system";

const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment("chart-e2e"));

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

CommandResult Execute(const std::vector<std::string>& argv, const std::string& input = "") {
  auto result = RunCommand(argv, input);
  return result.ok() ? *result : CommandResult{-1, result.error().ToString()};
}

CommandResult Kubectl(const std::vector<std::string>& args, const std::string& input = "") {
  LocalCluster* cluster = ClusterEnvironment::Cluster();
  if (cluster == nullptr) {
    return CommandResult{-1, "no cluster"};
  }
  auto result = cluster->Kubectl(args, input);
  return result.ok() ? *result : CommandResult{-1, result.error().ToString()};
}

// helm from the same cache as the control plane (e2e/cluster/build-tools.sh, tools/helm).
std::string HelmBinary() {
  LocalCluster* cluster = ClusterEnvironment::Cluster();
  return cluster == nullptr ? "" : cluster->bin_dir() + "/helm";
}

CommandResult Helm(std::vector<std::string> args) {
  const std::string helm = HelmBinary();
  if (helm.empty() || !std::filesystem::exists(helm)) {
    return CommandResult{-1, "helm is missing at \"" + helm +
                                 "\": e2e/cluster/build-tools.sh builds it (tools/helm)"};
  }
  args.insert(args.begin(), helm);
  return Execute(args);
}

// `helm template` of the chart into the install namespace, with `values` as --set flags.
CommandResult Render(const std::vector<std::string>& values) {
  std::vector<std::string> args = {"template", "agentbudget", SourcePath("charts/agentbudget"),
                                   "--namespace", kNamespace};
  for (const std::string& value : values) {
    args.push_back("--set");
    args.push_back(value);
  }
  return Helm(args);
}

// The objects of a multi-document YAML stream, as JSON (converted by kubectl without
// writing anything; it prints one JSON document per object).
std::vector<json> Objects(const std::string& yaml) {
  CommandResult converted =
      Kubectl({"create", "--dry-run=client", "-o", "json", "-f", "-"}, yaml);
  if (converted.exit_code != 0) {
    ADD_FAILURE() << "cannot convert to JSON: " << converted.output;
    return {};
  }
  std::vector<json> objects;
  std::istringstream documents(converted.output);
  try {
    while ((documents >> std::ws).peek() != std::char_traits<char>::eof()) {
      objects.emplace_back();
      documents >> objects.back();
    }
  } catch (const json::exception& e) {
    ADD_FAILURE() << "kubectl printed something other than JSON: " << e.what();
  }
  return objects;
}

// The top-level kinds of a rendering (helm writes "kind:" at column 0 for each object).
std::vector<std::string> Kinds(const std::string& yaml) {
  std::vector<std::string> kinds;
  std::istringstream lines(yaml);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("kind: ", 0) == 0) {
      kinds.push_back(line.substr(6));
    }
  }
  return kinds;
}

TEST(ChartSourcesTest, ChartCopiesOfTheCrdsAndRateCardEqualTheirSources) {
  CommandResult checked = Execute({SourcePath("e2e/chart/check-chart-sources.sh")});
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
}

TEST(ChartSourcesTest, MetricNamesInDocsAlertsAndDashboardExistInTheCode) {
  CommandResult checked = Execute({"python3", SourcePath("e2e/chart/check-metric-names.py")});
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_THAT(checked.output, HasSubstr(" 0 problems"));
}

TEST(ChartSourcesTest, CrdReferenceIsGeneratedFromTheCurrentSchemas) {
  CommandResult checked = Execute({"python3", SourcePath("docs/gen-crd-reference.py"), "--check"});
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
}

TEST(HelmTest, LintPassesWithDefaultAndNonDefaultValues) {
  CommandResult plain = Helm({"lint", "--strict", SourcePath("charts/agentbudget")});
  EXPECT_EQ(plain.exit_code, 0) << plain.output;
  CommandResult options = Helm({"lint", "--strict", SourcePath("charts/agentbudget"), "--set",
                                "certManager.enabled=true,metrics.serviceMonitor.enabled=true,"
                                "metrics.prometheusRules.enabled=true"});
  EXPECT_EQ(options.exit_code, 0) << options.output;
}

TEST(HelmTest, DefaultRenderingHasEveryComponentAndNoOptionalObjects) {
  CommandResult rendered = Render({});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  const std::vector<std::string> kinds = Kinds(rendered.output);
  for (const char* kind : {"Deployment", "Service", "PodDisruptionBudget", "ClusterRole",
                           "Role", "MutatingWebhookConfiguration",
                           "ValidatingWebhookConfiguration", "ConfigMap", "ServiceAccount",
                           "NetworkPolicy"}) {
    EXPECT_THAT(kinds, ::testing::Contains(kind));
  }
  for (const char* kind : {"Certificate", "Issuer", "ServiceMonitor", "PrometheusRule"}) {
    EXPECT_THAT(kinds, ::testing::Not(::testing::Contains(kind)));
  }
  // The operator keeps the certificates; two replicas, leader-elected.
  EXPECT_THAT(rendered.output, HasSubstr("- --webhook-certs=true"));
  EXPECT_THAT(rendered.output, HasSubstr("- --leader-elect=true"));
  // The rate card shipped with the meter is the default.
  EXPECT_THAT(rendered.output, HasSubstr("id: claude-opus-4-5"));
  // Only the operator's ServiceAccount may release held work; the Job controller's
  // identities create Jobs' pods; nobody's user label is trusted and no risky pod feature
  // is allowed until the values say so.
  EXPECT_THAT(rendered.output, HasSubstr("- --operator-users=system:serviceaccount:"
                                         "agentbudget-system:agentbudget-operator\n"));
  EXPECT_THAT(rendered.output,
              HasSubstr("- --job-controller-users=system:serviceaccount:kube-system:"
                        "job-controller,system:kube-controller-manager\n"));
  EXPECT_THAT(rendered.output, ::testing::Not(HasSubstr("--trusted-creators")));
  EXPECT_THAT(rendered.output, ::testing::Not(HasSubstr("--allow-pod-features")));
  // The authority is on TLS with a certificate the operator issues; the webhook gives
  // meters the CA the operator publishes.
  EXPECT_THAT(rendered.output, HasSubstr("- --authority-url=https://agentbudget-operator."));
  EXPECT_THAT(rendered.output,
              HasSubstr("- --authority-tls-dir=/var/run/agentbudget/authority-tls"));
  EXPECT_THAT(rendered.output,
              HasSubstr("- --authority-ca-file=/etc/agentbudget/authority-ca/ca.crt"));
  EXPECT_THAT(rendered.output, HasSubstr("configMap: {name: agentbudget-authority-ca, items:"));
}

TEST(HelmTest, NonDefaultValuesRenderCertManagerMonitoringAndOverrides) {
  CommandResult rendered = Render(
      {"certManager.enabled=true", "metrics.serviceMonitor.enabled=true",
       "metrics.podMonitor.enabled=true", "metrics.prometheusRules.enabled=true",
       "metrics.grafanaDashboard.enabled=true", "webhook.replicas=3",
       "webhook.antiAffinity=required", "image.registry=registry.example/ab",
       "meter.image.tag=9.9.9", "meter.rates.models[0].id=in-house",
       "meter.rates.models[0].provider=openai", "meter.rates.models[0].prices.input=1",
       "metrics.prometheusRules.utilizationWarningPercent=70",
       "webhook.trustedCreators={system:serviceaccount:ci:runner,group:ci-bots}",
       "webhook.allowPodFeatures={hostPID,privileged}", "networkPolicy.enabled=false"});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  const std::vector<std::string> kinds = Kinds(rendered.output);
  for (const char* kind :
       {"Certificate", "Issuer", "ServiceMonitor", "PodMonitor", "PrometheusRule"}) {
    EXPECT_THAT(kinds, ::testing::Contains(kind));
  }
  EXPECT_THAT(rendered.output, HasSubstr("- --webhook-certs=false"));
  // cert-manager's authority certificate, and its CA for the meters.
  EXPECT_THAT(rendered.output, HasSubstr("- --tls-cert=/etc/agentbudget/tls/tls.crt"));
  EXPECT_THAT(rendered.output, ::testing::Not(HasSubstr("--authority-tls-dir")));
  EXPECT_THAT(rendered.output, HasSubstr("secret: {secretName: agentbudget-authority-tls, "
                                         "items: [{key: ca.crt, path: ca.crt}]}"));
  EXPECT_THAT(rendered.output, HasSubstr("cert-manager.io/inject-ca-from: agentbudget-system/"));
  EXPECT_THAT(rendered.output, HasSubstr("replicas: 3"));
  EXPECT_THAT(rendered.output, HasSubstr("requiredDuringSchedulingIgnoredDuringExecution"));
  EXPECT_THAT(rendered.output, HasSubstr("--meter-image=registry.example/ab/meter:9.9.9"));
  EXPECT_THAT(rendered.output, HasSubstr("id: in-house"));
  EXPECT_THAT(rendered.output, HasSubstr("agentbudget_budget_utilization_ratio >= 0.7"));
  EXPECT_THAT(rendered.output, HasSubstr("agentbudget_webhook_admission_duration_seconds_bucket"));
  EXPECT_THAT(rendered.output, HasSubstr("agentbudget.json: |"));
  EXPECT_THAT(rendered.output,
              HasSubstr("- --trusted-creators=system:serviceaccount:ci:runner,group:ci-bots\n"));
  EXPECT_THAT(rendered.output, HasSubstr("- --allow-pod-features=hostPID,privileged\n"));
  EXPECT_THAT(kinds, ::testing::Not(::testing::Contains("NetworkPolicy")));
}

TEST(HelmTest, SchemaRefusesBadValuesWithTheirPath) {
  CommandResult one_webhook = Render({"webhook.replicas=1"});
  EXPECT_NE(one_webhook.exit_code, 0);
  EXPECT_THAT(one_webhook.output, HasSubstr("/webhook/replicas"));
  CommandResult slow = Render({"webhook.timeoutSeconds=10"});
  EXPECT_NE(slow.exit_code, 0);
  EXPECT_THAT(slow.output, HasSubstr("/webhook/timeoutSeconds"));
  CommandResult unknown = Render({"operator.colour=blue"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.output, HasSubstr("colour"));
  CommandResult feature = Render({"webhook.allowPodFeatures={hostIPC}"});
  EXPECT_NE(feature.exit_code, 0);
  EXPECT_THAT(feature.output, HasSubstr("/webhook/allowPodFeatures/0"));
  CommandResult list = Render({"webhook.trustedCreators={a\\,b}"});
  EXPECT_NE(list.exit_code, 0) << "a comma would split one identity into two";
  EXPECT_THAT(list.output, HasSubstr("/webhook/trustedCreators/0"));
  CommandResult cidr = Render({"networkPolicy.apiServerCIDRs={10.0.0.1}"});
  EXPECT_NE(cidr.exit_code, 0);
  EXPECT_THAT(cidr.output, HasSubstr("/networkPolicy/apiServerCIDRs/0"));
  // A PostgreSQL ledger needs the Secret holding its connection string.
  for (const auto& [value, path] : std::vector<std::pair<std::string, std::string>>{
           {"ledger.store=postgres", "/ledger/postgres/secretName"},
           {"ledger.store=mysql", "/ledger/store"}}) {
    CommandResult refused = Render({value});
    EXPECT_NE(refused.exit_code, 0) << value;
    EXPECT_THAT(refused.output, HasSubstr(path));
  }
}

TEST(HelmTest, PostgresLedgerReadsItsConnectionStringFromTheNamedSecret) {
  CommandResult rendered =
      Render({"ledger.store=postgres", "ledger.postgres.secretName=ledger-db",
              "ledger.postgres.secretKey=uri", "ledger.postgres.timeoutMs=2000"});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  EXPECT_THAT(rendered.output, HasSubstr("- --ledger-store=postgres\n"));
  EXPECT_THAT(rendered.output, HasSubstr("- --postgres-dsn-file=/etc/agentbudget/postgres/dsn\n"));
  EXPECT_THAT(rendered.output, HasSubstr("- --postgres-timeout-ms=2000\n"));
  EXPECT_THAT(rendered.output,
              HasSubstr("- {name: postgres, mountPath: /etc/agentbudget/postgres, readOnly: true}"));
  EXPECT_THAT(rendered.output, HasSubstr("secretName: ledger-db\n"
                                         "          items: [{key: uri, path: dsn}]"));
  CommandResult kube = Render({});
  ASSERT_EQ(kube.exit_code, 0) << kube.output;
  EXPECT_THAT(kube.output, HasSubstr("- --ledger-store=kube\n"));
  EXPECT_THAT(kube.output, ::testing::Not(HasSubstr("postgres")));
}

// The rendered object of `kind` named `name`, or null.
json Find(const std::vector<json>& objects, const std::string& kind, const std::string& name) {
  for (const json& object : objects) {
    if (object["kind"] == kind && object["metadata"]["name"] == name) {
      return object;
    }
  }
  return nullptr;
}

// The authority is reachable only from governed pods, the ops ports only from the metrics
// namespaces, the webhook only from the API server's ranges (and the metrics namespaces).
TEST(HelmTest, NetworkPoliciesAdmitOnlyMetersApiServerAndMetricsNamespaces) {
  CommandResult rendered = Render({"networkPolicy.apiServerCIDRs={172.20.0.0/28}",
                                   "networkPolicy.metricsNamespaces={monitoring,finops}",
                                   "networkPolicy.focusNamespaces={finance}"});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  const std::vector<json> objects = Objects(rendered.output);
  const json metrics_peer = {
      {"namespaceSelector",
       {{"matchExpressions",
         {{{"key", "kubernetes.io/metadata.name"},
           {"operator", "In"},
           {"values", {"monitoring", "finops"}}}}}}}};

  const json op = Find(objects, "NetworkPolicy", "agentbudget-operator");
  ASSERT_FALSE(op.is_null()) << rendered.output;
  EXPECT_EQ(op["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"], "operator");
  EXPECT_EQ(op["spec"]["policyTypes"], json({"Ingress"}));
  const json& op_rules = op["spec"]["ingress"];
  ASSERT_EQ(op_rules.size(), 2u) << op.dump(2);
  EXPECT_EQ(op_rules[0]["ports"], json::parse(R"([{"port":"authority","protocol":"TCP"}])"));
  EXPECT_EQ(op_rules[0]["from"], json::parse(R"([{
      "namespaceSelector": {"matchLabels": {"agentbudget.io/inject": "enabled"}},
      "podSelector": {"matchExpressions":
          [{"key": "agentbudget.io/workload", "operator": "Exists"}]}}, {
      "namespaceSelector": {"matchExpressions":
          [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["finance"]}]}}])"));
  EXPECT_EQ(op_rules[1]["ports"], json::parse(R"([{"port":"metrics","protocol":"TCP"}])"));
  EXPECT_EQ(op_rules[1]["from"], json({metrics_peer}));

  const json webhook = Find(objects, "NetworkPolicy", "agentbudget-webhook");
  ASSERT_FALSE(webhook.is_null()) << rendered.output;
  EXPECT_EQ(webhook["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
            "webhook");
  const json& webhook_rules = webhook["spec"]["ingress"];
  ASSERT_EQ(webhook_rules.size(), 1u) << webhook.dump(2);
  EXPECT_EQ(webhook_rules[0]["ports"], json::parse(R"([{"port":"https","protocol":"TCP"}])"));
  EXPECT_EQ(webhook_rules[0]["from"],
            json({{{"ipBlock", {{"cidr", "172.20.0.0/28"}}}}, metrics_peer}));
}

// Tenants read their own namespaces' spend through `view` (and so `edit`).
TEST(HelmTest, SpendViewerRoleIsAggregatedIntoView) {
  CommandResult rendered = Render({});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  const json role = Find(Objects(rendered.output), "ClusterRole", "agentbudget-spend-viewer");
  ASSERT_FALSE(role.is_null());
  EXPECT_EQ(role["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"], "true");
  EXPECT_EQ(role["rules"], json::parse(R"([{"apiGroups":["agentbudget.io"],
      "resources":["spend"],"verbs":["get"]}])"));
}

// The chart's webhook configurations are deploy/webhook/webhooks-chart.yaml with the
// namespace filled in and caBundle left to the operator.
TEST(HelmTest, RenderedWebhookConfigurationsAreTheWebhookOwnersTemplate) {
  CommandResult rendered = Render({});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  std::string expected_yaml = ReadFile(SourcePath("deploy/webhook/webhooks-chart.yaml"));
  ReplaceAll(expected_yaml, "@NAMESPACE@", kNamespace);
  std::vector<json> expected = Objects(expected_yaml);
  ASSERT_EQ(expected.size(), 2u);
  int compared = 0;
  for (const json& object : Objects(rendered.output)) {
    for (json want : expected) {
      if (object["kind"] != want["kind"]) {
        continue;
      }
      for (json& webhook : want["webhooks"]) {
        webhook["clientConfig"].erase("caBundle");
      }
      EXPECT_EQ(object["webhooks"], want["webhooks"]) << object["kind"];
      EXPECT_EQ(object["metadata"]["name"], want["metadata"]["name"]);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 2);
}

// The default rendering installed on the local cluster, then the operator and webhook as
// local processes. Shared by the tests below, in order.
class InstalledChartTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LocalCluster* cluster = ClusterEnvironment::Cluster();
    ASSERT_NE(cluster, nullptr);
    // Helm creates crds/ before the templates (a plain create, as this client-side apply).
    CommandResult crds = Kubectl({"apply", "-f", SourcePath("charts/agentbudget/crds")});
    ASSERT_EQ(crds.exit_code, 0) << crds.output;
    CommandResult established = Kubectl(
        {"wait", "--for=condition=Established", "crd/agentbudgets.agentbudget.io",
         "crd/agentworkloads.agentbudget.io", "--timeout=60s"});
    ASSERT_EQ(established.exit_code, 0) << established.output;
    CommandResult ns = Kubectl({"create", "namespace", kNamespace});
    ASSERT_EQ(ns.exit_code, 0) << ns.output;
    CommandResult rendered = Render({});
    ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
    manifests_ = rendered.output;
    dry_run_ = Kubectl({"apply", "--server-side", "--dry-run=server", "-f", "-"}, *manifests_);
    after_dry_run_ = Kubectl({"get", "deployments", "-n", kNamespace, "-o", "name"});
    applied_ = Kubectl({"apply", "--server-side", "-f", "-"}, *manifests_);
  }
  static void TearDownTestSuite() {
    webhook_.reset();
    operator_.reset();
    dir_.reset();
  }

  // Starts the operator (certificates on) once; returns its failure, if any.
  static std::string StartOperator() {
    if (operator_) {
      return "";
    }
    LocalCluster* cluster = ClusterEnvironment::Cluster();
    dir_ = std::make_unique<testing::TempDir>();
    operator_ = std::make_unique<OperatorProcess>(
        AGENTBUDGET_OPERATOR_BINARY,
        std::vector<std::string>{"--kubeconfig=" + cluster->kubeconfig(),
                                 std::string("--namespace=") + kNamespace,
                                 "--listen=127.0.0.1:" + std::to_string(FreePort()),
                                 "--ops-listen=127.0.0.1:" + std::to_string(FreePort()),
                                 "--leader-elect=true", "--webhook-certs=true",
                                 "--webhook-cert-hosts=127.0.0.1"},
        dir_->path() + "/operator.log");
    Status started = operator_->Start();
    return started.ok() ? "" : started.error().ToString();
  }

  // The decoded data of Secret `name` in the install namespace, polling until it exists.
  static json SecretData(const std::string& name) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      CommandResult got = Kubectl({"get", "secret", name, "-n", kNamespace, "-o", "json"});
      if (got.exit_code == 0) {
        json data = json::object();
        const json secret = json::parse(got.output);
        for (const auto& [key, value] : secret["data"].items()) {
          auto decoded = base64::Decode(value.get<std::string>());
          data[key] = decoded.ok() ? *decoded : "";
        }
        return data;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
    }
    ADD_FAILURE() << "Secret " << name << " never appeared; operator log:\n"
                  << ReadFile(dir_->path() + "/operator.log");
    return json::object();
  }

  // The caBundle of every webhook of the configuration, decoded; polls until all are set.
  static std::vector<std::string> CaBundles(const std::string& kind) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::vector<std::string> bundles;
    while (std::chrono::steady_clock::now() < deadline) {
      bundles.clear();
      CommandResult got = Kubectl({"get", kind, "agentbudget", "-o", "json"});
      const json configuration = got.exit_code == 0 ? json::parse(got.output) : json();
      if (configuration.contains("webhooks")) {
        for (const json& webhook : configuration["webhooks"]) {
          auto decoded =
              base64::Decode(webhook["clientConfig"].value("caBundle", std::string()));
          if (decoded.ok() && !decoded->empty()) {
            bundles.push_back(*decoded);
          }
        }
        if (!bundles.empty() && bundles.size() == configuration["webhooks"].size()) {
          return bundles;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
    }
    return bundles;
  }

  static inline std::optional<std::string> manifests_;
  static inline std::optional<CommandResult> dry_run_;
  static inline std::optional<CommandResult> after_dry_run_;
  static inline std::optional<CommandResult> applied_;
  static inline std::unique_ptr<testing::TempDir> dir_;
  static inline std::unique_ptr<OperatorProcess> operator_;
  static inline std::unique_ptr<WebhookProcess> webhook_;
};

TEST_F(InstalledChartTest, ManifestsPassAServerSideDryRunThenApplyForReal) {
  ASSERT_TRUE(dry_run_ && after_dry_run_ && applied_) << "the suite set-up failed";
  EXPECT_EQ(dry_run_->exit_code, 0) << dry_run_->output;
  EXPECT_THAT(dry_run_->output, HasSubstr("deployment.apps/agentbudget-webhook serverside-applied (server dry run)"));
  EXPECT_THAT(after_dry_run_->output, ::testing::Not(HasSubstr("deployment")))
      << "the dry run created objects";
  EXPECT_EQ(applied_->exit_code, 0) << applied_->output;
  CommandResult got = Kubectl({"get", "deployments,services,pdb,serviceaccounts,roles,configmaps",
                               "-n", kNamespace, "-o", "name"});
  for (const char* name : {"deployment.apps/agentbudget-operator",
                           "deployment.apps/agentbudget-webhook", "service/agentbudget-webhook",
                           "service/agentbudget-operator",
                           "poddisruptionbudget.policy/agentbudget-webhook",
                           "configmap/agentbudget-rates"}) {
    EXPECT_THAT(got.output, HasSubstr(name));
  }
}

TEST_F(InstalledChartTest, KwokRunsTheDeploymentsPods) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string running;
  while (std::chrono::steady_clock::now() < deadline) {
    CommandResult pods = Kubectl({"get", "pods", "-n", kNamespace, "--field-selector",
                                  "status.phase=Running", "-o",
                                  "jsonpath={range .items[*]}{.metadata.labels.app\\.kubernetes\\.io/component}{\"\\n\"}{end}"});
    running = pods.output;
    if (std::count(running.begin(), running.end(), '\n') == 4) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // poll interval
  }
  std::vector<std::string> components;
  std::istringstream lines(running);
  for (std::string line; std::getline(lines, line);) {
    components.push_back(line);
  }
  std::sort(components.begin(), components.end());
  EXPECT_EQ(components, (std::vector<std::string>{"operator", "operator", "webhook", "webhook"}));
}

// A SubjectAccessReview for `user` (an authenticated user without groups of note) getting
// agentbudget.io spend in `ns`: true when allowed.
bool MayGetSpend(const std::string& user, const std::string& ns) {
  const json review = {
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SubjectAccessReview"},
      {"spec",
       {{"user", user},
        {"groups", {"system:authenticated"}},
        {"resourceAttributes",
         {{"group", "agentbudget.io"},
          {"resource", "spend"},
          {"verb", "get"},
          {"namespace", ns}}}}}};
  CommandResult answered = Kubectl({"create", "-o", "json", "-f", "-"}, review.dump());
  if (answered.exit_code != 0) {
    ADD_FAILURE() << answered.output;
    return false;
  }
  return json::parse(answered.output)["status"].value("allowed", false);
}

// The installed agentbudget-spend-viewer reaches `edit` through `view` (the cluster-role
// aggregation controller), so a tenant with `edit` in its namespace may read that
// namespace's spend, and no other's.
TEST_F(InstalledChartTest, TenantWithEditMayReadItsOwnNamespacesSpendOnly) {
  ASSERT_TRUE(applied_ && applied_->exit_code == 0) << "the chart was not applied";
  for (const char* ns : {"tenant-a", "tenant-b"}) {
    CommandResult created = Kubectl({"create", "namespace", ns});
    ASSERT_EQ(created.exit_code, 0) << created.output;
  }
  CommandResult bound = Kubectl({"create", "rolebinding", "mallory-edit", "--clusterrole=edit",
                                 "--user=mallory", "-n", "tenant-a"});
  ASSERT_EQ(bound.exit_code, 0) << bound.output;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool allowed = false;
  while (!allowed && std::chrono::steady_clock::now() < deadline) {
    allowed = MayGetSpend("mallory", "tenant-a");
    if (!allowed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));  // poll interval
    }
  }
  EXPECT_TRUE(allowed) << "edit in tenant-a does not include get spend";
  EXPECT_FALSE(MayGetSpend("mallory", "tenant-b"));
  EXPECT_FALSE(MayGetSpend("mallory", "")) << "all namespaces";
}

TEST_F(InstalledChartTest, OperatorIssuesWebhookCertificatesAndFillsEveryCaBundle) {
  ASSERT_EQ(StartOperator(), "");
  json ca = SecretData("agentbudget-webhook-ca");
  json tls = SecretData("agentbudget-webhook-tls");
  ASSERT_TRUE(ca.contains("ca.crt") && ca.contains("ca.key")) << ca.dump();
  ASSERT_TRUE(tls.contains("tls.crt") && tls.contains("tls.key")) << tls.dump();
  EXPECT_EQ(tls["ca.crt"], ca["ca.crt"]);

  auto serving = certs::Inspect(tls["tls.crt"]);
  ASSERT_TRUE(serving.ok()) << serving.error().ToString();
  EXPECT_THAT(serving->hosts, ::testing::Contains("agentbudget-webhook.agentbudget-system.svc"));
  EXPECT_THAT(serving->hosts, ::testing::Contains("127.0.0.1"));
  auto signed_by = certs::IsSignedBy(tls["tls.crt"], ca["ca.crt"]);
  EXPECT_TRUE(signed_by.ok() && *signed_by);
  auto ca_info = certs::Inspect(ca["ca.crt"]);
  ASSERT_TRUE(ca_info.ok());
  EXPECT_TRUE(ca_info->is_ca);

  // The CA of the authority's certificate, where the chart's webhook mounts it from.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string published;
  while (published.empty() && std::chrono::steady_clock::now() < deadline) {
    CommandResult got = Kubectl({"get", "configmap", "agentbudget-authority-ca", "-n", kNamespace,
                                 "-o", "jsonpath={.data.ca\\.crt}"});
    published = got.exit_code == 0 ? got.output : "";
    if (published.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval
    }
  }
  EXPECT_EQ(published, ca["ca.crt"].get<std::string>())
      << "ConfigMap agentbudget-authority-ca; operator log:\n"
      << ReadFile(dir_->path() + "/operator.log");

  for (const char* kind : {"mutatingwebhookconfiguration", "validatingwebhookconfiguration"}) {
    const std::vector<std::string> bundles = CaBundles(kind);
    EXPECT_FALSE(bundles.empty()) << kind << " has no caBundle";
    for (const std::string& bundle : bundles) {
      EXPECT_EQ(bundle, ca["ca.crt"].get<std::string>()) << kind;
    }
  }
}

// The webhook serves with the operator's certificate; the API server, trusting the CA the
// operator put in caBundle, calls it by URL (the chart's Service has no real endpoints:
// kwok's pods run nothing).
TEST_F(InstalledChartTest, GovernedJobCreatedThroughTheApiServerIsInjectedHeldThenAdmitted) {
  ASSERT_EQ(StartOperator(), "");
  LocalCluster* cluster = ClusterEnvironment::Cluster();
  json tls = SecretData("agentbudget-webhook-tls");
  ASSERT_TRUE(tls.contains("tls.crt"));
  const std::string cert_file = dir_->path() + "/tls.crt";
  const std::string key_file = dir_->path() + "/tls.key";
  std::ofstream(cert_file) << tls["tls.crt"].get<std::string>();
  std::ofstream(key_file) << tls["tls.key"].get<std::string>();
  webhook_ = std::make_unique<WebhookProcess>(AGENTBUDGET_WEBHOOK_BINARY, cluster->kubeconfig(),
                                              cert_file, key_file,
                                              dir_->path() + "/webhook.log");
  Status started = webhook_->Start(std::chrono::seconds(60));
  ASSERT_TRUE(started.ok()) << started.error().ToString();

  // The chart's configurations, pointed at the local process with the operator's CA.
  std::string config = ReadFile(SourcePath("deploy/webhook/webhooks-local.yaml"));
  const std::string base = "https://127.0.0.1:" + std::to_string(webhook_->port());
  ReplaceAll(config, "@MUTATE_URL@", base + "/mutate");
  ReplaceAll(config, "@VALIDATE_URL@", base + "/validate");
  ReplaceAll(config, "@CA_BUNDLE@", "");
  ReplaceAll(config, "@INSTALL_NAMESPACE@", kNamespace);
  for (const char* kind : {"mutatingwebhookconfiguration", "validatingwebhookconfiguration"}) {
    CommandResult deleted = Kubectl({"delete", kind, "agentbudget"});
    ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  }
  // caBundle stays empty here: the operator's next pass (every minute) fills it in.
  CommandResult created = Kubectl({"create", "-f", "-"}, config);
  ASSERT_EQ(created.exit_code, 0) << created.output;

  const char* objects = R"(apiVersion: v1
kind: Namespace
metadata:
  name: payments
  labels: {agentbudget.io/inject: enabled, agentbudget.io/team: payments}
---
apiVersion: agentbudget.io/v1alpha1
kind: AgentWorkload
metadata: {name: pr-review, namespace: payments}
spec:
  selector:
    matchLabels: {agentbudget.io/workload: pr-review}
  class: AutonomousBounded
  attribution: {workflow: pr-review, repo: acme/payments, environment: ci}
  models: {allowed: [claude-sonnet-4-5]}
  perRun: {maxRuntime: 1h}
)";
  const char* job = R"(apiVersion: batch/v1
kind: Job
metadata:
  name: review-1
  namespace: payments
  labels: {agentbudget.io/workload: pr-review}
spec:
  template:
    metadata:
      labels: {agentbudget.io/workload: pr-review}
    spec:
      restartPolicy: Never
      containers:
      - name: agent
        image: agent:1
        env: [{name: ANTHROPIC_MODEL, value: claude-sonnet-4-5}]
)";
  // Until the operator fills caBundle and the webhook's caches hold the workload, the
  // validating webhook refuses the AgentWorkload or the mutating one is skipped: retry
  // server-side dry runs until a Job comes out injected.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  CommandResult probe;
  while (std::chrono::steady_clock::now() < deadline) {
    Kubectl({"apply", "-f", "-"}, objects);
    probe = Kubectl({"create", "--dry-run=server", "-o", "json", "-f", "-"}, job);
    if (probe.exit_code == 0 && probe.output.find("agentbudget.io/injected") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // poll interval
  }
  ASSERT_THAT(probe.output, HasSubstr("agentbudget.io/injected"))
      << "webhook log:\n" << ReadFile(dir_->path() + "/webhook.log");

  CommandResult made = Kubectl({"create", "-o", "json", "-f", "-"}, job);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const json created_job = json::parse(made.output);
  EXPECT_EQ(created_job["spec"]["suspend"], true);
  const json& annotations = created_job["metadata"]["annotations"];
  EXPECT_TRUE(annotations.contains("agentbudget.io/injected")) << annotations.dump();
  EXPECT_TRUE(annotations.contains("agentbudget.io/queue")) << annotations.dump();
  EXPECT_EQ(created_job["metadata"]["labels"]["agentbudget.io/team"], "payments");
  EXPECT_EQ(created_job["spec"]["template"]["metadata"]["labels"]["agentbudget.io/workflow"],
            "pr-review");

  // The operator's admission queue admits it: no budget holds it and the workload has no
  // parallelism cap.
  const auto admit_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  json current;
  while (std::chrono::steady_clock::now() < admit_deadline) {
    CommandResult got = Kubectl({"get", "job", "review-1", "-n", "payments", "-o", "json"});
    current = got.exit_code == 0 ? json::parse(got.output) : json();
    if (current.contains("spec") && current["spec"].value("suspend", true) == false) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // poll interval
  }
  ASSERT_TRUE(current.contains("spec")) << "the Job disappeared";
  EXPECT_EQ(current["spec"].value("suspend", true), false)
      << "never admitted; operator log:\n" << ReadFile(dir_->path() + "/operator.log");
  const json queue = json::parse(
      current["metadata"]["annotations"].value("agentbudget.io/queue", std::string("{}")), nullptr,
      false);
  EXPECT_EQ(queue.value("state", ""), "Admitted") << queue.dump();
}

}  // namespace
}  // namespace agentbudget::e2e
