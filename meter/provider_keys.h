#pragma once

#include <string>

#include "core/usage.h"

namespace agentbudget::meter {

// Where the real provider keys a meter sends upstream come from (docs/meter.md, "Key
// custody"). When the meter holds a provider's key, the agent's own credential headers
// (x-api-key, Authorization) are dropped and the key is sent in their place, so the agent
// never needs, and never sees, a real key. Keys are never logged. Implementations are
// thread-safe.
class ProviderKeys {
 public:
  virtual ~ProviderKeys() = default;
  // Whether the meter holds the key of `api`'s provider (custody), even if it has none to
  // send at the moment.
  virtual bool Holds(core::Api api) const = 0;
  // The key to send for `api`'s provider; "" when none is available.
  virtual std::string Key(core::Api api) = 0;
  // The provider answered 401 to a call sent with Key(api): the key may have been rotated.
  virtual void Rejected(core::Api api) = 0;
};

// Key source Secret: the keys are files of the meter's own Secret volume (--anthropic-key-file,
// --openai-key-file), re-read on every call so that a rotated Secret takes effect without a
// restart. A provider without a file is not held: the agent's credentials pass through.
class FileKeys final : public ProviderKeys {
 public:
  FileKeys(std::string anthropic_key_file, std::string openai_key_file)
      : anthropic_key_file_(std::move(anthropic_key_file)),
        openai_key_file_(std::move(openai_key_file)) {}

  bool Holds(core::Api api) const override { return !FileOf(api).empty(); }
  // The file's content without trailing whitespace; "" when it cannot be read.
  std::string Key(core::Api api) override;
  void Rejected(core::Api) override {}

 private:
  const std::string& FileOf(core::Api api) const;

  const std::string anthropic_key_file_;
  const std::string openai_key_file_;
};

}  // namespace agentbudget::meter
