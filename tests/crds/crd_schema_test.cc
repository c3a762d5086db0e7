// Static checks of the CRD files that the API server does not make: every field is
// documented for `kubectl explain`, and the printer columns are the ones users are promised.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace agentbudget {
namespace {

YAML::Node Crd(const std::string& file) {
  return YAML::LoadFile(std::string(AGENTBUDGET_SOURCE_DIR) + "/crds/" + file);
}

YAML::Node Version(const YAML::Node& crd) { return crd["spec"]["versions"][0]; }

// Collects the paths of properties without a description, below `node`.
void Undocumented(const YAML::Node& node, const std::string& path, std::vector<std::string>* out) {
  if (path != ".metadata" && !node["description"]) {
    out->push_back(path.empty() ? "/" : path);
  }
  if (node["properties"]) {
    for (const auto& property : node["properties"]) {
      Undocumented(property.second, path + "." + property.first.as<std::string>(), out);
    }
  }
  if (node["items"] && node["items"]["properties"]) {
    Undocumented(node["items"], path + "[]", out);
  }
}

std::vector<std::string> Columns(const YAML::Node& crd) {
  std::vector<std::string> names;
  for (const auto& column : Version(crd)["additionalPrinterColumns"]) {
    names.push_back(column["name"].as<std::string>());
  }
  return names;
}

class CrdSchemaTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CrdSchemaTest, EveryFieldHasADescription) {
  std::vector<std::string> missing;
  Undocumented(Version(Crd(GetParam()))["schema"]["openAPIV3Schema"], "", &missing);
  EXPECT_THAT(missing, ::testing::IsEmpty());
}

TEST_P(CrdSchemaTest, ServesV1Alpha1WithTheStatusSubresource) {
  const YAML::Node crd = Crd(GetParam());
  EXPECT_EQ(crd["spec"]["group"].as<std::string>(), "agentbudget.io");
  EXPECT_EQ(Version(crd)["name"].as<std::string>(), "v1alpha1");
  EXPECT_TRUE(Version(crd)["subresources"]["status"].IsMap());
}

INSTANTIATE_TEST_SUITE_P(Crds, CrdSchemaTest,
                         ::testing::Values("agentbudget.io_agentbudgets.yaml",
                                           "agentbudget.io_agentworkloads.yaml"));

TEST(CrdColumnsTest, BudgetsShowSpendReservationsBurnForecastAndPressure) {
  EXPECT_THAT(Columns(Crd("agentbudget.io_agentbudgets.yaml")),
              ::testing::ElementsAre("Limit", "Total", "Used", "Reserved", "Burn/h", "Forecast",
                                     "Pressure", "Age"));
}

TEST(CrdColumnsTest, WorkloadsShowClassPriorityAndQueue) {
  EXPECT_THAT(Columns(Crd("agentbudget.io_agentworkloads.yaml")),
              ::testing::ElementsAre("Class", "Priority", "Active", "Queued", "Spend", "Age"));
}

TEST(CrdScopeTest, BudgetsAreClusterScopedAndWorkloadsNamespaced) {
  EXPECT_EQ(Crd("agentbudget.io_agentbudgets.yaml")["spec"]["scope"].as<std::string>(), "Cluster");
  EXPECT_EQ(Crd("agentbudget.io_agentworkloads.yaml")["spec"]["scope"].as<std::string>(),
            "Namespaced");
}

}  // namespace
}  // namespace agentbudget
