#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <optional>
#include <utility>

namespace agentbudget::authority {

// A map of at most `capacity` entries, each forgotten `ttl` after it was put; when full,
// the least recently used entry goes first. For caching answers of the API server (token
// reviews, access reviews) by keys callers choose: the capacity bounds the memory any
// number of distinct keys can take. Times are passed in. Not thread-safe: the owner locks.
template <typename Key, typename Value>
class TtlCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // REQUIRES: capacity > 0.
  TtlCache(std::chrono::steady_clock::duration ttl, size_t capacity)
      : ttl_(ttl), capacity_(capacity) {}

  // The value put under `key` less than `ttl` before `now`, which becomes the most recently
  // used; nullopt otherwise.
  std::optional<Value> Get(const Key& key, TimePoint now) {
    auto found = entries_.find(key);
    if (found == entries_.end()) {
      return std::nullopt;
    }
    if (found->second.expires <= now) {
      recency_.erase(found->second.recency);
      entries_.erase(found);
      return std::nullopt;
    }
    recency_.splice(recency_.begin(), recency_, found->second.recency);
    return found->second.value;
  }

  // Puts `value` under `key` (replacing any), valid until `now` + ttl; evicts the least
  // recently used entries beyond the capacity.
  void Put(const Key& key, Value value, TimePoint now) {
    if (auto stale = entries_.find(key); stale != entries_.end()) {
      recency_.erase(stale->second.recency);
      entries_.erase(stale);
    }
    recency_.push_front(key);
    entries_.emplace(key, Entry{std::move(value), now + ttl_, recency_.begin()});
    while (entries_.size() > capacity_) {
      entries_.erase(recency_.back());
      recency_.pop_back();
    }
  }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Value value;
    TimePoint expires;
    typename std::list<Key>::iterator recency;
  };

  const std::chrono::steady_clock::duration ttl_;
  const size_t capacity_;
  std::map<Key, Entry> entries_;
  std::list<Key> recency_;  // most recent first
};

}  // namespace agentbudget::authority
