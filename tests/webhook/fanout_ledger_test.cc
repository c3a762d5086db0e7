#include "webhook/fanout_ledger.h"

#include <gtest/gtest.h>

namespace agentbudget::webhook {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kGrace{5000};

FanoutSlot Pending(const std::string& name, int64_t claimed_unix_ms) {
  return FanoutSlot{"Pod", name, "claim-" + name, claimed_unix_ms, ""};
}

nlohmann::json ConfigMapWith(const std::string& slots) {
  return {{"data", {{"run", "r"}, {"slots", slots}}}};
}

TEST(FanoutLedgerTest, SlotsRoundTripThroughTheConfigMap) {
  std::vector<FanoutSlot> slots = {Pending("a", 1000), Pending("b", 2000)};
  slots[1].object_uid = "uid-b";
  auto parsed = ParseFanoutSlots(ConfigMapWith(EncodeFanoutSlots(slots)));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].name, "a");
  EXPECT_EQ((*parsed)[0].claim_uid, "claim-a");
  EXPECT_EQ((*parsed)[0].claimed_unix_ms, 1000);
  EXPECT_FALSE((*parsed)[0].confirmed());
  EXPECT_EQ((*parsed)[1].object_uid, "uid-b");
  EXPECT_TRUE((*parsed)[1].confirmed());
}

TEST(FanoutLedgerTest, ConfigMapWithoutSlotsHasNone) {
  auto parsed = ParseFanoutSlots({{"data", {{"run", "r"}}}});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->empty());
}

TEST(FanoutLedgerTest, CorruptSlotsAreAnErrorNamingTheProblem) {
  for (const char* text : {"not json", "{}", "[1]", R"([{"kind":"Pod","claim":"c"}])",
                           R"([{"kind":7,"claim":"c","claimedUnixMs":1}])"}) {
    auto parsed = ParseFanoutSlots(ConfigMapWith(text));
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInternal);
    EXPECT_NE(parsed.error().message.find("fan-out"), std::string::npos) << text;
  }
}

TEST(FanoutLedgerTest, SlotWithoutANameCountsAsConfirmed) {
  EXPECT_TRUE(Pending("", 0).confirmed());
}

TEST(FanoutLedgerTest, StoredObjectConfirmsItsPendingSlot) {
  std::vector<FanoutSlot> slots = {Pending("a", 1000)};
  auto outcome = ReconcileFanoutSlots(slots, {{"Pod", "a", "uid-a"}}, 1100, kGrace);
  EXPECT_EQ(outcome.confirmed, 1);
  EXPECT_TRUE(outcome.changed());
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].object_uid, "uid-a");
}

TEST(FanoutLedgerTest, ObjectOfAnotherKindDoesNotConfirm) {
  std::vector<FanoutSlot> slots = {Pending("a", 1000)};
  auto outcome = ReconcileFanoutSlots(slots, {{"Job", "a", "uid-a"}}, 1100, kGrace);
  EXPECT_EQ(outcome.unresolved, 1);
  EXPECT_FALSE(outcome.changed());
}

TEST(FanoutLedgerTest, UnstoredCreationKeepsItsSlotWithinTheGracePeriod) {
  std::vector<FanoutSlot> slots = {Pending("a", 1000)};
  auto outcome = ReconcileFanoutSlots(slots, {}, 1000 + kGrace.count(), kGrace);
  EXPECT_EQ(outcome.unresolved, 1);
  EXPECT_EQ(slots.size(), 1u);
}

TEST(FanoutLedgerTest, UnstoredCreationReleasesItsSlotAfterTheGracePeriod) {
  std::vector<FanoutSlot> slots = {Pending("a", 1000), Pending("b", 1000)};
  auto outcome = ReconcileFanoutSlots(slots, {{"Pod", "b", "uid-b"}}, 1001 + kGrace.count(),
                                      kGrace);
  EXPECT_EQ(outcome.released, 1);
  EXPECT_EQ(outcome.confirmed, 1);
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].name, "b");
}

TEST(FanoutLedgerTest, ObjectCreatedTwiceUnderOneNameFillsOneSlot) {
  // The second creation of "a" failed with AlreadyExists after taking a slot.
  std::vector<FanoutSlot> slots = {Pending("a", 1000), Pending("a", 2000)};
  auto outcome = ReconcileFanoutSlots(slots, {{"Pod", "a", "uid-a"}}, 2100, kGrace);
  EXPECT_EQ(outcome.confirmed, 1);
  EXPECT_EQ(outcome.unresolved, 1);
  EXPECT_EQ(slots[0].object_uid, "uid-a");
  EXPECT_TRUE(slots[1].object_uid.empty());
  outcome = ReconcileFanoutSlots(slots, {{"Pod", "a", "uid-a"}}, 2001 + kGrace.count(), kGrace);
  EXPECT_EQ(outcome.released, 1);
  EXPECT_EQ(slots.size(), 1u);
}

TEST(FanoutLedgerTest, ConfirmedSlotsStayWhenTheirObjectIsGone) {
  std::vector<FanoutSlot> slots = {Pending("a", 1000)};
  slots[0].object_uid = "uid-a";
  auto outcome = ReconcileFanoutSlots(slots, {}, 1000 + 10 * kGrace.count(), kGrace);
  EXPECT_FALSE(outcome.changed());
  EXPECT_EQ(slots.size(), 1u);
}

// A ConfigMap flooded with unique slots (anyone who can edit it could): past the bound the
// ledger is refused, not held in memory.
TEST(FanoutLedgerTest, ALedgerBeyondTheBoundIsRefused) {
  std::vector<FanoutSlot> slots;
  for (int64_t i = 0; i <= kMaxFanoutSlots; ++i) {
    slots.push_back(Pending("p-" + std::to_string(i), 1000));
  }
  nlohmann::json config_map = {{"data", {{"slots", EncodeFanoutSlots(slots)}}}};
  auto parsed = ParseFanoutSlots(config_map);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ErrorCode::kInternal);
  slots.pop_back();
  config_map["data"]["slots"] = EncodeFanoutSlots(slots);
  EXPECT_TRUE(ParseFanoutSlots(config_map).ok());
}

}  // namespace
}  // namespace agentbudget::webhook
