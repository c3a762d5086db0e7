#include "meter/model_allowlist.h"

#include <algorithm>

namespace agentbudget::meter {

ModelAllowlist::ModelAllowlist(const std::vector<std::string>& allowed,
                               const std::vector<std::string>& fallback,
                               const core::RateCard& rates)
    : rates_(rates) {
  for (const auto* list : {&allowed, &fallback}) {
    for (const std::string& name : *list) {
      names_.push_back(name);
      canonical_.push_back(Canonical(name));
    }
  }
}

std::string ModelAllowlist::Canonical(std::string_view model) const {
  const core::ResolvedRate rate = rates_.Resolve(model);
  return rate.known ? rate.rate->id : std::string(model);
}

std::optional<std::string> ModelAllowlist::Refusal(std::string_view model) const {
  if (names_.empty() ||
      std::find(canonical_.begin(), canonical_.end(), Canonical(model)) != canonical_.end()) {
    return std::nullopt;
  }
  std::string list;
  for (const std::string& name : names_) {
    list += (list.empty() ? "" : ", ") + name;
  }
  return "model \"" + std::string(model) + "\" is not allowed for this workload (models: " +
         list + ")";
}

}  // namespace agentbudget::meter
