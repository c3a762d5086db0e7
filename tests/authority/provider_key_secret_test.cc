#include "operator/authority/provider_key_secret.h"

#include <gtest/gtest.h>

#include "common/base64.h"
#include "tests/authority/fake_api_server.h"
#include "tests/authority/fake_clock.h"

namespace agentbudget::authority {
namespace {

using std::chrono::seconds;

constexpr char kPath[] = "/api/v1/namespaces/agentbudget-system/secrets/agentbudget-provider-keys";

nlohmann::json Secret(const std::string& anthropic, const std::string& openai) {
  nlohmann::json data = nlohmann::json::object();
  if (!anthropic.empty()) {
    data["anthropic-api-key"] = base64::Encode(anthropic);
  }
  if (!openai.empty()) {
    data["openai-api-key"] = base64::Encode(openai);
  }
  return {{"metadata", {{"name", "agentbudget-provider-keys"}}}, {"data", data}};
}

class ProviderKeySecretTest : public ::testing::Test {
 protected:
  std::shared_ptr<testing::FakeApiServer> api_ = std::make_shared<testing::FakeApiServer>();
  kube::Client client_{api_, "", ""};
  FakeClock clock_{std::chrono::system_clock::time_point{seconds{1'795'780'800}}};
  ProviderKeySecret keys_{client_, clock_, ProviderKeySecret::Options{}};
};

TEST_F(ProviderKeySecretTest, KeysAreReadFromTheSecretByNameAndCachedForTheTtl) {
  api_->Put(kPath, Secret("sk-ant-1\n", "sk-oa-1"));
  auto keys = keys_.Keys();
  ASSERT_TRUE(keys.ok()) << keys.error().ToString();
  EXPECT_EQ(keys->anthropic_api_key, "sk-ant-1");
  EXPECT_EQ(keys->openai_api_key, "sk-oa-1");
  api_->Put(kPath, Secret("sk-ant-2", ""));
  EXPECT_EQ(keys_.Keys()->anthropic_api_key, "sk-ant-1");
  EXPECT_EQ(api_->Requests(kPath), 1);
  clock_.Advance(seconds{30});
  EXPECT_EQ(keys_.Keys()->anthropic_api_key, "sk-ant-2");
  EXPECT_EQ(keys_.Keys()->openai_api_key, "");
}

TEST_F(ProviderKeySecretTest, AMissingOrEmptySecretIsRetryableAndNamesTheSecret) {
  auto missing = keys_.Keys();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(missing.error().message.find("agentbudget-system/agentbudget-provider-keys does not "
                                         "exist"),
            std::string::npos);
  api_->Put(kPath, Secret("", ""));
  auto empty = keys_.Keys();
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("neither"), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::authority
