#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/event_loops.h"
#include "common/http_server.h"
#include "common/mutex.h"
#include "core/rate_card.h"
#include "core/request_estimate.h"
#include "meter/config.h"
#include "meter/enforcer.h"
#include "meter/model_allowlist.h"
#include "meter/provider_keys.h"
#include "meter/records.h"
#include "meter/upstream_client.h"

namespace agentbudget::meter {

// The typical output of recent calls, which estimates the next call's. Thread-safe.
class SharedOutputHistory {
 public:
  int64_t typical() const EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return history_.typical();
  }
  void Add(int64_t output_tokens) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    history_.Add(output_tokens);
  }

 private:
  mutable Mutex mu_;
  core::OutputHistory history_ GUARDED_BY(mu_) = core::OutputHistory(core::kInitialTypicalOutput);
};

// What every proxied call uses. Everything referred to outlives the calls.
struct CallContext {
  const Config& config;
  const core::RateCard& rates;
  Enforcer& enforcer;
  Records& records;
  ProviderKeys& keys;
  const ModelAllowlist& allowlist;
  SharedOutputHistory& history;
  UpstreamClient& anthropic;
  UpstreamClient& openai;
  // The loops the calls' client connections run on: a call whose reservation was answered
  // elsewhere goes back to its connection's loop to be forwarded, so that the answer is
  // relayed there.
  EventLoops& loops;
  // Runs a release (a round trip to the authority) off the event loop, or inline when
  // there is no authority.
  std::function<void(std::function<void()>)> settle;
};

// Proxies one POST to its upstream (meter/routes.h), answering through `writer`. A metered
// call: parse the request, estimate and reserve (Enforcer), forward with the model
// rewritten when degraded and the provider key injected (a 401 from the provider is
// reported to the keys), relay the answer (a stream event by event, reading the next piece
// only once the client took the last), read its usage, price it, commit. A call that never
// reached the provider is released without counting as a request; one cut by the provider
// mid-answer is cut for the client too and charged as estimated. Returns at once; the call
// runs on the event loops and `finished` runs once it is done with `writer` and the upstream.
void ProxyCall(const CallContext& context, http::Request&& request,
               std::shared_ptr<http::ResponseWriter> writer, std::function<void()> finished);

// A provider-shaped error answer (see ProviderErrorBody), with x-should-retry: false (which
// the official SDKs honour) when `no_retry`.
http::Response ProviderError(core::Api api, int status, std::string_view type,
                             std::string_view code, const std::string& message, bool no_retry);

// The API whose error shape suits a refusal of `path`: OpenAI's under /openai/, else
// Anthropic's.
core::Api ApiOfPath(std::string_view path);

}  // namespace agentbudget::meter
