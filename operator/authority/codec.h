#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "operator/authority/ledger.h"

namespace agentbudget::authority {

// Decoders for the authority's request bodies (docs/authority-protocol.md). The input is
// untrusted: each fails with kInvalidArgument naming the field, never throws, and sets
// `request_hash` to a fingerprint of the canonical body so a reused idempotency key with a
// different body is detected however the JSON was spelled.
Result<ReserveRequest> DecodeReserve(std::string_view body);
Result<CommitRequest> DecodeCommit(std::string_view body);
Result<ReleaseRequest> DecodeRelease(std::string_view body);
// Refuses an event kind that starts with kOutcomeReport: run outcomes are the operator's.
Result<EventRequest> DecodeEvent(std::string_view body);
// The same from a body already parsed (a request of a batch), with the same hash.
Result<ReserveRequest> DecodeReserveObject(const nlohmann::json& body);
Result<CommitRequest> DecodeCommitObject(const nlohmann::json& body);
Result<EventRequest> DecodeEventObject(const nlohmann::json& body);

}  // namespace agentbudget::authority
