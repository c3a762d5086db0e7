#include "meter/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <functional>
#include <map>
#include <optional>

#include <yaml-cpp/yaml.h>

namespace agentbudget::meter {
namespace {

using Setter = std::function<Status(Config&, const std::string&)>;

struct Option {
  const char* flag;  // without the leading "--"; the variable is EnvName(flag)
  const char* key;   // dotted path in the config file
  const char* help;
  Setter set;
  bool list = false;  // comma-separated; in the config file also a YAML sequence
};

Result<int64_t> ParseInt(const std::string& name, const std::string& text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return InvalidArgument(name + ": \"" + text + "\" is not a non-negative integer");
  }
  return value;
}

Setter String(std::string Config::*field) {
  return [field](Config& c, const std::string& v) {
    c.*field = v;
    return OkStatus();
  };
}

Setter List(std::vector<std::string> Config::*field) {
  return [field](Config& c, const std::string& v) {
    std::vector<std::string> items;
    size_t start = 0;
    while (start <= v.size()) {
      const size_t comma = std::min(v.find(',', start), v.size());
      std::string item = v.substr(start, comma - start);
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      if (!item.empty()) {
        items.push_back(std::move(item));
      }
      start = comma + 1;
    }
    c.*field = std::move(items);
    return OkStatus();
  };
}

// HOST:PORT with a port in 1..65535.
Setter Address(const char* name, std::string Config::*host, int Config::*port) {
  return [name, host, port](Config& c, const std::string& v) -> Status {
    const size_t colon = v.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return InvalidArgument(std::string(name) + ": \"" + v + "\" is not HOST:PORT");
    }
    auto number = ParseInt(name, v.substr(colon + 1));
    if (!number.ok() || *number == 0 || *number > 65535) {
      return InvalidArgument(std::string(name) + ": \"" + v + "\" has no valid port");
    }
    c.*host = v.substr(0, colon);
    c.*port = static_cast<int>(*number);
    return OkStatus();
  };
}

Setter Limit(std::optional<int64_t> core::EnvelopeLimits::*field, const char* name) {
  return [field, name](Config& c, const std::string& v) -> Status {
    auto n = ParseInt(name, v);
    if (!n.ok()) {
      return n.error();
    }
    c.envelope.*field = *n;
    return OkStatus();
  };
}

