// agentbudget-meter: the per-pod LLM API proxy. See docs/meter.md and --help.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "core/rate_card.h"
#include "meter/commit_spool.h"
#include "meter/config.h"
#include "meter/default_rates.h"
#include "meter/enforcer.h"
#include "meter/http_authority_client.h"
#include "meter/proxy.h"
#include "meter/records.h"

namespace agentbudget::meter {
namespace {

Result<core::RateCard> LoadRates(const Config& config) {
  auto card = core::RateCard::FromYaml(DefaultRatesYaml());
  if (!card.ok() || config.rates_override_file.empty()) {
    return card;
  }
  std::ifstream file(config.rates_override_file);
  if (!file) {
    return InvalidArgument("rates override " + config.rates_override_file + ": cannot read");
  }
  std::stringstream text;
  text << file.rdbuf();
  return card->WithOverrides(text.str());
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
  auto config = ParseConfig(args);
  if (!config.ok()) {
    std::cerr << "agentbudget-meter: " << config.error().message << "\n";
    return 2;
  }
  log::Level level = log::Level::kInfo;
  if (!log::ParseLevel(config->log_level, &level)) {
    std::cerr << "agentbudget-meter: log-level: \"" << config->log_level << "\" is unknown\n";
    return 2;
  }
  log::Configure("meter", level);

  auto rates = LoadRates(*config);
  if (!rates.ok()) {
    return Fail("rate card", rates.error());
  }
  std::unique_ptr<AuthorityClient> authority;
  std::unique_ptr<CommitSpool> spool;
  if (!config->authority_url.empty()) {
    auto client = HttpAuthorityClient::Create({config->authority_url,
                                               config->authority_token_file,
                                               config->authority_ca_file,
                                               config->authority_timeout});
    if (!client.ok()) {
      return Fail("authority", client.error());
    }
    authority = std::move(*client);
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
  Enforcer enforcer({config->failure_mode, config->envelope, config->run},
                    std::move(authority), std::move(spool));

  // Block the shutdown signals in every thread; this one waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Proxy proxy(*config, *rates, enforcer, **records);
  if (Status started = proxy.Start(); !started.ok()) {
    return Fail("start", started.error());
  }
  log::Info("meter ready", {{"workload", config->workload},
                            {"run", config->run},
                            {"authority", config->authority_url.empty() ? "local"
                                                                         : config->authority_url},
                            {"models", rates->models().size()}});
  int signal = 0;
  sigwait(&signals, &signal);
  log::Info("meter stopping", {{"signal", signal}});
  proxy.Stop();
  return 0;
}

}  // namespace
}  // namespace agentbudget::meter

int main(int argc, char** argv) {
  // One thread per request would otherwise give the process up to 8 malloc arenas per core,
  // most of their memory idle: two arenas keep the resident set small under many streams.
  mallopt(M_ARENA_MAX, 2);
  std::vector<std::string> args(argv + 1, argv + argc);
  return agentbudget::meter::Run(args);
}
