#include "operator/options.h"

#include <cstdlib>
#include <map>
#include <sstream>

#include "core/money.h"

namespace agentbudget::op {
namespace {

struct Flags {
  std::map<std::string, std::string> values = {
      {"kubeconfig", ""},          {"namespace", "agentbudget-system"},
      {"listen", "0.0.0.0:8443"},  {"tls-cert", ""},
      {"tls-key", ""},             {"ops-listen", "0.0.0.0:8080"},
      {"group-commit-ms", "200"},  {"status-ms", "5000"},
      {"workers", "256"},          {"log-level", "info"},
      {"from", ""},                {"to", ""},
      {"leader-elect", "true"},    {"identity", ""},
      {"webhook-certs", "false"},  {"webhook-service", "agentbudget-webhook"},
      {"webhook-cert-hosts", ""},
      {"cpu-price-per-core-hour", "0"}, {"memory-price-per-gib-hour", "0"},
      {"queue-qps", "200"},
  };
  Status Parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      const size_t equals = arg.find('=');
      if (arg.rfind("--", 0) != 0 || equals == std::string::npos) {
        return InvalidArgument("expected --name=value, got \"" + arg + "\"");
      }
      const std::string name = arg.substr(2, equals - 2);
      if (!values.contains(name)) {
        return InvalidArgument("unknown flag --" + name);
      }
      values[name] = arg.substr(equals + 1);
    }
    return OkStatus();
  }
  Result<int64_t> Number(const std::string& name) const {
    const std::string& text = values.at(name);
    char* end = nullptr;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value <= 0) {
      return InvalidArgument("--" + name + " must be a positive integer");
    }
    return static_cast<int64_t>(value);
  }
  Result<int64_t> Price(const std::string& name) const {
    auto money = core::Money::Parse(values.at(name));
    if (!money.ok() || money->micros() < 0) {
      return InvalidArgument("--" + name + " must be a decimal amount in USD");
    }
    return money->micros();
  }
};

std::vector<std::string> SplitHosts(const std::string& text) {
  std::vector<std::string> hosts;
  std::stringstream stream(text);
  for (std::string host; std::getline(stream, host, ',');) {
    if (!host.empty()) {
      hosts.push_back(host);
    }
  }
  return hosts;
}

}  // namespace

Result<Options> ParseOptions(int argc, char** argv) {
  Options options;
  options.focus_export = argc > 1 && std::string(argv[1]) == "focus-export";
  if (options.focus_export) {
    --argc;
    ++argv;
  }
  Flags flags;
  if (Status parsed = flags.Parse(argc, argv); !parsed.ok()) {
    return std::move(parsed).error();
  }
  std::map<std::string, int64_t> numbers;
  for (const char* name : {"group-commit-ms", "status-ms", "workers", "queue-qps"}) {
    auto number = flags.Number(name);
    if (!number.ok()) {
      return std::move(number).error();
    }
    numbers[name] = *number;
  }
  for (auto [name, price] :
       {std::pair{"cpu-price-per-core-hour", &options.cpu_price_micros_per_core_hour},
        std::pair{"memory-price-per-gib-hour", &options.memory_price_micros_per_gib_hour}}) {
    auto micros = flags.Price(name);
    if (!micros.ok()) {
      return std::move(micros).error();
    }
    *price = *micros;
  }
  const auto& values = flags.values;
  options.kubeconfig = values.at("kubeconfig");
  options.namespace_name = values.at("namespace");
  options.listen = values.at("listen");
  options.tls_cert = values.at("tls-cert");
  options.tls_key = values.at("tls-key");
  options.ops_listen = values.at("ops-listen");
  options.group_commit = std::chrono::milliseconds{numbers["group-commit-ms"]};
  options.status_interval = std::chrono::milliseconds{numbers["status-ms"]};
  options.workers = numbers["workers"];
  options.log_level = values.at("log-level");
  options.from = values.at("from");
  options.to = values.at("to");
  options.leader_elect = values.at("leader-elect") == "true";
  options.identity = values.at("identity");
  options.webhook_certs = values.at("webhook-certs") == "true";
  options.webhook_service = values.at("webhook-service");
  options.webhook_cert_hosts = SplitHosts(values.at("webhook-cert-hosts"));
  options.queue_qps = numbers["queue-qps"];
  return options;
}

}  // namespace agentbudget::op
