#include "meter/provider_keys.h"

#include <cctype>
#include <fstream>
#include <sstream>

namespace agentbudget::meter {

const std::string& FileKeys::FileOf(core::Api api) const {
  return api == core::Api::kAnthropicMessages ? anthropic_key_file_ : openai_key_file_;
}

std::string FileKeys::Key(core::Api api) {
  const std::string& path = FileOf(api);
  if (path.empty()) {
    return "";
  }
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  std::string key = text.str();
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) {
    key.pop_back();
  }
  return key;
}

}  // namespace agentbudget::meter
