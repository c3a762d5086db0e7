#include "meter/rate_card_loader.h"

#include <fstream>
#include <sstream>

#include "common/log.h"
#include "meter/default_rates.h"

namespace agentbudget::meter {

namespace {

// A price the card lacks is an error of the card, said at load: the calls go on, charged at
// the documented fallback (ModelRate::unpriced).
Result<core::RateCard> ReportUnpriced(Result<core::RateCard> card) {
  if (card.ok()) {
    for (const core::ModelRate& model : card->models()) {
      for (const std::string& key : model.unpriced) {
        log::Error("rate card has no price for a token type: its tokens are charged at the "
                   "unknownModel price",
                   {{"model", model.id}, {"tokenType", key}});
      }
    }
  }
  return card;
}

}  // namespace

Result<core::RateCard> LoadRateCard(const std::string& override_file) {
  auto card = core::RateCard::FromYaml(DefaultRatesYaml());
  if (!card.ok() || override_file.empty()) {
    return ReportUnpriced(std::move(card));
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
  return ReportUnpriced(std::move(merged));
}

}  // namespace agentbudget::meter
