#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace agentbudget::authority {

// An idempotency answer as the ledger keeps it for the idempotency window, in as few bytes
// as its shape allows. Most answers a busy ledger holds are commits' and events'
// ({"id": "r-…"/"e-…", "committed": true[, "cost": "…"][, "late": true]}): with an id the
// ledger made ("r-" or "e-" and 32 lower-case hex digits) such an answer is held as fixed
// fields, nothing on the heap. Any other answer (a reservation's, a release's,
// or a commit naming an id of another form) is held as its serialized JSON, its id as
// fixed fields when it has a ledger-made one. ToJson() gives back exactly the answer it
// was made from. A value type.
class CompactAnswer {
 public:
  CompactAnswer() = default;
  explicit CompactAnswer(const nlohmann::json& answer);

  nlohmann::json ToJson() const;

 private:
  // The answer without its fixed id, serialized; empty when the rest is a commit's.
  std::string text_;
  uint64_t id_high_ = 0;
  uint64_t id_low_ = 0;
  int64_t cost_micros_ = 0;
  char id_prefix_ = 0;  // 'r' or 'e' when the id is held as id_high_/id_low_, else 0
  bool committed_ = false;  // the rest is {"committed": true} and what follows
  bool has_cost_ = false;
  bool late_ = false;
};

}  // namespace agentbudget::authority
