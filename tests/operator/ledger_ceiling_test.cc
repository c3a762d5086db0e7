#include "operator/ledger_ceiling.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <prometheus/registry.h>

namespace agentbudget::op {
namespace {

// What LedgerCeiling reported, in order; condition writes fail while `refuse` is set.
class RecordedReports final : public LedgerCeilingReports {
 public:
  void Event(kube::EventSeverity severity, const std::string& reason,
             const std::string&) override {
    events.push_back((severity == kube::EventSeverity::kWarning ? "Warning " : "Normal ") +
                     reason);
  }
  bool Condition(bool near, const std::string& reason, const std::string&) override {
    conditions.push_back((near ? "True " : "False ") + reason);
    return !refuse;
  }
  std::vector<std::string> events;
  std::vector<std::string> conditions;
  bool refuse = false;
};

class LedgerCeilingTest : public ::testing::Test {
 protected:
  // The store holding `percent` of a 100 MiB ceiling, with `skipped` bad objects.
  bool Observe(int64_t percent, int64_t skipped = 0) {
    const int64_t ceiling = int64_t{100} << 20;
    return ceiling_.Observe({ceiling / 100 * percent, 10, ceiling, skipped});
  }
  double Gauge(const std::string& name) {
    for (const auto& family : registry_.Collect()) {
      if (family.name == name) {
        return family.metric.at(0).gauge.value;
      }
    }
    ADD_FAILURE() << "no metric " << name;
    return -1;
  }

  prometheus::Registry registry_;
  RecordedReports reports_;
  LedgerCeiling ceiling_{registry_, reports_};
};

TEST_F(LedgerCeilingTest, TheConditionIsWrittenAtOnceAndRaisedAtSeventyPercent) {
  EXPECT_FALSE(Observe(10));
  EXPECT_EQ(reports_.conditions, (std::vector<std::string>{"False LedgerBelowCeiling"}));
  EXPECT_FALSE(Observe(69));
  EXPECT_TRUE(Observe(70));
  EXPECT_EQ(reports_.conditions,
            (std::vector<std::string>{"False LedgerBelowCeiling", "True LedgerNearCeiling"}));
  EXPECT_EQ(reports_.events, (std::vector<std::string>{"Warning LedgerNearCeiling"}));
  EXPECT_EQ(Gauge("agentbudget_ledger_store_near_ceiling"), 1.0);
  EXPECT_EQ(Gauge("agentbudget_ledger_store_bytes"), static_cast<double>((int64_t{100} << 20) / 100 * 70));
  EXPECT_EQ(Gauge("agentbudget_ledger_store_ceiling_bytes"), static_cast<double>(int64_t{100} << 20));
}

TEST_F(LedgerCeilingTest, TheConditionHoldsUntilBelowSixtyPercent) {
  ASSERT_TRUE(Observe(75));
  EXPECT_TRUE(Observe(65));
  EXPECT_TRUE(Observe(60));
  EXPECT_FALSE(Observe(59));
  EXPECT_EQ(reports_.conditions,
            (std::vector<std::string>{"True LedgerNearCeiling", "False LedgerBelowCeiling"}));
  EXPECT_EQ(reports_.events, (std::vector<std::string>{"Warning LedgerNearCeiling",
                                                       "Normal LedgerBelowCeiling"}));
  EXPECT_EQ(Gauge("agentbudget_ledger_store_near_ceiling"), 0.0);
}

TEST_F(LedgerCeilingTest, AFailedConditionWriteIsRetriedAtTheNextObservation) {
  reports_.refuse = true;
  ASSERT_TRUE(Observe(80));
  ASSERT_TRUE(Observe(80));
  reports_.refuse = false;
  ASSERT_TRUE(Observe(80));
  ASSERT_TRUE(Observe(80));
  EXPECT_EQ(reports_.conditions, (std::vector<std::string>(3, "True LedgerNearCeiling")));
  EXPECT_EQ(reports_.events, (std::vector<std::string>{"Warning LedgerNearCeiling"}));
}

TEST_F(LedgerCeilingTest, MoreSkippedObjectsAreReportedOnce) {
  Observe(10, 2);
  Observe(10, 2);
  Observe(10, 3);
  EXPECT_EQ(reports_.events, (std::vector<std::string>{"Warning LedgerObjectSkipped",
                                                       "Warning LedgerObjectSkipped"}));
  EXPECT_EQ(Gauge("agentbudget_ledger_store_skipped_objects"), 3.0);
}

TEST_F(LedgerCeilingTest, AStoreWithoutACeilingIsNeverNear) {
  EXPECT_FALSE(ceiling_.Observe({int64_t{1} << 40, 1000, 0, 0}));
  EXPECT_EQ(reports_.conditions, (std::vector<std::string>{"False LedgerBelowCeiling"}));
  EXPECT_TRUE(reports_.events.empty());
}

}  // namespace
}  // namespace agentbudget::op
