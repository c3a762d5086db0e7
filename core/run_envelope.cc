#include "core/run_envelope.h"

namespace agentbudget::core {

EnvelopeDecision RunEnvelope::Reserve(uint64_t fingerprint, Money estimate_cost,
                                      int64_t estimate_tokens) {
  if (limits_.max_requests && totals_.requests + 1 > *limits_.max_requests) {
    return {false,
            "run ceiling maxRequests (" + std::to_string(*limits_.max_requests) +
                ") reached: " + std::to_string(totals_.requests) + " requests made",
            "maxRequests"};
  }
  const int64_t seen = identical_.contains(fingerprint) ? identical_[fingerprint] : 0;
  if (limits_.max_identical_requests && seen + 1 > *limits_.max_identical_requests) {
    return {false, "run ceiling maxIdenticalRequests (" +
                       std::to_string(*limits_.max_identical_requests) +
                       ") reached: the same request was already sent " + std::to_string(seen) +
                       " times (retry loop)",
            "maxIdenticalRequests"};
  }
  if (limits_.max_cost &&
      totals_.spent + totals_.reserved + estimate_cost > *limits_.max_cost) {
    return {false, "run ceiling maxCost ($" + limits_.max_cost->ToString() +
                       ") reached: spent $" + totals_.spent.ToString() + ", in flight $" +
                       totals_.reserved.ToString() + ", this call est. $" +
                       estimate_cost.ToString(),
            "maxCost"};
  }
  if (limits_.max_tokens &&
      SaturatingAdd(SaturatingAdd(totals_.tokens, totals_.reserved_tokens), estimate_tokens) >
          *limits_.max_tokens) {
    return {false, "run ceiling maxTokens (" + std::to_string(*limits_.max_tokens) +
                       ") reached: used " + std::to_string(totals_.tokens) +
                       " tokens, this call est. " + std::to_string(estimate_tokens),
            "maxTokens"};
  }
  ++totals_.requests;
  if (limits_.max_identical_requests) {
    if (++identical_[fingerprint] == 1) {
      first_seen_.push_back(fingerprint);
      if (first_seen_.size() > kMaxFingerprints) {
        identical_.erase(first_seen_.front());
        first_seen_.pop_front();
      }
    }
  }
  totals_.reserved += estimate_cost;
  totals_.reserved_tokens = SaturatingAdd(totals_.reserved_tokens, estimate_tokens);
  return {true, "", ""};
}

void RunEnvelope::Commit(Money estimate_cost, int64_t estimate_tokens, Money cost,
                         int64_t tokens) {
  Release(estimate_cost, estimate_tokens);
  RecordSpend(cost, tokens);
}

void RunEnvelope::Release(Money estimate_cost, int64_t estimate_tokens) {
  totals_.reserved -= estimate_cost;
  totals_.reserved_tokens -= estimate_tokens;
}

void RunEnvelope::ReleaseUnsent(Money estimate_cost, int64_t estimate_tokens) {
  Release(estimate_cost, estimate_tokens);
  if (totals_.requests > 0) {
    --totals_.requests;
  }
}

void RunEnvelope::RecordSpend(Money cost, int64_t tokens) {
  totals_.spent += cost;
  totals_.tokens = SaturatingAdd(totals_.tokens, tokens);
}

void RunEnvelope::RecordRequests(int64_t count) {
  totals_.requests = SaturatingAdd(totals_.requests, count);
}

uint64_t Fingerprint(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

}  // namespace agentbudget::core
