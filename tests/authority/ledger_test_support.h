#pragma once

#include <chrono>
#include <future>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/budget_spec.h"
#include "core/rate_card.h"
#include "meter/default_rates.h"
#include "operator/authority/ledger.h"

namespace agentbudget::authority {

// The shipped rate card, which names the models of these tests.
inline const core::RateCard& TestRates() {
  static const core::RateCard rates =
      core::RateCard::FromYaml(meter::DefaultRatesYaml()).value();
  return rates;
}

// Commits and waits (up to five seconds) for the acknowledgement.
inline Result<nlohmann::json> CommitAndWait(Ledger& ledger, const Caller& caller,
                                            const std::string& id, const CommitRequest& request) {
  auto promise = std::make_shared<std::promise<Result<nlohmann::json>>>();
  auto future = promise->get_future();
  ledger.Commit(caller, id, request,
                [promise](Result<nlohmann::json> result) { promise->set_value(std::move(result)); });
  if (future.wait_for(std::chrono::seconds{5}) != std::future_status::ready) {
    return Internal("no acknowledgement within five seconds");
  }
  return future.get();
}

inline core::BudgetSpec MakeBudget(const std::string& name, nlohmann::json spec) {
  return core::ParseAgentBudget(
             nlohmann::json{{"metadata", {{"name", name}}}, {"spec", std::move(spec)}})
      .value();
}

inline Caller MakeCaller(const std::string& run, const std::string& team, const std::string& user) {
  Caller caller;
  caller.namespace_name = "agents";
  caller.pod = run + "-pod";
  caller.run = run;
  caller.workload = "review";
  caller.attribution = {{"team", team}, {"user", user}, {"workload", "review"}};
  caller.namespace_labels = {{"agentbudget.io/team", team}};
  caller.fallback_models = {"claude-sonnet-4-5", "claude-haiku-4-5"};
  return caller;
}

inline ReserveRequest Reservation(const std::string& key, int64_t micros) {
  ReserveRequest request;
  request.idempotency_key = key;
  request.provider = "anthropic";
  request.model = "claude-sonnet-4-5";
  request.estimate_micros = micros;
  request.estimate_tokens = 1000;
  request.request_hash = std::hash<std::string>{}(key + std::to_string(micros));
  return request;
}

inline CommitRequest Commitment(const std::string& key, int64_t micros) {
  CommitRequest request;
  request.idempotency_key = key;
  request.model = "claude-sonnet-4-5";
  request.cost_micros = micros;
  request.tokens = 900;
  request.request_hash = std::hash<std::string>{}(key + std::to_string(micros));
  return request;
}

}  // namespace agentbudget::authority
