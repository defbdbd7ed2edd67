#include "ml/model_config.h"

#include <gtest/gtest.h>

namespace murmur::model {
namespace {

TEST(ModelConfigTest, DefaultsAreValid) {
  EXPECT_TRUE(ValidateModelConfig(DefaultImageConfig()).ok());
  EXPECT_TRUE(ValidateModelConfig(DefaultCharLmConfig(100)).ok());
  EXPECT_EQ(DefaultImageConfig().num_tokens(), 49);
}

TEST(ModelConfigTest, ToStringRoundTrips) {
  ModelConfig c;
  c.feature_map = FeatureMap::kHedgehog;
  c.decay = Decay::kGla;
  c.output_gate = true;
  c.bidirectional = true;
  c.gate_normalizer = 8.5;
  c.init_seed = 1234567;
  Result<ModelConfig> parsed = ParseModelConfig(ModelConfigToString(c), ModelConfig{});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, c);
}

TEST(ModelConfigTest, ParsesOverridesOnBase) {
  Result<ModelConfig> c = ParseModelConfig(" dim=32, heads=2 ,feature-map=elu1,decay=scalar");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->dim, 32);
  EXPECT_EQ(c->heads, 2);
  EXPECT_EQ(c->feature_map, FeatureMap::kElu1);
  EXPECT_EQ(c->decay, Decay::kScalar);
  EXPECT_EQ(c->depth, 2);  // from the base
  EXPECT_TRUE(ParseModelConfig("").ok());
}

TEST(ModelConfigTest, RejectsBadInputClearly) {
  Result<ModelConfig> unknown = ParseModelConfig("width=3");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown model option 'width'"), std::string::npos);

  Result<ModelConfig> bad_enum = ParseModelConfig("feature_map=cosine");
  ASSERT_FALSE(bad_enum.ok());
  EXPECT_NE(bad_enum.status().message().find("hedgehog"), std::string::npos)
      << bad_enum.status().message();

  Result<ModelConfig> not_int = ParseModelConfig("dim=6x");
  ASSERT_FALSE(not_int.ok());
  EXPECT_NE(not_int.status().message().find("not an integer"), std::string::npos);

  Result<ModelConfig> indivisible = ParseModelConfig("dim=30,heads=4");
  ASSERT_FALSE(indivisible.ok());
  EXPECT_NE(indivisible.status().message().find("multiple of heads"), std::string::npos);

  Result<ModelConfig> denominator = ParseModelConfig("attn_norm=denominator");
  ASSERT_FALSE(denominator.ok());
  EXPECT_NE(denominator.status().message().find("non-negative feature map"), std::string::npos);

  EXPECT_FALSE(ParseModelConfig("patch=5").ok());
  EXPECT_FALSE(ParseModelConfig("task=charlm").ok());  // vocab_size unset
  EXPECT_FALSE(ParseModelConfig("dim").ok());
  EXPECT_FALSE(ParseModelConfig("task=charlm,vocab_size=50,bidirectional=true").ok());
}

}  // namespace
}  // namespace murmur::model
