#include "kube/store.h"

#include "kube/resource.h"

namespace agentbudget::kube {

using nlohmann::json;

IndexFunc NamespaceIndexFunc() {
  return [](const json& object) -> std::vector<std::string> {
    const json* metadata = object.contains("metadata") ? &object["metadata"] : nullptr;
    if (metadata != nullptr && metadata->is_object() && metadata->contains("namespace") &&
        (*metadata)["namespace"].is_string()) {
      return {(*metadata)["namespace"].get<std::string>()};
    }
    return {};
  };
}

IndexFunc LabelIndexFunc(std::string label_key) {
  return [label_key = std::move(label_key)](const json& object) -> std::vector<std::string> {
    const json* metadata = object.contains("metadata") ? &object["metadata"] : nullptr;
    if (metadata == nullptr || !metadata->is_object() || !metadata->contains("labels")) {
      return {};
    }
    const json& labels = (*metadata)["labels"];
    if (!labels.is_object() || !labels.contains(label_key) || !labels[label_key].is_string()) {
      return {};
    }
    return {labels[label_key].get<std::string>()};
  };
}

void Store::AddIndex(const std::string& name, IndexFunc function) {
  MutexLock lock(mu_);
  index_functions_[name] = std::move(function);
  indexes_[name];
}

json Store::Decode(const Entry& entry) const {
  // Only this store's codec wrote the entry, so a failure means memory corruption.
  Result<json> object = codec_.Decode(entry.encoded);
  return object.ok() ? std::move(object).value() : json();
}

void Store::Unindex(const std::string& key, const json& object) {
  for (const auto& [name, function] : index_functions_) {
    Index& index = indexes_[name];
    for (const std::string& value : function(object)) {
      auto it = index.find(value);
      if (it != index.end()) {
        it->second.erase(key);
        if (it->second.empty()) {
          index.erase(it);
        }
      }
    }
  }
}

void Store::Reindex(const std::string& key, const json& object) {
  for (const auto& [name, function] : index_functions_) {
    Index& index = indexes_[name];
    for (const std::string& value : function(object)) {
      index[value].insert(key);
    }
  }
}

std::optional<json> Store::Put(const json& object) {
  std::string key = ObjectKey(object);
  Entry entry;
  entry.resource_version = ResourceVersionOf(object);
  entry.encoded = codec_.Encode(object);
  MutexLock lock(mu_);
  std::optional<json> previous;
  auto it = objects_.find(key);
  if (it != objects_.end()) {
    previous = Decode(it->second);
    Unindex(key, *previous);
    encoded_bytes_ -= it->second.encoded.size();
    it->second = std::move(entry);
    encoded_bytes_ += it->second.encoded.size();
  } else {
    encoded_bytes_ += entry.encoded.size();
    objects_.emplace(key, std::move(entry));
  }
  Reindex(key, object);
  return previous;
}

std::optional<json> Store::Remove(const std::string& key) {
  MutexLock lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return std::nullopt;
  }
  json previous = Decode(it->second);
  Unindex(key, previous);
  encoded_bytes_ -= it->second.encoded.size();
  objects_.erase(it);
  return previous;
}

std::optional<json> Store::Get(const std::string& key) const {
  MutexLock lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return std::nullopt;
  }
  return Decode(it->second);
}

std::string Store::ResourceVersion(const std::string& key) const {
  MutexLock lock(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? "" : it->second.resource_version;
}

std::vector<json> Store::List() const {
  MutexLock lock(mu_);
  std::vector<json> out;
  out.reserve(objects_.size());
  for (const auto& [key, entry] : objects_) {
    out.push_back(Decode(entry));
  }
  return out;
}

std::vector<std::string> Store::Keys() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [key, entry] : objects_) {
    out.push_back(key);
  }
  return out;
}

std::vector<std::string> Store::KeysByIndex(const std::string& index,
                                            const std::string& value) const {
  MutexLock lock(mu_);
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) {
    return {};
  }
  auto it = idx->second.find(value);
  if (it == idx->second.end()) {
    return {};
  }
  return {it->second.begin(), it->second.end()};
}

std::vector<json> Store::ByIndex(const std::string& index, const std::string& value) const {
  MutexLock lock(mu_);
  std::vector<json> out;
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) {
    return out;
  }
  auto it = idx->second.find(value);
  if (it == idx->second.end()) {
    return out;
  }
  for (const std::string& key : it->second) {
    out.push_back(Decode(objects_.at(key)));
  }
  return out;
}

std::size_t Store::size() const {
  MutexLock lock(mu_);
  return objects_.size();
}

std::size_t Store::EncodedBytes() const {
  MutexLock lock(mu_);
  return encoded_bytes_;
}

}  // namespace agentbudget::kube
