#include "webhook/flags.h"

#include <string_view>
#include <utility>

#include "common/flags.h"

namespace agentbudget::webhook {
namespace {

constexpr char kUsage[] =
    "Usage: agentbudget-webhook [--flag=value]...\n\n"
    "Mutating and validating admission webhook for agentbudget (admission.k8s.io/v1).\n"
    "Serves POST /mutate, POST /validate, GET /healthz, /readyz, /metrics.\n";

// Binds an identity list flag; `required`: the list must name someone.
void Identities(flags::FlagSet& set, const char* name, IdentityList* out, bool required,
                std::string help) {
  set.Custom(name, out->ToString().empty() ? "none" : out->ToString(), std::move(help),
             [out, required](std::string_view value) -> Status {
               auto list = IdentityList::Parse(value);
               if (!list.ok()) {
                 return std::move(list).error();
               }
               if (required && list->empty()) {
                 return InvalidArgument("must name at least one user or group:NAME");
               }
               *out = std::move(list).value();
               return OkStatus();
             });
}

void Define(Flags& flags, flags::FlagSet& set) {
  set.String("listen-address", &flags.listen_address, "address to serve on");
  set.Port("port", &flags.port, flags::PortRule::kAllowZero, "HTTPS port (0: any free port)");
  set.String("tls-cert-file", &flags.tls_cert_file,
             "serving certificate chain (PEM), reloaded when it changes");
  set.String("tls-key-file", &flags.tls_key_file,
             "serving private key (PEM), reloaded when it changes");
  set.String("kubeconfig", &flags.kubeconfig,
             "kubeconfig file; empty: $KUBECONFIG, in-cluster, ~/.kube/config");
  set.Int("max-body-bytes", &flags.max_body_bytes, 1, "largest AdmissionReview accepted");
  set.Int("worker-threads", &flags.worker_threads, 1,
          "threads that judge requests; fan-out claims block one on the API server");
  set.Duration("fanout-deadline-ms", &flags.fanout_deadline,
               "budget of a fan-out claim from the request's receipt, under the webhook "
               "timeout, in ms");
  set.Duration("fanout-grace-ms", &flags.fanout_grace,
               "after this long, a fan-out slot whose object was never stored is released, "
               "in ms");
  set.Int("kube-qps", &flags.kube_qps, 1, "client-side rate limit towards the API server");
  set.Int("kube-burst", &flags.kube_burst, 1, "client-side burst towards the API server");
  set.Duration("sync-timeout-seconds", &flags.sync_timeout,
               "give up starting when caches do not sync in time, in seconds");
  set.LogLevel("log-level", &flags.log_level, "debug, info, warn or error");
  MeterSettings& meter = flags.meter;
  set.String("meter-image", &meter.image, "meter sidecar image");
  set.String("meter-image-pull-policy", &meter.image_pull_policy, "meter image pull policy");
  set.String("authority-url", &meter.authority_url,
             "budget authority URL given to meters (AGENTBUDGET_AUTHORITY_URL)");
  set.String("meter-cpu-request", &meter.cpu_request, "meter CPU request");
  set.String("meter-memory-request", &meter.memory_request, "meter memory request");
  set.String("meter-cpu-limit", &meter.cpu_limit, "meter CPU limit");
  set.String("meter-memory-limit", &meter.memory_limit, "meter memory limit");
  set.String("authority-ca-file", &flags.authority_ca_file,
             "PEM certificates meters trust for the budget authority, injected as "
             "AGENTBUDGET_AUTHORITY_CA; re-read when the file changes");
  AccessPolicy& access = flags.access;
  Identities(set, "operator-users", &access.operator_users, true,
             "users (and group:NAME) exempt from the UPDATE rules: the operator's identity, "
             "which unsuspends, ungates and annotates governed work");
  Identities(set, "job-controller-users", &access.job_controller_users, true,
             "identities that create Jobs' pods: only they may create a pod a Job controls, "
             "and such pods take user and parent run from the Job's pod template");
  Identities(set, "trusted-creators", &access.trusted_creators, false,
             "users (and group:NAME) whose agentbudget.io/user and agentbudget.io/parent-run "
             "labels are honoured at creation, e.g. the CI system's identity");
  set.Custom("allow-pod-features", access.allowed_features.ToString().empty()
                                       ? "none"
                                       : access.allowed_features.ToString(),
             "pod features governed pods may use, each a way around key custody: "
             "shareProcessNamespace, hostPID, hostNetwork, privileged",
             [&access](std::string_view value) -> Status {
               auto features = PodFeatures::Parse(value);
               if (!features.ok()) {
                 return std::move(features).error();
               }
               access.allowed_features = *features;
               return OkStatus();
             });
}

}  // namespace

AccessPolicy DefaultAccessPolicy() {
  AccessPolicy policy;
  policy.operator_users =
      IdentityList::Parse("system:serviceaccount:agentbudget-system:agentbudget-operator").value();
  policy.job_controller_users =
      IdentityList::Parse(
          "system:serviceaccount:kube-system:job-controller,system:kube-controller-manager")
          .value();
  return policy;
}

Result<Flags> ParseFlags(const std::vector<std::string>& args) {
  auto flags = flags::ParseInto(Flags{}, kUsage, args, Define);
  if (!flags.ok() || flags->help) {
    return flags;
  }
  if (flags->tls_cert_file.empty() != flags->tls_key_file.empty()) {
    return InvalidArgument("--tls-cert-file and --tls-key-file go together");
  }
  if (flags->fanout_grace <= flags->fanout_deadline) {
    return InvalidArgument(
        "--fanout-grace-ms must be longer than --fanout-deadline-ms (a slot must not be "
        "released while its creation may still be stored)");
  }
  return flags;
}

std::string FlagsHelp() {
  return flags::HelpOf(Flags{}, kUsage, Define);
}

}  // namespace agentbudget::webhook
