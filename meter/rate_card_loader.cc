#include "meter/rate_card_loader.h"

#include <fstream>
#include <sstream>

#include "meter/default_rates.h"

namespace agentbudget::meter {

Result<core::RateCard> LoadRateCard(const std::string& override_file) {
  auto card = core::RateCard::FromYaml(DefaultRatesYaml());
  if (!card.ok() || override_file.empty()) {
    return card;
  }
  std::ifstream file(override_file);
  if (!file) {
    return InvalidArgument("rates override " + override_file + ": cannot read");
  }
  std::stringstream text;
  text << file.rdbuf();
  auto merged = card->WithOverrides(text.str());
  if (!merged.ok()) {
    return InvalidArgument("rates override " + override_file + ": " + merged.error().message);
  }
  return merged;
}

}  // namespace agentbudget::meter
