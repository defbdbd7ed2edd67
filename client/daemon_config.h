// The murmur-client daemon's configuration: every flag, its TOML key (the
// flag's name; [data] and [policy] tables hold the dotted ones), its default,
// and the checks that turn it into the runtime's option structs. The
// commented example is deploy/murmur-client.example.toml.
//
// Threading: plain values, built on the main thread (at start and on SIGHUP).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "client/runtime/backoff.h"
#include "client/runtime/policy.h"
#include "client/transport/channel.h"
#include "common/logging.h"
#include "common/status.h"

namespace murmur::client {

struct DataConfig {
  // The client's own data: two gzip IDX files (images, labels) ...
  std::string images;
  std::string labels;
  // ... or, for trials, a shard of the installed Fashion-MNIST.
  std::string fashion_mnist_dir;
  std::string partition = "iid";  // iid, dirichlet, shards
  uint32_t client_index = 0;
  uint32_t num_clients = 1;
  uint64_t partition_seed = 1;
  double alpha = 0.5;
  uint64_t limit = 0;  // use the first N examples of the shard (0: all)
  // ... or the client's own text (a charlm job): every regular UTF-8 file in
  // text_dir (not *.dat, *.u8 or dot files), cut into samples of
  // text_length tokens, with the job's vocabulary (a file holding its
  // characters, UTF-8; every client of the job uses the same one).
  std::string text_dir;
  std::string vocabulary;
  uint64_t text_length = 65;  // tokens per sample: input is the first text_length - 1
};

struct PolicyFlags {
  std::vector<std::string> windows;
  bool require_ac = false;
  double min_battery = 0;
  double max_cpu_load = 0;
  double max_gpu_util = 0;
  double daily_budget_s = 0;
  std::string k_rule = "fixed";
  uint32_t k = 5;
  uint32_t k_min = 1;
  uint32_t k_max = 50;
  double k_time_budget_s = 10;
  double recheck_s = 60;
};

struct DaemonConfig {
  ConnectOptions connect;
  std::string name;  // default: the host name
  std::string state_dir = "murmur-client-state";
  std::string enrollment_secret;
  std::string enrollment_secret_file;
  std::string model;  // "k=v,..." over the default image model
  std::string device = "auto";
  int threads = 1;
  uint64_t seed = 0;  // 0: from the name
  uint64_t max_participations = 0;
  bool exit_when_finished = true;
  double heartbeat_s = 60;
  double backoff_max_s = 30;
  DataConfig data;
  PolicyFlags policy;
  log::Options log;
};

// Declares every flag of the daemon on `app`, bound to `config`.
void AddDaemonFlags(CLI::App& app, DaemonConfig* config);

// The policy section as the runtime's PolicyConfig (validated).
Result<PolicyConfig> ToPolicyConfig(const PolicyFlags& flags);

// Checks the rest (name, secret file, data choice); fills defaults.
Status FinishDaemonConfig(DaemonConfig* config);

BackoffOptions ToBackoffOptions(const DaemonConfig& config);

}  // namespace murmur::client
