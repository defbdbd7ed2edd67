#include "server/engine_flags.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>
#include <toml++/toml.h>
#include <vector>

#include "server/strategy/afa_cs.h"
#include "server/strategy/staleness.h"
#include "server/strategy/strategy_factory.h"

namespace murmur::server {
namespace {

std::string KCutText(uint64_t k_cut) { return k_cut == 0 ? "inf" : std::to_string(k_cut); }

Result<uint64_t> ParseKCut(const std::string& text) {
  if (text == "inf" || text == "infinity" || text == "0") return uint64_t{0};
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return InvalidArgumentError(fmt::format(
        "--fedau-k-cut: '{}' is not a whole number of rounds or 'inf' (0 also means infinity)",
        text));
  }
  return v;
}

std::vector<std::string> StrategyNameList() {
  std::vector<std::string> names;
  for (std::string_view n : strategy::StrategyNames()) names.emplace_back(n);
  return names;
}

}  // namespace

void AddEngineFlags(CLI::App& app, EngineConfig* cfg, EngineFlagValues* values) {
  strategy::StrategyConfig& st = cfg->strategy;
  values->mode = std::string(RoundModeName(cfg->mode));
  values->staleness = std::string(strategy::StalenessKindName(st.staleness.kind));
  values->afa_cs_warmup = st.afa_cs_warmup == strategy::AfaCsWarmup::kSeen ? "seen" : "all";
  values->fedau_k_cut = KCutText(st.fedau_k_cut);
  values->update_encoding = std::string(EncodingName(cfg->recipe.update_encoding));
  values->model_encoding = std::string(EncodingName(cfg->model_encoding));

  // The strategy.
  app.add_option("--strategy", st.name, "Aggregation rule (the rules: ALGORITHMS.md)")
      ->check(CLI::IsMember(StrategyNameList()))
      ->capture_default_str();
  app.add_option("--server-lr", st.server_lr,
                 "Server learning rate eta (FedBuff: eta_g); > 0")
      ->capture_default_str();
  app.add_flag("--sample-weighted", st.sample_weighted,
               "fedavg_participants: weight updates by their number of samples")
      ->capture_default_str();
  app.add_option("--fedau-k-cut", values->fedau_k_cut,
                 "fedau, afa_fedau: FedAU's interval cut-off K_cut in rounds; 0 or 'inf' for "
                 "infinity (the FedAU reference code's default)")
      ->capture_default_str();
  app.add_option("--afa-local-lr", st.afa_local_lr,
                 "afa_cd, afa_cs, afa_fedau: the server's eta_L in x -= eta*eta_L*G (0: each "
                 "update's own local learning rate)")
      ->capture_default_str();
  app.add_option("--staleness", values->staleness,
                 "Staleness discount s(tau) for afa_cd, fedbuff, afa_fedau: default (the "
                 "strategy's own: inv_sqrt for fedbuff, none otherwise), none, inv_sqrt, "
                 "polynomial, hinge")
      ->check(CLI::IsMember({"default", "none", "constant", "inv_sqrt", "polynomial", "hinge"}))
      ->capture_default_str();
  app.add_option("--staleness-a", st.staleness.a,
                 "Staleness discount parameter a: polynomial exponent, hinge slope")
      ->capture_default_str();
  app.add_option("--staleness-b", st.staleness.b,
                 "Staleness discount parameter b: hinge, staleness tolerated without discount")
      ->capture_default_str();
  app.add_option("--afa-cs-warmup", values->afa_cs_warmup,
                 "afa_cs: before every worker has reported, divide the table sum by all "
                 "registered workers (all) or by those with an entry (seen)")
      ->check(CLI::IsMember({"all", "seen"}))
      ->capture_default_str();
  app.add_option("--fedbuff-buffer-size", st.fedbuff_buffer_size,
                 "fedbuff: buffer size K, the divisor of every step, also for a partial buffer "
                 "closed at a deadline (0: the number of updates in the round)")
      ->capture_default_str();
  app.add_option("--known-p-file", values->known_p_file,
                 "fedavg_known_p: TOML file whose [known_p] table maps client name -> "
                 "participation probability p_n in (0, 1]");

  // Rounds.
  app.add_option("--mode", values->mode,
                 "async (anarchic: clients come when they like) or sync (one update per client "
                 "per round)")
      ->check(CLI::IsMember({"async", "sync"}))
      ->capture_default_str();
  app.add_option("--updates-per-round", cfg->updates_per_round,
                 "m: close a round when m updates are buffered (0: off)")
      ->capture_default_str();
  app.add_option("--round-deadline-s", cfg->round_deadline_s,
                 "Close a round this many seconds after it opened (0: off)")
      ->capture_default_str();
  app.add_flag("--close-empty-rounds", cfg->close_empty_rounds,
               "At a deadline with no update, close an empty round (FedAU counts it as an "
               "absence of every client) instead of restarting the deadline")
      ->capture_default_str();
  values->max_staleness_option =
      app.add_option("--max-staleness", values->max_staleness,
                     "tau_max: reject updates computed from a model more than this many "
                     "versions old (default: 0 in sync mode, 4 in async mode)");
  app.add_option("--max-rounds", cfg->max_rounds, "Finish after this many rounds (0: never)")
      ->capture_default_str();
  app.add_option("--store-retry-s", cfg->store_retry_s,
                 "Retry a failed store write with backoff for this long before stopping "
                 "(0: stop at once)")
      ->capture_default_str();
  app.add_flag("--allow-settings-change", cfg->allow_settings_change,
               "Resume a job whose saved settings differ from these (otherwise a restart "
               "with other settings is refused, naming each one)");
  app.add_flag_callback(
      "--allow-anonymous-clients", [cfg] { cfg->require_credential = false; },
      "Let a client register without a credential (enrollment secret or mTLS certificate): "
      "its name is then not bound and anyone may take it over (demos and tests only)");
  app.add_option("--max-trainers", cfg->max_concurrent_trainers,
                 "Cap on clients training at once; others are told to wait (0: no cap)")
      ->capture_default_str();
  app.add_option("--wait-retry-s", cfg->wait_retry_s,
                 "Retry hint, in seconds, sent with a 'wait' answer")
      ->capture_default_str();

  // What clients are told to do.
  app.add_option("--local-lr", cfg->recipe.local_lr, "Clients' local learning rate (> 0)")
      ->capture_default_str();
  app.add_option("--batch", cfg->recipe.batch_size, "Clients' minibatch size")
      ->capture_default_str();
  app.add_option("--min-k", cfg->recipe.min_local_steps, "Fewest local steps K accepted (>= 1)")
      ->capture_default_str();
  app.add_option("--max-k", cfg->recipe.max_local_steps, "Most local steps K accepted")
      ->capture_default_str();
  app.add_option("--local-optimizer", cfg->recipe.optimizer,
                 "Clients' local optimizer: sgd, momentum, adam, adamw (a client that does not "
                 "implement it refuses to train)")
      ->check(CLI::IsMember({"sgd", "momentum", "adam", "adamw"}))
      ->capture_default_str();
  app.add_option("--local-momentum", cfg->recipe.momentum,
                 "Clients' heavy-ball momentum, with --local-optimizer momentum; in [0, 1)")
      ->capture_default_str();
  app.add_option("--update-encoding", values->update_encoding,
                 "Encoding clients use for their updates: fp32, fp16, bf16, int8")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16", "int8"}))
      ->capture_default_str();
  app.add_option("--model-encoding", values->model_encoding,
                 "Encoding of the model versions served to clients: fp32, fp16, bf16, int8")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16", "int8"}))
      ->capture_default_str();

  // What the engine accepts and queues.
  app.add_option("--max-update-norm", cfg->max_update_norm,
                 "Reject an update whose L2 norm exceeds this (> 0)")
      ->capture_default_str();
  app.add_option("--max-update-bytes", cfg->max_update_bytes,
                 "Reject an encoded update larger than this many bytes")
      ->capture_default_str();
  app.add_option("--max-queued-updates", cfg->max_queued_updates,
                 "Back-pressure: validated updates waiting for aggregation before 'busy'")
      ->capture_default_str();
  app.add_option("--max-queued-bytes", cfg->max_queued_bytes,
                 "Back-pressure: bytes of validated updates waiting before 'busy'")
      ->capture_default_str();
  app.add_option("--busy-retry-s", cfg->busy_retry_s, "Retry hint, in seconds, sent with 'busy'")
      ->capture_default_str();
  app.add_option("--validation-threads", cfg->validation_threads,
                 "Threads that check incoming updates (checksum, decode, finiteness, norm); "
                 "0: half the cores, 1 to 4")
      ->capture_default_str();
  app.add_option("--max-queued-records", cfg->max_queued_records,
                 "History records of rejections queued before they are dropped (counted)")
      ->capture_default_str();
}

