#include "meter/records.h"

#include <cstdio>
#include <cstring>

#include <prometheus/text_serializer.h>

#include "common/log.h"
#include "core/money.h"

namespace agentbudget::meter {

Result<std::unique_ptr<Records>> Records::Create(const std::string& records_file) {
  std::unique_ptr<Records> records(new Records());
  if (!records_file.empty()) {
    FILE* file = std::fopen(records_file.c_str(), "a");
    if (file == nullptr) {
      return Unavailable("records file " + records_file + ": " + std::strerror(errno));
    }
    // Not shared with any thread yet; the lock is for the analysis' sake.
    MutexLock lock(records->mu_);
    records->file_ = file;
  }
  auto& r = *records->registry_;
  records->calls_ = &prometheus::BuildCounter()
                         .Name("agentbudget_meter_calls_total")
                         .Help("LLM calls metered, by provider, API, model and HTTP status class")
                         .Register(r);
  records->tokens_ = &prometheus::BuildCounter()
                          .Name("agentbudget_meter_tokens_total")
                          .Help("Tokens metered by gen_ai token type (input, cache_read, "
                                "cache_write_5m, cache_write_1h, output)")
                          .Register(r);
  records->cost_ = &prometheus::BuildCounter()
                        .Name("agentbudget_meter_cost_micro_usd_total")
                        .Help("Cost metered, in micro-dollars")
                        .Register(r);
  records->unknown_ = &prometheus::BuildCounter()
                           .Name("agentbudget_meter_unknown_model_requests_total")
                           .Help("Calls to models not on the rate card, priced at its default")
                           .Register(r);
  records->estimated_ = &prometheus::BuildCounter()
                             .Name("agentbudget_meter_estimated_usage_total")
                             .Help("Calls whose usage was partly estimated (cut or failed streams)")
                             .Register(r);
  records->decisions_ = &prometheus::BuildCounter()
                             .Name("agentbudget_meter_decisions_total")
                             .Help("Reservation decisions: allow, degrade, deny")
                             .Register(r);
  records->rejected_ = &prometheus::BuildCounter()
                            .Name("agentbudget_meter_rejected_requests_total")
                            .Help("Requests refused before any reservation, by reason")
                            .Register(r);
  records->latency_ = &prometheus::BuildHistogram()
                           .Name("agentbudget_meter_upstream_seconds")
                           .Help("Time from request to the end of the upstream response")
                           .Register(r);
  return records;
}

Records::~Records() {
  if (file_ != nullptr) {
    std::fclose(file_);
  }
}

nlohmann::json Records::ToJson(const CallRecord& record) {
  return {{"api", core::ApiName(record.api)},
          {"provider", core::ProviderName(record.api)},
          {"requestedModel", record.requested_model},
          {"model", record.model},
          {"responseModel", record.response_model},
          {"degraded", record.degraded},
          {"knownModel", record.known_model},
          {"stream", record.stream},
          {"status", record.status},
          {"usage", core::UsageToJson(record.usage)},
          {"contextTokens", record.usage.TotalInput()},
          {"cost", record.cost},
          {"estimated", record.estimated},
          {"latencyMs", record.latency_ms}};
}

void Records::Call(const CallRecord& record) {
  // The record as JSON only when someone reads it: the log, or the records file.
  bool to_file = false;
  {
    MutexLock lock(mu_);
    to_file = file_ != nullptr;
  }
  const bool to_log = log::Enabled(log::Level::kInfo);
  const nlohmann::json json = to_log || to_file ? ToJson(record) : nlohmann::json();
  if (to_log) {
    log::Info("call metered", json);
  }
  const std::string provider(core::ProviderName(record.api));
  const std::string api(core::ApiName(record.api));
  const std::string status_class = std::to_string(record.status / 100) + "xx";
  calls_->Add({{"provider", provider}, {"api", api}, {"model", record.model_id},
               {"status", status_class}})
      .Increment();
  const std::pair<const char*, int64_t> types[] = {
      {"input", record.usage.input},
      {"cache_read", record.usage.cache_read},
      {"cache_write_5m", record.usage.cache_write_5m},
      {"cache_write_1h", record.usage.cache_write_1h},
      {"output", record.usage.output}};
  for (const auto& [type, count] : types) {
    if (count > 0) {
      tokens_->Add({{"provider", provider}, {"model", record.model_id}, {"type", type}})
          .Increment(static_cast<double>(count));
    }
  }
  if (auto cost = core::Money::Parse(record.cost); cost.ok() && cost->micros() > 0) {
    cost_->Add({{"provider", provider}, {"model", record.model_id}})
        .Increment(static_cast<double>(cost->micros()));
  }
  if (!record.known_model) {
    unknown_->Add({{"provider", provider}}).Increment();
  }
  if (record.estimated) {
    estimated_->Add({{"provider", provider}}).Increment();
  }
  latency_
      ->Add({{"provider", provider}},
            prometheus::Histogram::BucketBoundaries{0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300})
      .Observe(record.latency_ms / 1000.0);
  MutexLock lock(mu_);
  if (to_file) {
    const std::string line = json.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }
}

void Records::Decision(core::Api api, const std::string& decision) {
  decisions_->Add({{"provider", std::string(core::ProviderName(api))}, {"decision", decision}})
      .Increment();
}

void Records::Rejected(core::Api api, const std::string& reason) {
  rejected_->Add({{"provider", std::string(core::ProviderName(api))}, {"reason", reason}})
      .Increment();
}

std::string Records::Exposition() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace agentbudget::meter
