#include "operator/authority/ledger_entry.h"

#include <algorithm>

#include "core/money.h"
#include "core/run_envelope.h"

namespace agentbudget::authority {

TokenCounts& TokenCounts::operator+=(const TokenCounts& other) {
  input = core::SaturatingAdd(input, other.input);
  cache_read = core::SaturatingAdd(cache_read, other.cache_read);
  cache_write_5m = core::SaturatingAdd(cache_write_5m, other.cache_write_5m);
  cache_write_1h = core::SaturatingAdd(cache_write_1h, other.cache_write_1h);
  output = core::SaturatingAdd(output, other.output);
  return *this;
}

uint64_t KeyDigestOf(const std::string& run, LedgerEntry::Kind kind, const std::string& key) {
  return core::Fingerprint(run + '\x1f' + (kind == LedgerEntry::Kind::kCommit ? "c" : "e") +
                           '\x1f' + key);
}

bool FirstCopies::Counts(const LedgerEntry& entry) {
  if (entry.folded > 0) {
    for (const KeyDigest& digest : entry.digests) {
      seen_.insert(digest.key);
    }
    return true;
  }
  return seen_.insert(KeyDigestOf(entry.run, entry.kind, entry.idempotency_key)).second;
}

nlohmann::json LedgerEntry::Response() const {
  nlohmann::json response = {{"id", id}, {"committed", true}};
  if (kind == Kind::kCommit) {
    response["cost"] = core::Money::FromMicros(cost_micros).ToString();
    if (late) {
      response["late"] = true;
    }
  }
  return response;
}

nlohmann::json LedgerEntry::Response(const KeyDigest& digest) const {
  LedgerEntry single = *this;
  single.id = digest.id;
  single.cost_micros = digest.cost_micros;
  return single.Response();
}

nlohmann::json LedgerEntry::ToJson() const {
  nlohmann::json charges_json = nlohmann::json::array();
  for (const Charge& charge : charges) {
    charges_json.push_back(charge.key.empty() ? nlohmann::json::array({charge.budget})
                                              : nlohmann::json::array({charge.budget, charge.key}));
  }
  nlohmann::json value = {
      {"k", kind == Kind::kCommit ? "c" : "e"},
      {"id", id},
      {"run", run},
      {"key", idempotency_key},
      {"h", request_hash},
      {"ns", namespace_name},
      {"attr", attribution},
      {"model", model},
      {"cost", cost_micros},
      {"tok", tokens},
      {"at", at.time_since_epoch().count()},
      {"ch", std::move(charges_json)},
  };
  if (late) {
    value["late"] = true;
  }
  if (!token_types.empty()) {
    value["tt"] = {token_types.input, token_types.cache_read, token_types.cache_write_5m,
                   token_types.cache_write_1h, token_types.output};
  }
  if (folded > 0) {
    value["n"] = folded;
  }
  if (!digests.empty()) {
    nlohmann::json digests_json = nlohmann::json::array();
    for (const KeyDigest& digest : digests) {
      digests_json.push_back({digest.key, digest.request_hash, digest.id, digest.cost_micros});
    }
    value["d"] = std::move(digests_json);
  }
  return value;
}

Result<LedgerEntry> LedgerEntry::FromJson(const nlohmann::json& value) {
  auto bad = [](const char* field) {
    return InvalidArgument(std::string("ledger entry: bad or missing field ") + field);
  };
  if (!value.is_object()) {
    return InvalidArgument("ledger entry: must be an object");
  }
  LedgerEntry entry;
  auto string_field = [&](const char* name, std::string* out) {
    auto found = value.find(name);
    if (found == value.end() || !found->is_string()) {
      return false;
    }
    *out = found->get<std::string>();
    return true;
  };
  std::string kind;
  if (!string_field("k", &kind) || (kind != "c" && kind != "e")) {
    return bad("k");
  }
  entry.kind = kind == "c" ? Kind::kCommit : Kind::kEvent;
  if (!string_field("id", &entry.id)) {
    return bad("id");
  }
  if (!string_field("run", &entry.run)) {
    return bad("run");
  }
  if (!string_field("key", &entry.idempotency_key)) {
    return bad("key");
  }
  if (!string_field("ns", &entry.namespace_name)) {
    return bad("ns");
  }
  if (!string_field("model", &entry.model)) {
    return bad("model");
  }
  if (!value.contains("h") || !value["h"].is_number_unsigned()) {
    return bad("h");
  }
  entry.request_hash = value["h"].get<uint64_t>();
  for (const char* name : {"cost", "tok", "at"}) {
    if (!value.contains(name) || !value[name].is_number_integer()) {
      return bad(name);
    }
  }
  entry.cost_micros = value["cost"].get<int64_t>();
  entry.tokens = value["tok"].get<int64_t>();
  entry.at = core::SysSeconds{std::chrono::seconds{value["at"].get<int64_t>()}};
  if (!value.value("late", nlohmann::json(false)).is_boolean()) {
    return bad("late");
  }
  entry.late = value.value("late", false);
  if (value.contains("n")) {
    if (!value["n"].is_number_integer() || value["n"].get<int64_t>() < 1) {
      return bad("n");
    }
    entry.folded = value["n"].get<int64_t>();
  }
  if (value.contains("tt")) {
    const auto& types = value["tt"];
    if (!types.is_array() || types.size() != 5 ||
        !std::all_of(types.begin(), types.end(), [](const nlohmann::json& count) {
          return count.is_number_integer() && count.get<int64_t>() >= 0;
        })) {
      return bad("tt");
    }
    entry.token_types = {types[0].get<int64_t>(), types[1].get<int64_t>(),
                         types[2].get<int64_t>(), types[3].get<int64_t>(),
                         types[4].get<int64_t>()};
  }
  if (value.contains("d")) {
    const auto& digests = value["d"];
    if (entry.folded == 0 || !digests.is_array()) {
      return bad("d");
    }
    for (const auto& digest : digests) {
      if (!digest.is_array() || digest.size() != 4 || !digest[0].is_number_unsigned() ||
          !digest[1].is_number_unsigned() || !digest[2].is_string() ||
          !digest[3].is_number_integer()) {
        return bad("d");
      }
      entry.digests.push_back({digest[0].get<uint64_t>(), digest[1].get<uint64_t>(),
                               digest[2].get<std::string>(), digest[3].get<int64_t>()});
    }
  }
  const auto& attribution = value.contains("attr") ? value["attr"] : nlohmann::json();
  if (!attribution.is_object()) {
    return bad("attr");
  }
  for (const auto& [key, label] : attribution.items()) {
    if (!label.is_string()) {
      return bad("attr");
    }
    entry.attribution[key] = label.get<std::string>();
  }
  const auto& charges = value.contains("ch") ? value["ch"] : nlohmann::json();
  if (!charges.is_array()) {
    return bad("ch");
  }
  for (const auto& charge : charges) {
    if (!charge.is_array() || charge.empty() || charge.size() > 2 || !charge[0].is_string() ||
        (charge.size() == 2 && !charge[1].is_string())) {
      return bad("ch");
    }
    entry.charges.push_back(
        {charge[0].get<std::string>(), charge.size() == 2 ? charge[1].get<std::string>() : ""});
  }
  return entry;
}

}  // namespace agentbudget::authority
