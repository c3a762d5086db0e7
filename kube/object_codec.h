#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace agentbudget::kube {

// The informer cache's compact encoding of one object: MessagePack, then raw deflate with a
// preset dictionary. The dictionary is the MessagePack of the first object the codec
// encodes, so every later object of the same kind (whose keys, and most values, repeat)
// compresses to little more than its differences from that first one. Thread-safe: the
// dictionary is fixed by the first Encode and never changes.
class ObjectCodec {
 public:
  std::string Encode(const nlohmann::json& object);
  // Fails with kInternal on bytes this codec did not produce.
  Result<nlohmann::json> Decode(std::string_view encoded) const;

 private:
  std::once_flag dictionary_once_;
  std::string dictionary_;  // written once, under dictionary_once_
};

}  // namespace agentbudget::kube