Status FinishEngineFlags(EngineFlagValues& values, EngineConfig* cfg) {
  strategy::StrategyConfig& st = cfg->strategy;
  if (values.mode == "async") {
    cfg->mode = RoundMode::kAsync;
  } else if (values.mode == "sync") {
    cfg->mode = RoundMode::kSync;
  } else {
    return InvalidArgumentError(
        fmt::format("--mode: '{}' is neither 'async' nor 'sync'", values.mode));
  }
  Result<strategy::StalenessKind> kind = strategy::ParseStalenessKind(values.staleness);
  if (!kind.ok()) {
    return InvalidArgumentError(fmt::format("--staleness: {}", kind.status().message()));
  }
  st.staleness.kind = *kind;
  Result<strategy::AfaCsWarmup> warmup = strategy::ParseAfaCsWarmup(values.afa_cs_warmup);
  if (!warmup.ok()) {
    return InvalidArgumentError(fmt::format("--afa-cs-warmup: {}", warmup.status().message()));
  }
  st.afa_cs_warmup = *warmup;
  MURMUR_ASSIGN_OR_RETURN(st.fedau_k_cut, ParseKCut(values.fedau_k_cut));
  Result<Encoding> update_encoding = ParseEncoding(values.update_encoding);
  if (!update_encoding.ok()) {
    return InvalidArgumentError(
        fmt::format("--update-encoding: {}", update_encoding.status().message()));
  }
  cfg->recipe.update_encoding = *update_encoding;
  Result<Encoding> model_encoding = ParseEncoding(values.model_encoding);
  if (!model_encoding.ok()) {
    return InvalidArgumentError(
        fmt::format("--model-encoding: {}", model_encoding.status().message()));
  }
  cfg->model_encoding = *model_encoding;
  if (!values.known_p_file.empty()) {
    MURMUR_ASSIGN_OR_RETURN(cfg->known_p_by_name, LoadKnownPFile(values.known_p_file));
  }
  values.max_staleness_given =
      values.max_staleness_option != nullptr && values.max_staleness_option->count() > 0;
  if (values.max_staleness_given) cfg->max_staleness = values.max_staleness;
  return Status();
}

