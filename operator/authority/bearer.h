#pragma once

#include <string>

#include "common/http_server.h"

namespace agentbudget::authority {

// The token of `Authorization: Bearer <token>`, or "" when the header is absent or of
// another scheme.
std::string BearerToken(const http::Request& request);

}  // namespace agentbudget::authority
