// agentbudget-meter: the per-pod LLM API proxy. See docs/meter.md and --help.
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <chrono>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <utility>  // before Boost.Asio, which uses std::exchange
#include <vector>


#include "common/log.h"
#include "core/rate_card.h"
#include "meter/authority_keys.h"
#include "meter/commit_spool.h"
#include "meter/config.h"
#include "meter/enforcer.h"
#include "meter/http_authority_client.h"
#include "meter/provider_keys.h"
#include "meter/proxy.h"
#include "meter/rate_card_loader.h"
#include "meter/records.h"

namespace agentbudget::meter {
namespace {

// How long a starting meter with key source Authority keeps asking for its keys while the
// authority is unreachable; past it, the meter serves and asks again when calls need them.
constexpr std::chrono::seconds kKeyFetchAtStart{30};

// The first fetch of the provider keys from the authority, retried with backoff while the
// error is retryable (the authority starting or changing leader), within kKeyFetchAtStart.
void FetchKeysAtStart(AuthorityKeys& keys) {
  const auto deadline = std::chrono::steady_clock::now() + kKeyFetchAtStart;
  auto backoff = std::chrono::milliseconds(200);
  while (true) {
    Status fetched = keys.Fetch();
    if (fetched.ok() || !IsRetryable(fetched.error().code) ||
        std::chrono::steady_clock::now() + backoff > deadline) {
      return;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

// The AGENTBUDGET_* variables of the process environment (see ParseConfig).
std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq != std::string_view::npos && text.rfind("AGENTBUDGET_", 0) == 0) {
      env.emplace(text.substr(0, eq), text.substr(eq + 1));
    }
  }
  return env;
}

int Fail(const std::string& what, const Error& error) {
  log::Error(what, {{"error", error.ToString()}});
  return 1;
}

int Run(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::cout << HelpText();
      return 0;
    }
  }
  auto config = ParseConfig(args, Environment());
  if (!config.ok()) {
    std::cerr << "agentbudget-meter: " << config.error().message << "\n";
    return 2;
  }
  log::Level level = log::Level::kInfo;
  log::ParseLevel(config->log_level, &level);  // checked by ParseConfig
  log::Configure("meter", level);

  auto rates = LoadRateCard(config->rates_override_file);
  if (!rates.ok()) {
    return Fail("rate card", rates.error());
  }
  std::unique_ptr<AuthorityClient> authority;
  std::unique_ptr<CommitSpool> spool;
  std::unique_ptr<ProviderKeys> keys;
  if (!config->authority_url.empty()) {
    auto client = HttpAuthorityClient::Create({config->authority_url,
                                               config->authority_token_file,
                                               config->authority_ca_file,
                                               config->authority_ca,
                                               config->authority_timeout});
    if (!client.ok()) {
      return Fail("authority", client.error());
    }
    authority = std::move(*client);
    if (config->key_source == KeySource::kAuthority) {
      // Asks through the client the enforcer will own; the enforcer outlives the keys' use.
      auto from_authority = std::make_unique<AuthorityKeys>(*authority, SystemClock::Instance(),
                                                            AuthorityKeys::Options{});
      FetchKeysAtStart(*from_authority);
      keys = std::move(from_authority);
    }
    auto opened = CommitSpool::Open(config->spool_dir);
    if (!opened.ok()) {
      return Fail("spool", opened.error());
    }
    spool = std::move(*opened);
  }
  auto records = Records::Create(config->records_file);
  if (!records.ok()) {
    return Fail("records", records.error());
  }
  if (keys == nullptr) {
    keys = std::make_unique<FileKeys>(config->anthropic_key_file, config->openai_key_file);
  }
  Enforcer::Options enforcing{config->failure_mode, config->envelope, config->run};
  if (config->reserve_ahead) {
    enforcing.ahead = ReservationsAhead::Options{};
  }
  Enforcer enforcer(std::move(enforcing), std::move(authority), std::move(spool));

  // Block the shutdown signals in every thread; this one waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Proxy proxy(*config, *rates, enforcer, **records, *keys);
  if (Status started = proxy.Start(); !started.ok()) {
    return Fail("start", started.error());
  }
  log::Info("meter ready", {{"namespace", config->namespace_name},
                            {"pod", config->pod_name},
                            {"workload", config->workload},
                            {"run", config->run},
                            {"parentRun", config->parent_run},
                            {"authority", config->authority_url.empty() ? "local"
                                                                         : config->authority_url},
                            {"models", rates->models().size()}});
  int signal = 0;
  sigwait(&signals, &signal);
  log::Info("meter stopping", {{"signal", signal}});
  proxy.Stop();
  // Commits the authority has not acknowledged yet would otherwise wait in the spool, which
  // goes with the pod; within the termination grace period, send them now.
  if (enforcer.Drain(config->shutdown_flush)) {
    log::Info("meter stopped with its spool sent", {});
    return 0;
  }
  const UnsentEntries unsent = enforcer.Unsent();
  log::Warn("meter stopped with entries the authority has not acknowledged",
            {{"count", unsent.idempotency_keys.size()},
             {"cost", unsent.cost.ToString()},
             {"tokens", unsent.tokens},
             {"idempotencyKeys", unsent.idempotency_keys},
             {"flushSeconds", config->shutdown_flush.count()}});
  return 0;
}

}  // namespace
}  // namespace agentbudget::meter

int main(int argc, char** argv) {
  // The event loops' and the enforcer's threads would otherwise get up to 8 malloc arenas
  // per core, most of their memory idle: two arenas keep the resident set small.
  mallopt(M_ARENA_MAX, 2);
  std::vector<std::string> args(argv + 1, argv + argc);
  return agentbudget::meter::Run(args);
}
