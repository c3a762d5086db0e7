#pragma once

#include <string_view>

namespace agentbudget::meter {

// The shipped rate card (meter/rates/default-rates.yaml), compiled into the binary so that
// the meter prices calls without any file mounted.
std::string_view DefaultRatesYaml();

}  // namespace agentbudget::meter
