// Checks every strategy shares: input validation, state bookkeeping, the
// factory.
#include "server/strategy/strategy.h"

#include <gtest/gtest.h>

#include <cmath>

#include <limits>
#include <map>

#include "server/strategy/strategy_factory.h"
#include "server/strategy/strategy_test_util.h"

namespace murmur::server::strategy {
namespace {

using testing::Make;
using testing::Model;
using testing::Update;
using testing::Values;

class StrategyCommonTest : public ::testing::TestWithParam<std::string_view> {
 protected:
  StrategyCommonTest() : s_(Make(std::string(GetParam()))) {}

  Result<Step> Agg(const std::vector<ClientUpdate>& ups, const StrategyState& state = {},
                   uint64_t round = 1) {
    RoundInput in{.round = round, .global = &x_, .updates = ups, .all_clients = clients_,
                  .known_participation_prob = &p_};
    return s_->Aggregate(in, state);
  }

  std::unique_ptr<Strategy> s_;
  TensorList x_ = Model(1, 2, 0.5f);
  std::vector<uint64_t> clients_ = {1, 2, 3};
  std::unordered_map<uint64_t, double> p_ = {{1, 0.5}, {2, 0.5}, {3, 0.5}};
};

TEST_P(StrategyCommonTest, NameAndBookkeeping) {
  ASSERT_NE(s_, nullptr);
  EXPECT_EQ(s_->name(), GetParam());
  Result<Step> s = Agg({Update(1, 1, 0, 0), Update(2, 0, 1, 0)}, {}, 7);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->new_state.strategy, GetParam());
  EXPECT_EQ(s->new_state.steps, 1u);
  EXPECT_EQ(s->new_state.last_round, 7u);
  EXPECT_EQ(s->weights.size(), 2u);
  EXPECT_EQ(SpecOf(s->new_global), SpecOf(x_));
  // The state it wrote serializes and parses back to itself.
  Result<std::string> bytes = SerializeState(s->new_state);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*ParseState(*bytes), s->new_state);
}

TEST_P(StrategyCommonTest, NeverModifiesTheInputModelOrState) {
  const TensorList before = x_;
  Result<Step> first = Agg({Update(1, 1, 0, 0)});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const StrategyState state = first->new_state;
  const std::string state_bytes = *SerializeState(state);
  Result<Step> second = Agg({Update(2, 0, 1, 0), Update(3, 0, 0, 1)}, state, 2);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(SameTensors(x_, before));
  EXPECT_EQ(*SerializeState(state), state_bytes);
}

TEST_P(StrategyCommonTest, IsDeterministic) {
  const std::vector<ClientUpdate> ups = {Update(1, 1, 0.3f, 0), Update(3, 0.1f, 1, -2, 3, 0.2)};
  Result<Step> a = Agg(ups), b = Agg(ups);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(SameTensors(a->new_global, b->new_global));
  EXPECT_EQ(*SerializeState(a->new_state), *SerializeState(b->new_state));
}

TEST_P(StrategyCommonTest, EmptyRoundIsAccepted) {
  Result<Step> s = Agg({});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->weights.empty());
  // Nothing remembered yet, so no strategy moves the model.
  EXPECT_TRUE(SameTensors(s->new_global, x_));
}

TEST_P(StrategyCommonTest, RejectsBadDeltas) {
  ClientUpdate wrong_shape = Update(1, 1, 0, 0);
  wrong_shape.delta[0].shape = {3};
  wrong_shape.delta[0].data.push_back(0);
  ClientUpdate wrong_name = Update(1, 1, 0, 0);
  wrong_name.delta[1].name = "bias";
  ClientUpdate missing = Update(1, 1, 0, 0);
  missing.delta.pop_back();
  ClientUpdate short_data = Update(1, 1, 0, 0);
  short_data.delta[0].data.pop_back();
  for (const ClientUpdate& u : {wrong_shape, wrong_name, missing, short_data}) {
    Result<Step> s = Agg({Update(2, 0, 1, 0), u});
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("update 1 (client 1)"), std::string::npos)
        << s.status().ToString();
  }
  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity()}) {
    Result<Step> s = Agg({Update(1, 1, bad, 0)});
    EXPECT_EQ(s.status().code(), StatusCode::kOutOfRange) << s.status().ToString();
    // A caller that vouches for its deltas skips their check, but a bad one
    // still cannot reach the new model: the result's own check refuses it.
    std::vector<ClientUpdate> ups = {Update(1, 1, bad, 0)};
    RoundInput trusted{.round = 1, .global = &x_, .updates = ups, .all_clients = clients_,
                       .known_participation_prob = &p_, .deltas_checked_finite = true};
    Result<Step> t = s_->Aggregate(trusted, {});
    if (t.ok()) {
      for (const auto& tensor : t->new_global) {
        for (float v : tensor.data) EXPECT_TRUE(std::isfinite(v));
      }
    }
  }
  Result<Step> k0 = Agg({Update(1, 1, 0, 0, /*k=*/0)});
  EXPECT_EQ(k0.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(k0.status().message().find("local_steps"), std::string::npos);
}

