#pragma once

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "common/mutex.h"
#include "meter/authority_client.h"
#include "meter/enforcer.h"

namespace agentbudget::meter::testing {

// An AuthorityClient whose answers the test scripts; Reserve answers inline. Thread-safe.
class FakeAuthority : public AuthorityClient {
 public:
  void Reserve(const ReserveRequest& request, ReserveDone done) override {
    Result<Reservation> answer = [&]() -> Result<Reservation> {
      MutexLock lock(mu);
      reserves.push_back(request);
      if (reserve_error) {
        return *reserve_error;
      }
      if (numbered) {
        Reservation numbered_one = reservation;
        numbered_one.id += "-" + std::to_string(reserves.size());
        return numbered_one;
      }
      return reservation;
    }();
    done(std::move(answer));
  }
  // Each request as Reserve answers it, unless `reserve_batch_error` fails the whole call.
  void ReserveBatch(std::vector<ReserveRequest> requests, ReserveBatchDone done) override {
    std::optional<Error> failed;
    {
      MutexLock lock(mu);
      ++reserve_batches;
      largest_reserve_batch = std::max(largest_reserve_batch, requests.size());
      if (reserve_batch_error) {
        failed = reserve_batch_error;
        reserves.insert(reserves.end(), requests.begin(), requests.end());
      }
    }
    if (failed) {
      done(*std::move(failed));
      return;
    }
    std::vector<Result<Reservation>> answers;
    for (const ReserveRequest& request : requests) {
      Reserve(request, [&answers](Result<Reservation> one) { answers.push_back(std::move(one)); });
    }
    done(std::move(answers));
  }
  Status Commit(const CommitRequest& request) override {
    std::this_thread::sleep_for(CommitDelay());
    MutexLock lock(mu);
    ++commit_attempts;
    if (commit_error) {
      return *commit_error;
    }
    commits.push_back(request);
    return OkStatus();
  }
  Status Release(const std::string& id, const std::string&) override {
    MutexLock lock(mu);
    releases.push_back(id);
    return OkStatus();
  }
  Status RecordEvent(const EventRequest& request) override {
    MutexLock lock(mu);
    if (event_error) {
      return *event_error;
    }
    events.push_back(request);
    return OkStatus();
  }
  // Each write as Commit or RecordEvent answers it, unless `batch_error` fails the whole call.
  Result<std::vector<Status>> CommitBatch(const std::vector<Write>& writes) override {
    {
      MutexLock lock(mu);
      ++batches;
      largest_batch = std::max(largest_batch, writes.size());
      if (batch_error) {
        return *batch_error;
      }
    }
    std::vector<Status> answers;
    for (const Write& write : writes) {
      const auto* commit = std::get_if<CommitRequest>(&write);
      answers.push_back(commit != nullptr ? Commit(*commit)
                                          : RecordEvent(std::get<EventRequest>(write)));
    }
    return answers;
  }
  Result<ProviderCredentials> FetchCredentials() override {
    MutexLock lock(mu);
    ++credential_fetches;
    if (credentials_error) {
      return *credentials_error;
    }
    return credentials;
  }
  // Set before the enforcer is built, but under `mu` all the same.
  void SetReservation(Reservation answer) EXCLUDES(mu) {
    MutexLock lock(mu);
    reservation = std::move(answer);
  }
  // Makes the calls of one kind fail: `calls` is &FakeAuthority::reserve_error,
  // reserve_batch_error, commit_error, event_error, batch_error or credentials_error.
  void Fail(std::optional<Error> FakeAuthority::*calls, Error error) EXCLUDES(mu) {
    MutexLock lock(mu);
    this->*calls = std::move(error);
  }
  std::chrono::milliseconds CommitDelay() EXCLUDES(mu) {
    MutexLock lock(mu);
    return commit_delay;
  }
  size_t CommitCount() EXCLUDES(mu) {
    MutexLock lock(mu);
    return commits.size() + events.size();
  }

  // Tests read these under `mu` too: the enforcer's sender thread calls in.
  Mutex mu;
  Reservation reservation GUARDED_BY(mu){"r-1", Decision::kAllow, "claude-sonnet-4-5", ""};
  // Each reservation's id is `reservation`'s followed by "-<n>", n counting reserves from 1.
  bool numbered GUARDED_BY(mu) = false;
  std::optional<Error> reserve_error GUARDED_BY(mu);
  std::optional<Error> reserve_batch_error GUARDED_BY(mu);  // fails ReserveBatch as a whole
  int reserve_batches GUARDED_BY(mu) = 0;                    // ReserveBatch calls
  size_t largest_reserve_batch GUARDED_BY(mu) = 0;           // requests in the largest
  std::optional<Error> commit_error GUARDED_BY(mu);
  int commit_attempts GUARDED_BY(mu) = 0;  // answered or failed
  std::chrono::milliseconds commit_delay GUARDED_BY(mu){0};  // each commit takes this long
  std::optional<Error> event_error GUARDED_BY(mu);
  std::optional<Error> batch_error GUARDED_BY(mu);  // fails CommitBatch as a whole
  int batches GUARDED_BY(mu) = 0;                  // CommitBatch calls
  size_t largest_batch GUARDED_BY(mu) = 0;         // writes in the largest of them
  std::optional<Error> credentials_error GUARDED_BY(mu);
  ProviderCredentials credentials GUARDED_BY(mu);
  int credential_fetches GUARDED_BY(mu) = 0;
  std::vector<ReserveRequest> reserves GUARDED_BY(mu);
  std::vector<CommitRequest> commits GUARDED_BY(mu);
  std::vector<EventRequest> events GUARDED_BY(mu);
  std::vector<std::string> releases GUARDED_BY(mu);
};

// Enforcer::Admit's admission, waited for.
inline Admission AdmitNow(Enforcer& enforcer, std::string_view provider, const std::string& model,
                          uint64_t fingerprint, core::Money estimate_cost,
                          int64_t estimate_tokens) {
  std::promise<Admission> admitted;
  enforcer.Admit(provider, model, fingerprint, estimate_cost, estimate_tokens,
                 [&admitted](Admission admission) { admitted.set_value(std::move(admission)); });
  return admitted.get_future().get();
}

}  // namespace agentbudget::meter::testing