Result<std::map<std::string, double>> LoadKnownPFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFoundError(fmt::format("--known-p-file {}: no such file", path));
  }
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return InvalidArgumentError(fmt::format("--known-p-file {}: not valid TOML: line {}, column "
                                            "{}: {}",
                                            path, e.source().begin.line, e.source().begin.column,
                                            e.description()));
  }
  for (const auto& [key, node] : doc) {
    if (key.str() != "known_p") {
      return InvalidArgumentError(fmt::format(
          "--known-p-file {}: unknown key '{}' (line {}); the file holds one [known_p] table",
          path, key.str(), node.source().begin.line));
    }
  }
  const toml::table* table = doc["known_p"].as_table();
  if (table == nullptr) {
    return InvalidArgumentError(fmt::format(
        "--known-p-file {}: no [known_p] table (client name = p_n in (0, 1])", path));
  }
  std::map<std::string, double> out;
  for (const auto& [key, node] : *table) {
    const std::string name(key.str());
    std::optional<double> p;
    if (auto f = node.as_floating_point()) p = f->get();
    if (auto i = node.as_integer()) p = static_cast<double>(i->get());
    if (!p.has_value()) {
      return InvalidArgumentError(fmt::format(
          "--known-p-file {}: known_p.{} (line {}) must be a number in (0, 1]", path, name,
          node.source().begin.line));
    }
    if (!(std::isfinite(*p) && *p > 0 && *p <= 1)) {
      return InvalidArgumentError(fmt::format(
          "--known-p-file {}: known_p.{} (line {}) must be in (0, 1], got {}", path, name,
          node.source().begin.line, *p));
    }
    out[name] = *p;
  }
  if (out.empty()) {
    return InvalidArgumentError(
        fmt::format("--known-p-file {}: the [known_p] table is empty", path));
  }
  return out;
}

}  // namespace murmur::server
