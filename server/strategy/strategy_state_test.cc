#include "server/strategy/strategy_state.h"

#include <gtest/gtest.h>

#include <cstring>

#include "common/checksum.h"
#include "common/codec/tensor_codec.h"
#include "server/strategy/strategy_test_util.h"

namespace murmur::server::strategy {
namespace {

using testing::Driver;
using testing::Make;
using testing::Model;
using testing::Update;

StrategyState Sample() {
  StrategyState s;
  s.strategy = "afa_cs";
  s.steps = 12;
  s.last_round = 40;
  s.fedau[3] = {2, 5, 17};
  s.fedau[1ull << 40] = {0, 1, 1};
  s.table[2] = TableEntry{std::make_shared<const TensorList>(Model(0.1f, -2.5f, 3e-8f)), 0.05, 39};
  s.table[7] = TableEntry{std::make_shared<const TensorList>(Model(-0.0f, 1e30f, 7)), 1.0, 40};
  return s;
}

std::string Bytes(const StrategyState& s) {
  Result<std::string> b = SerializeState(s);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : std::string();
}

void Reseal(std::string& b) {
  const uint64_t sum = Xxh3(b.data(), b.size() - 8);
  std::memcpy(b.data() + b.size() - 8, &sum, 8);
}

TEST(StrategyStateTest, RoundTripIsByteExact) {
  for (const StrategyState& s : {StrategyState{}, Sample()}) {
    const std::string b = Bytes(s);
    Result<StrategyState> parsed = ParseState(b);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, s);
    EXPECT_EQ(Bytes(*parsed), b);
  }
  // -0.0 keeps its sign bit.
  Result<StrategyState> parsed = ParseState(Bytes(Sample()));
  EXPECT_TRUE(std::signbit((*parsed->table.at(7).value)[0].data[0]));
}

TEST(StrategyStateTest, EqualityComparesTableValuesBitwise) {
  StrategyState a = Sample(), b = Sample();
  EXPECT_EQ(a, b);  // different pointers, same values
  b.table[2] = TableEntry{std::make_shared<const TensorList>(Model(0.1f, -2.5f, 4e-8f)), 0.05, 39};
  EXPECT_NE(a, b);
  b = Sample();
  b.table[2].local_lr = 0.06;
  EXPECT_NE(a, b);
  b = Sample();
  b.fedau[3].absent_run = 3;
  EXPECT_NE(a, b);
}

TEST(StrategyStateTest, StatesWrittenByStrategiesRoundTrip) {
  Rng rng(3);
  const std::unordered_map<uint64_t, double> p = {{1, 0.5}, {2, 0.5}, {3, 0.5}, {4, 0.5}};
  for (std::string_view name : StrategyNames()) {
    Driver d(Make(std::string(name)), Model(0, 0, 0), {1, 2, 3, 4});
    for (int t = 0; t < 6; ++t) {
      std::vector<ClientUpdate> ups;
      for (uint64_t id = 1; id <= 4; ++id) {
        if (rng.Bernoulli(0.5)) {
          ups.push_back(Update(id, static_cast<float>(rng.Normal()),
                               static_cast<float>(rng.Normal()), static_cast<float>(rng.Normal()),
                               1 + static_cast<uint32_t>(rng.UniformInt(5)), 0.1, t % 3));
        }
      }
      d.MustRound(ups, &p);
    }
    const std::string b = Bytes(d.state());
    Result<StrategyState> parsed = ParseState(b);
    ASSERT_TRUE(parsed.ok()) << name << ": " << parsed.status().ToString();
    EXPECT_EQ(*parsed, d.state()) << name;
    EXPECT_EQ(Bytes(*parsed), b) << name;
  }
}

TEST(StrategyStateTest, RestartFromParsedStateContinuesTheSameTrajectory) {
  for (std::string_view name : {"fedau", "mifa", "fedvarp", "afa_cs", "afa_fedau"}) {
    Driver straight(Make(std::string(name)), Model(1, 2, 3), {1, 2, 3});
    std::unique_ptr<Driver> restarted;
    Rng rng(8);
    for (int t = 0; t < 12; ++t) {
      std::vector<ClientUpdate> ups;
      for (uint64_t id = 1; id <= 3; ++id) {
        if (rng.Bernoulli(0.4)) {
          ups.push_back(Update(id, static_cast<float>(rng.Normal()), 0.5f,
                               static_cast<float>(rng.Normal()), 2, 0.05));
        }
      }
      straight.MustRound(ups);
      if (t == 5) {
        // "Crash": rebuild from the serialized state and model.
        restarted = std::make_unique<Driver>(Make(std::string(name)), TensorList{},
                                             std::vector<uint64_t>{1, 2, 3});
        Result<TensorList> x = DecodeTensors(*EncodeTensors(straight.x()));
        ASSERT_TRUE(x.ok());
        restarted->Restore(*x, *ParseState(Bytes(straight.state())), straight.round());
      } else if (t > 5) {
        restarted->MustRound(ups);
      }
    }
    EXPECT_TRUE(SameTensors(straight.x(), restarted->x())) << name;
    EXPECT_EQ(Bytes(straight.state()), Bytes(restarted->state())) << name;
  }
}

TEST(StrategyStateTest, RejectsDamage) {
  const std::string good = Bytes(Sample());
  EXPECT_EQ(ParseState("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseState(good.substr(0, 20)).status().code(), StatusCode::kDataLoss);
  std::string flipped = good;
  flipped[30] ^= 1;
  EXPECT_EQ(ParseState(flipped).status().code(), StatusCode::kDataLoss);
  std::string magic = good;
  magic[0] = 'X';
  EXPECT_EQ(ParseState(magic).status().code(), StatusCode::kInvalidArgument);
  std::string version = good;
  version[4] = 9;
  Reseal(version);
  EXPECT_NE(ParseState(version).status().message().find("format 9"), std::string::npos);
  // Every truncation, resealed so the structure checks are reached.
  for (size_t n = 12; n < good.size(); ++n) {
    std::string cut = good.substr(0, n);
    Reseal(cut);
    Result<StrategyState> r = ParseState(cut);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << n;
  }
  // Trailing bytes.
  std::string longer = good;
  longer.insert(longer.size() - 8, "x");
  Reseal(longer);
  EXPECT_NE(ParseState(longer).status().message().find("trailing"), std::string::npos);
}

// Offsets into the serialized form of a state with name "ab" and no table.
TEST(StrategyStateTest, RejectsNonCanonicalOrInconsistentContent) {
  StrategyState s;
  s.strategy = "ab";
  s.fedau[1] = {0, 2, 3};
  s.fedau[2] = {0, 1, 1};
  const std::string good = Bytes(s);
  const size_t counters = 4 + 2 + 2 + 2 + 2 + 8 + 8 + 8;  // first counter's client id
  // Swap the two client ids: descending order.
  std::string swapped = good;
  swapped[counters] = 2;
  swapped[counters + 32] = 1;
  Reseal(swapped);
  EXPECT_NE(ParseState(swapped).status().message().find("ascending"), std::string::npos);
  // 2 intervals summing to 1.
  std::string bad_sum = good;
  bad_sum[counters + 24] = 1;
  Reseal(bad_sum);
  EXPECT_NE(ParseState(bad_sum).status().message().find("inconsistent"), std::string::npos);
  // A counter count larger than the bytes present.
  std::string huge = good;
  huge[counters - 1] = 0x7f;
  Reseal(huge);
  EXPECT_EQ(ParseState(huge).status().code(), StatusCode::kInvalidArgument);
}

TEST(StrategyStateTest, TableBlobsMustBeCanonicalFp32) {
  StrategyState s;
  s.table[5] = TableEntry{std::make_shared<const TensorList>(Model(1, 2, 3)), 0.5, 1};
  const std::string good = Bytes(s);
  // Rebuild the same state by hand with an fp16 blob instead.
  const std::string fp32 = *EncodeTensors(Model(1, 2, 3));
  const std::string fp16 = *EncodeTensors(Model(1, 2, 3), {.encoding = Encoding::kFp16});
  const size_t blob_at = good.find(fp32);
  ASSERT_NE(blob_at, std::string::npos);
  std::string other = good.substr(0, blob_at - 8);
  const uint64_t len = fp16.size();
  other.append(reinterpret_cast<const char*>(&len), 8);
  other += fp16;
  other += std::string(8, '\0');
  Reseal(other);
  Result<StrategyState> r = ParseState(other);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("canonical fp32"), std::string::npos)
      << r.status().ToString();
}

TEST(StrategyStateTest, SerializeRejectsWhatCannotBeStored) {
  StrategyState s;
  s.table[1] = TableEntry{nullptr, 1.0, 0};
  EXPECT_EQ(SerializeState(s).status().code(), StatusCode::kInvalidArgument);
  s.table[1] = TableEntry{std::make_shared<const TensorList>(Model(1, NAN, 0)), 1.0, 0};
  EXPECT_FALSE(SerializeState(s).ok());
  s.table[1] = TableEntry{std::make_shared<const TensorList>(Model(1, 2, 0)), INFINITY, 0};
  EXPECT_EQ(SerializeState(s).status().code(), StatusCode::kInvalidArgument);
  s.table.clear();
  s.strategy = std::string(300, 'a');
  EXPECT_EQ(SerializeState(s).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace murmur::server::strategy
