#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "core/request_ceiling.h"
#include "core/run_envelope.h"

namespace agentbudget::meter {

enum class FailureMode { kOpen, kClosed };

// Where the real provider keys come from (meter/provider_keys.h): the key files of the
// meter's own Secret volume, or the budget authority.
enum class KeySource { kSecret, kAuthority };

// Everything the meter is told at start-up. A value type.
struct Config {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8787;
  // GET /healthz, /readyz and /metrics on a listener of their own (the kubelet's probes
  // cannot reach the loopback-only proxy). Empty host: no such listener.
  std::string health_listen_host;
  int health_listen_port = 0;

  // Attribution, for records and logs (the authority derives its own from the pod token).
  std::string namespace_name;
  std::string workload;
  std::string run;
  std::string pod_name;
  std::string parent_run;  // the run that started this one, when a subagent

  // models.allowed of the AgentWorkload: calls for other models are denied. The fallback
  // models (a degrade answer's targets) are allowed too. Both empty: any model.
  std::vector<std::string> models_allowed;
  std::vector<std::string> models_fallback;

  // Budget authority; empty url: none, the envelope is enforced locally.
  std::string authority_url;
  std::string authority_token_file;  // projected ServiceAccount token, re-read per call
  std::string authority_ca_file;     // CA bundle for the authority's TLS
  std::string authority_ca;          // the same as PEM text (AGENTBUDGET_AUTHORITY_CA)
  FailureMode failure_mode = FailureMode::kOpen;
  std::chrono::milliseconds authority_timeout{2000};
  // Hold reservations asked for ahead of a model's calls when they come in quick
  // succession (meter/reservations_ahead.h).
  bool reserve_ahead = true;

  core::EnvelopeLimits envelope;
  // The AgentWorkload's perRequest ceilings, applied to each call before it is forwarded.
  core::RequestLimits request;

  std::string anthropic_upstream = "https://api.anthropic.com";
  std::string openai_upstream = "https://api.openai.com";
  std::string upstream_ca_file;  // extra CA bundle for upstream TLS; empty: system CAs only
  std::chrono::seconds upstream_timeout{600};
  // Pooled upstream connections idle this long are closed, before the provider closes them.
  std::chrono::seconds upstream_idle_timeout{15};

  // Key custody. kSecret: the real provider keys are read from the meter's own mounted
  // Secret (an empty file name: the client's own credentials are passed through).
  // kAuthority: they are fetched from the authority (which then must be set, and no key
  // file may be).
  KeySource key_source = KeySource::kSecret;
  std::string anthropic_key_file;
  std::string openai_key_file;

  std::string rates_override_file;  // merged over the shipped rate card
  std::string spool_dir = "/var/run/agentbudget/spool";
  std::string records_file;  // JSON lines, one per metered call; empty: none
  int64_t max_request_bytes = 32 * 1024 * 1024;
  // The largest non-streaming answer relayed (it is read whole to find its usage): a larger
  // one is answered 502 and charged as estimated. Streams are relayed event by event.
  int64_t max_answer_bytes = 64 * 1024 * 1024;
  // The most a client may take to send its request body (slow clients are answered 408).
  std::chrono::seconds client_timeout{60};
  // On SIGTERM, how long the meter keeps resending spooled commits the authority has not
  // acknowledged: inside the pod's default termination grace period (30 s), with room for
  // the calls in flight to finish first.
  std::chrono::seconds shutdown_flush{20};
  std::string log_level = "info";
};

// Builds a Config from defaults, then the YAML file given by --config (if any), then the
// environment, then the other flags, later sources winning. `env` maps variable names to
// values; each flag --foo-bar is read from AGENTBUDGET_FOO_BAR (the names the webhook
// injects, docs/webhook.md); empty values and other variables are ignored. Values are read
// by common/flags.h. Fails with kInvalidArgument naming the flag, key or variable and the
// rule broken, for an unknown flag, a missing value or a malformed number, duration,
// amount, address or log level, and for --key-source=authority without --authority-url or
// with a key file. `--help` is not handled here: see HelpText().
Result<Config> ParseConfig(const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env = {});

// The environment variable a flag is read from: "max-cost" -> "AGENTBUDGET_MAX_COST".
std::string EnvName(std::string_view flag);

// The --help text: every flag, its config-file key and its default.
std::string HelpText();

}  // namespace agentbudget::meter
