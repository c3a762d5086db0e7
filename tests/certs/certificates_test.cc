#include "operator/certs/certificates.h"

#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/mutex.h"
#include "tests/authority/fake_clock.h"

namespace agentbudget::certs {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;

constexpr char kCaPath[] = "/api/v1/namespaces/agentbudget-system/secrets/agentbudget-webhook-ca";
constexpr char kTlsPath[] =
    "/api/v1/namespaces/agentbudget-system/secrets/agentbudget-webhook-tls";
constexpr char kMutatingPath[] =
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/agentbudget";
constexpr char kValidatingPath[] =
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/agentbudget";
constexpr char kAuthorityTlsPath[] =
    "/api/v1/namespaces/agentbudget-system/secrets/agentbudget-authority-tls";
constexpr char kAuthorityCaPath[] =
    "/api/v1/namespaces/agentbudget-system/configmaps/agentbudget-authority-ca";
const std::chrono::seconds kTrustDelay = std::chrono::hours(24 * 30);

// An API server in memory: GET, POST (create) and PUT (update, conditional on
// resourceVersion) of single objects by path. Counts writes. Thread-safe.
class MemoryApiServer final : public kube::Transport {
 public:
  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override {
    MutexLock lock(mu_);
    const std::string path = request.path.substr(0, request.path.find('?'));
    if (request.method == "GET") {
      auto found = objects_.find(path);
      return found == objects_.end() ? Status(404, "NotFound") : Ok(found->second);
    }
    json object = json::parse(request.body);
    if (request.method == "POST") {
      const std::string target = path + "/" + object["metadata"]["name"].get<std::string>();
      if (objects_.contains(target)) {
        return Status(409, "AlreadyExists");
      }
      return Store(target, std::move(object));
    }
    if (request.method == "PUT") {
      auto found = objects_.find(path);
      if (found == objects_.end()) {
        return Status(404, "NotFound");
      }
      if (object["metadata"].value("resourceVersion", "") !=
          found->second["metadata"].value("resourceVersion", "")) {
        return Status(409, "Conflict");
      }
      return Store(path, std::move(object));
    }
    return Status(405, "MethodNotAllowed");
  }
  Result<std::unique_ptr<kube::ResponseStream>> Open(const kube::HttpRequest&) override {
    return Unavailable("no watches here");
  }

  void Put(const std::string& path, json object) {
    MutexLock lock(mu_);
    (void)Store(path, std::move(object));
  }
  json Get(const std::string& path) {
    MutexLock lock(mu_);
    return objects_.contains(path) ? objects_[path] : json();
  }
  int writes() {
    MutexLock lock(mu_);
    return writes_;
  }

 private:
  kube::HttpResponse Ok(const json& object) { return {200, {}, object.dump()}; }
  kube::HttpResponse Status(int code, const std::string& reason) {
    return {code, {},
            json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                 {"reason", reason}, {"code", code}}
                .dump()};
  }
  kube::HttpResponse Store(const std::string& path, json object) REQUIRES(mu_) {
    object["metadata"]["resourceVersion"] = std::to_string(++version_);
    objects_[path] = object;
    ++writes_;
    return Ok(object);
  }

  Mutex mu_;
  std::map<std::string, json> objects_ GUARDED_BY(mu_);
  int version_ GUARDED_BY(mu_) = 0;
  int writes_ GUARDED_BY(mu_) = 0;
};

std::string Decode(const json& value) {
  auto decoded = base64::Decode(value.get<std::string>());
  return decoded.ok() ? *decoded : "<not base64>";
}

// The operator's certificates with the webhook's serving certificate, and the authority's
// when `authority` is set.
class CertificatesTest : public ::testing::Test {
 protected:
  CertificatesTest()
      : transport_(std::make_shared<MemoryApiServer>()),
        client_(transport_, "", ""),
        clock_(std::chrono::system_clock::from_time_t(1798761600)) {
    transport_->Put(kMutatingPath, Configuration(1));
    transport_->Put(kValidatingPath, Configuration(2));
    Keep(false);
  }

