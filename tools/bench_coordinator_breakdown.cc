#include "tools/bench_coordinator_breakdown.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "common/checksum.h"
#include "common/codec/tensor_codec.h"
#include "common/rng.h"
#include "server/store/sqlite_store.h"
#include "server/strategy/strategy_factory.h"
#include "server/strategy/strategy_state.h"

namespace murmur::bench {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

Result<Breakdown> MeasureBreakdown(const TensorList& model, uint32_t m, const std::string& dir) {
  Breakdown b;
  b.updates_per_round = m;
  const ModelSpec spec = SpecOf(model);
  Rng rng(5);
  std::vector<server::strategy::ClientUpdate> updates;
  std::vector<std::string> payloads;
  std::vector<uint64_t> ids;
  for (uint32_t i = 0; i < m; ++i) {
    TensorList delta = RandomNormal(spec, rng, 1e-3);
    auto p = EncodeTensors(delta);
    if (!p.ok()) return p.status();
    payloads.push_back(std::move(*p));
    updates.push_back({.client_id = i + 1, .delta = std::move(delta), .local_steps = 1,
                       .num_samples = 100, .base_version = 1, .staleness = 0, .local_lr = 0.05});
    ids.push_back(i + 1);
  }
  const int reps = 16;

  TensorList scratch;
  const DecodeOptions dopt{.expected = &spec};
  auto t0 = Clock::now();
  for (int r = 0; r < reps; ++r) {
    if (Status s = DecodeTensorsInto(payloads[r % m], dopt, &scratch); !s.ok()) return s;
  }
  b.decode_ms = MsSince(t0) / reps;

  uint64_t sink = 0;
  t0 = Clock::now();
  for (int r = 0; r < reps; ++r) sink ^= Xxh3(payloads[r % m]);
  b.xxh3_ms = MsSince(t0) / reps;
  if (sink == 42) std::printf(" ");  // keep the hashes observable

  auto strategy = server::strategy::MakeStrategy({.name = "afa_cd"});
  if (!strategy.ok()) return strategy.status();
  server::strategy::StrategyState state;
  const int rounds = 4;
  t0 = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    // As the engine calls it: its decoder already refused non-finite deltas.
    server::strategy::RoundInput in{.round = static_cast<uint64_t>(r + 1), .global = &model,
                                    .updates = updates, .all_clients = ids,
                                    .deltas_checked_finite = true};
    auto step = (*strategy)->Aggregate(in, state);
    if (!step.ok()) return step.status();
    state = std::move(step->new_state);
  }
  b.aggregate_ms = MsSince(t0) / rounds / m;

  std::filesystem::remove_all(dir);
  {
    auto store = server::store::SqliteStore::Open({.dir = dir});
    if (!store.ok()) return store.status();
    if (Status s = (*store)->Initialize(model, "afa_cd", 0.0); !s.ok()) return s;
    server::store::WriteBatch clients;
    for (uint64_t id : ids) {
      clients.clients.push_back({.client_id = id, .name = fmt::format("c{}", id), .device = "cpu",
                                 .num_samples = 100, .registered_version = 1});
    }
    if (Status s = (*store)->Write(clients); !s.ok()) return s;
    auto state_bytes = server::strategy::SerializeState(state);
    if (!state_bytes.ok()) return state_bytes.status();
    uint64_t next_id = 1;
    double write_ms = 0, commit_ms = 0;
    for (int r = 0; r < rounds; ++r) {
      const uint64_t version = static_cast<uint64_t>(r) + 2;
      server::store::RoundCommit commit{.round = {.version = version, .trigger = "buffer_full",
                                                  .num_updates = m},
                                        .model = &model, .strategy = "afa_cd",
                                        .strategy_state = *state_bytes};
      for (uint32_t i = 0; i < m; ++i) {
        server::store::WriteBatch one;
        const uint64_t pid = next_id++;
        one.participations.push_back({.id = pid, .client_id = ids[i], .base_version = version - 1,
                                      .round_version = version, .local_steps = 1,
                                      .num_samples = 100, .mean_loss = 0.5, .accepted = true,
                                      .payload_checksum = Xxh3(payloads[i]), .local_lr = 0.05});
        one.buffered_payloads.emplace_back(pid, payloads[i]);
        commit.weights.emplace_back(pid, 1.0 / m);
        t0 = Clock::now();
        if (Status s = (*store)->Write(one); !s.ok()) return s;
        write_ms += MsSince(t0);
      }
      server::store::WriteBatch round;
      round.round = std::move(commit);
      t0 = Clock::now();
      if (Status s = (*store)->Write(round); !s.ok()) return s;
      commit_ms += MsSince(t0);
    }
    b.store_write_ms = write_ms / (rounds * m);
    b.round_commit_ms = commit_ms / (rounds * m);
  }
  std::filesystem::remove_all(dir);
  return b;
}

void PrintBreakdown(const Breakdown& b, size_t update_bytes) {
  const double total = b.decode_ms + b.xxh3_ms + b.store_write_ms + b.aggregate_ms +
                       b.round_commit_ms;
  std::printf("breakdown, one thread, ms per %.1f MB update (m = %u):\n", update_bytes / 1e6,
              b.updates_per_round);
  auto row = [&](const char* what, double ms) {
    std::printf("  %-34s %8.2f ms  %5.1f%%  (%.0f MB/s alone)\n", what, ms, 100 * ms / total,
                update_bytes / 1e6 / (ms / 1e3));
  };
  row("codec decode + validate", b.decode_ms);
  row("XXH3-64 of the payload", b.xxh3_ms);
  row("store: row + payload segment, 1 txn", b.store_write_ms);
  row("afa_cd aggregation (/m)", b.aggregate_ms);
  row("round commit: ckpt+fsync+txn (/m)", b.round_commit_ms);
  std::printf("  %-34s %8.2f ms  -> %.0f MB/s if serial\n", "sum", total,
              update_bytes / 1e6 / (total / 1e3));
}

nlohmann::json BreakdownJson(const Breakdown& b) {
  return {{"decode_ms", b.decode_ms},           {"xxh3_ms", b.xxh3_ms},
          {"store_write_ms", b.store_write_ms}, {"aggregate_ms", b.aggregate_ms},
          {"round_commit_ms", b.round_commit_ms}, {"updates_per_round", b.updates_per_round}};
}

}  // namespace murmur::bench
