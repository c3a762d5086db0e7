#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/run_envelope.h"

namespace agentbudget::meter {

enum class FailureMode { kOpen, kClosed };

// Everything the meter is told at start-up. A value type.
struct Config {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8787;

  // Attribution, for records and logs (the authority derives its own from the pod token).
  std::string namespace_name;
  std::string workload;
  std::string run;

  // Budget authority; empty url: none, the envelope is enforced locally.
  std::string authority_url;
  std::string authority_token_file;  // projected ServiceAccount token, re-read per call
  std::string authority_ca_file;     // CA bundle for the authority's TLS; empty: system CAs
  FailureMode failure_mode = FailureMode::kOpen;
  std::chrono::milliseconds authority_timeout{2000};

  core::EnvelopeLimits envelope;

  std::string anthropic_upstream = "https://api.anthropic.com";
  std::string openai_upstream = "https://api.openai.com";
  std::string upstream_ca_file;  // extra CA bundle for upstream TLS; empty: system CAs only
  std::chrono::seconds upstream_timeout{600};

  // Key custody: the real provider keys, read from the meter's own mounted secret. Empty:
  // the client's own credentials are passed through.
  std::string anthropic_key_file;
  std::string openai_key_file;

  std::string rates_override_file;  // merged over the shipped rate card
  std::string spool_dir = "/var/run/agentbudget/spool";
  std::string records_file;  // JSON lines, one per metered call; empty: none
  int64_t max_request_bytes = 32 * 1024 * 1024;
  std::string log_level = "info";
};

// Builds a Config from defaults, then the YAML file given by --config (if any), then the
// other flags, later sources winning. Fails with kInvalidArgument naming the flag or key
// for an unknown flag, a missing value or a malformed number, amount or address.
// `--help` is not handled here: see HelpText().
Result<Config> ParseConfig(const std::vector<std::string>& args);

// The --help text: every flag, its config-file key and its default.
std::string HelpText();

}  // namespace agentbudget::meter
