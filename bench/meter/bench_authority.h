#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "e2e/operator/operator_process.h"
#include "e2e/support/local_cluster.h"

namespace agentbudget::bench {

// The budget authority as production runs it, for meter_bench: a local control plane
// (e2e/cluster), the operator with its ledger on that API server, serving TLS with the
// certificate it issues from its CA, and a pod's bound ServiceAccount token for the meter.
// The run's budget is far above what the benchmark spends. Stops everything when destroyed.
class BenchAuthority {
 public:
  // Starts cluster `cluster_name` and the operator at `operator_binary`; writes the CA
  // bundle and the token into `dir`. Fails naming the step that failed.
  static Result<std::unique_ptr<BenchAuthority>> Start(const std::string& cluster_name,
                                                       const std::string& operator_binary,
                                                       const std::string& dir);

  const std::string& url() const { return url_; }
  // The operator's metrics listener (GET /metrics), plain HTTP on 127.0.0.1; its counters
  // are refreshed every 5 s (the operator's --status-ms).
  int ops_port() const { return ops_port_; }
  const std::string& ca_file() const { return ca_file_; }
  const std::string& token_file() const { return token_file_; }
  // The run the token's pod belongs to (its agentbudget.io/run label).
  std::string run() const { return "run-bench"; }

 private:
  BenchAuthority() = default;
  std::unique_ptr<e2e::LocalCluster> cluster_;
  std::unique_ptr<e2e::OperatorProcess> operator_;
  std::string url_;
  int ops_port_ = 0;
  std::string ca_file_;
  std::string token_file_;
};

}  // namespace agentbudget::bench