  void Keep(bool authority) {
    Certificates::Options options;
    Certificates::Serving webhook;
    webhook.secret = "agentbudget-webhook-tls";
    webhook.hosts = Certificates::ServiceHosts("agentbudget-webhook", "agentbudget-system",
                                               {"127.0.0.1"});
    webhook.publication = std::make_unique<WebhookCaBundles>("agentbudget");
    options.servings.push_back(std::move(webhook));
    if (authority) {
      Certificates::Serving serving;
      serving.secret = "agentbudget-authority-tls";
      serving.hosts = Certificates::ServiceHosts("agentbudget-operator", "agentbudget-system", {});
      serving.publication = std::make_unique<CaConfigMap>(
          "agentbudget-system", "agentbudget-authority-ca", kTrustDelay);
      serving.install = [this](const CertificateAndKey& pair) {
        if (!install_error_.ok()) {
          return install_error_;
        }
        installed_ = pair;
        return OkStatus();
      };
      options.servings.push_back(std::move(serving));
    }
    certificates_ = std::make_unique<Certificates>(client_, clock_, std::move(options));
  }

  static json Configuration(int webhooks) {
    json object = {{"metadata", {{"name", "agentbudget"}}}, {"webhooks", json::array()}};
    for (int i = 0; i < webhooks; ++i) {
      object["webhooks"].push_back(
          {{"name", "w" + std::to_string(i) + ".agentbudget.io"},
           {"clientConfig", {{"service", {{"name", "agentbudget-webhook"}}}}}});
    }
    return object;
  }

  RotationPlan Step() {
    auto plan = certificates_->Reconcile();
    EXPECT_TRUE(plan.ok()) << plan.error().ToString();
    return plan.ok() ? *plan : RotationPlan{};
  }
  std::string SecretValue(const char* path, const std::string& key) {
    return Decode(transport_->Get(path)["data"][key]);
  }
  // Every caBundle of both configurations, decoded.
  std::vector<std::string> Bundles() {
    std::vector<std::string> bundles;
    for (const char* path : {kMutatingPath, kValidatingPath}) {
      const json configuration = transport_->Get(path);
      for (const json& webhook : configuration["webhooks"]) {
        bundles.push_back(Decode(webhook["clientConfig"].value("caBundle", json(""))));
      }
    }
    return bundles;
  }
  std::string ServingIssuer(const char* path = kTlsPath) {
    auto info = Inspect(SecretValue(path, "tls.crt"));
    return info.ok() ? info->issuer : "<unparsable>";
  }
  std::string PublishedAuthorityCa() {
    return transport_->Get(kAuthorityCaPath)["data"].value("ca.crt", "");
  }

  std::shared_ptr<MemoryApiServer> transport_;
  kube::Client client_;
  authority::FakeClock clock_;
  std::unique_ptr<Certificates> certificates_;
  Status install_error_ = OkStatus();
  CertificateAndKey installed_;
};

TEST_F(CertificatesTest, FirstPassCreatesBothSecretsAndFillsEveryCaBundle) {
  const RotationPlan plan = Step();
  EXPECT_TRUE(plan.generate_ca);
  EXPECT_EQ(plan.issue, std::vector<Issue>{Issue::kFromNewestCa});
  const std::string ca = SecretValue(kCaPath, "ca.crt");
  ASSERT_EQ(SplitCertificates(ca)->size(), 1u);
  EXPECT_EQ(*KeyMatches(ca, SecretValue(kCaPath, "ca.key")), true);
  EXPECT_EQ(transport_->Get(kTlsPath)["type"], "kubernetes.io/tls");
  EXPECT_EQ(SecretValue(kTlsPath, "ca.crt"), ca);
  const std::string serving = SecretValue(kTlsPath, "tls.crt");
  EXPECT_EQ(*IsSignedBy(serving, ca), true);
  EXPECT_EQ(*KeyMatches(serving, SecretValue(kTlsPath, "tls.key")), true);
  EXPECT_EQ(Inspect(serving)->hosts,
            (std::vector<std::string>{"agentbudget-webhook", "agentbudget-webhook.agentbudget-system",
                                      "agentbudget-webhook.agentbudget-system.svc",
                                      "agentbudget-webhook.agentbudget-system.svc.cluster.local",
                                      "127.0.0.1"}));
  EXPECT_EQ(Bundles(), std::vector<std::string>(3, ca));
}

