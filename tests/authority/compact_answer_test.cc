#include "operator/authority/compact_answer.h"

#include <gtest/gtest.h>

namespace agentbudget::authority {
namespace {

using nlohmann::json;

const char* kId = "r-0123456789abcdef00000000000000ff";

TEST(CompactAnswerTest, CommitAnswersComeBackExactly) {
  for (const json& answer : {
           json{{"id", kId}, {"committed", true}, {"cost", "0.0021"}},
           json{{"id", kId}, {"committed", true}, {"cost", "12"}, {"late", true}},
           json{{"id", "e-ffffffffffffffffffffffffffffffff"}, {"committed", true}},
           json{{"id", kId}, {"committed", true}, {"cost", "0"}},
       }) {
    EXPECT_EQ(CompactAnswer(answer).ToJson(), answer) << answer.dump();
  }
}

TEST(CompactAnswerTest, AnswersOfAnyOtherShapeComeBackExactly) {
  for (const json& answer : {
           // A reservation's and a release's answer.
           json{{"id", kId},
                {"decision", "allow"},
                {"model", "m"},
                {"reason", ""},
                {"expiresAt", "2026-11-27T12:05:00Z"}},
           json{{"id", kId}, {"released", true}},
           // Ids the ledger did not make: upper-case hex, too short, another prefix.
           json{{"id", "r-0123456789ABCDEF00000000000000ff"}, {"committed", true}},
           json{{"id", "r-1"}, {"committed", true}, {"cost", "1.5"}},
           json{{"id", "x-0123456789abcdef00000000000000ff"}, {"committed", true}},
           // A cost not in canonical form, an extra field, a false flag.
           json{{"id", kId}, {"committed", true}, {"cost", "1.50"}},
           json{{"id", kId}, {"committed", true}, {"cost", "1"}, {"note", "x"}},
           json{{"id", kId}, {"committed", true}, {"late", false}},
           json{{"committed", true}},
       }) {
    EXPECT_EQ(CompactAnswer(answer).ToJson(), answer) << answer.dump();
  }
}

}  // namespace
}  // namespace agentbudget::authority
