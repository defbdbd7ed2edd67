#include "client/daemon_config.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/config.h"

namespace murmur::client {

void AddDaemonFlags(CLI::App& app, DaemonConfig* c) {
  AddConfigFileOption(app);
  AddLogOptions(app, &c->log);
  app.add_option("--coordinator", c->connect.address, "Coordinator address HOST:PORT")
      ->capture_default_str();
  app.add_option("--name", c->name, "This client's name at the coordinator (default: host name)");
  app.add_option("--state-dir", c->state_dir,
                 "Identity, last participation and outbox (created if missing)")
      ->capture_default_str();
  app.add_option("--enrollment-secret", c->enrollment_secret,
                 "Credential the name is bound to (>= 16 bytes); default: the one in the state "
                 "dir, else a generated one");
  app.add_option("--enrollment-secret-file", c->enrollment_secret_file,
                 "Read the enrollment secret from this file (first line)");
  app.add_option("--tls-ca", c->connect.tls_ca,
                 "CA bundle (PEM) to verify the coordinator's certificate: use TLS");
  app.add_option("--tls-cert", c->connect.tls_cert,
                 "Client certificate chain (PEM) for mTLS (the coordinator's --tls-client-ca)");
  app.add_option("--tls-key", c->connect.tls_key, "Client private key (PEM), with --tls-cert");
  app.add_option("--tls-server-name", c->connect.tls_server_name,
                 "Name to check in the coordinator's certificate instead of the address's host");
  app.add_flag("--insecure", c->connect.allow_insecure,
               "Allow plaintext to a non-loopback coordinator");
  app.add_option("--rpc-timeout-s", c->connect.rpc_timeout_s, "Deadline of each call")
      ->capture_default_str();
  app.add_option("--model", c->model,
                 "Model options over the default image model, k=v,k=v (must match the "
                 "coordinator's model, e.g. the --model given to murmur-init-model)");
  app.add_option("--device", c->device, "auto (CUDA when LibTorch has it), cpu, cuda or cuda:N")
      ->capture_default_str();
  app.add_option("--threads", c->threads, "LibTorch CPU threads (0: all cores)")
      ->capture_default_str();
  app.add_option("--seed", c->seed, "Seed of minibatch order and K draws (0: from the name)")
      ->capture_default_str();
  app.add_option("--max-participations", c->max_participations,
                 "Exit after this many answered updates (0: run until stopped)")
      ->capture_default_str();
  app.add_flag("--exit-when-finished,!--no-exit-when-finished", c->exit_when_finished,
               "Exit when the coordinator says the job has finished")
      ->capture_default_str();
  app.add_option("--heartbeat-s", c->heartbeat_s, "Log a progress line this often (0: never)")
      ->capture_default_str();
  app.add_option("--backoff-max-s", c->backoff_max_s,
                 "Longest wait between retries of an unreachable coordinator")
      ->capture_default_str();

  app.add_option("--data.images", c->data.images, "Own data: gzip IDX images file");
  app.add_option("--data.labels", c->data.labels, "Own data: gzip IDX labels file");
  app.add_option("--data.fashion-mnist-dir", c->data.fashion_mnist_dir,
                 "Trial data: a shard of the Fashion-MNIST training set in this directory "
                 "(e.g. /usr/share/datasets/fashion-mnist)");
  app.add_option("--data.partition", c->data.partition, "Shard scheme: iid, dirichlet or shards")
      ->capture_default_str();
  app.add_option("--data.client-index", c->data.client_index, "This client's shard (0-based)")
      ->capture_default_str();
  app.add_option("--data.num-clients", c->data.num_clients, "Number of shards")
      ->capture_default_str();
  app.add_option("--data.partition-seed", c->data.partition_seed,
                 "Seed of the partition (the same for every client of a trial)")
      ->capture_default_str();
  app.add_option("--data.alpha", c->data.alpha, "Dirichlet concentration (dirichlet scheme)")
      ->capture_default_str();
  app.add_option("--data.limit", c->data.limit, "Use the first N examples of the shard (0: all)")
      ->capture_default_str();
  app.add_option("--data.text-dir", c->data.text_dir,
                 "Own text (a charlm job): the UTF-8 files in this directory");
  app.add_option("--data.vocabulary", c->data.vocabulary,
                 "With --data.text-dir: the job's vocabulary, a UTF-8 file holding its characters "
                 "(the same file on every client)");
  app.add_option("--data.text-length", c->data.text_length,
                 "With --data.text-dir: tokens per training sample (at most the model's "
                 "max_seq_len + 1)")
      ->capture_default_str();

  PolicyFlags& p = c->policy;
  app.add_option("--policy.window", p.windows,
                 "Availability window '[days ]HH:MM-HH:MM' (e.g. 'mon-fri 22:00-06:00'); "
                 "repeatable; none: always");
  app.add_flag("--policy.require-ac", p.require_ac, "Train only on mains power");
  app.add_option("--policy.min-battery", p.min_battery, "On battery: least charge, 0..1")
      ->capture_default_str();
  app.add_option("--policy.max-cpu-load", p.max_cpu_load,
                 "Skip when the 1-minute load per core is above this (0: ignore)")
      ->capture_default_str();
  app.add_option("--policy.max-gpu-util", p.max_gpu_util,
                 "Skip when GPU utilization is above this, 0..1 (needs NVML; 0: ignore)")
      ->capture_default_str();
  app.add_option("--policy.daily-budget-s", p.daily_budget_s,
                 "Training seconds per local day (0: unlimited)")
      ->capture_default_str();
  app.add_option("--policy.k-rule", p.k_rule,
                 "Local steps K: fixed (k), uniform (in [k-min, k-max]) or time (as many as "
                 "fit k-time-budget-s)")
      ->capture_default_str();
  app.add_option("--policy.k", p.k, "K for k-rule fixed")->capture_default_str();
  app.add_option("--policy.k-min", p.k_min, "Least K (uniform; time before a measurement)")
      ->capture_default_str();
  app.add_option("--policy.k-max", p.k_max, "Most K")->capture_default_str();
  app.add_option("--policy.k-time-budget-s", p.k_time_budget_s,
                 "Seconds of training per participation (k-rule time)")
      ->capture_default_str();
  app.add_option("--policy.recheck-s", p.recheck_s,
                 "When a condition blocks, ask the policy again after this long")
      ->capture_default_str();
}

Result<PolicyConfig> ToPolicyConfig(const PolicyFlags& f) {
  PolicyConfig c;
  for (const auto& w : f.windows) {
    MURMUR_ASSIGN_OR_RETURN(AvailabilityWindow parsed, ParseWindow(w));
    c.windows.push_back(parsed);
  }
  c.require_ac = f.require_ac;
  c.min_battery = f.min_battery;
  c.max_cpu_load = f.max_cpu_load;
  c.max_gpu_util = f.max_gpu_util;
  c.daily_budget_s = f.daily_budget_s;
  MURMUR_ASSIGN_OR_RETURN(c.k_rule, ParseKRule(f.k_rule));
  c.k = f.k;
  c.k_min = f.k_min;
  c.k_max = f.k_max;
  c.k_time_budget_s = f.k_time_budget_s;
  c.recheck_s = f.recheck_s;
  MURMUR_RETURN_IF_ERROR(ValidatePolicyConfig(c));
  return c;
}

Status FinishDaemonConfig(DaemonConfig* c) {
  if (c->name.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
      return InvalidArgumentError("--name is not set and the host name is unknown");
    }
    c->name = host;
  }
  if (!c->enrollment_secret_file.empty()) {
    std::ifstream in(c->enrollment_secret_file);
    if (!in) {
      return NotFoundError(
          fmt::format("cannot read --enrollment-secret-file {}", c->enrollment_secret_file));
    }
    std::getline(in, c->enrollment_secret);
  }
  if (!c->enrollment_secret.empty() && c->enrollment_secret.size() < 16) {
    return InvalidArgumentError("the enrollment secret must be at least 16 bytes");
  }
  const bool own = !c->data.images.empty() || !c->data.labels.empty();
  const bool text = !c->data.text_dir.empty();
  if (own + !c->data.fashion_mnist_dir.empty() + text > 1) {
    return InvalidArgumentError(
        "give one of --data.images/--data.labels, --data.fashion-mnist-dir or --data.text-dir");
  }
  if (text && c->data.vocabulary.empty()) {
    return InvalidArgumentError(
        "--data.text-dir needs --data.vocabulary: every client of a job must map characters "
        "to the same ids");
  }
  if (text && c->data.text_length < 2) {
    return InvalidArgumentError(
        fmt::format("--data.text-length must be at least 2, got {}", c->data.text_length));
  }
  if (own && (c->data.images.empty() || c->data.labels.empty())) {
    return InvalidArgumentError("--data.images and --data.labels go together");
  }
  if (!own && !text && c->data.fashion_mnist_dir.empty()) {
    return InvalidArgumentError(
        "no data: give --data.images and --data.labels, --data.text-dir with "
        "--data.vocabulary, or --data.fashion-mnist-dir with --data.client-index and "
        "--data.num-clients");
  }
  if (c->data.num_clients == 0 || c->data.client_index >= c->data.num_clients) {
    return InvalidArgumentError(fmt::format("--data.client-index {} must be below --data.num-clients {}",
                                            c->data.client_index, c->data.num_clients));
  }
  if (c->seed == 0) c->seed = std::hash<std::string>{}(c->name) | 1;
  return Status::Ok();
}

BackoffOptions ToBackoffOptions(const DaemonConfig& c) {
  BackoffOptions b;
  b.max_s = c.backoff_max_s;
  b.initial_s = std::min(0.5, c.backoff_max_s);
  return b;
}

}  // namespace murmur::client
