// The CRDs against a real kube-apiserver: they install, every sample is accepted with its
// defaults, `kubectl get` shows the printer columns, and invalid objects are rejected with
// messages that say what is wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "e2e/support/cluster_environment.h"

namespace agentbudget::e2e {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment("crds-e2e", [](LocalCluster& c) {
      Status installed = InstallCrds(c);
      if (!installed.ok()) {
        return installed;
      }
      auto samples = c.Kubectl({"apply", "-f", SourcePath("crds/samples")});
      if (!samples.ok()) {
        return Status(samples.error());
      }
      if (samples->exit_code != 0) {
        return Status(Unavailable("applying the samples failed: " + samples->output));
      }
      return OkStatus();
    }));

class CrdsTest : public ::testing::Test {
 protected:
  static CommandResult Run(const std::vector<std::string>& args, const std::string& input = "") {
    LocalCluster* cluster = ClusterEnvironment::Cluster();
    if (cluster == nullptr) {
      return CommandResult{-1, "no cluster"};
    }
    auto result = cluster->Kubectl(args, input);
    return result.ok() ? std::move(result).value() : CommandResult{-1, result.error().message};
  }
  static void Expect(const CommandResult& result) {
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
};

TEST_F(CrdsTest, SamplesAreStoredWithTheirDefaults) {
  auto budget = Run({"get", "agentbudget", "team-payments", "-o",
                     "jsonpath={.spec.alerts} {.spec.onExhausted} {.spec.limit.currency} "
                     "{.spec.pressure.forecast}"});
  ASSERT_EQ(budget.exit_code, 0) << budget.output;
  EXPECT_EQ(budget.output, "[50,80,95] Deny USD false");

  auto workload = Run({"get", "agentworkload", "pr-review", "-n", "payments", "-o",
                       "jsonpath={.spec.onLimit} {.spec.approval.required}"});
  ASSERT_EQ(workload.exit_code, 0) << workload.output;
  EXPECT_EQ(workload.output, "Queue ");
}

TEST_F(CrdsTest, EverySampleKindAndClassExists) {
  auto budgets = Run({"get", "ab", "-o", "name"});
  ASSERT_EQ(budgets.exit_code, 0) << budgets.output;
  EXPECT_THAT(budgets.output, HasSubstr("agentbudget.agentbudget.io/org-monthly"));
  EXPECT_THAT(budgets.output, HasSubstr("agentbudget.agentbudget.io/team-payments"));
  EXPECT_THAT(budgets.output, HasSubstr("agentbudget.agentbudget.io/per-engineer-monthly"));

  auto classes = Run({"get", "aw", "-n", "payments", "-o",
                      "jsonpath={range .items[*]}{.spec.class}{\"\\n\"}{end}"});
  ASSERT_EQ(classes.exit_code, 0) << classes.output;
  EXPECT_THAT(classes.output, HasSubstr("Assistive"));
  EXPECT_THAT(classes.output, HasSubstr("AutonomousBounded"));
  EXPECT_THAT(classes.output, HasSubstr("AutonomousExternalized"));
}

TEST_F(CrdsTest, BudgetListShowsEveryPrinterColumn) {
  auto table = Run({"get", "agentbudgets"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_THAT(table.output,
              HasSubstr("NAME                   LIMIT   TOTAL   USED   RESERVED   BURN/H   "
                        "FORECAST   PRESSURE   AGE"));
}

TEST_F(CrdsTest, WorkloadListShowsEveryPrinterColumn) {
  auto table = Run({"get", "agentworkloads", "-n", "payments"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  for (const char* column : {"NAME", "CLASS", "PRIORITY", "ACTIVE", "QUEUED", "SPEND", "AGE"}) {
    EXPECT_THAT(table.output, HasSubstr(column));
  }
  EXPECT_THAT(table.output, HasSubstr("release-deployer   AutonomousExternalized   ReleaseBlocking"));
}

TEST_F(CrdsTest, StatusWrittenThroughTheSubresourceFillsThePrinterColumns) {
  Expect(Run({"patch", "agentbudget", "org-monthly", "--subresource=status", "--type=merge", "-p",
              R"({"status":{"limit":"50000 USD","spent":"41000","utilization":"82%",)"
              R"("reservedUtilization":"3%","burnRatePerHour":"55.5","forecast":"52000",)"
              R"("pressure":"Degrade"}})"}));
  auto row = Run({"get", "agentbudget", "org-monthly", "--no-headers"});
  ASSERT_EQ(row.exit_code, 0) << row.output;
  EXPECT_THAT(row.output,
              ContainsRegex("^org-monthly +50000 USD +41000 +82% +3% +55\\.5 +52000 +Degrade +[0-9]+s"));
}

TEST_F(CrdsTest, SpecCannotBeChangedThroughTheStatusSubresource) {
  Expect(Run({"patch", "agentbudget", "team-payments", "--subresource=status", "--type=merge",
              "-p", R"({"spec":{"limit":{"amount":"1"}}})"}));
  auto amount = Run({"get", "agentbudget", "team-payments", "-o", "jsonpath={.spec.limit.amount}"});
  EXPECT_EQ(amount.output, "5000");
}

struct InvalidCase {
  const char* name;
  const char* manifest;
  const char* message;  // a substring the API server's rejection must contain
};

const char kBudget[] = "apiVersion: agentbudget.io/v1alpha1\nkind: AgentBudget\nmetadata: {name: bad}\n";
const char kWorkload[] =
    "apiVersion: agentbudget.io/v1alpha1\nkind: AgentWorkload\n"
    "metadata: {name: bad, namespace: payments}\n";
const char kSelector[] = "selector: {matchLabels: {agentbudget.io/workload: bad}}, class: Assistive";

std::string Manifest(const InvalidCase& c) {
  std::string text = c.manifest;
  const size_t at = text.find("$SELECTOR");
  if (at != std::string::npos) {
    text.replace(at, 9, kSelector);
  }
  return text;
}

class InvalidManifestTest : public CrdsTest, public ::testing::WithParamInterface<InvalidCase> {};

TEST_P(InvalidManifestTest, IsRejectedWithAMessageSayingWhy) {
  const InvalidCase& c = GetParam();
  auto created = Run({"create", "-f", "-"}, Manifest(c));
  EXPECT_NE(created.exit_code, 0) << "accepted: " << Manifest(c);
  EXPECT_THAT(created.output, HasSubstr(c.message));
  EXPECT_THAT(created.output, Not(HasSubstr("created")));
}

const InvalidCase kInvalidCases[] = {
    {"ZeroAmount", "spec: {limit: {amount: \"0\"}}", "amount must be greater than zero"},
    {"NegativeAmount", "spec: {limit: {amount: \"-5\"}}", "spec.limit.amount in body should match"},
    {"TooManyDecimals", "spec: {limit: {amount: \"1.0000001\"}}",
     "spec.limit.amount in body should match"},
    {"MoneyAndTokens", "spec: {limit: {amount: \"5\", tokens: 100}}",
     "limit must set exactly one of amount or tokens"},
    {"NeitherMoneyNorTokens", "spec: {limit: {currency: USD}}",
     "limit must set exactly one of amount or tokens"},
    {"MissingLimit", "spec: {period: Month}", "spec.limit: Required value"},
    {"DescendingAlerts", "spec: {limit: {amount: \"5\"}, alerts: [80, 50]}",
     "alert thresholds must ascend"},
    {"AlertAbove100", "spec: {limit: {amount: \"5\"}, alerts: [50, 120]}",
     "should be less than or equal to 100"},
    {"QueueBelowDegrade", "spec: {limit: {amount: \"5\"}, pressure: {degradeAt: 80, queueAt: 70}}",
     "queueAt must be greater than or equal to degradeAt"},
    {"UnknownPeriod", "spec: {limit: {amount: \"5\"}, period: Fortnight}",
     "Unsupported value: \"Fortnight\""},
    {"SelectorOnNonAttributionKey", "spec: {limit: {amount: \"5\"}, selector: {matchLabels: {color: red}}}",
     "selector keys must be attribution keys"},
    {"FallbackNotAllowed",
     "spec: {$SELECTOR, models: {allowed: [claude-sonnet-4-5], fallback: [gpt-5.4-nano]}}",
     "every fallback model must be in the allowed list"},
    {"UnknownClass", "spec: {selector: {matchLabels: {a: b}}, class: Wizard}",
     "Unsupported value: \"Wizard\""},
    {"MissingSelector", "spec: {class: Assistive}", "spec.selector: Required value"},
    {"EmptySelector", "spec: {selector: {}, class: Assistive}", "selector must not be empty"},
    {"ParallelAboveTotalFanOut", "spec: {$SELECTOR, perRun: {maxSubagents: 2, maxParallelSubagents: 5}}",
     "maxParallelSubagents must not exceed maxSubagents"},
    {"UnparseableRuntime", "spec: {$SELECTOR, perRun: {maxRuntime: forever}}",
     "spec.perRun.maxRuntime in body should match"},
    {"NonDecimalRunCost", "spec: {$SELECTOR, perRun: {maxCost: \"ten\"}}",
     "spec.perRun.maxCost in body should match"},
    {"ZeroRequestCost", "spec: {$SELECTOR, perRequest: {maxCost: \"0.000\"}}",
     "maxCost must be greater than zero"},
    {"UnknownOnExceed", "spec: {$SELECTOR, perRequest: {maxTokens: 4000, onExceed: Truncate}}",
     "Unsupported value: \"Truncate\""},
    {"TeamSetOnTheWorkload", "spec: {$SELECTOR, attribution: {team: someone-else}}",
     "unknown field \"spec.attribution.team\""},
};

std::string CaseName(const ::testing::TestParamInfo<InvalidCase>& info) { return info.param.name; }

// Prefix each case with its kind's header: budgets first, workloads from FallbackNotAllowed on.
std::vector<InvalidCase> WithHeaders() {
  static std::vector<std::string> texts;
  std::vector<InvalidCase> cases;
  bool workload = false;
  texts.reserve(std::size(kInvalidCases));
  for (const InvalidCase& c : kInvalidCases) {
    workload = workload || std::string(c.name) == "FallbackNotAllowed";
    texts.push_back(std::string(workload ? kWorkload : kBudget) + c.manifest);
    cases.push_back({c.name, texts.back().c_str(), c.message});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Crds, InvalidManifestTest, ::testing::ValuesIn(WithHeaders()), CaseName);

}  // namespace
}  // namespace agentbudget::e2e