const std::vector<Option>& Options() {
  static const std::vector<Option> options = {
      {"listen", "listen", "proxy address, HOST:PORT (default 127.0.0.1:8787)",
       Address("listen", &Config::listen_host, &Config::listen_port)},
      {"health-listen", "healthListen",
       "address for GET /healthz, /readyz and /metrics, HOST:PORT (default: none)",
       Address("health-listen", &Config::health_listen_host, &Config::health_listen_port)},
      {"namespace", "namespace", "namespace of the agent pod (for records)",
       String(&Config::namespace_name)},
      {"pod-name", "podName", "name of the agent pod (for logs)", String(&Config::pod_name)},
      {"workload", "workload", "AgentWorkload name (for records)", String(&Config::workload)},
      {"run", "run", "run id: the top-level Job's UID (for records and idempotency keys)",
       String(&Config::run)},
      {"parent-run", "parentRun", "the parent run's id, when a subagent (for logs)",
       String(&Config::parent_run)},
      {"models-allowed", "models.allowed",
       "comma-separated models.allowed: calls for other models are denied (default: any)",
       List(&Config::models_allowed), true},
      {"models-fallback", "models.fallback",
       "comma-separated models.fallback, most to least capable: allowed as degrade targets",
       List(&Config::models_fallback), true},
      {"authority-url", "authority.url",
       "budget authority base URL, e.g. https://agentbudget-operator.agentbudget-system.svc:8443;"
       " unset: enforce the run envelope locally",
       String(&Config::authority_url)},
      {"authority-token-file", "authority.tokenFile",
       "projected ServiceAccount token sent to the authority (re-read per call)",
       String(&Config::authority_token_file)},
      {"authority-ca-file", "authority.caFile", "CA bundle for the authority's certificate",
       String(&Config::authority_ca_file)},
      {"failure-mode", "authority.failureMode",
       "Open (default): when the authority is unreachable, enforce the envelope locally and "
       "spool usage; Closed: deny calls",
       [](Config& c, const std::string& v) -> Status {
         if (v == "Open") {
           c.failure_mode = FailureMode::kOpen;
         } else if (v == "Closed") {
           c.failure_mode = FailureMode::kClosed;
         } else {
           return InvalidArgument("failure-mode: \"" + v + "\" is neither Open nor Closed");
         }
         return OkStatus();
       }},
      {"authority-timeout-ms", "authority.timeoutMs",
       "per-call timeout for the authority in milliseconds (default 2000)",
       [](Config& c, const std::string& v) -> Status {
         auto n = ParseInt("authority-timeout-ms", v);
         if (!n.ok()) {
           return n.error();
         }
         c.authority_timeout = std::chrono::milliseconds(*n);
         return OkStatus();
       }},
      {"max-cost", "envelope.maxCost", "run ceiling in USD, a decimal string (e.g. 2.50)",
       [](Config& c, const std::string& v) -> Status {
         auto money = core::Money::Parse(v);
         if (!money.ok()) {
           return InvalidArgument("max-cost: " + money.error().message);
         }
         c.envelope.max_cost = *money;
         return OkStatus();
       }},
      {"max-tokens", "envelope.maxTokens", "run ceiling in tokens (input + output)",
       Limit(&core::EnvelopeLimits::max_tokens, "max-tokens")},
      {"max-requests", "envelope.maxRequests", "run ceiling in LLM calls",
       Limit(&core::EnvelopeLimits::max_requests, "max-requests")},
      {"max-identical-requests", "envelope.maxIdenticalRequests",
       "retry-loop guard: most calls with a byte-identical body",
       Limit(&core::EnvelopeLimits::max_identical_requests, "max-identical-requests")},
      {"anthropic-upstream", "upstreams.anthropic",
       "Anthropic base URL (default https://api.anthropic.com)",
       String(&Config::anthropic_upstream)},
      {"openai-upstream", "upstreams.openai", "OpenAI base URL (default https://api.openai.com)",
       String(&Config::openai_upstream)},
      {"upstream-ca-file", "upstreams.caFile", "extra CA bundle trusted for upstream TLS",
       String(&Config::upstream_ca_file)},
      {"upstream-timeout-seconds", "upstreams.timeoutSeconds",
       "upstream inactivity timeout in seconds (default 600)",
       [](Config& c, const std::string& v) -> Status {
         auto n = ParseInt("upstream-timeout-seconds", v);
         if (!n.ok() || *n == 0) {
           return InvalidArgument("upstream-timeout-seconds: \"" + v + "\" is not positive");
         }
         c.upstream_timeout = std::chrono::seconds(*n);
         return OkStatus();
       }},
      {"anthropic-key-file", "credentials.anthropicKeyFile",
       "file holding the real Anthropic API key; the agent's placeholder is dropped",
       String(&Config::anthropic_key_file)},
      {"openai-key-file", "credentials.openaiKeyFile",
       "file holding the real OpenAI API key; the agent's placeholder is dropped",
       String(&Config::openai_key_file)},
      {"rates-override", "rates.overrideFile",
       "rate card YAML merged over the shipped one (models replaced by id)",
       String(&Config::rates_override_file)},
      {"spool-dir", "spoolDir",
       "directory for unacknowledged commits (default /var/run/agentbudget/spool)",
       String(&Config::spool_dir)},
      {"records-file", "recordsFile", "append one JSON line per metered call to this file",
       String(&Config::records_file)},
      {"max-request-bytes", "maxRequestBytes", "largest request body accepted (default 32 MiB)",
       [](Config& c, const std::string& v) -> Status {
         auto n = ParseInt("max-request-bytes", v);
         if (!n.ok()) {
           return n.error();
         }
         c.max_request_bytes = *n;
         return OkStatus();
       }},
      {"client-timeout-seconds", "clientTimeoutSeconds",
       "time a client may take to send its request body, in seconds (default 60)",
       [](Config& c, const std::string& v) -> Status {
         auto n = ParseInt("client-timeout-seconds", v);
         if (!n.ok() || *n == 0) {
           return InvalidArgument("client-timeout-seconds: \"" + v + "\" is not positive");
         }
         c.client_timeout = std::chrono::seconds(*n);
         return OkStatus();
       }},
      {"log-level", "logLevel", "debug | info | warn | error (default info)",
       String(&Config::log_level)},
  };
  return options;
}

