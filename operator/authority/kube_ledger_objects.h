#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "operator/authority/ledger_entry.h"

// How KubeLedgerStore lays the ledger out in ConfigMaps: their names, labels and
// annotations, and entries as JSON lines. For kube_ledger_store*.cc only.
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

// A listed ledger ConfigMap, without the rest of its JSON.
struct Listed {
  std::string name;
  std::string kind;  // its agentbudget.io/ledger label
  nlohmann::json annotations;
  std::optional<std::string> lines;  // data.entries, when a string
};
// data.entries of ConfigMap `item`, moved out; nullopt when it has none.
std::optional<std::string> TakeLines(nlohmann::json& item);
// What a listing keeps of `item`. A checkpoint's lines are left out (read again a part at
// a time when used).
Listed Keep(nlohmann::json& item);

// Checkpoint entries as JSON lines, in parts of at most kEntriesPerCheckpointPart entries
// and kCheckpointPartBytes (an entry's key digests make it grow with its bucket's calls).
// Not thread-safe.
class CheckpointParts {
 public:
  void Add(const LedgerEntry& entry);
  size_t entries() const { return entries_; }
  std::vector<std::string> Take();

 private:
  std::vector<std::string> parts_ = std::vector<std::string>(1);
  size_t in_part_ = 0;
  size_t entries_ = 0;
};

// An object's size as serialized JSON.
int64_t SizeOf(const nlohmann::json& object);

}  // namespace agentbudget::authority::kube_ledger
