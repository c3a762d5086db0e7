#include "kube/object_codec.h"

#include <gtest/gtest.h>

namespace agentbudget::kube {
namespace {

using nlohmann::json;

json Pod(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "team-a"}, {"labels", {{"app", "agent"}}}}},
          {"spec",
           {{"containers", json::array({{{"name", "agent"},
                                         {"image", "ghcr.io/acme/runner:2.4"},
                                         {"terminationMessagePath", "/dev/termination-log"},
                                         {"imagePullPolicy", "IfNotPresent"}}})},
            {"restartPolicy", "Never"},
            {"schedulerName", "default-scheduler"}}},
          {"status", {{"phase", "Running"}, {"qosClass", "Burstable"}, {"ratio", 0.5}}}};
}

TEST(ObjectCodecTest, DecodeGivesBackTheEncodedObject) {
  ObjectCodec codec;
  json first = Pod("a");
  json second = Pod("b");
  second["status"]["restarts"] = -3;
  std::string a = codec.Encode(first);
  std::string b = codec.Encode(second);
  EXPECT_EQ(codec.Decode(a).value(), first);
  EXPECT_EQ(codec.Decode(b).value(), second);
}

TEST(ObjectCodecTest, ObjectsLikeTheFirstEncodeToAFractionOfTheirJson) {
  ObjectCodec codec;
  codec.Encode(Pod("first"));
  json similar = Pod("agent-run-17-x8k2p");
  EXPECT_LT(codec.Encode(similar).size() * 4, similar.dump().size());
}

TEST(ObjectCodecTest, BytesItDidNotProduceAreAnError) {
  ObjectCodec codec;
  codec.Encode(Pod("a"));
  EXPECT_FALSE(codec.Decode("").ok());
  EXPECT_FALSE(codec.Decode(std::string("\x10\0\0\0garbage", 11)).ok());
}

}  // namespace
}  // namespace agentbudget::kube