// Walks a dotted key ("authority.url") in a YAML document.
std::optional<YAML::Node> Lookup(const YAML::Node& root, const std::string& key) {
  YAML::Node node = root;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot - start);
    if (!node.IsMap() || !node[part]) {
      return std::nullopt;
    }
    // reset(), not operator=: assigning a yaml-cpp Node overwrites the node it refers to.
    node.reset(node[part]);
    if (dot == std::string::npos) {
      return node;
    }
    start = dot + 1;
  }
}

Status ApplyFile(const std::string& path, Config& config) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap()) {
      return InvalidArgument("config " + path + ": not a YAML map");
    }
    for (const Option& option : Options()) {
      const std::optional<YAML::Node> node = Lookup(root, option.key);
      if (!node) {
        continue;
      }
      std::string value;
      if (option.list && node->IsSequence()) {
        for (const YAML::Node& item : *node) {
          if (!item.IsScalar()) {
            return InvalidArgument("config " + path + ": " + option.key +
                                   " is not a list of strings");
          }
          value += (value.empty() ? "" : ",") + item.Scalar();
        }
      } else if (node->IsScalar()) {
        value = node->Scalar();
      } else {
        return InvalidArgument("config " + path + ": " + option.key + " is not a scalar");
      }
      if (Status set = option.set(config, value); !set.ok()) {
        return InvalidArgument("config " + path + ": " + set.error().message);
      }
    }
  } catch (const std::exception& e) {
    return InvalidArgument("config " + path + ": " + e.what());
  }
  return OkStatus();
}

}  // namespace

std::string EnvName(std::string_view flag) {
  std::string name = "AGENTBUDGET_";
  for (const char c : flag) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

Result<Config> ParseConfig(const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env) {
  // Split into (flag, value) pairs first, accepting --flag=value and --flag value.
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) {
      return InvalidArgument("unexpected argument \"" + arg + "\" (see --help)");
    }
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      pairs.emplace_back(arg.substr(2, eq - 2), arg.substr(eq + 1));
    } else if (i + 1 < args.size()) {
      pairs.emplace_back(arg.substr(2), args[++i]);
    } else {
      return InvalidArgument("flag " + arg + " needs a value");
    }
  }
  Config config;
  for (const auto& [flag, value] : pairs) {
    if (flag == "config") {
      if (Status applied = ApplyFile(value, config); !applied.ok()) {
        return std::move(applied).error();
      }
    }
  }
  for (const Option& option : Options()) {
    const std::string name = EnvName(option.flag);
    const auto it = env.find(name);
    if (it == env.end() || it->second.empty()) {
      continue;
    }
    if (Status set = option.set(config, it->second); !set.ok()) {
      return InvalidArgument("environment " + name + ": " + set.error().message);
    }
  }
  for (const auto& [flag, value] : pairs) {
    if (flag == "config") {
      continue;
    }
    const Option* match = nullptr;
    for (const Option& option : Options()) {
      if (flag == option.flag) {
        match = &option;
      }
    }
    if (match == nullptr) {
      return InvalidArgument("unknown flag --" + flag + " (see --help)");
    }
    if (Status set = match->set(config, value); !set.ok()) {
      return std::move(set).error();
    }
  }
  return config;
}

std::string HelpText() {
  std::string text =
      "agentbudget-meter: the per-pod LLM API proxy that meters, prices and enforces calls.\n"
      "Routes: /anthropic/v1/messages[/count_tokens], /openai/v1/chat/completions,\n"
      "/openai/v1/responses; GET /healthz, /readyz, /metrics, /v1/run.\n\n"
      "Usage: agentbudget-meter [--config FILE] [--flag VALUE]...\n"
      "Each flag --foo-bar but --config can also be set by the environment variable\n"
      "AGENTBUDGET_FOO_BAR"
      " (as the admission webhook does) or by the config file (YAML; key in\n"
      "brackets).\n"
      "Flags override the environment, which overrides the config file.\n\n"
      "  --config FILE\n      YAML config file\n";
  for (const Option& option : Options()) {
    text += "  --" + std::string(option.flag) + " [" + option.key + "] $" +
            EnvName(option.flag) + "\n      " + option.help + "\n";
  }
  return text;
}

}  // namespace agentbudget::meter
