#include "webhook/flags.h"

#include <charconv>
#include <functional>
#include <map>
#include <utility>

namespace agentbudget::webhook {
namespace {

struct FlagSpec {
  const char* name;
  const char* help;
  std::function<Status(Flags&, const std::string&)> set;
};

template <typename T>
Status ParseNumber(const std::string& flag, const std::string& text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument("--" + flag + ": \"" + text + "\" is not a valid number");
  }
  return OkStatus();
}

template <typename T>
std::function<Status(Flags&, const std::string&)> Number(const char* flag, T Flags::*field) {
  return [flag, field](Flags& f, const std::string& v) { return ParseNumber(flag, v, f.*field); };
}

std::function<Status(Flags&, const std::string&)> Text(std::string Flags::*field) {
  return [field](Flags& f, const std::string& v) {
    f.*field = v;
    return OkStatus();
  };
}

std::function<Status(Flags&, const std::string&)> MeterText(std::string MeterSettings::*field) {
  return [field](Flags& f, const std::string& v) {
    f.meter.*field = v;
    return OkStatus();
  };
}

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"listen-address", "address to serve on (default 0.0.0.0)", Text(&Flags::listen_address)},
      {"port", "HTTPS port (default 8443)", Number("port", &Flags::port)},
      {"tls-cert-file", "serving certificate chain (PEM), reloaded when it changes",
       Text(&Flags::tls_cert_file)},
      {"tls-key-file", "serving private key (PEM), reloaded when it changes",
       Text(&Flags::tls_key_file)},
      {"kubeconfig", "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)",
       Text(&Flags::kubeconfig)},
      {"max-body-bytes", "largest AdmissionReview accepted (default 3145728)",
       Number("max-body-bytes", &Flags::max_body_bytes)},
      {"worker-threads",
       "threads that judge requests; fan-out claims block one on the API server (default 48)",
       Number("worker-threads", &Flags::worker_threads)},
      {"fanout-deadline-ms",
       "budget of a fan-out claim from the request's receipt, under the webhook timeout "
       "(default 2000)",
       Number("fanout-deadline-ms", &Flags::fanout_deadline_ms)},
      {"fanout-grace-ms",
       "after this long, a fan-out slot whose object was never stored is released "
       "(default 5000)",
       Number("fanout-grace-ms", &Flags::fanout_grace_ms)},
      {"kube-qps", "client-side rate limit towards the API server (default 500)",
       Number("kube-qps", &Flags::kube_qps)},
      {"kube-burst", "client-side burst towards the API server (default 1000)",
       Number("kube-burst", &Flags::kube_burst)},
      {"sync-timeout-seconds", "give up starting when caches do not sync in time (default 60)",
       Number("sync-timeout-seconds", &Flags::sync_timeout_seconds)},
      {"log-level", "debug | info | warn | error (default info)", Text(&Flags::log_level)},
      {"meter-image", "meter sidecar image", MeterText(&MeterSettings::image)},
      {"meter-image-pull-policy", "meter image pull policy (default IfNotPresent)",
       MeterText(&MeterSettings::image_pull_policy)},
      {"authority-url", "budget authority URL given to meters (AGENTBUDGET_AUTHORITY_URL)",
       MeterText(&MeterSettings::authority_url)},
      {"meter-cpu-request", "meter CPU request (default 50m)", MeterText(&MeterSettings::cpu_request)},
      {"meter-memory-request", "meter memory request (default 32Mi)",
       MeterText(&MeterSettings::memory_request)},
      {"meter-cpu-limit", "meter CPU limit (default 500m)", MeterText(&MeterSettings::cpu_limit)},
      {"meter-memory-limit", "meter memory limit (default 128Mi)",
       MeterText(&MeterSettings::memory_limit)},
  };
  return specs;
}

}  // namespace

Result<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      flags.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return InvalidArgument("unexpected argument \"" + arg + "\" (see --help)");
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : Specs()) {
      if (name == s.name) {
        spec = &s;
      }
    }
    if (spec == nullptr) {
      return InvalidArgument("unknown flag --" + name + " (see --help)");
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return InvalidArgument("--" + name + " needs a value");
      }
      value = args[++i];
    }
    if (Status s = spec->set(flags, value); !s.ok()) {
      return std::move(s).error();
    }
  }
  if (flags.tls_cert_file.empty() != flags.tls_key_file.empty()) {
    return InvalidArgument("--tls-cert-file and --tls-key-file go together");
  }
  if (flags.worker_threads == 0 || flags.max_body_bytes == 0) {
    return InvalidArgument("--worker-threads and --max-body-bytes must be positive");
  }
  if (flags.fanout_deadline_ms <= 0 || flags.fanout_grace_ms <= flags.fanout_deadline_ms) {
    return InvalidArgument(
        "--fanout-deadline-ms must be positive and --fanout-grace-ms longer than it (a slot "
        "must not be released while its creation may still be stored)");
  }
  return flags;
}

std::string FlagsHelp() {
  std::string text =
      "Usage: agentbudget-webhook [--flag VALUE]...\n\n"
      "Mutating and validating admission webhook for agentbudget (admission.k8s.io/v1).\n"
      "Serves POST /mutate, POST /validate, GET /healthz, /readyz, /metrics.\n\nFlags:\n";
  for (const FlagSpec& s : Specs()) {
    text += "  --" + std::string(s.name) + "\n      " + s.help + "\n";
  }
  text += "  --help\n      this text\n";
  return text;
}

}  // namespace agentbudget::webhook
