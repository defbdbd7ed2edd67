// End-to-end tests of the simulator on the torch-free regression workload:
// determinism, thread-count independence, identical client behaviour across
// strategies, availability traces and the SQLite history.
#include "sim/simulation.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "sim/experiment_runner.h"
#include "sim/regression_workload.h"
#include "sim/report.h"

namespace murmur::sim {
namespace {

const char* kExperiment = R"(
rounds = 15
[workload]
kind = "regression"
clients = 40
batch = 8
local_lr = 0.02
[participation]
p_mode = "uniform"
mean_p = 0.4
pattern = "bernoulli"
slot_s = 10
[system]
k_policy = "range"
k_min = 2
k_max = 8
sec_per_sample = 0.01
speed_sigma = 0.5
think_s = 0.5
dropout = 0.1
eager_fraction = 0.2
eager_factor = 5
[[strategy]]
name = "fedau"
[[strategy]]
name = "fedavg_participants"
[[strategy]]
name = "afa_cd"
mode = "async"
updates_per_round = 5
server_lr = 3
)";

ExperimentConfig Parse(const std::string& text) {
  auto e = ParseExperiment(text, "test.toml", "");
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return *e;
}

std::vector<RunResult> RunAll(const ExperimentConfig& e, uint64_t seed, size_t threads,
                              const SeedRunOptions& options = {}) {
  RegressionWorkloadOptions wo;
  wo.clients = e.workload.clients;
  wo.local_lr = e.workload.local_lr;
  wo.batch = e.workload.batch;
  wo.seed = seed;
  RegressionWorkload workload(wo);
  ThreadPool pool(threads);
  EXPECT_TRUE(workload.Prepare(pool.size()).ok());
  auto runs = RunSeed(e, seed, workload, pool, options);
  EXPECT_TRUE(runs.ok()) << runs.status().ToString();
  return runs.ok() ? *runs : std::vector<RunResult>{};
}

TEST(Simulation, EndToEndEveryStrategyLearns) {
  const ExperimentConfig e = Parse(kExperiment);
  const auto runs = RunAll(e, 1, 2);
  ASSERT_EQ(runs.size(), 3u);
  for (const RunResult& r : runs) {
    SCOPED_TRACE(r.label);
    ASSERT_EQ(r.rows.size(), 16u);  // version 1 (initial) + 15 rounds
    EXPECT_EQ(r.rows.back().version, 16u);
    EXPECT_LT(FinalLoss(r), 0.5 * r.rows[0].loss);
    EXPECT_GT(r.accepted, 15u);
    EXPECT_GT(r.dropouts, 0u);
    for (size_t i = 1; i < r.rows.size(); ++i) EXPECT_GE(r.rows[i].sim_time_s, r.rows[i - 1].sim_time_s);
  }
  // Sync rounds close every slot (10 s) at the deadline.
  EXPECT_NEAR(runs[0].rows.back().sim_time_s, 150.0, 1e-9);
  // Async rounds take 5 updates each; later updates may be stale.
  for (size_t i = 1; i < runs[2].rows.size(); ++i) EXPECT_EQ(runs[2].rows[i].participants, 5u);
  double staleness = 0;
  for (const RoundRow& row : runs[2].rows) staleness += row.mean_staleness;
  EXPECT_GT(staleness, 0);
}

TEST(Simulation, SameSeedGivesByteIdenticalCsv) {
  const ExperimentConfig e = Parse(kExperiment);
  const auto a = RunAll(e, 7, 2);
  const auto b = RunAll(e, 7, 2);
  const auto c = RunAll(e, 8, 2);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(RoundCsv(a[i]), RoundCsv(b[i])) << a[i].label;
    EXPECT_NE(RoundCsv(a[i]), RoundCsv(c[i])) << a[i].label;
  }
}

TEST(Simulation, ResultsDoNotDependOnTheThreadCount) {
  const ExperimentConfig e = Parse(kExperiment);
  const auto one = RunAll(e, 3, 1);
  const auto four = RunAll(e, 3, 4);
  ASSERT_EQ(one.size(), four.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(RoundCsv(one[i]), RoundCsv(four[i])) << one[i].label;
    EXPECT_EQ(one[i].participations, four[i].participations);
  }
}

TEST(Simulation, SyncStrategiesSeeIdenticalClientBehaviour) {
  const ExperimentConfig e = Parse(kExperiment);
  const auto runs = RunAll(e, 5, 2);
  // fedau and fedavg_participants: same availability, speeds, K and drops,
  // so the same check-ins, jobs and participations (the models differ).
  EXPECT_EQ(runs[0].true_p, runs[1].true_p);
  EXPECT_EQ(runs[0].check_ins, runs[1].check_ins);
  EXPECT_EQ(runs[0].jobs_started, runs[1].jobs_started);
  EXPECT_EQ(runs[0].dropouts, runs[1].dropouts);
  EXPECT_EQ(runs[0].participations, runs[1].participations);
  EXPECT_NE(RoundCsv(runs[0]), RoundCsv(runs[1]));
}

