// Deterministic replay: RoundCore driven twice with the same inputs and
// times gives bit-identical models, histories and outcomes; and a run that
// is stopped and resumed from its store in the middle ends exactly where the
// uninterrupted run does.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <deque>

#include "common/rng.h"
#include "common/token_digest.h"
#include "server/engine/core_driver.h"
#include "server/core/round_core.h"
#include "server/store/store.h"
#include "server/store/test_temp_dir.h"

namespace murmur::server::core {
namespace {

TensorList InitialModel() {
  return {{"w", {8}, {0.1f, -0.2f, 0.3f, 0.0f, 1.0f, -1.0f, 0.5f, 0.25f}},
          {"b", {3}, {0.5f, 0.0f, -0.5f}}};
}

// Everything observable about a run.
struct Transcript {
  std::vector<std::string> models;  // encoded x_v after every committed round
  std::vector<std::string> outcomes;
  std::vector<std::string> history;  // the store's participations, rounds, clients
  bool operator==(const Transcript&) const = default;
};

std::string Describe(const UpdateOutcome& o) {
  return fmt::format("{}|{}|{}|{}|{}", o.accepted, static_cast<int>(o.reason), o.message,
                     o.staleness, o.round_version);
}

// A seeded anarchic federation: 12 clients check in when they like with K of
// their choosing, some send late (stale), some send garbage or leave.
class Scenario {
 public:
  Scenario(uint64_t seed, EngineConfig cfg) : rng_(seed), cfg_(std::move(cfg)) {}

  // Runs steps [from, to) on `core`; `store` records the history (may be null).
  void Run(RoundCore* core, store::Store* store, int from, int to, Transcript* out) {
    CoreDriver driver(core, store);
    for (int step = from; step < to; ++step) {
      const double now = 1000 + 0.5 * step;
      const uint64_t who = rng_.UniformInt(kClients);
      const std::string name = fmt::format("client-{}", who);
      Client& c = clients_[who];
      if (c.id == 0 || rng_.Bernoulli(0.01)) {
        auto id = core->Register(name, {}, TokenDigest("token-" + name), now, "secret-" + name);
        ASSERT_TRUE(id.ok()) << id.status().ToString();
        c.id = *id;
        c.pending.clear();
      } else if (!c.pending.empty()) {
        // A client trains one check-in at a time (a second check-in before
        // sending would make the first update unannounced, and a restart's
        // grace for unannounced updates would then change the outcome).
        if (rng_.Bernoulli(0.6)) {
          Pending p = c.pending.front();
          c.pending.pop_front();
          UpdateMeta meta{.client_id = c.id, .token = "token-" + name, .base_version = p.base,
                          .local_steps = p.k, .num_samples = 16 + who, .mean_loss = 0.1 * p.k};
          std::string payload = rng_.Bernoulli(0.05) ? std::string("garbage") : p.payload;
          std::optional<UpdateOutcome> o = driver.Offer(meta, payload, now, next_ticket_++);
          if (o) out->outcomes.push_back("now:" + Describe(*o));
        }
      } else {
        const uint32_t k = 1 + static_cast<uint32_t>(rng_.UniformInt(5));
        auto d = core->CheckIn(c.id, "token-" + name, k, now);
        ASSERT_TRUE(d.ok()) << d.status().ToString();
        if (d->kind == CheckInDecision::Kind::kTrain) {
          TensorList delta = InitialModel();
          for (Tensor& t : delta) {
            for (float& v : t.data) v = static_cast<float>(rng_.Uniform(-0.1, 0.1));
          }
          c.pending.push_back({d->model_version, d->local_steps, *EncodeTensors(delta)});
        }
      }
      driver.Tick(now);
      Settled s = driver.Settle(now);
      for (const Ack& a : s.acks) {
        out->outcomes.push_back(fmt::format("{}:{}", a.ticket, Describe(a.outcome)));
      }
      for (const RoundSummary& r : s.rounds) out->models.push_back(*EncodeTensors(*r.model));
    }
  }

  static constexpr uint64_t kClients = 12;

