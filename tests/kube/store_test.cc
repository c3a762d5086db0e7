#include "kube/store.h"

#include <gtest/gtest.h>

namespace agentbudget::kube {
namespace {

using nlohmann::json;

json Pod(const std::string& ns, const std::string& name, const std::string& app,
         const std::string& rv = "1") {
  return {{"metadata",
           {{"namespace", ns}, {"name", name}, {"resourceVersion", rv}, {"labels", {{"app", app}}}}},
          {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}};
}

TEST(StoreTest, PutThenGetReturnsAnEqualObject) {
  Store store;
  json pod = Pod("ns", "a", "web");
  EXPECT_FALSE(store.Put(pod).has_value());
  EXPECT_EQ(store.Get("ns/a"), pod);
  EXPECT_EQ(store.ResourceVersion("ns/a"), "1");
  EXPECT_GT(store.EncodedBytes(), 0u);
}

TEST(StoreTest, PutOverAnObjectReturnsThePreviousVersion) {
  Store store;
  store.Put(Pod("ns", "a", "web", "1"));
  std::optional<json> previous = store.Put(Pod("ns", "a", "web", "2"));
  ASSERT_TRUE(previous.has_value());
  EXPECT_EQ((*previous)["metadata"]["resourceVersion"], "1");
  EXPECT_EQ(store.size(), 1u);
}

TEST(StoreTest, IndexesFollowUpdatesAndRemovals) {
  Store store;
  store.AddIndex(kNamespaceIndex, NamespaceIndexFunc());
  store.AddIndex("app", LabelIndexFunc("app"));
  store.Put(Pod("ns1", "a", "web"));
  store.Put(Pod("ns1", "b", "db"));
  store.Put(Pod("ns2", "c", "web"));
  EXPECT_EQ(store.ByIndex("app", "web").size(), 2u);
  EXPECT_EQ(store.KeysByIndex(kNamespaceIndex, "ns1").size(), 2u);
  store.Put(Pod("ns1", "a", "db", "2"));
  EXPECT_EQ(store.KeysByIndex("app", "web"), std::vector<std::string>{"ns2/c"});
  store.Remove("ns2/c");
  EXPECT_TRUE(store.ByIndex("app", "web").empty());
  EXPECT_EQ(store.ByIndex("app", "db").size(), 2u);
}

TEST(StoreTest, CustomIndexCanYieldSeveralValues) {
  Store store;
  store.AddIndex("image", [](const json& o) {
    std::vector<std::string> images;
    for (const json& c : o["spec"]["containers"]) {
      images.push_back(c["image"]);
    }
    return images;
  });
  json pod = Pod("ns", "a", "web");
  pod["spec"]["containers"].push_back({{"name", "d"}, {"image", "envoy"}});
  store.Put(pod);
  EXPECT_EQ(store.KeysByIndex("image", "busybox"), std::vector<std::string>{"ns/a"});
  EXPECT_EQ(store.KeysByIndex("image", "envoy"), std::vector<std::string>{"ns/a"});
}

TEST(StoreTest, UnknownIndexOrKeyGivesNothing) {
  Store store;
  store.Put(Pod("ns", "a", "web"));
  EXPECT_TRUE(store.ByIndex("nope", "x").empty());
  EXPECT_FALSE(store.Get("ns/b").has_value());
  EXPECT_FALSE(store.Remove("ns/b").has_value());
}

}  // namespace
}  // namespace agentbudget::kube
