// A leader-election participant for the hand-over e2e test: campaigns for a Lease and
// prints one line per transition ("LEADING <identity>", "LOST <identity>") on stdout.
// Exits 0 on SIGTERM (releasing the lease) and 3 when leadership is lost, as a controller
// must stop acting the moment it is no longer the leader.
//
//   kube_lease_participant KUBECONFIG NAMESPACE LEASE IDENTITY LEASE_MS RENEW_MS RETRY_MS
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/leader_election.h"

namespace {

agentbudget::kube::LeaderElector* g_elector = nullptr;

void Say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace agentbudget;
  if (argc != 8) {
    std::fprintf(stderr,
                 "usage: %s KUBECONFIG NAMESPACE LEASE IDENTITY LEASE_MS RENEW_MS RETRY_MS\n",
                 argv[0]);
    return 2;
  }
  Result<kube::RestConfig> config = kube::LoadKubeconfig(argv[1]);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.error().ToString().c_str());
    return 2;
  }
  kube::ClientOptions options;
  options.request_timeout = std::chrono::seconds(2);
  options.max_retries = 0;
  Result<std::unique_ptr<kube::Client>> client = kube::Client::Create(*config, options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.error().ToString().c_str());
    return 2;
  }
  kube::LeaderElectionConfig election;
  election.lease_namespace = argv[2];
  election.lease_name = argv[3];
  election.identity = argv[4];
  election.lease_duration = std::chrono::milliseconds(std::atoll(argv[5]));
  election.renew_deadline = std::chrono::milliseconds(std::atoll(argv[6]));
  election.retry_period = std::chrono::milliseconds(std::atoll(argv[7]));
  std::string identity = election.identity;
  kube::LeaderElector elector(**client, election,
                              {[&] { Say("LEADING " + identity); },
                               [&] { Say("LOST " + identity); }, nullptr});
  g_elector = &elector;
  // A signal handler may only set flags: a thread waits for SIGTERM and stops the elector.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    g_elector->Stop();
  });
  waiter.detach();
  Status result = elector.Run();
  if (!result.ok()) {
    std::fprintf(stderr, "%s\n", result.error().ToString().c_str());
    return result.error().code == ErrorCode::kInvalidArgument ? 2 : 3;
  }
  return 0;
}
