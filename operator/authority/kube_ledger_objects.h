#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "operator/authority/ledger_entry.h"

// How KubeLedgerStore lays the ledger out in ConfigMaps: their names, labels and
// annotations, and entries as gzipped JSON lines. For kube_ledger_store*.cc only.
namespace agentbudget::authority::kube_ledger {

inline constexpr const char* kLabel = "agentbudget.io/ledger";
inline constexpr const char* kPrefix = "agentbudget-ledger-";
inline constexpr const char* kCheckpointPrefix = "agentbudget-ledger-checkpoint-";
inline constexpr const char* kCoversAnnotation = "agentbudget.io/ledger-covers";
inline constexpr const char* kPartsAnnotation = "agentbudget.io/ledger-parts";
inline constexpr const char* kBaseAnnotation = "agentbudget.io/ledger-base";
inline constexpr size_t kEntriesPerCheckpointPart = 1000;
// Well below the API server's 1 MiB limit on a ConfigMap's data.
inline constexpr size_t kCheckpointPartBytes = 768 << 10;

// Segment `sequence`'s name.
std::string SegmentName(uint64_t sequence);
// Every part of the checkpoint covering `covers` starts with this.
std::string CheckpointPrefix(uint64_t covers);
std::string CheckpointName(uint64_t covers, size_t part);
// A decimal number of at most 19 digits, or nullopt.
std::optional<uint64_t> Number(const std::string& digits);

// JSON lines, one entry each.
std::string Lines(std::vector<LedgerEntry>::const_iterator begin,
                  std::vector<LedgerEntry>::const_iterator end);
// Decodes JSON lines into `out`; kInvalidArgument naming the first bad line, and then
// `out` is unchanged.
Status DecodeLines(const std::string& lines, std::vector<LedgerEntry>& out);

// A ledger ConfigMap keeps its entries' JSON lines gzipped under this key of its
// binaryData: about a tenth of their bytes, so etcd holds and the API server decodes,
// stores and sends to every ConfigMap watcher that much less per group commit. Readable
// with `base64 -d | gunzip`.
inline constexpr const char* kEntriesKey = "entries.jsonl.gz";
// The most a ledger object's lines may decompress to: far above what the operator writes
// (a segment of at most 1,000 entries, a checkpoint part of at most kCheckpointPartBytes
// or one entry's line), so that a corrupt or hostile object stops decompressing here.
inline constexpr size_t kMaxLinesBytes = 16 << 20;

// A ledger ConfigMap's binaryData holding `lines` (gzipped under kEntriesKey).
nlohmann::json BinaryData(std::string_view lines);

// A listed ledger ConfigMap, without the rest of its JSON.
struct Listed {
  std::string name;
  std::string kind;  // its agentbudget.io/ledger label
  nlohmann::json annotations;
  Result<std::string> lines = std::string();  // or why there are none (see TakeLines)
};
// The lines of ledger ConfigMap `item`, moved out: binaryData[kEntriesKey] decompressed,
// or data.entries, where operators before the gzipped form wrote them as text.
// kInvalidArgument naming what is missing or does not decode.
Result<std::string> TakeLines(nlohmann::json& item);
// What a listing keeps of `item`. A checkpoint's lines are left out, neither decoded nor
// held (read again a part at a time when used): an empty string when it has them.
Listed Keep(nlohmann::json& item);

// Checkpoint entries as JSON lines, in parts of at most kEntriesPerCheckpointPart entries
// and kCheckpointPartBytes (an entry's key digests make it grow with its bucket's calls).
// Each part goes to `sink` as soon as it is full, and the last one at Finish(), so at most
// one part's text (kCheckpointPartBytes) is held however large the checkpoint. A
// checkpoint without entries is one empty part. Not thread-safe.
class CheckpointParts {
 public:
  // `sink` gets each part's lines, in order. Its first error is returned by the Add() or
  // Finish() that called it, and by every call after (no more parts go to it).
  explicit CheckpointParts(std::function<Status(std::string&&)> sink);
  Status Add(const LedgerEntry& entry);
  // Hands the last part to the sink. Call once, after the last Add().
  Status Finish();
  size_t entries() const { return entries_; }
  // Bytes of the part being filled: at most kCheckpointPartBytes (or one entry's line,
  // when that alone is longer).
  size_t held_bytes() const { return part_.size(); }

 private:
  Status Hand();

  std::function<Status(std::string&&)> sink_;
  std::string part_;
  size_t in_part_ = 0;
  size_t entries_ = 0;
  Status failed_ = OkStatus();
};

// An object's size as serialized JSON.
int64_t SizeOf(const nlohmann::json& object);

}  // namespace agentbudget::authority::kube_ledger