TEST_P(StrategyCommonTest, RejectsABadGlobalModel) {
  RoundInput in{.round = 1, .global = nullptr, .all_clients = clients_};
  EXPECT_EQ(s_->Aggregate(in, {}).status().code(), StatusCode::kInvalidArgument);
  x_[0].data.pop_back();
  EXPECT_EQ(Agg({}).status().code(), StatusCode::kInvalidArgument);
  x_ = Model(1, std::numeric_limits<float>::quiet_NaN(), 0);
  EXPECT_EQ(Agg({}).status().code(), StatusCode::kOutOfRange);
}

TEST_P(StrategyCommonTest, RejectsForeignOrReplayedState) {
  StrategyState foreign;
  foreign.strategy = GetParam() == "fedau" ? "mifa" : "fedau";
  Result<Step> s = Agg({}, foreign);
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("written by strategy"), std::string::npos);

  Result<Step> first = Agg({Update(1, 1, 0, 0)}, {}, 5);
  ASSERT_TRUE(first.ok());
  for (uint64_t round : {uint64_t{4}, uint64_t{5}}) {
    EXPECT_EQ(Agg({}, first->new_state, round).status().code(), StatusCode::kFailedPrecondition);
  }
  EXPECT_TRUE(Agg({}, first->new_state, 9).ok());  // gaps are the caller's business
}

