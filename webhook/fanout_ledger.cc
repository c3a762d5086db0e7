#include "webhook/fanout_ledger.h"

#include <set>

#include "core/json_field.h"

namespace agentbudget::webhook {
namespace {

constexpr const char* kKind = "kind";
constexpr const char* kName = "name";
constexpr const char* kClaim = "claim";
constexpr const char* kClaimedUnixMs = "claimedUnixMs";
constexpr const char* kUid = "uid";

Result<std::string> Text(const nlohmann::json& slot, const char* key, bool required) {
  auto it = slot.find(key);
  if (it == slot.end()) {
    if (required) {
      return Internal(std::string("fan-out slot without \"") + key + "\"");
    }
    return std::string();
  }
  if (!it->is_string()) {
    return Internal(std::string("fan-out slot field \"") + key + "\" is not a string");
  }
  return it->get<std::string>();
}

}  // namespace

Result<std::vector<FanoutSlot>> ParseFanoutSlots(const nlohmann::json& config_map) {
  std::vector<FanoutSlot> slots;
  const nlohmann::json& text = core::Member(config_map, {"data", "slots"});
  if (text.is_null()) {
    return slots;
  }
  if (!text.is_string()) {
    return Internal("fan-out data.slots is not a string");
  }
  nlohmann::json parsed = nlohmann::json::parse(text.get<std::string>(), nullptr,
                                                /*allow_exceptions=*/false);
  if (!parsed.is_array()) {
    return Internal("fan-out data.slots is not a JSON array");
  }
  if (parsed.size() > static_cast<size_t>(kMaxFanoutSlots)) {
    return Internal("fan-out data.slots holds " + std::to_string(parsed.size()) +
                    " slots, more than the " + std::to_string(kMaxFanoutSlots) +
                    " a ledger ever holds");
  }
  for (const nlohmann::json& entry : parsed) {
    if (!entry.is_object()) {
      return Internal("fan-out slot is not a JSON object");
    }
    FanoutSlot slot;
    auto kind = Text(entry, kKind, true);
    auto name = Text(entry, kName, false);
    auto claim = Text(entry, kClaim, true);
    auto uid = Text(entry, kUid, false);
    for (const Result<std::string>* field : {&kind, &name, &claim, &uid}) {
      if (!field->ok()) {
        return field->error();
      }
    }
    auto claimed = entry.find(kClaimedUnixMs);
    if (claimed == entry.end() || !claimed->is_number_integer()) {
      return Internal("fan-out slot without an integer \"claimedUnixMs\"");
    }
    slot.kind = std::move(kind).value();
    slot.name = std::move(name).value();
    slot.claim_uid = std::move(claim).value();
    slot.object_uid = std::move(uid).value();
    slot.claimed_unix_ms = claimed->get<int64_t>();
    slots.push_back(std::move(slot));
  }
  return slots;
}

std::string EncodeFanoutSlots(const std::vector<FanoutSlot>& slots) {
  nlohmann::json out = nlohmann::json::array();
  for (const FanoutSlot& slot : slots) {
    nlohmann::json entry = {{kKind, slot.kind},
                            {kName, slot.name},
                            {kClaim, slot.claim_uid},
                            {kClaimedUnixMs, slot.claimed_unix_ms}};
    if (!slot.object_uid.empty()) {
      entry[kUid] = slot.object_uid;
    }
    out.push_back(std::move(entry));
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ReconcileOutcome ReconcileFanoutSlots(std::vector<FanoutSlot>& slots,
                                      const std::vector<StoredObject>& stored,
                                      int64_t now_unix_ms, std::chrono::milliseconds grace) {
  std::set<std::string> held;
  for (const FanoutSlot& slot : slots) {
    if (!slot.object_uid.empty()) {
      held.insert(slot.object_uid);
    }
  }
  ReconcileOutcome outcome;
  std::vector<FanoutSlot> kept;
  kept.reserve(slots.size());
  for (FanoutSlot& slot : slots) {
    if (slot.confirmed()) {
      kept.push_back(std::move(slot));
      continue;
    }
    for (const StoredObject& object : stored) {
      if (object.kind == slot.kind && object.name == slot.name && !object.uid.empty() &&
          held.insert(object.uid).second) {
        slot.object_uid = object.uid;
        ++outcome.confirmed;
        break;
      }
    }
    if (slot.confirmed()) {
      kept.push_back(std::move(slot));
    } else if (now_unix_ms - slot.claimed_unix_ms > grace.count()) {
      ++outcome.released;
    } else {
      ++outcome.unresolved;
      kept.push_back(std::move(slot));
    }
  }
  slots = std::move(kept);
  return outcome;
}

}  // namespace agentbudget::webhook