TEST(Simulation, EmpiricalParticipationFollowsP) {
  ExperimentConfig e = Parse(kExperiment);
  e.rounds = 200;
  e.system.dropout = 0;
  e.system.sec_per_sample = 0.001;  // every job fits its slot
  e.strategies.resize(1);
  e.strategies[0].engine.max_rounds = 200;
  const auto runs = RunAll(e, 2, 2);
  const RunResult& r = runs[0];
  double err = 0;
  for (size_t c = 0; c < r.true_p.size(); ++c) {
    err += std::abs(static_cast<double>(r.participations[c]) / 200.0 - r.true_p[c]);
  }
  EXPECT_LT(err / static_cast<double>(r.true_p.size()), 0.06);
}

TEST(Simulation, AvailabilityTraceDrivesWhoTakesPart) {
  ExperimentConfig e = Parse(kExperiment);
  e.strategies.erase(e.strategies.begin());  // fedavg_participants, afa_cd
  std::istringstream csv(
      "client,online_from_s,online_to_s\n"
      "0,0,1000\n1,0,1000\n2,0,1000\n3,0,1000\n4,0,1000\n5,0,1000\n"
      "6,50,60\n");
  auto trace = AvailabilityTrace::Parse(csv, "trace.csv");
  ASSERT_TRUE(trace.ok());
  SeedRunOptions opt;
  opt.trace = &*trace;
  const auto runs = RunAll(e, 1, 2, opt);
  for (const RunResult& r : runs) {
    SCOPED_TRACE(r.label);
    EXPECT_GT(r.accepted, 0u);
    for (size_t c = 7; c < r.participations.size(); ++c) EXPECT_EQ(r.participations[c], 0u) << c;
    EXPECT_EQ(r.true_p[0], 1.0);
    EXPECT_EQ(r.true_p[10], 0.0);
  }
}

TEST(Simulation, SqliteHistoryInADirectoryOfItsOwn) {
  ExperimentConfig e = Parse(kExperiment);
  e.strategies.resize(1);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("murmur_sim_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);  // this test's own directory
  SeedRunOptions opt;
  std::atomic<int> opened{0};
  opt.open_store = [&](const std::string& label, uint64_t seed)
      -> Result<std::unique_ptr<server::store::Store>> {
    ++opened;
    return server::store::Store::Open({.dir = (dir / (label + "-" + std::to_string(seed))).string()});
  };
  const auto runs = RunAll(e, 1, 2, opt);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(opened.load(), 1);
  EXPECT_TRUE(std::filesystem::exists(dir / "fedau-1"));
  auto reopened = server::store::Store::Open({.dir = (dir / "fedau-1").string(), .create_if_missing = false});
  EXPECT_TRUE(reopened.ok()) << reopened.status().ToString();
  std::filesystem::remove_all(dir);
}

TEST(Simulation, EvaluatesEveryNthVersionAndTheLast) {
  ExperimentConfig e = Parse(kExperiment);
  e.eval_every = 5;
  e.rounds = 12;
  e.strategies.resize(1);
  e.strategies[0].engine.max_rounds = 12;
  const auto runs = RunAll(e, 1, 2);
  ASSERT_EQ(runs[0].rows.size(), 13u);
  for (const RoundRow& row : runs[0].rows) {
    const bool evaluated = (row.version - 1) % 5 == 0 || row.version == 13;
    EXPECT_EQ(!std::isnan(row.loss), evaluated) << row.version;
  }
  const std::string csv = RoundCsv(runs[0]);
  EXPECT_NE(csv.find("\n2,10.000,,,"), std::string::npos) << csv;
}

TEST(Simulation, StopsAtTheSimulatedTimeBudget) {
  ExperimentConfig e = Parse(kExperiment);
  e.rounds = 0;
  e.sim_time_s = 55;
  for (StrategyRun& s : e.strategies) s.engine.max_rounds = 0;
  const auto runs = RunAll(e, 1, 2);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].rows.back().version, 6u);  // sync rounds closed at 10, 20, ..., 50 s
  for (const RunResult& r : runs) {
    EXPECT_LE(r.sim_end_s, 55.0);
    EXPECT_LE(r.rows.back().sim_time_s, 55.0);
  }
}

TEST(Simulation, CyclicClientsTakePartInTheirPhaseOnly) {
  ExperimentConfig e = Parse(kExperiment);
  e.participation.pattern.kind = PatternKind::kCyclic;
  e.participation.pattern.cyclic_period = 10;
  e.system.dropout = 0;
  e.system.sec_per_sample = 0.001;
  e.rounds = 40;
  e.strategies.resize(1);
  e.strategies[0].engine.max_rounds = 40;
  const auto runs = RunAll(e, 4, 2);
  const RunResult& r = runs[0];
  for (size_t c = 0; c < r.true_p.size(); ++c) {
    // on for round(10 p) (at least 1) of every 10 slots, 4 periods.
    const uint64_t expected = 4 * std::max<uint64_t>(1, std::lround(10 * r.true_p[c]));
    EXPECT_EQ(r.participations[c], expected) << "client " << c << " p " << r.true_p[c];
  }
}

}  // namespace
}  // namespace murmur::sim
