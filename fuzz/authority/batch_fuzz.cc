// Feeds arbitrary bytes as the body of POST /v1/batch (and of a single commit and event)
// through the authority's routes to a ledger over the in-memory store: each request must be
// answered exactly once with a status, never crash, throw or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "core/rate_card.h"
#include "operator/authority/api.h"
#include "operator/authority/ledger_store.h"

namespace {

using namespace agentbudget;
using namespace agentbudget::authority;

// Every token is the same pod of one run.
class OnePod final : public Authenticator {
 public:
  Result<Caller> Authenticate(const std::string&) override {
    Caller caller;
    caller.namespace_name = "agents";
    caller.pod = "run-fuzz-pod";
    caller.run = "run-fuzz";
    caller.workload = "fuzz";
    caller.attribution = {{"team", "fuzz"}, {"workload", "fuzz"}};
    return caller;
  }
};

const core::RateCard& Rates() {
  static const core::RateCard rates = core::RateCard::FromYaml(R"(
unknownModel:
  prices: {input: "15", cacheRead: "1.5", cacheWrite5m: "18.75", cacheWrite1h: "30", output: "75"}
models: []
)").value();
  return rates;
}

struct Authority {
  InMemoryLedgerStore store;
  Ledger ledger{SystemClock::Instance(), store, Rates(), Ledger::Options{},
                GroupCommitter::Options{std::chrono::milliseconds{1}, 1000}};
  OnePod authenticator;
  AuthorityApi api{ledger, authenticator, [] { return OkStatus(); },
                   [] { return Result<ProviderKeys>(ProviderKeys{}); }};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Authority* authority = new Authority();
  const std::string body(reinterpret_cast<const char*>(data), size);
  for (const char* path : {"/v1/batch", "/v1/events", "/v1/reservations/r-0/commit"}) {
    http::Request request;
    request.method = "POST";
    request.path = path;
    request.headers["Authorization"] = "Bearer token";
    request.body = body;
    const http::Response response = authority->api.Handle(request);
    if (response.status < 200 || response.status > 599) {
      __builtin_trap();
    }
  }
  return 0;
}
