// Feeds arbitrary bytes to the ledger's ConfigMap decoding as the gzipped entries a
// listing returns: gunzip must stop at its bound or fail, never crash or read out of
// bounds, and agree with reading the same object; what it accepts must decode as lines or
// fail naming one. Compressing the bytes and decompressing them must give them back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/base64.h"
#include "common/gzip.h"
#include "operator/authority/kube_ledger_objects.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace agentbudget;
  using namespace agentbudget::authority::kube_ledger;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  auto decompressed = gzip::Decompress(bytes, kMaxLinesBytes);
  nlohmann::json item = {{"binaryData", {{kEntriesKey, base64::Encode(bytes)}}}};
  auto taken = TakeLines(item);
  if (decompressed.ok() != taken.ok() || (taken.ok() && *taken != *decompressed)) {
    std::abort();
  }
  if (taken.ok()) {
    if (taken->size() > kMaxLinesBytes) {
      std::abort();
    }
    std::vector<authority::LedgerEntry> entries;
    (void)DecodeLines(*taken, entries);
  }

  auto round_trip = gzip::Decompress(gzip::Compress(bytes), size);
  if (!round_trip.ok() || *round_trip != bytes) {
    std::abort();
  }
  return 0;
}
