#include "meter/config.h"

#include <cctype>
#include <exception>
#include <optional>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "common/flags.h"

namespace agentbudget::meter {
namespace {

constexpr char kUsage[] =
    "agentbudget-meter: the per-pod LLM API proxy that meters, prices and enforces calls.\n"
    "Routes: /anthropic/v1/messages[/count_tokens], /openai/v1/chat/completions,\n"
    "/openai/v1/responses; GET /healthz, /readyz, /metrics, /v1/run.\n\n"
    "Usage: agentbudget-meter [--config FILE] [--flag VALUE]...\n"
    "Each flag --foo-bar but --config can also be set by the environment variable\n"
    "AGENTBUDGET_FOO_BAR (as the admission webhook does) or by the config file (YAML; key in\n"
    "brackets).\n"
    "Flags override the environment, which overrides the config file.\n";

// Where a flag sits in the config file: a dotted path; lists may be YAML sequences there.
struct FileKey {
  const char* flag;
  const char* key;
  bool list = false;
};

constexpr FileKey kFileKeys[] = {
    {"listen", "listen"},
    {"health-listen", "healthListen"},
    {"namespace", "namespace"},
    {"pod-name", "podName"},
    {"workload", "workload"},
    {"run", "run"},
    {"parent-run", "parentRun"},
    {"models-allowed", "models.allowed", true},
    {"models-fallback", "models.fallback", true},
    {"authority-url", "authority.url"},
    {"authority-token-file", "authority.tokenFile"},
    {"authority-ca-file", "authority.caFile"},
    {"authority-ca", "authority.ca"},
    {"failure-mode", "authority.failureMode"},
    {"authority-timeout-ms", "authority.timeoutMs"},
    {"reserve-ahead", "authority.reserveAhead"},
    {"max-cost", "envelope.maxCost"},
    {"max-tokens", "envelope.maxTokens"},
    {"max-requests", "envelope.maxRequests"},
    {"max-identical-requests", "envelope.maxIdenticalRequests"},
    {"request-max-cost", "request.maxCost"},
    {"request-max-tokens", "request.maxTokens"},
    {"request-on-exceed", "request.onExceed"},
    {"anthropic-upstream", "upstreams.anthropic"},
    {"openai-upstream", "upstreams.openai"},
    {"upstream-ca-file", "upstreams.caFile"},
    {"upstream-timeout-seconds", "upstreams.timeoutSeconds"},
    {"upstream-idle-timeout-seconds", "upstreams.idleTimeoutSeconds"},
    {"key-source", "credentials.keySource"},
    {"anthropic-key-file", "credentials.anthropicKeyFile"},
    {"openai-key-file", "credentials.openaiKeyFile"},
    {"rates-override", "rates.overrideFile"},
    {"spool-dir", "spoolDir"},
    {"records-file", "recordsFile"},
    {"max-request-bytes", "maxRequestBytes"},
    {"max-answer-bytes", "maxAnswerBytes"},
    {"client-timeout-seconds", "clientTimeoutSeconds"},
    {"shutdown-flush-seconds", "shutdownFlushSeconds"},
    {"log-level", "logLevel"},
};

// HOST:PORT with a port in 1..65535, into the separate host and port fields.
flags::FlagSet::Setter Address(std::string* host, int* port) {
  return [host, port](std::string_view value) -> Status {
    auto address = flags::ParseListenAddress(value, flags::PortRule::kNonZero);
    if (!address.ok()) {
      return std::move(address).error();
    }
    *host = address->host;
    *port = address->port;
    return OkStatus();
  };
}

// Binds every flag to `config`. --config is bound for the command line and the help text
// only: ParseConfig reads the file itself, before everything else.
void Define(Config& config, flags::FlagSet& set) {
  set.Custom("config", "none", "YAML config file", [](std::string_view) { return OkStatus(); });
  set.Custom("listen", config.listen_host + ":" + std::to_string(config.listen_port),
             "proxy address, HOST:PORT", Address(&config.listen_host, &config.listen_port));
  set.Custom("health-listen", "none", "address for GET /healthz, /readyz and /metrics, HOST:PORT",
             Address(&config.health_listen_host, &config.health_listen_port));
  set.String("namespace", &config.namespace_name, "namespace of the agent pod (for records)");
  set.String("pod-name", &config.pod_name, "name of the agent pod (for logs)");
  set.String("workload", &config.workload, "AgentWorkload name (for records)");
  set.String("run", &config.run,
             "run id: the top-level Job's UID (for records and idempotency keys)");
  set.String("parent-run", &config.parent_run, "the parent run's id, when a subagent (for logs)");
  set.List("models-allowed", &config.models_allowed,
           "comma-separated models.allowed: calls for other models are denied (none: any)");
  set.List("models-fallback", &config.models_fallback,
           "comma-separated models.fallback, most to least capable: allowed as degrade targets");
  set.String("authority-url", &config.authority_url,
             "budget authority base URL, e.g. "
             "https://agentbudget-operator.agentbudget-system.svc:8443; none: enforce the run "
             "envelope locally");
  set.String("authority-token-file", &config.authority_token_file,
             "projected ServiceAccount token sent to the authority (re-read per call)");
  set.String("authority-ca-file", &config.authority_ca_file,
             "CA bundle file for the authority's certificate (with --authority-ca, both are "
             "trusted; neither: the system's CAs)");
  set.String("authority-ca", &config.authority_ca,
             "CA bundle for the authority's certificate as PEM text; the webhook injects it "
             "as $AGENTBUDGET_AUTHORITY_CA");
  set.Custom("failure-mode", "Open",
             "Open: when the authority is unreachable, enforce the envelope locally and spool "
             "usage; Closed: deny calls",
             [&config](std::string_view value) -> Status {
               if (value == "Open") {
                 config.failure_mode = FailureMode::kOpen;
               } else if (value == "Closed") {
                 config.failure_mode = FailureMode::kClosed;
               } else {
                 return InvalidArgument("\"" + std::string(value) +
                                        "\" is neither Open nor Closed");
               }
               return OkStatus();
             });
  set.Duration("authority-timeout-ms", &config.authority_timeout,
               "per-call timeout for the authority, in ms");
  set.Bool("reserve-ahead", &config.reserve_ahead,
           "hold a few of the authority's reservations ready for a model called again within "
           "a second, so that its calls need not wait for the authority (each used within 2 s "
           "or released); false: every call reserves when it arrives");
  set.Money("max-cost", &config.envelope.max_cost,
            "run ceiling in USD, a decimal string (e.g. 2.50)");
  set.Int("max-tokens", &config.envelope.max_tokens, 0, "run ceiling in tokens (input + output)");
  set.Int("max-requests", &config.envelope.max_requests, 0, "run ceiling in LLM calls");
  set.Int("max-identical-requests", &config.envelope.max_identical_requests, 0,
          "retry-loop guard: most calls with a byte-identical body");
  set.Money("request-max-cost", &config.request.max_cost,
            "per-request ceiling in USD: the most one call may cost at the requested model's "
            "prices (perRequest.maxCost)");
  set.Int("request-max-tokens", &config.request.max_tokens, 1,
          "per-request ceiling in tokens: estimated input plus the output cap "
          "(perRequest.maxTokens)");
  set.Custom("request-on-exceed", "Deny",
             "a call whose output cap exceeds the per-request ceiling: Deny refuses it, Clamp "
             "lowers the cap (perRequest.onExceed)",
             [&config](std::string_view value) -> Status {
               auto on_exceed = core::ParseOnExceed(value);
               if (!on_exceed.ok()) {
                 return std::move(on_exceed).error();
               }
               config.request.on_exceed = *on_exceed;
               return OkStatus();
             });
  set.String("anthropic-upstream", &config.anthropic_upstream, "Anthropic base URL");
  set.String("openai-upstream", &config.openai_upstream, "OpenAI base URL");
  set.String("upstream-ca-file", &config.upstream_ca_file,
             "extra CA bundle trusted for upstream TLS");
  set.Duration("upstream-timeout-seconds", &config.upstream_timeout,
               "upstream inactivity timeout, in seconds");
  set.Duration("upstream-idle-timeout-seconds", &config.upstream_idle_timeout,
               "close pooled upstream connections idle this long, in seconds (below the "
               "providers' own idle timeouts)");
  set.Custom("key-source", "secret",
             "where the real provider keys come from: secret (the key files below) or "
             "authority (GET /v1/credentials of the authority, with the pod's token)",
             [&config](std::string_view value) -> Status {
               if (value == "secret" || value == "Secret") {
                 config.key_source = KeySource::kSecret;
               } else if (value == "authority" || value == "Authority") {
                 config.key_source = KeySource::kAuthority;
               } else {
                 return InvalidArgument("\"" + std::string(value) +
                                        "\" is neither secret nor authority");
               }
               return OkStatus();
             });
  set.String("anthropic-key-file", &config.anthropic_key_file,
             "file holding the real Anthropic API key; the agent's placeholder is dropped");
  set.String("openai-key-file", &config.openai_key_file,
             "file holding the real OpenAI API key; the agent's placeholder is dropped");
  set.String("rates-override", &config.rates_override_file,
             "rate card YAML merged over the shipped one (models replaced by id)");
  set.String("spool-dir", &config.spool_dir, "directory for unacknowledged commits");
  set.String("records-file", &config.records_file,
             "append one JSON line per metered call to this file");
  set.Int("max-request-bytes", &config.max_request_bytes, 1, "largest request body accepted");
  set.Int("max-answer-bytes", &config.max_answer_bytes, 1,
          "largest non-streaming answer relayed (read whole for its usage); a larger one is "
          "answered 502 and charged as estimated");
  set.Duration("client-timeout-seconds", &config.client_timeout,
               "time a client may take to send its request body, in seconds");
  set.Duration("shutdown-flush-seconds", &config.shutdown_flush,
               "on SIGTERM, how long to keep resending spooled commits the authority has not "
               "acknowledged, in seconds (keep it below the pod's terminationGracePeriodSeconds)");
  set.LogLevel("log-level", &config.log_level, "debug, info, warn or error");
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

Status ApplyFile(const std::string& path, flags::FlagSet& set) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap()) {
      return InvalidArgument("config " + path + ": not a YAML map");
    }
    for (const FileKey& entry : kFileKeys) {
      const std::optional<YAML::Node> node = Lookup(root, entry.key);
      if (!node) {
        continue;
      }
      std::string value;
      if (entry.list && node->IsSequence()) {
        for (const YAML::Node& item : *node) {
          if (!item.IsScalar()) {
            return InvalidArgument("config " + path + ": " + entry.key +
                                   " is not a list of strings");
          }
          value += (value.empty() ? "" : ",") + item.Scalar();
        }
      } else if (node->IsScalar()) {
        value = node->Scalar();
      } else {
        return InvalidArgument("config " + path + ": " + entry.key + " is not a scalar");
      }
      if (Status applied = set.Set(entry.flag, value); !applied.ok()) {
        return InvalidArgument("config " + path + ": " + entry.key + ": " +
                               applied.error().message);
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
  Config config;
  flags::FlagSet set(kUsage);
  Define(config, set);
  auto command_line = set.Split(args);
  if (!command_line.ok()) {
    return std::move(command_line).error();
  }
  for (const flags::FlagSet::Arg& arg : *command_line) {
    if (arg.name == "config") {
      if (Status applied = ApplyFile(arg.value, set); !applied.ok()) {
        return std::move(applied).error();
      }
    }
  }
  for (const std::string& flag : set.Names()) {
    const std::string name = EnvName(flag);
    const auto it = env.find(name);
    if (flag == "config" || it == env.end() || it->second.empty()) {
      continue;
    }
    if (Status applied = set.Set(flag, it->second); !applied.ok()) {
      return InvalidArgument("environment " + name + ": " + applied.error().message);
    }
  }
  for (const flags::FlagSet::Arg& arg : *command_line) {
    if (arg.name == "help") {
      return InvalidArgument("--help is answered by HelpText(), not parsed");
    }
    if (arg.name == "config") {
      continue;
    }
    if (Status applied = set.Set(arg.name, arg.value); !applied.ok()) {
      return std::move(applied).error();
    }
  }
  if (config.key_source == KeySource::kAuthority) {
    if (config.authority_url.empty()) {
      return InvalidArgument("--key-source=authority needs --authority-url: the keys come from "
                             "the authority");
    }
    if (!config.anthropic_key_file.empty() || !config.openai_key_file.empty()) {
      return InvalidArgument("--key-source=authority takes no --anthropic-key-file or "
                             "--openai-key-file: the keys come from the authority");
    }
  }
  return config;
}

std::string HelpText() {
  Config defaults;
  flags::FlagSet set(kUsage);
  Define(defaults, set);
  return set.Help([](const std::string& flag) -> std::string {
    for (const FileKey& entry : kFileKeys) {
      if (flag == entry.flag) {
        return "[" + std::string(entry.key) + "] $" + EnvName(flag);
      }
    }
    return "FILE";
  });
}

}  // namespace agentbudget::meter