 private:
  struct Pending {
    uint64_t base = 0;
    uint32_t k = 0;
    std::string payload;
  };
  struct Client {
    uint64_t id = 0;
    std::deque<Pending> pending;
  };
  Rng rng_;
  EngineConfig cfg_;
  Client clients_[kClients];
  Ticket next_ticket_ = 1;
};

void AppendHistory(store::Store& store, Transcript* out) {
  auto parts = store.ListParticipations(0, 0);
  ASSERT_TRUE(parts.ok());
  for (const store::ParticipationRecord& r : *parts) {
    out->history.push_back(fmt::format("p {} {} {} {} {} {} {} {} {}", r.id, r.client_id,
                                       r.base_version, r.round_version, r.accepted,
                                       r.reject_reason, r.message, r.weight.value_or(-1),
                                       r.payload_checksum));
  }
  auto rounds = store.ListRounds(0, 100000);
  ASSERT_TRUE(rounds.ok());
  for (const store::RoundRecord& r : *rounds) {
    out->history.push_back(fmt::format("r {} {} {} {} {}", r.version, r.trigger, r.num_updates,
                                       r.update_norm, r.closed_at_s));
  }
  auto clients = store.ListClients(0, 1000);
  ASSERT_TRUE(clients.ok());
  for (const store::ClientRecord& c : *clients) {
    out->history.push_back(fmt::format("c {} {} {}", c.client_id, c.name, c.left));
  }
}

// Where two sequences first differ (gtest would print both in full).
::testing::AssertionResult SameSequence(const std::vector<std::string>& a,
                                        const std::vector<std::string>& b) {
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) {
      return ::testing::AssertionFailure()
             << "first difference at " << i << ":\n  " << a[i] << "\n  " << b[i];
    }
  }
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << "lengths differ: " << a.size() << " vs " << b.size();
  }
  return ::testing::AssertionSuccess();
}

struct ReplayCase {
  const char* name;
  EngineConfig cfg;
};
void PrintTo(const ReplayCase& c, std::ostream* os) { *os << c.name; }

class CoreReplayTest : public ::testing::TestWithParam<ReplayCase> {
 protected:
  static constexpr int kSteps = 400;

  // One run; with `restart_at` > 0 the core is dropped there and resumed from the store.
  Transcript RunOnce(uint64_t seed, int restart_at = 0) {
    store::TestTempDir dir;
    auto store = store::Store::Open({.dir = dir.path()});
    EXPECT_TRUE(store.ok());
    const EngineConfig& cfg = GetParam().cfg;
    Transcript t;
    Scenario scenario(seed, cfg);
    auto core = RoundCore::Create(cfg, InitialModel(), 1000, true);
    EXPECT_TRUE(core.ok()) << core.status().ToString();
    EXPECT_TRUE((*store)->Initialize(InitialModel(), cfg.strategy.name, 1000).ok());
    if (restart_at > 0) {
      scenario.Run(core->get(), store->get(), 0, restart_at, &t);
      core->reset();
      store->reset();
      store = store::Store::Open({.dir = dir.path()});
      EXPECT_TRUE(store.ok());
      auto rec = (*store)->Recover(SpecOf(InitialModel()), MaxStaleness(cfg));
      EXPECT_TRUE(rec.ok()) << rec.status().ToString();
      core = RoundCore::Resume(cfg, SpecOf(InitialModel()), std::move(*rec), 1000, "store");
      EXPECT_TRUE(core.ok()) << core.status().ToString();
      scenario.Run(core->get(), store->get(), restart_at, kSteps, &t);
    } else {
      scenario.Run(core->get(), store->get(), 0, kSteps, &t);
    }
    AppendHistory(**store, &t);
    return t;
  }
};

TEST_P(CoreReplayTest, SameInputsGiveBitIdenticalModelsHistoriesAndOutcomes) {
  Transcript a = RunOnce(7), b = RunOnce(7);
  EXPECT_GT(a.models.size(), 5u) << "the scenario must close rounds";
  EXPECT_GT(a.outcomes.size(), 50u);
  EXPECT_TRUE(SameSequence(a.models, b.models));
  EXPECT_TRUE(SameSequence(a.outcomes, b.outcomes));
  EXPECT_TRUE(SameSequence(a.history, b.history));
  // And the seed matters (the comparison can fail).
  Transcript c = RunOnce(8);
  EXPECT_NE(a.models, c.models);
}

TEST_P(CoreReplayTest, ResumingFromTheStoreContinuesTheSameTrajectory) {
  Transcript straight = RunOnce(11), resumed = RunOnce(11, kSteps / 2);
  ASSERT_GT(straight.models.size(), 5u);
  EXPECT_TRUE(SameSequence(straight.models, resumed.models));
  EXPECT_TRUE(SameSequence(straight.outcomes, resumed.outcomes));
  EXPECT_TRUE(SameSequence(straight.history, resumed.history));
}

EngineConfig Async(const char* strategy) {
  EngineConfig c{.updates_per_round = 3, .strategy = {.name = strategy}};
  c.max_staleness = 3;
  return c;
}
EngineConfig Sync(const char* strategy) {
  return {.mode = RoundMode::kSync, .updates_per_round = 0, .round_deadline_s = 4,
          .close_empty_rounds = true, .strategy = {.name = strategy}};
}

INSTANTIATE_TEST_SUITE_P(
    Strategies, CoreReplayTest,
    ::testing::Values(ReplayCase{"afa_cd", Async("afa_cd")},
                      ReplayCase{"afa_fedau", Async("afa_fedau")},
                      ReplayCase{"afa_cs", Async("afa_cs")},
                      ReplayCase{"fedau", Sync("fedau")},
                      ReplayCase{"mifa", Sync("mifa")}),
    [](const ::testing::TestParamInfo<ReplayCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace murmur::server::core
