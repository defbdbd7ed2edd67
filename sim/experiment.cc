#include "sim/experiment.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "server/strategy/strategy_factory.h"

namespace murmur::sim {
namespace {

// Reads typed keys from one TOML table, remembers which keys it knows, and
// reports unknown ones; every error names file:line and the key.
class TableReader {
 public:
  TableReader(const toml::table* table, std::string file, std::string where)
      : table_(table), file_(std::move(file)), where_(std::move(where)) {}

  Status Error(const toml::node* node, const std::string& key, const std::string& what) const {
    const int line = node ? static_cast<int>(node->source().begin.line) : 0;
    return InvalidArgumentError(file_ + ":" + std::to_string(line) + ": " + where_ + key + ": " +
                                what);
  }

  template <typename T>
  Status Number(const std::string& key, T* out) {
    known_.insert(key);
    const toml::node* n = table_ ? table_->get(key) : nullptr;
    if (!n) return Status::Ok();
    if (auto i = n->value_exact<int64_t>()) {
      if constexpr (std::is_unsigned_v<T>) {
        if (*i < 0) return Error(n, key, "must not be negative");
      }
      *out = static_cast<T>(*i);
      return Status::Ok();
    }
    if constexpr (std::is_floating_point_v<T>) {
      if (auto d = n->value_exact<double>()) {
        *out = *d;
        return Status::Ok();
      }
    }
    return Error(n, key, std::is_floating_point_v<T> ? "expected a number" : "expected an integer");
  }

  Status String(const std::string& key, std::string* out) {
    known_.insert(key);
    const toml::node* n = table_ ? table_->get(key) : nullptr;
    if (!n) return Status::Ok();
    if (auto s = n->value_exact<std::string>()) {
      *out = *s;
      return Status::Ok();
    }
    return Error(n, key, "expected a string");
  }

  const toml::node* Raw(const std::string& key) {
    known_.insert(key);
    return table_ ? table_->get(key) : nullptr;
  }

  Status CheckUnknown() const {
    if (!table_) return Status::Ok();
    for (const auto& [k, v] : *table_) {
      const std::string key(k.str());
      if (!known_.count(key)) return Error(&v, key, "unknown key");
    }
    return Status::Ok();
  }