TEST_P(StrategyCommonTest, RejectsATableThatDoesNotMatchTheModel) {
  StrategyState state;
  state.table[1] = TableEntry{std::make_shared<const TensorList>(TensorList{{"w", {2}, {1, 2}}}),
                              1.0, 0};
  EXPECT_EQ(Agg({}, state).status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(StrategyCommonTest, ReportsOverflowInsteadOfStoringInf) {
  StrategyConfig cfg;
  cfg.name = std::string(GetParam());
  cfg.server_lr = 1e30;
  s_ = Make(cfg);
  Result<Step> s = Agg({Update(1, 1e10f, 0, 0), Update(2, 1e10f, 0, 0)});
  EXPECT_EQ(s.status().code(), StatusCode::kOutOfRange) << s.status().ToString();
  EXPECT_NE(s.status().message().find("server learning rate"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, StrategyCommonTest,
                         ::testing::ValuesIn(StrategyNames()),
                         [](const auto& info) { return std::string(info.param); });

TEST(StrategyClientIdsTest, UnregisteredAndRepeatedClients) {
  const TensorList x = Model(0, 0, 0);
  const std::vector<uint64_t> clients = {1, 2};
  const std::unordered_map<uint64_t, double> p = {{1, 0.5}, {2, 0.5}, {9, 0.5}};
  for (std::string_view name : StrategyNames()) {
    std::unique_ptr<Strategy> s = Make(std::string(name));
    // The validation follows what the strategy declares.
    const bool need_registered = s->needs().all_clients;
    const bool need_unique = s->needs().one_update_per_client;
    const std::vector<ClientUpdate> stranger = {Update(9, 1, 0, 0)};
    RoundInput in{.round = 1, .global = &x, .updates = stranger, .all_clients = clients,
                  .known_participation_prob = &p};
    Result<Step> r = s->Aggregate(in, {});
    if (need_registered) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << name;
      EXPECT_NE(r.status().message().find("not among the 2 registered"), std::string::npos);
    } else {
      EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    }
    const std::vector<ClientUpdate> twice = {Update(1, 1, 0, 0), Update(1, 0, 1, 0)};
    in.updates = twice;
    r = s->Aggregate(in, {});
    EXPECT_EQ(r.ok(), !need_unique) << name << ": " << r.status().ToString();

    const std::vector<uint64_t> dup_clients = {1, 2, 1};
    in.updates = {};
    in.all_clients = dup_clients;
    r = s->Aggregate(in, {});
    EXPECT_EQ(r.ok(), !need_registered) << name;
  }
}

// needs() is the one public statement of what each rule needs; the engine
// and the config checks trust it, so pin it for every name.
TEST(StrategyNeedsTest, EveryStrategyDeclaresWhatItNeeds) {
  struct Want {
    bool all_clients, one_update_per_client, local_lr, per_client_tables, known_p;
  };
  const std::map<std::string_view, Want> want = {
      {"fedavg_participants", {false, false, false, false, false}},
      {"fedavg_all", {true, true, false, false, false}},
      {"fedavg_known_p", {true, true, false, false, true}},
      {"fedau", {true, true, false, false, false}},
      {"mifa", {true, true, false, true, false}},
      {"fedvarp", {true, true, false, true, false}},
      {"afa_cd", {false, false, true, false, false}},
      {"afa_cs", {true, false, true, true, false}},
      {"fedbuff", {false, false, false, false, false}},
      {"afa_fedau", {true, false, true, false, false}},
  };
  ASSERT_EQ(want.size(), StrategyNames().size());
  for (std::string_view name : StrategyNames()) {
    ASSERT_TRUE(want.contains(name)) << name;
    const Want& w = want.at(name);
    std::unique_ptr<Strategy> s = Make(std::string(name));
    ASSERT_NE(s, nullptr) << name;
    const StrategyNeeds n = s->needs();
    EXPECT_EQ(n.all_clients, w.all_clients) << name;
    EXPECT_EQ(n.one_update_per_client, w.one_update_per_client) << name;
    EXPECT_EQ(n.local_lr, w.local_lr) << name;
    EXPECT_EQ(n.per_client_tables, w.per_client_tables) << name;
    EXPECT_EQ(n.known_participation_prob, w.known_p) << name;
  }
}

// The declared needs match what Aggregate does: a rule that needs local_lr
// refuses an update without one; a rule that needs p_n refuses a round
// without them; a rule with per-client tables keeps a row per participant.
TEST(StrategyNeedsTest, AggregateBehavesAsDeclared) {
  const TensorList x = Model(0, 0, 0);
  const std::vector<uint64_t> clients = {1, 2};
  const std::unordered_map<uint64_t, double> p = {{1, 0.5}, {2, 0.5}};
  for (std::string_view name : StrategyNames()) {
    std::unique_ptr<Strategy> s = Make(std::string(name));
    const StrategyNeeds n = s->needs();
    const std::vector<ClientUpdate> no_lr = {Update(1, 1, 0, 0, 1, /*lr=*/0.0)};
    RoundInput in{.round = 1, .global = &x, .updates = no_lr, .all_clients = clients,
                  .known_participation_prob = &p};
    EXPECT_EQ(s->Aggregate(in, {}).ok(), !n.local_lr) << name;

    const std::vector<ClientUpdate> one = {Update(1, 1, 0, 0)};
    in.updates = one;
    in.known_participation_prob = nullptr;
    EXPECT_EQ(s->Aggregate(in, {}).ok(), !n.known_participation_prob) << name;

    in.known_participation_prob = &p;
    Result<Step> r = s->Aggregate(in, {});
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    EXPECT_EQ(r->new_state.table.contains(1), n.per_client_tables) << name;
  }
}

TEST(StrategyFactoryTest, KnowsEveryName) {
  EXPECT_EQ(StrategyNames().size(), 10u);
  for (std::string_view name : StrategyNames()) {
    StrategyConfig cfg;
    cfg.name = std::string(name);
    Result<std::unique_ptr<Strategy>> s = MakeStrategy(cfg);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ((*s)->name(), name);
  }
  EXPECT_EQ(StrategyConfig{}.name, "fedavg_participants");
}

TEST(StrategyFactoryTest, RejectsBadConfigs) {
  auto code = [](StrategyConfig cfg) { return MakeStrategy(cfg).status().code(); };
  EXPECT_EQ(code({.name = "fedavgg"}), StatusCode::kInvalidArgument);
  EXPECT_NE(MakeStrategy({.name = "fedavgg"}).status().message().find("afa_cd"),
            std::string::npos);
  for (double lr : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(code({.name = "fedau", .server_lr = lr}), StatusCode::kInvalidArgument) << lr;
  }
  EXPECT_EQ(code({.name = "afa_cd", .afa_local_lr = -0.1}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = "afa_cd", .afa_local_lr = std::nan("")}),
            StatusCode::kInvalidArgument);
  // A staleness discount only where the rule has one.
  EXPECT_EQ(code({.name = "mifa", .staleness = {StalenessKind::kInvSqrt}}),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = "afa_cs", .staleness = {StalenessKind::kPolynomial}}),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(MakeStrategy({.name = "mifa", .staleness = {StalenessKind::kNone}}).ok());
  EXPECT_EQ(code({.name = "fedbuff", .staleness = {StalenessKind::kPolynomial, -1.0}}),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(MakeStrategy({.name = "afa_fedau", .staleness = {StalenessKind::kHinge}}).ok());
}

}  // namespace
}  // namespace murmur::server::strategy
