#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "e2e/support/local_cluster.h"

namespace agentbudget::e2e {

// A GoogleTest environment that starts one LocalCluster before the first test of the
// binary and stops it after the last, so that the binary's tests share a cluster. If the
// cluster cannot start, SetUp fails with the reason and every test fails (never skips).
//
// Register once per binary, at namespace scope:
//   const auto* const kEnv = ::testing::AddGlobalTestEnvironment(
//       new agentbudget::e2e::ClusterEnvironment("my-area-e2e"));
// `prepare`, if given, runs once after the cluster is up (e.g. to apply CRDs); a failure
// there also fails every test.
class ClusterEnvironment : public ::testing::Environment {
 public:
  explicit ClusterEnvironment(std::string name,
                              std::function<Status(LocalCluster&)> prepare = nullptr)
      : name_(std::move(name)), prepare_(std::move(prepare)) {}

  void SetUp() override;
  void TearDown() override;

  // The running cluster. Fails the calling test (and returns nullptr) if it is not running.
  static LocalCluster* Cluster();

 private:
  const std::string name_;
  const std::function<Status(LocalCluster&)> prepare_;
};

// Applies crds/ to the cluster and waits until both CRDs are Established.
Status InstallCrds(LocalCluster& cluster);

}  // namespace agentbudget::e2e
