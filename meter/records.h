#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "common/mutex.h"
#include "core/usage.h"

namespace agentbudget::meter {

// The record of one metered call (docs/meter.md, "Records and metrics"): no keys, no prompts.
struct CallRecord {
  core::Api api = core::Api::kAnthropicMessages;
  std::string requested_model;
  std::string model;           // sent upstream (the fallback when degraded)
  // The rate card's id of `model`, or "other" (core::RateCard::BoundedId): the only model
  // name metrics carry, so an agent choosing names cannot grow the label set.
  std::string model_id;
  std::string response_model;  // as the provider named it
  bool degraded = false;
  bool known_model = true;
  bool stream = false;
  int status = 0;
  core::Usage usage;
  std::string cost;  // decimal USD
  bool estimated = false;
  double latency_ms = 0;
};

// Writes call records to the log, to an optional JSON-lines file, and to Prometheus metrics
// (agentbudget_meter_*: calls, tokens by gen_ai token type, cost, unknown-model calls,
// decisions, rejected requests, upstream latency). Metric labels take bounded values only:
// the provider, API, status class, token type, decision, reason and `model_id` (the rate
// card's ids and "other"). Thread-safe.
class Records {
 public:
  // `records_file` empty: no file. Fails with kUnavailable when the file cannot be opened.
  static Result<std::unique_ptr<Records>> Create(const std::string& records_file);
  ~Records();

  void Call(const CallRecord& record) EXCLUDES(mu_);
  // Counts a reservation decision: "allow", "degrade" or "deny".
  void Decision(core::Api api, const std::string& decision);
  // Counts a request refused as bad input, by reason: "malformed", "too_large",
  // "encoding" or "client_timeout".
  void Rejected(core::Api api, const std::string& reason);

  // The Prometheus text exposition of every metric.
  std::string Exposition() const;

  static nlohmann::json ToJson(const CallRecord& record);

 private:
  Records() = default;

  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>* calls_ = nullptr;
  prometheus::Family<prometheus::Counter>* tokens_ = nullptr;
  prometheus::Family<prometheus::Counter>* cost_ = nullptr;
  prometheus::Family<prometheus::Counter>* unknown_ = nullptr;
  prometheus::Family<prometheus::Counter>* estimated_ = nullptr;
  prometheus::Family<prometheus::Counter>* decisions_ = nullptr;
  prometheus::Family<prometheus::Counter>* rejected_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_ = nullptr;

  Mutex mu_;
  FILE* file_ GUARDED_BY(mu_) = nullptr;
};

}  // namespace agentbudget::meter