TEST_F(CertificatesTest, SettledStateWritesNothing) {
  Step();
  const int writes = transport_->writes();
  clock_.Advance(hours(24));
  EXPECT_TRUE(Step().empty());
  EXPECT_EQ(transport_->writes(), writes);
}

TEST_F(CertificatesTest, CaBundleClearedByAnUpgradeIsWrittenBack) {
  Step();
  const std::string ca = SecretValue(kCaPath, "ca.crt");
  json validating = transport_->Get(kValidatingPath);
  validating["webhooks"][1]["clientConfig"].erase("caBundle");
  transport_->Put(kValidatingPath, validating);
  EXPECT_TRUE(Step().empty());
  EXPECT_EQ(Bundles(), std::vector<std::string>(3, ca));
}

TEST_F(CertificatesTest, CaRotationAppendsMovesServingThenRetiresTheOldCa) {
  Step();
  const std::string old_ca = SecretValue(kCaPath, "ca.crt");
  const RotationPolicy policy;
  // Daily passes (re-issuing the serving certificate as it ages) until the CA's renewal
  // window opens.
  std::string old_issuer;
  RotationPlan plan;
  for (int day = 0; day < 365 && !plan.generate_ca; ++day) {
    old_issuer = ServingIssuer();
    clock_.Advance(hours(24));
    plan = Step();
  }

  // 1: a second CA joins the Secret and every caBundle; the serving certificate stays.
  ASSERT_TRUE(plan.generate_ca);
  EXPECT_EQ(plan.issue, std::vector<Issue>{Issue::kNone});
  auto both = SplitCertificates(SecretValue(kCaPath, "ca.crt"));
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[0], old_ca);
  EXPECT_EQ(Bundles(), std::vector<std::string>(3, (*both)[0] + (*both)[1]));
  EXPECT_EQ(ServingIssuer(), old_issuer);

  // 2: every bundle carries the new CA, so the serving certificate moves to it.
  clock_.Advance(minutes(1));
  EXPECT_EQ(Step().issue, std::vector<Issue>{Issue::kFromNewestCa});
  EXPECT_EQ(*IsSignedBy(SecretValue(kTlsPath, "tls.crt"), (*both)[1]), true);
  EXPECT_EQ(Bundles(), std::vector<std::string>(3, (*both)[0] + (*both)[1]));

  // 3: within the overlap nothing changes; after it the old CA leaves.
  clock_.Advance(minutes(1));
  EXPECT_TRUE(Step().empty());
  clock_.Advance(std::chrono::duration_cast<std::chrono::seconds>(policy.overlap));
  EXPECT_EQ(Step().drop_cas, std::vector<size_t>{0});
  EXPECT_EQ(SecretValue(kCaPath, "ca.crt"), (*both)[1]);
  EXPECT_EQ(Bundles(), std::vector<std::string>(3, (*both)[1]));
  EXPECT_EQ(SecretValue(kTlsPath, "ca.crt"), (*both)[1]);
}

TEST_F(CertificatesTest, CorruptCaSecretIsReportedAndLeftAlone) {
  transport_->Put(kCaPath, {{"metadata", {{"name", "agentbudget-webhook-ca"}}},
                            {"data", {{"ca.crt", "bm90IGEgY2VydA=="}, {"ca.key", ""}}}});
  const int writes = transport_->writes();
  auto plan = certificates_->Reconcile();
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(plan.error().message.find("delete the Secret"), std::string::npos);
  EXPECT_EQ(transport_->writes(), writes);
}

