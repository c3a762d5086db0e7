#pragma once

#include <string_view>

#include "common/result.h"
#include "kube/transport.h"

namespace agentbudget::kube {

// Maps a non-2xx API server response to an Error, choosing the code by what the caller
// should do next. The message names the Kubernetes reason and the server's message; for
// `Invalid` it lists every cause ("spec.replicas: Invalid value: ..."). A body that is not a
// Kubernetes Status still maps by HTTP status.
//
//   404 NotFound                       -> kNotFound
//   409 AlreadyExists                  -> kAlreadyExists
//   409 Conflict (stale version)       -> kConflict            re-read, redo
//   410 Gone / Expired                 -> kGone                relist
//   400 BadRequest, 422 Invalid        -> kInvalidArgument     stop, report
//   401 Unauthorized                   -> kUnauthenticated
//   403 Forbidden                      -> kPermissionDenied
//   429 TooManyRequests                -> kResourceExhausted   retry after `retry_after`
//   504, reason Timeout/ServerTimeout  -> kDeadlineExceeded
//   5xx                                -> kUnavailable         retry with backoff
//   anything else                      -> kInternal
Error ErrorFromResponse(const HttpResponse& response);

// The Kubernetes `reason` of a Status body ("NotFound", "Invalid", ...), or "" if the body
// is not a Status.
std::string StatusReason(std::string_view body);

}  // namespace agentbudget::kube
