#include "webhook/rejection_reporter.h"

#include <limits>
#include <vector>

#include "api/v1alpha1/resources.h"
#include "common/log.h"

namespace agentbudget::webhook {

Result<nlohmann::json> RejectedRunsPatch(const nlohmann::json& workload, int64_t pending) {
  const std::string resource_version = kube::ResourceVersionOf(workload);
  if (resource_version.empty()) {
    return InvalidArgument("the AgentWorkload has no metadata.resourceVersion");
  }
  int64_t read = 0;
  const auto status = workload.find("status");
  if (status != workload.end() && status->is_object()) {
    const auto rejected = status->find("rejectedRuns");
    if (rejected != status->end() && !rejected->is_null()) {
      if (!rejected->is_number_integer() || rejected->get<int64_t>() < 0) {
        return InvalidArgument("status.rejectedRuns is not a non-negative integer: " +
                               rejected->dump());
      }
      read = rejected->get<int64_t>();
    }
  }
  if (read > std::numeric_limits<int64_t>::max() - pending) {
    return InvalidArgument("status.rejectedRuns would overflow");
  }
  return nlohmann::json{{"metadata", {{"resourceVersion", resource_version}}},
                        {"status", {{"rejectedRuns", read + pending}}}};
}

RejectionReporter::RejectionReporter(kube::Client& client, std::chrono::milliseconds interval)
    : client_(client), interval_(interval) {}

RejectionReporter::~RejectionReporter() { Stop(); }

void RejectionReporter::Count(const std::string& ns, const std::string& name) {
  MutexLock lock(mu_);
  AddPending({ns, name}, 1);
}

void RejectionReporter::AddPending(const WorkloadKey& workload, int64_t count) {
  auto it = pending_.find(workload);
  if (it != pending_.end()) {
    it->second += count;
  } else if (pending_.size() < kMaxPendingWorkloads) {
    pending_.emplace(workload, count);
  } else {
    dropped_ += count;
  }
}

size_t RejectionReporter::pending_workloads() const {
  MutexLock lock(mu_);
  return pending_.size();
}

int64_t RejectionReporter::dropped() const {
  MutexLock lock(mu_);
  return dropped_;
}

int64_t RejectionReporter::pending() const {
  MutexLock lock(mu_);
  int64_t total = 0;
  for (const auto& [workload, count] : pending_) {
    total += count;
  }
  return total;
}

void RejectionReporter::Start() {
  flusher_ = std::thread([this] { Loop(); });
}

void RejectionReporter::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  if (flusher_.joinable()) {
    flusher_.join();
  }
  if (size_t kept = Flush(); kept > 0) {
    log::Warn("rejectedRuns not written before stopping", {{"workloads", kept},
                                                           {"rejections", pending()}});
  }
}

void RejectionReporter::Loop() {
  while (true) {
    {
      MutexLock lock(mu_);
      if (wake_.WaitFor(mu_, interval_, [this]() REQUIRES(mu_) { return stopping_; })) {
        return;
      }
    }
    Flush();
  }
}

size_t RejectionReporter::Flush() {
  MutexLock flushing(flush_mu_);
  std::map<WorkloadKey, int64_t> taken;
  {
    MutexLock lock(mu_);
    taken.swap(pending_);
  }
  std::vector<std::pair<WorkloadKey, int64_t>> kept;
  for (const auto& [workload, count] : taken) {
    if (Write(workload, count) == Outcome::kKept) {
      kept.emplace_back(workload, count);
    }
  }
  MutexLock lock(mu_);
  for (const auto& [workload, count] : kept) {
    AddPending(workload, count);
  }
  if (dropped_ > dropped_logged_) {
    log::Warn("rejections dropped: too many workloads had counts pending",
              {{"dropped", dropped_ - dropped_logged_},
               {"max_pending_workloads", kMaxPendingWorkloads}});
    dropped_logged_ = dropped_;
  }
  return pending_.size();
}

RejectionReporter::Outcome RejectionReporter::Write(const WorkloadKey& workload,
                                                    int64_t count) {
  const auto& [ns, name] = workload;
  const nlohmann::json fields = {{"namespace", ns}, {"workload", name}, {"rejections", count}};
  auto with_error = [&fields](const Error& error) {
    nlohmann::json out = fields;
    out["error"] = error.ToString();
    return out;
  };
  for (int attempt = 0; attempt <= kConflictRetries; ++attempt) {
    auto read = client_.Get(v1alpha1::kAgentWorkloads, ns, name);
    if (!read.ok() && read.error().code == ErrorCode::kNotFound) {
      log::Info("AgentWorkload gone: its rejections are dropped", fields);
      return Outcome::kGone;
    }
    if (!read.ok()) {
      log::Warn("cannot read the AgentWorkload: rejections kept for the next flush",
                with_error(read.error()));
      return Outcome::kKept;
    }
    auto patch = RejectedRunsPatch(*read, count);
    if (!patch.ok()) {
      log::Warn("cannot count rejections on the AgentWorkload: kept for the next flush",
                with_error(patch.error()));
      return Outcome::kKept;
    }
    kube::PatchOptions options;
    options.subresource = "status";
    auto written = client_.Patch(v1alpha1::kAgentWorkloads, ns, name, kube::PatchType::kMerge, *patch,
                                 options);
    if (written.ok()) {
      return Outcome::kWritten;
    }
    if (written.error().code == ErrorCode::kNotFound) {
      log::Info("AgentWorkload gone: its rejections are dropped", fields);
      return Outcome::kGone;
    }
    if (written.error().code != ErrorCode::kConflict) {
      log::Warn("cannot write status.rejectedRuns: rejections kept for the next flush",
                with_error(written.error()));
      return Outcome::kKept;
    }
  }
  log::Warn("status.rejectedRuns stayed contended: rejections kept for the next flush",
            fields);
  return Outcome::kKept;
}

}  // namespace agentbudget::webhook
