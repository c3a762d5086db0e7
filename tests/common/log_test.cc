#include "common/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace agentbudget::log {
namespace {

TEST(LogTest, WritesOneJsonObjectPerLineWithTheFields) {
  Configure("test", Level::kInfo);
  ::testing::internal::CaptureStderr();
  Info("reservation denied", {{"budget", "team-payments"}, {"micros", 42}});
  const std::string out = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  const auto line = nlohmann::json::parse(out);
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["component"], "test");
  EXPECT_EQ(line["msg"], "reservation denied");
  EXPECT_EQ(line["budget"], "team-payments");
  EXPECT_EQ(line["micros"], 42);
  EXPECT_TRUE(line["ts"].get<std::string>().ends_with("Z"));
}

TEST(LogTest, DropsLinesBelowTheConfiguredLevel) {
  Configure("test", Level::kWarn);
  ::testing::internal::CaptureStderr();
  Info("not shown");
  Error("shown");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.find("not shown"), std::string::npos);
  EXPECT_NE(out.find("shown"), std::string::npos);
  Configure("test", Level::kInfo);
}

TEST(LogTest, ParsesLevelNames) {
  Level level = Level::kInfo;
  EXPECT_TRUE(ParseLevel("debug", &level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_FALSE(ParseLevel("verbose", &level));
  EXPECT_EQ(level, Level::kDebug);
}

}  // namespace
}  // namespace agentbudget::log
