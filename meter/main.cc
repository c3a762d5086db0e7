// agentbudget-meter: the per-pod LLM API proxy. See docs/meter.md and --help.
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>  // before Boost.Asio, which uses std::exchange
#include <vector>

#include <pplx/threadpool.h>

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

// How long a stopping meter keeps resending unacknowledged commits: well inside the
// default 30 s termination grace period of the pod.
constexpr std::chrono::seconds kShutdownDrain{10};

constexpr size_t kIoThreads = 4;

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
  if (!enforcer.Drain(kShutdownDrain)) {
    log::Warn("meter stopped with unacknowledged commits in the spool",
              {{"count", enforcer.PendingCommits()}});
  }
  return 0;
}

}  // namespace
}  // namespace agentbudget::meter

int main(int argc, char** argv) {
  // One thread per request would otherwise give the process up to 8 malloc arenas per core,
  // most of their memory idle: two arenas keep the resident set small under many streams.
  mallopt(M_ARENA_MAX, 2);
  // cpprestsdk's pool only runs I/O completions and continuations (blocking work runs on
  // the meter's own threads): a few threads switch less than its default of 40.
  crossplat::threadpool::initialize_with_threads(agentbudget::meter::kIoThreads);
  std::vector<std::string> args(argv + 1, argv + argc);
  return agentbudget::meter::Run(args);
}
