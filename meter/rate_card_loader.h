#pragma once

#include <string>

#include "common/result.h"
#include "core/rate_card.h"

namespace agentbudget::meter {

// The rate card the binaries price and name models with: the shipped card
// (DefaultRatesYaml), merged with the card in `override_file` when it is not empty
// (RateCard::WithOverrides). Fails with kInvalidArgument when the file cannot be read or
// either card does not parse, naming the file. Logs an error naming the model and token
// type for each cache price the loaded card lacks (core::ModelRate::unpriced).
Result<core::RateCard> LoadRateCard(const std::string& override_file);

}  // namespace agentbudget::meter
