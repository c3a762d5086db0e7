#pragma once

#include "core/rate_card.h"

namespace agentbudget::core::testing {

// Claude Sonnet 4.5's list prices per million tokens: $3 input, $0.30 cache reads, $3.75
// and $6 cache writes (5 minutes, 1 hour), $15 output. No tiers, no batch discount.
inline ModelRate SonnetRate() {
  ModelRate rate;
  rate.id = "claude-sonnet-4-5";
  rate.prices = {Money::FromMicros(3'000'000), Money::FromMicros(300'000),
                 Money::FromMicros(3'750'000), Money::FromMicros(6'000'000),
                 Money::FromMicros(15'000'000)};
  return rate;
}

}  // namespace agentbudget::core::testing
