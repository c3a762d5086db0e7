#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "kube/client.h"
#include "kube/informer.h"

namespace agentbudget::e2e {

// Watches the Jobs of one namespace and keeps, from every change in the order the API
// server made them, what the admission queue must guarantee: how many Jobs were admitted
// (unsuspended) and unfinished at once at most, how often each Job was admitted, the order
// of admissions and which Jobs completed. Independent of the operator's own reading of
// Jobs. Thread-safe.
class JobObserver {
 public:
  // `client` must outlive the observer. Returns once the first list is in.
  JobObserver(kube::Client& client, const std::string& ns);
  ~JobObserver();

  int max_running() const;
  int running() const;
  // Admissions (suspend true → false) per Job name.
  std::map<std::string, int> admissions() const;
  // Job names in the order they were admitted (repeats when admitted again).
  std::vector<std::string> admission_order() const;
  size_t completed() const;
  // Whether Job `name` was ever suspended after its first admission.
  bool resuspended(const std::string& name) const;

  // Polls `condition` every 100 ms until it holds or `timeout` passes.
  static bool WaitFor(const std::function<bool()>& condition, std::chrono::seconds timeout);

 private:
  void Observe(const nlohmann::json& job);

  kube::Informer informer_;
  mutable Mutex mu_;
  std::map<std::string, bool> suspended_ GUARDED_BY(mu_);
  std::set<std::string> running_ GUARDED_BY(mu_);
  std::set<std::string> completed_ GUARDED_BY(mu_);
  std::set<std::string> resuspended_ GUARDED_BY(mu_);
  std::map<std::string, int> admissions_ GUARDED_BY(mu_);
  std::vector<std::string> order_ GUARDED_BY(mu_);
  int max_running_ GUARDED_BY(mu_) = 0;
};

}  // namespace agentbudget::e2e
