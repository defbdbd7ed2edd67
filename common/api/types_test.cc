// The task-description helpers of the domain types: the model spec's hash
// and comparison a client uses to decide whether it can serve a job, and the
// encoding check the coordinator applies at registration.
#include "common/api/types.h"

#include <gtest/gtest.h>

namespace murmur::api {
namespace {

const ModelSpec kSpec = {{"embed", {96, 16}}, {"head.weight", {16, 96}}, {"head.bias", {96}}};

TEST(ModelSpecHashTest, EqualSpecsHashEqualAndAnyChangeHashesDifferently) {
  EXPECT_EQ(ModelSpecHash(kSpec), ModelSpecHash(ModelSpec(kSpec)));
  EXPECT_NE(ModelSpecHash(kSpec), 0u);
  ModelSpec shape = kSpec;
  shape[0].shape = {97, 16};
  ModelSpec name = kSpec;
  name[2].name = "head.b";
  ModelSpec order = {kSpec[1], kSpec[0], kSpec[2]};
  ModelSpec fewer = {kSpec[0], kSpec[1]};
  ModelSpec split_dims = kSpec;  // [96, 16] vs [9, 616] must not collide textually
  split_dims[0].shape = {9, 616};
  for (const ModelSpec& other : {shape, name, order, fewer, split_dims}) {
    EXPECT_NE(ModelSpecHash(other), ModelSpecHash(kSpec)) << ModelSpecString(other);
  }
  EXPECT_NE(ModelSpecHash({}), ModelSpecHash({{"", {}}}));
}

TEST(CheckSameModelSpecTest, NamesTheFirstDifferenceAndBothModels) {
  EXPECT_TRUE(CheckSameModelSpec(kSpec, kSpec).ok());
  ModelSpec mine = kSpec;
  mine[0].shape = {80, 16};
  const Status st = CheckSameModelSpec(kSpec, mine);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("tensor 'embed' is [96, 16] in the job's model but [80, 16] in this "
                              "client's"),
            std::string::npos)
      << st.ToString();
  EXPECT_NE(st.message().find("job: 3 tensors: embed [96, 16]"), std::string::npos) << st.ToString();
  const Status shorter = CheckSameModelSpec(kSpec, {kSpec[0]});
  EXPECT_NE(shorter.message().find("the job's model has 3 tensors, this client's 1"),
            std::string::npos)
      << shorter.ToString();
}

TEST(CheckEncodingSupportedTest, RefusesOnlyAStatedListWithoutTheJobsEncoding) {
  EXPECT_TRUE(CheckEncodingSupported({}, Encoding::kInt8).ok());
  EXPECT_TRUE(
      CheckEncodingSupported({.encodings = {Encoding::kFp32, Encoding::kInt8}}, Encoding::kInt8)
          .ok());
  const Status st = CheckEncodingSupported({.encodings = {Encoding::kFp32}}, Encoding::kBf16);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), "this job's updates are bf16 but the client can produce only fp32");
}

TEST(KnownOptimizersTest, TheNamesTheClientsTrainerImplements) {
  for (const char* name : {"sgd", "momentum", "adam", "adamw"}) EXPECT_TRUE(IsKnownOptimizer(name));
  EXPECT_FALSE(IsKnownOptimizer("SGD"));
  EXPECT_FALSE(IsKnownOptimizer("sgd_momentum"));
  EXPECT_FALSE(IsKnownOptimizer(""));
}

}  // namespace
}  // namespace murmur::api
