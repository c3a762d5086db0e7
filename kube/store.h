#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "kube/object_codec.h"

namespace agentbudget::kube {

// Computes the values an object is indexed under (none, one or several).
using IndexFunc = std::function<std::vector<std::string>(const nlohmann::json& object)>;

inline constexpr char kNamespaceIndex[] = "namespace";

// Indexes by metadata.namespace.
IndexFunc NamespaceIndexFunc();
// Indexes by the value of label `label_key` (objects without it are not indexed).
IndexFunc LabelIndexFunc(std::string label_key);

// The informer's cache: objects by key ("ns/name") with secondary indexes. Objects are
// held compactly encoded (ObjectCodec: a fraction of their JSON size, and far less than a
// parsed nlohmann::json tree) and decoded on each read, so readers get their own copies
// and never see a later update. Thread-safe.
class Store {
 public:
  // REQUIRES: called before the first Put.
  void AddIndex(const std::string& name, IndexFunc function) EXCLUDES(mu_);

  // Stores `object` under ObjectKey(object) and returns the version it replaced, if any.
  // REQUIRES: ObjectKey(object) is not empty.
  std::optional<nlohmann::json> Put(const nlohmann::json& object) EXCLUDES(mu_);
  // Removes the object and returns the last version held, if any.
  std::optional<nlohmann::json> Remove(const std::string& key) EXCLUDES(mu_);

  std::optional<nlohmann::json> Get(const std::string& key) const EXCLUDES(mu_);
  // The stored version's metadata.resourceVersion; "" when absent.
  std::string ResourceVersion(const std::string& key) const EXCLUDES(mu_);
  std::vector<nlohmann::json> List() const EXCLUDES(mu_);
  std::vector<std::string> Keys() const EXCLUDES(mu_);
  // Objects whose index `index` holds `value`; empty when the index does not exist.
  std::vector<nlohmann::json> ByIndex(const std::string& index, const std::string& value) const
      EXCLUDES(mu_);
  std::vector<std::string> KeysByIndex(const std::string& index, const std::string& value) const
      EXCLUDES(mu_);
  std::size_t size() const EXCLUDES(mu_);
  // Bytes of the encoded objects alone (the benchmark compares it with process memory).
  std::size_t EncodedBytes() const EXCLUDES(mu_);

 private:
  struct Entry {
    std::string resource_version;
    std::string encoded;  // ObjectCodec
  };
  using Index = std::unordered_map<std::string, std::unordered_set<std::string>>;

  void Unindex(const std::string& key, const nlohmann::json& object) REQUIRES(mu_);
  void Reindex(const std::string& key, const nlohmann::json& object) REQUIRES(mu_);
  nlohmann::json Decode(const Entry& entry) const;

  ObjectCodec codec_;  // synchronises itself
  mutable Mutex mu_;
  std::unordered_map<std::string, Entry> objects_ GUARDED_BY(mu_);
  std::map<std::string, IndexFunc> index_functions_ GUARDED_BY(mu_);
  std::map<std::string, Index> indexes_ GUARDED_BY(mu_);
  std::size_t encoded_bytes_ GUARDED_BY(mu_) = 0;
};

}  // namespace agentbudget::kube