 private:
  const toml::table* table_;
  std::string file_;
  std::string where_;
  std::set<std::string> known_;
};

Status ParseWorkload(TableReader& r, WorkloadConfig& w) {
  MURMUR_RETURN_IF_ERROR(r.String("kind", &w.kind));
  MURMUR_RETURN_IF_ERROR(r.Number("clients", &w.clients));
  MURMUR_RETURN_IF_ERROR(r.Number("batch", &w.batch));
  MURMUR_RETURN_IF_ERROR(r.Number("local_lr", &w.local_lr));
  MURMUR_RETURN_IF_ERROR(r.String("optimizer", &w.optimizer));
  MURMUR_RETURN_IF_ERROR(r.String("partition", &w.partition));
  MURMUR_RETURN_IF_ERROR(r.Number("alpha", &w.alpha));
  MURMUR_RETURN_IF_ERROR(r.Number("eval_samples", &w.eval_samples));
  MURMUR_RETURN_IF_ERROR(r.String("data_dir", &w.data_dir));
  MURMUR_RETURN_IF_ERROR(r.Number("model_dim", &w.model_dim));
  MURMUR_RETURN_IF_ERROR(r.Number("model_blocks", &w.model_blocks));
  MURMUR_RETURN_IF_ERROR(r.Number("dim", &w.dim));
  MURMUR_RETURN_IF_ERROR(r.Number("samples_per_client", &w.samples_per_client));
  MURMUR_RETURN_IF_ERROR(r.Number("heterogeneity", &w.heterogeneity));
  if (w.kind != "regression" && w.kind != "fashion_mnist") {
    return r.Error(nullptr, "kind", "'" + w.kind + "' is not regression or fashion_mnist");
  }
  if (w.clients < 1) return r.Error(nullptr, "clients", "must be >= 1");
  if (w.batch < 1 || !(w.local_lr > 0)) return r.Error(nullptr, "batch", "batch and local_lr must be > 0");
  return r.CheckUnknown();
}

Status ParseParticipation(TableReader& r, ParticipationConfig& p, const std::string& base_dir) {
  std::string mode = "equal", pattern = "bernoulli";
  MURMUR_RETURN_IF_ERROR(r.String("p_mode", &mode));
  MURMUR_RETURN_IF_ERROR(r.String("pattern", &pattern));
  MURMUR_RETURN_IF_ERROR(r.Number("mean_p", &p.mean_p));
  MURMUR_RETURN_IF_ERROR(r.Number("p_min", &p.p_min));
  MURMUR_RETURN_IF_ERROR(r.Number("markov_a", &p.pattern.markov_a));
  MURMUR_RETURN_IF_ERROR(r.Number("cyclic_period", &p.pattern.cyclic_period));
  MURMUR_RETURN_IF_ERROR(r.Number("slot_s", &p.slot_s));
  MURMUR_RETURN_IF_ERROR(r.String("trace", &p.trace));
  auto m = ParseProbabilityMode(mode);
  if (!m.ok()) return r.Error(nullptr, "p_mode", m.status().message());
  p.p_mode = *m;
  auto k = ParsePatternKind(pattern);
  if (!k.ok()) return r.Error(nullptr, "pattern", k.status().message());
  p.pattern.kind = *k;
  if (!(p.mean_p > 0 && p.mean_p <= 1)) return r.Error(nullptr, "mean_p", "must be in (0, 1]");
  if (!(p.slot_s > 0)) return r.Error(nullptr, "slot_s", "must be > 0");
  if (!(p.pattern.markov_a > 0 && p.pattern.markov_a <= 1)) {
    return r.Error(nullptr, "markov_a", "must be in (0, 1]");
  }
  if (p.pattern.cyclic_period < 1) return r.Error(nullptr, "cyclic_period", "must be >= 1");
  if (!p.trace.empty() && std::filesystem::path(p.trace).is_relative() && !base_dir.empty()) {
    p.trace = (std::filesystem::path(base_dir) / p.trace).string();
  }
  return r.CheckUnknown();
}

Status ParseSystem(TableReader& r, SystemOptions& s) {
  std::string policy = "fixed";
  MURMUR_RETURN_IF_ERROR(r.String("k_policy", &policy));
  MURMUR_RETURN_IF_ERROR(r.Number("k", &s.k));
  MURMUR_RETURN_IF_ERROR(r.Number("k_min", &s.k_min));
  MURMUR_RETURN_IF_ERROR(r.Number("k_max", &s.k_max));
  MURMUR_RETURN_IF_ERROR(r.Number("time_budget_s", &s.time_budget_s));
  MURMUR_RETURN_IF_ERROR(r.Number("sec_per_sample", &s.sec_per_sample));
  MURMUR_RETURN_IF_ERROR(r.Number("speed_sigma", &s.speed_sigma));
  MURMUR_RETURN_IF_ERROR(r.Number("bandwidth_mbps", &s.bandwidth_mbps));
  MURMUR_RETURN_IF_ERROR(r.Number("bandwidth_sigma", &s.bandwidth_sigma));
  MURMUR_RETURN_IF_ERROR(r.Number("latency_s", &s.latency_s));
  MURMUR_RETURN_IF_ERROR(r.Number("dropout", &s.dropout));
  MURMUR_RETURN_IF_ERROR(r.Number("think_s", &s.think_s));
  MURMUR_RETURN_IF_ERROR(r.Number("eager_fraction", &s.eager_fraction));
  MURMUR_RETURN_IF_ERROR(r.Number("eager_factor", &s.eager_factor));
  auto k = ParseKPolicy(policy);
  if (!k.ok()) return r.Error(nullptr, "k_policy", k.status().message());
  s.k_policy = *k;
  if (Status v = ValidateSystemOptions(s); !v.ok()) return r.Error(nullptr, "", v.message());
  return r.CheckUnknown();
}

Status ParseStrategy(TableReader& r, const ExperimentConfig& e, StrategyRun& run) {
  server::EngineConfig& c = run.engine;
  std::string mode = "sync";
  int64_t max_staleness = -1;
  MURMUR_RETURN_IF_ERROR(r.String("name", &c.strategy.name));
  if (!r.Raw("name")) return r.Error(nullptr, "name", "every [[strategy]] needs a name");
  run.label = c.strategy.name;
  MURMUR_RETURN_IF_ERROR(r.String("label", &run.label));
  MURMUR_RETURN_IF_ERROR(r.String("mode", &mode));
  MURMUR_RETURN_IF_ERROR(r.Number("server_lr", &c.strategy.server_lr));
  c.updates_per_round = 0;
  c.round_deadline_s = 0;
  MURMUR_RETURN_IF_ERROR(r.Number("updates_per_round", &c.updates_per_round));
  MURMUR_RETURN_IF_ERROR(r.Number("round_deadline_s", &c.round_deadline_s));
  MURMUR_RETURN_IF_ERROR(r.Number("max_staleness", &max_staleness));
  MURMUR_RETURN_IF_ERROR(r.Number("fedau_k_cut", &c.strategy.fedau_k_cut));
  MURMUR_RETURN_IF_ERROR(r.Number("afa_local_lr", &c.strategy.afa_local_lr));
  std::string warmup = "all";
  MURMUR_RETURN_IF_ERROR(r.String("afa_cs_warmup", &warmup));
  Result<server::strategy::AfaCsWarmup> parsed = server::strategy::ParseAfaCsWarmup(warmup);
  if (!parsed.ok()) return r.Error(nullptr, "afa_cs_warmup", parsed.status().message());
  c.strategy.afa_cs_warmup = *parsed;
  MURMUR_RETURN_IF_ERROR(r.Number("max_concurrent_trainers", &c.max_concurrent_trainers));
  if (mode == "sync") {
    c.mode = server::RoundMode::kSync;
    if (c.round_deadline_s == 0) c.round_deadline_s = e.participation.slot_s;
    c.close_empty_rounds = true;
  } else if (mode == "async") {
    c.mode = server::RoundMode::kAsync;
    if (c.updates_per_round == 0 && c.round_deadline_s == 0) {
      return r.Error(nullptr, "updates_per_round", "async mode needs updates_per_round or round_deadline_s");
    }
  } else {
    return r.Error(nullptr, "mode", "'" + mode + "' is not sync or async");
  }
  if (max_staleness >= 0) c.max_staleness = static_cast<uint64_t>(max_staleness);
  c.max_rounds = e.rounds;
  c.max_update_norm = 1e6;
  c.require_credential = false;
  c.recipe.local_lr = e.workload.local_lr;
  c.recipe.batch_size = static_cast<uint32_t>(e.workload.batch);
  c.recipe.min_local_steps = 1;
  c.recipe.max_local_steps =
      static_cast<uint32_t>(std::max({e.system.k, e.system.k_max, 1}));
  // fedavg_known_p gets every client's true p_n from the simulator when a run
  // starts (simulation.cc); validate the rest with a stand-in.
  server::EngineConfig check = c;
  if (check.known_participation_prob.empty()) check.known_participation_prob[1] = 1.0;
  if (Status v = server::ValidateEngineConfig(check); !v.ok()) return r.Error(nullptr, "", v.message());
  return r.CheckUnknown();
}

}  // namespace

Result<ExperimentConfig> ParseExperiment(const std::string& text, const std::string& name,
                                         const std::string& base_dir) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& err) {
    return InvalidArgumentError(name + ":" + std::to_string(err.source().begin.line) + ": " +
                                std::string(err.description()));
  }
  ExperimentConfig e;
  TableReader top(&root, name, "");
  MURMUR_RETURN_IF_ERROR(top.String("name", &e.name));
  MURMUR_RETURN_IF_ERROR(top.Number("rounds", &e.rounds));
  MURMUR_RETURN_IF_ERROR(top.Number("sim_time_s", &e.sim_time_s));
  MURMUR_RETURN_IF_ERROR(top.Number("eval_every", &e.eval_every));
  MURMUR_RETURN_IF_ERROR(top.Number("threads", &e.threads));
  if (const toml::node* seeds = top.Raw("seeds")) {
    const toml::array* arr = seeds->as_array();
    if (!arr || arr->empty()) return top.Error(seeds, "seeds", "expected a non-empty array of integers");
    e.seeds.clear();
    for (const toml::node& s : *arr) {
      auto v = s.value_exact<int64_t>();
      if (!v || *v < 0) return top.Error(&s, "seeds", "expected non-negative integers");
      e.seeds.push_back(static_cast<uint64_t>(*v));
    }
  }
  if (e.rounds == 0 && !(e.sim_time_s > 0)) {
    return top.Error(nullptr, "rounds", "set rounds or sim_time_s (the run needs an end)");
  }
  if (e.eval_every == 0) return top.Error(nullptr, "eval_every", "must be >= 1");
  auto sub = [&](const std::string& key) -> Result<const toml::table*> {
    const toml::node* n = top.Raw(key);
    if (!n) return static_cast<const toml::table*>(nullptr);
    if (!n->as_table()) return top.Error(n, key, "expected a table [" + key + "]");
    return n->as_table();
  };
  MURMUR_ASSIGN_OR_RETURN(const toml::table* wt, sub("workload"));
  TableReader wr(wt, name, "workload.");
  MURMUR_RETURN_IF_ERROR(ParseWorkload(wr, e.workload));
  MURMUR_ASSIGN_OR_RETURN(const toml::table* pt, sub("participation"));
  TableReader pr(pt, name, "participation.");
  MURMUR_RETURN_IF_ERROR(ParseParticipation(pr, e.participation, base_dir));
  MURMUR_ASSIGN_OR_RETURN(const toml::table* st, sub("system"));
  TableReader sr(st, name, "system.");
  e.system.batch = e.workload.batch;
  MURMUR_RETURN_IF_ERROR(ParseSystem(sr, e.system));
  e.system.batch = e.workload.batch;
  const toml::node* strategies = top.Raw("strategy");
  const toml::array* arr = strategies ? strategies->as_array() : nullptr;
  if (!arr || arr->empty()) {
    return top.Error(strategies, "strategy", "need at least one [[strategy]] table");
  }
  std::set<std::string> labels;
  for (const toml::node& n : *arr) {
    if (!n.as_table()) return top.Error(&n, "strategy", "expected [[strategy]] tables");
    TableReader r(n.as_table(), name, "strategy.");
    StrategyRun run;
    MURMUR_RETURN_IF_ERROR(ParseStrategy(r, e, run));
    if (!labels.insert(run.label).second) {
      return r.Error(&n, "label", "'" + run.label + "' is used twice (give each strategy a label)");
    }
    e.strategies.push_back(std::move(run));
  }
  MURMUR_RETURN_IF_ERROR(top.CheckUnknown());
  return e;
}

Result<ExperimentConfig> LoadExperiment(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("cannot open experiment file " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseExperiment(buf.str(), path, std::filesystem::path(path).parent_path().string());
}

}  // namespace murmur::sim
