// Leader election between two processes against a real API server: when the leader is
// killed, the other takes over within the lease duration (plus a retry period), and a
// leader that could not renew (frozen past its deadline) stops acting on its own.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "common/mutex.h"
#include "e2e/kube/kube_client.h"
#include "e2e/support/cluster_environment.h"

namespace agentbudget::kube {
namespace {

using agentbudget::e2e::ClusterEnvironment;
using std::chrono::milliseconds;

const auto* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment("kube-leader-e2e"));

constexpr milliseconds kLease{6000};
constexpr milliseconds kRenew{4000};
constexpr milliseconds kRetry{500};

// A kube_lease_participant child process whose stdout is collected by a reader thread.
class Participant {
 public:
  Participant(const std::string& kubeconfig, const std::string& ns, const std::string& identity) {
    int fds[2];
    if (::pipe(fds) != 0) {
      return;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::string lease = std::to_string(kLease.count());
      std::string renew = std::to_string(kRenew.count());
      std::string retry = std::to_string(kRetry.count());
      ::execl(LEASE_PARTICIPANT, LEASE_PARTICIPANT, kubeconfig.c_str(), ns.c_str(), "operator",
              identity.c_str(), lease.c_str(), renew.c_str(), retry.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      char buffer[256];
      ssize_t n;
      while ((n = ::read(fd, buffer, sizeof buffer)) > 0) {
        MutexLock lock(mu_);
        output_.append(buffer, static_cast<std::size_t>(n));
      }
      ::close(fd);
    });
  }
  ~Participant() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    if (reader_.joinable()) {
      reader_.join();
    }
  }
  bool started() const { return pid_ > 0; }
  bool Said(const std::string& text) const {
    MutexLock lock(mu_);
    return output_.find(text) != std::string::npos;
  }
  void Signal(int signal) const { ::kill(pid_, signal); }
  // Waits for the process to exit and returns its exit code (128 + signal when killed).
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // Returns the exit code if the process has exited, or -1.
  int Poll() {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) {
      return -1;
    }
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::thread reader_;
  mutable Mutex mu_;
  std::string output_ GUARDED_BY(mu_);
};

bool Eventually(const std::function<bool()>& condition, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return condition();
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

class LeaderHandoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = ClusterEnvironment::Cluster();
    ASSERT_NE(cluster_, nullptr);
    client_ = e2e::ClientFor(cluster_);
    ASSERT_NE(client_, nullptr);
    // One namespace (and so one Lease) per test.
    ns_ = "handover-" + std::to_string(++test_number_);
    ASSERT_TRUE(e2e::EnsureNamespace(*client_, ns_).ok());
  }
  static inline int test_number_ = 0;
  agentbudget::e2e::LocalCluster* cluster_ = nullptr;
  std::unique_ptr<Client> client_;
  std::string ns_;
};

TEST_F(LeaderHandoverTest, KilledLeaderIsReplacedWithinTheLeaseDuration) {
  Participant first(cluster_->kubeconfig(), ns_, "first");
  ASSERT_TRUE(first.started());
  ASSERT_TRUE(Eventually([&] { return first.Said("LEADING first"); }, milliseconds(30000)));
  Participant second(cluster_->kubeconfig(), ns_, "second");
  ASSERT_TRUE(second.started());
  // Give the second a few retry periods to see the held lease (and not take it).
  EXPECT_FALSE(Eventually([&] { return second.Said("LEADING"); }, 4 * kRetry));
  auto killed_at = std::chrono::steady_clock::now();
  first.Signal(SIGKILL);
  EXPECT_EQ(first.Wait(), 128 + SIGKILL);
  ASSERT_TRUE(Eventually([&] { return second.Said("LEADING second"); }, 3 * kLease));
  auto handover = std::chrono::steady_clock::now() - killed_at;
  std::printf("hand-over after kill: %lld ms (lease %lld ms)\n",
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(handover).count()),
              static_cast<long long>(kLease.count()));
  EXPECT_LE(handover, kLease + 2 * kRetry);
  second.Signal(SIGTERM);
  EXPECT_EQ(second.Wait(), 0);
  // Released on clean shutdown.
  auto lease = client_->Get(resources::kLeases, ns_, "operator");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "");
}

TEST_F(LeaderHandoverTest, LeaderThatMissedItsRenewDeadlineStopsActing) {
  Participant first(cluster_->kubeconfig(), ns_, "first");
  ASSERT_TRUE(Eventually([&] { return first.Said("LEADING first"); }, milliseconds(30000)));
  Participant second(cluster_->kubeconfig(), ns_, "second");
  // Freeze the leader past its lease: the second takes over meanwhile.
  first.Signal(SIGSTOP);
  ASSERT_TRUE(Eventually([&] { return second.Said("LEADING second"); }, 3 * kLease));
  first.Signal(SIGCONT);
  // On waking, the first finds it could not renew in time and exits at once.
  ASSERT_TRUE(Eventually([&] { return first.Poll() >= 0 || first.Said("LOST first"); },
                         kRenew + 2 * kRetry));
  EXPECT_TRUE(Eventually([&] { return first.Said("LOST first"); }, milliseconds(1000)));
  auto lease = client_->Get(resources::kLeases, ns_, "operator");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "second");
}

}  // namespace
}  // namespace agentbudget::kube
