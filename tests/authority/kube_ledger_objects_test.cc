#include "operator/authority/kube_ledger_objects.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace agentbudget::authority::kube_ledger {
namespace {

// A folded total holding `digests` key digests, as a checkpoint's entries are.
LedgerEntry Total(int number, int digests) {
  LedgerEntry entry;
  entry.kind = LedgerEntry::Kind::kCommit;
  entry.id = "r-" + std::to_string(number);
  entry.run = "run-" + std::to_string(number % 50);
  entry.namespace_name = "agents";
  entry.model = "claude-sonnet-4-5";
  entry.cost_micros = 1000 + number;
  entry.tokens = 900;
  entry.folded = digests;
  for (int i = 0; i < digests; ++i) {
    entry.digests.push_back({static_cast<uint64_t>(number) * 1000 + static_cast<uint64_t>(i),
                             7, "r-0123456789abcdef0123456789abcdef", 10});
  }
  return entry;
}

TEST(CheckpointPartsTest, HoldsOnePartAtATimeAndHandsOnEveryEntryInOrder) {
  std::vector<std::string> parts;
  CheckpointParts checkpoint([&parts](std::string&& lines) {
    parts.push_back(std::move(lines));
    return OkStatus();
  });
  size_t most_held = 0;
  constexpr int kEntries = 5000;  // megabytes of lines: tens of parts
  for (int number = 0; number < kEntries; ++number) {
    ASSERT_TRUE(checkpoint.Add(Total(number, number % 100)).ok());
    most_held = std::max(most_held, checkpoint.held_bytes());
  }
  ASSERT_TRUE(checkpoint.Finish().ok());
  // The bound: the part being filled, never the checkpoint.
  EXPECT_LE(most_held, kCheckpointPartBytes);
  EXPECT_GT(parts.size(), kEntries / kEntriesPerCheckpointPart);
  std::vector<LedgerEntry> decoded;
  for (const std::string& part : parts) {
    EXPECT_LE(part.size(), kCheckpointPartBytes);
    const size_t before = decoded.size();
    ASSERT_TRUE(DecodeLines(part, decoded).ok());
    EXPECT_LE(decoded.size() - before, kEntriesPerCheckpointPart);
  }
  ASSERT_EQ(decoded.size(), static_cast<size_t>(kEntries));
  for (int number = 0; number < kEntries; ++number) {
    EXPECT_EQ(decoded[static_cast<size_t>(number)].id, "r-" + std::to_string(number));
  }
  EXPECT_EQ(checkpoint.entries(), static_cast<size_t>(kEntries));
}

TEST(CheckpointPartsTest, ACheckpointWithoutEntriesIsOneEmptyPart) {
  std::vector<std::string> parts;
  CheckpointParts checkpoint([&parts](std::string&& lines) {
    parts.push_back(std::move(lines));
    return OkStatus();
  });
  ASSERT_TRUE(checkpoint.Finish().ok());
  EXPECT_EQ(parts, std::vector<std::string>{""});
}

TEST(CheckpointPartsTest, TheSinksFirstErrorStopsThePartsAndIsReturned) {
  int handed = 0;
  CheckpointParts checkpoint([&handed](std::string&&) -> Status {
    ++handed;
    return MakeError(ErrorCode::kResourceExhausted, "past the ceiling");
  });
  Status added = OkStatus();
  for (int number = 0; number < 3 * static_cast<int>(kEntriesPerCheckpointPart) && added.ok();
       ++number) {
    added = checkpoint.Add(Total(number, 0));
  }
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(checkpoint.Add(Total(0, 0)).error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(checkpoint.Finish().error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(handed, 1);
  EXPECT_EQ(checkpoint.held_bytes(), 0U);
}

}  // namespace
}  // namespace agentbudget::authority::kube_ledger