TEST_F(CertificatesTest, ServingSecretEmptiedByHandIsReissuedFromTheCurrentCa) {
  Step();
  json secret = transport_->Get(kTlsPath);
  secret["data"]["tls.crt"] = "";
  transport_->Put(kTlsPath, secret);
  const RotationPlan plan = Step();
  EXPECT_EQ(plan.issue, std::vector<Issue>{Issue::kFromNewestCa});
  EXPECT_FALSE(plan.generate_ca);
  EXPECT_EQ(*IsSignedBy(SecretValue(kTlsPath, "tls.crt"), SecretValue(kCaPath, "ca.crt")), true);
}

TEST_F(CertificatesTest, TheAuthorityGetsACertificateFromTheSameCaAndItsBundleIsPublished) {
  Keep(true);
  Step();
  const std::string ca = SecretValue(kCaPath, "ca.crt");
  EXPECT_EQ(PublishedAuthorityCa(), ca);
  const std::string serving = SecretValue(kAuthorityTlsPath, "tls.crt");
  EXPECT_EQ(*IsSignedBy(serving, ca), true);
  EXPECT_EQ(Inspect(serving)->hosts[2], "agentbudget-operator.agentbudget-system.svc");
  EXPECT_EQ(installed_.cert_pem, serving);
  EXPECT_EQ(installed_.key_pem, SecretValue(kAuthorityTlsPath, "tls.key"));
  // A later leader reads the same certificate back and installs it without issuing one.
  installed_ = {};
  Keep(true);
  EXPECT_TRUE(Step().empty());
  EXPECT_EQ(installed_.cert_pem, serving);
}

TEST_F(CertificatesTest, AFailedInstallFailsThePass) {
  Keep(true);
  install_error_ = Unavailable("disk full");
  auto plan = certificates_->Reconcile();
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message, "disk full");
}

// Meters keep the bundle they were admitted with: the authority's certificate moves to a
// renewed CA only once that CA has been published for the trust delay, and the old CA stays
// until it has moved, although the webhook moved at once.
TEST_F(CertificatesTest, TheAuthorityMovesToARenewedCaOnlyAfterTheTrustDelay) {
  Keep(true);
  Step();
  RotationPlan plan;
  for (int day = 0; day < 365 && !plan.generate_ca; ++day) {
    clock_.Advance(hours(24));
    plan = Step();
  }
  ASSERT_TRUE(plan.generate_ca);
  auto both = SplitCertificates(SecretValue(kCaPath, "ca.crt"));
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ(PublishedAuthorityCa(), (*both)[0] + (*both)[1]);
  const std::string old_issuer = ServingIssuer(kAuthorityTlsPath);

  clock_.Advance(minutes(1));
  EXPECT_EQ(Step().issue, (std::vector<Issue>{Issue::kFromNewestCa, Issue::kNone}));
  for (int day = 0; day < 29; ++day) {
    clock_.Advance(hours(24));
    Step();
    ASSERT_EQ(ServingIssuer(kAuthorityTlsPath), old_issuer) << "day " << day;
    ASSERT_EQ(SplitCertificates(SecretValue(kCaPath, "ca.crt"))->size(), 2u) << "day " << day;
  }
  clock_.Advance(hours(24));
  EXPECT_EQ(Step().issue, (std::vector<Issue>{Issue::kNone, Issue::kFromNewestCa}));
  EXPECT_EQ(*IsSignedBy(SecretValue(kAuthorityTlsPath, "tls.crt"), (*both)[1]), true);
  EXPECT_EQ(installed_.cert_pem, SecretValue(kAuthorityTlsPath, "tls.crt"));
  clock_.Advance(std::chrono::duration_cast<std::chrono::seconds>(RotationPolicy{}.overlap));
  EXPECT_EQ(Step().drop_cas, std::vector<size_t>{0});
  EXPECT_EQ(PublishedAuthorityCa(), (*both)[1]);
}

}  // namespace
}  // namespace agentbudget::certs
