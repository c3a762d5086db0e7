#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

// gzip (RFC 1952) through zlib: what `gzip -1` writes and `gunzip` reads, so an object
// stored gzipped can be read back with standard tools. Stateless and thread-safe.
namespace agentbudget::gzip {

// `data` as one gzip member at zlib's fastest level (1): on the ledger's JSON lines it
// keeps about a tenth of the bytes.
std::string Compress(std::string_view data);

// The bytes of the one gzip member `compressed` holds. Fails with kInvalidArgument when it
// is not gzip, is truncated or corrupt (its CRC or length does not match), has bytes after
// the member, or would decompress to more than `max_bytes` (checked while inflating, so a
// small input that would expand without bound stops there).
Result<std::string> Decompress(std::string_view compressed, size_t max_bytes);

}  // namespace agentbudget::gzip
