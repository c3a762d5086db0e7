#include "operator/authority/kube_ledger_objects.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/base64.h"
#include "common/gzip.h"

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


// A ConfigMap as the API server lists it, holding `lines` as the operator writes them.
nlohmann::json Stored(const std::string& kind, const std::string& lines) {
  return {{"metadata", {{"name", "agentbudget-ledger-0000000000000007"},
                        {"labels", {{"agentbudget.io/ledger", kind}}}}},
          {"binaryData", BinaryData(lines)}};
}

TEST(LedgerObjectTest, EntriesAreStoredGzippedAndReadBackExactly) {
  std::vector<LedgerEntry> batch;
  for (int number = 0; number < 200; ++number) {
    batch.push_back(Total(number, 0));
  }
  const std::string lines = Lines(batch.begin(), batch.end());
  nlohmann::json item = Stored("segment", lines);
  const std::string stored = item["binaryData"][kEntriesKey].get<std::string>();
  EXPECT_LT(stored.size(), lines.size() / 4) << "base64 of gzip, against the text";
  auto taken = TakeLines(item);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(*taken, lines);
  std::vector<LedgerEntry> decoded;
  ASSERT_TRUE(DecodeLines(*taken, decoded).ok());
  ASSERT_EQ(decoded.size(), batch.size());
  EXPECT_EQ(decoded.back().id, batch.back().id);
}

TEST(LedgerObjectTest, TextLinesOfEarlierOperatorsAreReadToo) {
  const std::string lines = Total(1, 0).ToJson().dump() + "\n";
  nlohmann::json item = {{"metadata", {{"name", "agentbudget-ledger-0000000000000001"}}},
                         {"data", {{"entries", lines}}}};
  auto taken = TakeLines(item);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(*taken, lines);
}

TEST(LedgerObjectTest, AnObjectWhoseEntriesDoNotDecodeSaysWhy) {
  auto why = [](nlohmann::json item) {
    auto taken = TakeLines(item);
    return taken.ok() ? std::string("read") : taken.error().message;
  };
  EXPECT_EQ(why({{"data", {{"other", "x"}}}}),
            "no binaryData[entries.jsonl.gz] or data.entries");
  EXPECT_EQ(why({{"binaryData", {{kEntriesKey, "not base64!"}}}}),
            "binaryData[entries.jsonl.gz]: base64: length 11 is not a multiple of 4");
  EXPECT_EQ(why({{"binaryData", {{kEntriesKey, base64::Encode("plain text")}}}}),
            "binaryData[entries.jsonl.gz]: gzip: incorrect header check");
  const std::string huge = base64::Encode(gzip::Compress(std::string(kMaxLinesBytes + 1, ' ')));
  EXPECT_EQ(why({{"binaryData", {{kEntriesKey, huge}}}}),
            "binaryData[entries.jsonl.gz]: gzip: decompresses to more than 16777216 bytes");
}

TEST(LedgerObjectTest, AListingDecodesSegmentsButLeavesCheckpointLinesOut) {
  const std::string lines = Total(3, 2).ToJson().dump() + "\n";
  nlohmann::json segment = Stored("segment", lines);
  Listed kept = Keep(segment);
  EXPECT_EQ(kept.kind, "segment");
  ASSERT_TRUE(kept.lines.ok());
  EXPECT_EQ(*kept.lines, lines);

  nlohmann::json checkpoint = Stored("checkpoint", lines);
  kept = Keep(checkpoint);
  ASSERT_TRUE(kept.lines.ok()) << "a checkpoint with lines";
  EXPECT_EQ(*kept.lines, "") << "not held by the listing";
  EXPECT_TRUE(checkpoint["binaryData"].contains(kEntriesKey)) << "left to be read again";

  nlohmann::json empty = {{"metadata", {{"labels", {{"agentbudget.io/ledger", "checkpoint"}}}}}};
  EXPECT_FALSE(Keep(empty).lines.ok());
}

}  // namespace
}  // namespace agentbudget::authority::kube_ledger
