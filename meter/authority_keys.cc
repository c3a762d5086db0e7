#include "meter/authority_keys.h"

#include "common/log.h"

namespace agentbudget::meter {

AuthorityKeys::AuthorityKeys(AuthorityClient& authority, const Clock& clock, Options options)
    : authority_(authority), clock_(clock), options_(options) {}

Status AuthorityKeys::Fetch() {
  {
    MutexLock lock(mu_);
    last_fetch_ = clock_.Monotonic();
  }
  auto fetched = authority_.FetchCredentials();
  if (!fetched.ok()) {
    log::Warn("cannot fetch the provider keys from the authority",
              {{"error", fetched.error().ToString()}});
    return std::move(fetched).error();
  }
  // Which keys came, never what they are.
  log::Info("provider keys received from the authority",
            {{"anthropic", !fetched->anthropic_api_key.empty()},
             {"openai", !fetched->openai_api_key.empty()}});
  MutexLock lock(mu_);
  keys_ = std::move(*fetched);
  return OkStatus();
}

void AuthorityKeys::FetchIfDue() {
  {
    MutexLock lock(mu_);
    const auto now = clock_.Monotonic();
    if (fetching_ || (last_fetch_ && now - *last_fetch_ < options_.refetch_interval)) {
      return;
    }
    fetching_ = true;
  }
  (void)Fetch();  // logged there; the keys held so far stay
  MutexLock lock(mu_);
  fetching_ = false;
}

std::string AuthorityKeys::KeyLocked(core::Api api) const {
  return api == core::Api::kAnthropicMessages ? keys_.anthropic_api_key : keys_.openai_api_key;
}

std::string AuthorityKeys::Key(core::Api api) {
  {
    MutexLock lock(mu_);
    if (std::string key = KeyLocked(api); !key.empty()) {
      return key;
    }
  }
  FetchIfDue();
  MutexLock lock(mu_);
  return KeyLocked(api);
}

void AuthorityKeys::Rejected(core::Api) { FetchIfDue(); }

}  // namespace agentbudget::meter
