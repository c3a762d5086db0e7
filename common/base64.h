#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

// Standard base64 (RFC 4648 §4: the "+/" alphabet, with "=" padding), as Kubernetes uses
// it for Secret data, kubeconfig *-data fields, caBundles and AdmissionReview patches.
// Stateless and thread-safe.
namespace agentbudget::base64 {

// The padded encoding of `data`: 4 * ceil(size / 3) characters, no line breaks.
std::string Encode(std::string_view data);

// The bytes `text` encodes. Strict: the length must be a multiple of 4, only the alphabet
// may appear, and "=" only as the last one or two characters. Fails with kInvalidArgument
// naming the first problem (no whitespace or line breaks are skipped).
Result<std::string> Decode(std::string_view text);

}  // namespace agentbudget::base64
