// murmurctl: the command-line client of murmur.v1.Admin (a running
// murmur-coordinator's --admin-listen address).
//
//   murmurctl [--admin ADDR] [--json] status
//   murmurctl clients [--limit N]
//   murmurctl history CLIENT_ID [--limit N]
//   murmurctl rounds [--from V] [--limit N]
//   murmurctl export --out FILE [--version V] [--encoding fp32|fp16|bf16|int8]
//   murmurctl health [--service NAME]   (grpc.health.v1; exit 0 when SERVING)
//
// Plaintext by default (the Admin listener on loopback); --tls-ca CA.pem for
// TLS, plus --tls-cert/--tls-key for mTLS (an Admin listener beyond
// loopback, which the coordinator serves only with mTLS or --admin-insecure).
// Tables for people on stdout; --json prints one JSON document instead (an
// object for status, an array for the lists, a summary for export). An
// exported model is checked (size, XXH3 checksum, decodes) before it is
// written, atomically, as a named-tensor file (common/codec/tensor_file.h).
// Errors go to stderr and name the address; the exit status is 1 for a
// failed call, 2 for bad usage.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/api/types.h"
#include "common/checksum.h"
#include "common/codec/tensor_codec.h"
#include "common/config.h"
#include "murmur/v1/admin.grpc.pb.h"
#include "tools/health_check.h"

namespace {

using murmur::Result;
using murmur::Status;
using Json = nlohmann::ordered_json;

struct Options {
  std::string admin = "127.0.0.1:7071";
  bool json = false;
  double timeout_s = 10;
  uint32_t limit = 0;
  uint64_t client_id = 0;
  uint64_t from_version = 0;
  uint64_t version = 0;
  std::string out;
  std::string encoding = "fp32";
  // TLS / mTLS to an Admin listener beyond loopback (murmur-coordinator
  // serves it with the coordinator's TLS there): the CA that signed the
  // coordinator's certificate, and this operator's client certificate.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  std::string health_service;
};

// The whole file, or an error naming it.
Result<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return murmur::NotFoundError(fmt::format("cannot read {} {}", what, path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Plaintext without --tls-ca; TLS with it; mTLS with --tls-cert/--tls-key too.
Result<std::shared_ptr<grpc::Channel>> MakeChannel(const Options& o) {
  if (o.tls_ca.empty()) {
    if (!o.tls_cert.empty() || !o.tls_key.empty()) {
      return murmur::InvalidArgumentError("--tls-cert and --tls-key need --tls-ca");
    }
    return grpc::CreateChannel(o.admin, grpc::InsecureChannelCredentials());
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return murmur::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  grpc::SslCredentialsOptions ssl;
  MURMUR_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(o.tls_ca, "the CA certificate"));
  if (!o.tls_cert.empty()) {
    MURMUR_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPem(o.tls_cert, "the client certificate"));
    MURMUR_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem(o.tls_key, "the client key"));
  }
  grpc::ChannelArguments args;
  if (!o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);
  return grpc::CreateCustomChannel(o.admin, grpc::SslCredentials(ssl), args);
}

// A failed call: what was asked, of whom, and gRPC's answer.
struct CallError {
  std::string message;
};

class Admin {
 public:
  Admin(const Options& o, std::shared_ptr<grpc::Channel> channel)
      : o_(o), channel_(std::move(channel)), stub_(murmur::v1::Admin::NewStub(channel_)) {}

  // Empty when the channel connects within the timeout.
  std::string Connect() {
    if (channel_->WaitForConnected(Deadline())) return "";
    return fmt::format(
        "cannot connect to the Admin service at {} within {:g} s{} (is murmur-coordinator running "
        "with --admin-listen {}? pass --admin ADDR for another address; beyond loopback the "
        "Admin listener needs TLS: --tls-ca, and for mTLS --tls-cert and --tls-key)",
        o_.admin, o_.timeout_s, o_.tls_ca.empty() ? " over plaintext" : " over TLS", o_.admin);
  }

  template <typename Req, typename Resp, typename Fn>
  std::string Call(const char* what, Fn fn, const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    grpc::Status s = (stub_.get()->*fn)(&ctx, req, resp);
    return s.ok() ? "" : Describe(what, s);
  }

  std::string Describe(const char* what, const grpc::Status& s) const {
    return fmt::format("{} on the Admin service at {} failed: {}: {}", what, o_.admin,
                       CodeName(s.error_code()), s.error_message());
  }

  murmur::v1::Admin::Stub* stub() { return stub_.get(); }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  std::chrono::system_clock::time_point Deadline() const {
    return std::chrono::system_clock::now() +
           std::chrono::microseconds(static_cast<int64_t>(o_.timeout_s * 1e6));
  }

 private:
  static std::string CodeName(grpc::StatusCode c) {
    switch (c) {
      case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
      case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
      case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
      case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
      case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
      case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
      case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
      default: return fmt::format("code {}", static_cast<int>(c));
    }
  }

  const Options& o_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<murmur::v1::Admin::Stub> stub_;
};

std::string Time(double s) {
  if (s <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string ReasonName(int reason) {
  if (reason == 0) return "";
  return std::string(murmur::api::RejectReasonName(static_cast<murmur::api::RejectReason>(reason)));
}

// A plain text table: a header row, then rows, columns padded to their width.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      out += i + 1 < r.size() ? fmt::format("{:<{}}  ", r[i], width[i]) : r[i];
    }
    std::printf("%s\n", out.c_str());
  };
  line(header);
  for (const auto& r : rows) line(r);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "murmurctl: %s\n", message.c_str());
  return 1;
}

int RunStatus(Admin& admin, const Options& o) {
  murmur::v1::StatusResponse r;
  if (auto e = admin.Call("Status", &murmur::v1::Admin::Stub::Status, murmur::v1::StatusRequest{}, &r);
      !e.empty()) {
    return Fail(e);
  }
  if (o.json) {
    Json j = {{"strategy", r.strategy()},
              {"trigger", r.trigger()},
              {"model_version", r.model_version()},
              {"registered_clients", r.registered_clients()},
              {"active_trainers", r.active_trainers()},
              {"buffered_updates", r.buffered_updates()},
              {"accepted_updates", r.accepted_updates()},
              {"rejected_updates", r.rejected_updates()},
              {"uptime_s", r.uptime_s()},
              {"finished", r.finished()}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  PrintTable({"field", "value"},
             {{"strategy", r.strategy()},
              {"trigger", r.trigger()},
              {"model version", std::to_string(r.model_version())},
              {"registered clients", std::to_string(r.registered_clients())},
              {"active trainers", std::to_string(r.active_trainers())},
              {"buffered updates", std::to_string(r.buffered_updates())},
              {"accepted updates", std::to_string(r.accepted_updates())},
              {"rejected updates", std::to_string(r.rejected_updates())},
              {"uptime", fmt::format("{:.1f} s", r.uptime_s())},
              {"finished", r.finished() ? "yes" : "no"}});
  return 0;
}

int RunClients(Admin& admin, const Options& o) {
  std::vector<murmur::v1::ClientInfo> clients;
  murmur::v1::ListClientsRequest req;
  while (true) {
    const uint32_t want = o.limit == 0 ? 500u : std::min<uint32_t>(500u, o.limit - static_cast<uint32_t>(clients.size()));
    req.set_page_size(want);
    murmur::v1::ListClientsResponse r;
    if (auto e = admin.Call("ListClients", &murmur::v1::Admin::Stub::ListClients, req, &r);
        !e.empty()) {
      return Fail(e);
    }
    for (const auto& c : r.clients()) clients.push_back(c);
    if (r.next_after_client_id() == 0 || (o.limit > 0 && clients.size() >= o.limit)) break;
    req.set_after_client_id(r.next_after_client_id());
  }
  if (o.json) {
    Json arr = Json::array();
    for (const auto& c : clients) {
      arr.push_back({{"client_id", c.client_id()},
                     {"client_name", c.client_name()},
                     {"device", c.capabilities().device()},
                     {"memory_bytes", c.capabilities().memory_bytes()},
                     {"num_samples", c.capabilities().num_samples()},
                     {"max_local_steps", c.capabilities().max_local_steps()},
                     {"registered_at_s", c.registered_at_s()},
                     {"last_seen_s", c.last_seen_s()},
                     {"participations", c.participations()},
                     {"rejections", c.rejections()},
                     {"participation_rate", c.participation_rate()},
                     {"fedau_weight", c.fedau_weight()},
                     {"left", c.left()}});
    }
    std::printf("%s\n", arr.dump(2).c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : clients) {
    rows.push_back({std::to_string(c.client_id()), c.client_name(),
                    c.capabilities().device().empty() ? "-" : c.capabilities().device(),
                    std::to_string(c.capabilities().num_samples()),
                    std::to_string(c.participations()), std::to_string(c.rejections()),
                    fmt::format("{:.3f}", c.participation_rate()),
                    fmt::format("{:.4g}", c.fedau_weight()), Time(c.last_seen_s()),
                    c.left() ? "yes" : "no"});
  }
  PrintTable({"id", "name", "device", "samples", "accepted", "rejected", "rate", "weight",
              "last seen (UTC)", "left"},
             rows);
  std::printf("%zu client(s)\n", clients.size());
  return 0;
}

int RunHistory(Admin& admin, const Options& o) {
  murmur::v1::ClientHistoryRequest req;
  req.set_client_id(o.client_id);
  req.set_limit(o.limit);
  murmur::v1::ClientHistoryResponse r;
  if (auto e = admin.Call("ClientHistory", &murmur::v1::Admin::Stub::ClientHistory, req, &r);
      !e.empty()) {
    return Fail(e);
  }
  if (o.json) {
    Json arr = Json::array();
    for (const auto& p : r.participations()) {
      arr.push_back({{"client_id", p.client_id()},
                     {"base_version", p.base_version()},
                     {"round_version", p.round_version()},
                     {"local_steps", p.local_steps()},
                     {"num_samples", p.num_samples()},
                     {"mean_loss", p.mean_loss()},
                     {"staleness", p.staleness()},
                     {"weight", p.weight()},
                     {"accepted", p.accepted()},
                     {"reject_reason", ReasonName(p.reject_reason())},
                     {"message", p.message()},
                     {"received_at_s", p.received_at_s()}});
    }
    std::printf("%s\n", arr.dump(2).c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : r.participations()) {
    rows.push_back({Time(p.received_at_s()), std::to_string(p.base_version()),
                    p.accepted() ? std::to_string(p.round_version()) : "-",
                    std::to_string(p.local_steps()), std::to_string(p.num_samples()),
                    fmt::format("{:.4g}", p.mean_loss()), std::to_string(p.staleness()),
                    p.accepted() ? fmt::format("{:.4g}", p.weight()) : "-",
                    p.accepted() ? "accepted" : "rejected: " + ReasonName(p.reject_reason())});
  }
  PrintTable({"received (UTC)", "base", "round", "K", "samples", "loss", "staleness", "weight",
              "outcome"},
             rows);
  std::printf("%d participation(s) of client %llu, most recent first\n", r.participations_size(),
              static_cast<unsigned long long>(o.client_id));
  return 0;
}

int RunRounds(Admin& admin, const Options& o) {
  murmur::v1::ListRoundsRequest req;
  req.set_from_version(o.from_version);
  req.set_limit(o.limit);
  murmur::v1::ListRoundsResponse r;
  if (auto e = admin.Call("ListRounds", &murmur::v1::Admin::Stub::ListRounds, req, &r); !e.empty()) {
    return Fail(e);
  }
  auto sorted_metrics = [](const murmur::v1::Round& round) {
    std::map<std::string, double> m(round.metrics().begin(), round.metrics().end());
    return m;
  };
  if (o.json) {
    Json arr = Json::array();
    for (const auto& round : r.rounds()) {
      arr.push_back({{"version", round.version()},
                     {"trigger", round.trigger()},
                     {"num_updates", round.num_updates()},
                     {"update_norm", round.update_norm()},
                     {"closed_at_s", round.closed_at_s()},
                     {"metrics", sorted_metrics(round)}});
    }
    std::printf("%s\n", arr.dump(2).c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& round : r.rounds()) {
    std::string metrics;
    for (const auto& [k, v] : sorted_metrics(round)) {
      metrics += fmt::format("{}{}={:.4g}", metrics.empty() ? "" : " ", k, v);
    }
    rows.push_back({std::to_string(round.version()), round.trigger(),
                    std::to_string(round.num_updates()), fmt::format("{:.4g}", round.update_norm()),
                    Time(round.closed_at_s()), metrics});
  }
  PrintTable({"version", "trigger", "updates", "step norm", "closed (UTC)", "metrics"}, rows);
  std::printf("%d round(s)\n", r.rounds_size());
  return 0;
}

int RunExport(Admin& admin, const Options& o) {
  Result<murmur::Encoding> encoding = murmur::ParseEncoding(o.encoding);
  if (!encoding.ok()) return Fail(fmt::format("--encoding: {}", encoding.status().ToString()));
  murmur::v1::ExportModelRequest req;
  req.set_model_version(o.version);
  req.set_encoding(static_cast<murmur::v1::Encoding>(*encoding));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::microseconds(static_cast<int64_t>(o.timeout_s * 1e6 * 10)));
  auto reader = admin.stub()->ExportModel(&ctx, req);
  murmur::v1::ModelChunk chunk;
  std::string bytes;
  uint64_t version = 0, total = 0, checksum = 0;
  size_t chunks = 0;
  while (reader->Read(&chunk)) {
    if (chunks++ == 0) {
      version = chunk.model_version();
      total = chunk.chunk().total_bytes();
      checksum = chunk.chunk().checksum().value();
      bytes.reserve(total);
    }
    if (chunk.chunk().offset() != bytes.size() || bytes.size() + chunk.chunk().data().size() > total) {
      ctx.TryCancel();
      (void)reader->Finish();
      return Fail(fmt::format("ExportModel from {}: a chunk at offset {} does not follow byte {}",
                              o.admin, chunk.chunk().offset(), bytes.size()));
    }
    bytes += chunk.chunk().data();
  }
  if (grpc::Status s = reader->Finish(); !s.ok()) return Fail(admin.Describe("ExportModel", s));
  if (bytes.size() != total) {
    return Fail(fmt::format("ExportModel from {}: got {} of {} bytes", o.admin, bytes.size(), total));
  }
  if (murmur::Xxh3(bytes) != checksum) {
    return Fail(fmt::format("ExportModel from {}: the checksum of version {} does not match",
                            o.admin, version));
  }
  Result<murmur::TensorList> model = murmur::DecodeTensors(bytes);
  if (!model.ok()) {
    return Fail(fmt::format("ExportModel from {}: version {} does not decode: {}", o.admin, version,
                            model.status().ToString()));
  }
  // Atomic: a temporary file in the same directory, then a rename over --out.
  const std::string tmp = o.out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) return Fail(fmt::format("cannot write {}", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, o.out, ec);
  if (ec) return Fail(fmt::format("cannot rename {} to {}: {}", tmp, o.out, ec.message()));
  size_t params = 0;
  for (const auto& t : *model) params += t.data.size();
  if (o.json) {
    Json j = {{"model_version", version}, {"encoding", o.encoding}, {"bytes", bytes.size()},
              {"tensors", model->size()}, {"parameters", params}, {"out", o.out}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("exported model version %llu (%s, %zu tensors, %zu parameters, %zu bytes) to %s\n",
                static_cast<unsigned long long>(version), o.encoding.c_str(), model->size(), params,
                bytes.size(), o.out.c_str());
  }
  return 0;
}

// The standard gRPC health check of the server at --admin (any murmur
// listener serves it): exit 0 when SERVING, 1 otherwise.
int RunHealth(Admin& admin, const Options& o) {
  murmur::tools::HealthResult h =
      murmur::tools::CheckHealth(admin.channel(), o.health_service, admin.Deadline());
  if (!h.ok) return Fail(fmt::format("health check of {} failed: {}", o.admin, h.error));
  const char* name = murmur::tools::HealthStatusName(h.status);
  if (o.json) {
    std::printf("%s\n", Json{{"address", o.admin}, {"status", name}}.dump(2).c_str());
  } else {
    std::printf("%s %s\n", o.admin.c_str(), name);
  }
  return h.status == static_cast<int>(murmur::tools::HealthStatus::kServing) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"murmurctl: inspect a running murmur-coordinator through its Admin service"};
  app.require_subcommand(1);
  app.add_option("--admin", o.admin, "Admin service address (murmur-coordinator --admin-listen)")
      ->capture_default_str();
  app.add_flag("--json", o.json, "Machine-readable JSON on stdout instead of tables");
  app.add_option("--timeout", o.timeout_s, "Seconds to wait for the connection and each call")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* status = app.add_subcommand("status", "Engine counters: version, clients, updates");
  auto* clients = app.add_subcommand("clients", "Registered clients with their participation");
  clients->add_option("--limit", o.limit, "At most N clients (0: all)");
  auto* history = app.add_subcommand(
      "history", "A client's participations, most recent first, with weights and staleness");
  history->add_option("CLIENT_ID", o.client_id, "Client id (see `murmurctl clients`)")->required();
  history->add_option("--limit", o.limit, "At most N participations (0: the server's default, 100)");
  auto* rounds = app.add_subcommand("rounds", "Closed rounds, ascending by version");
  rounds->add_option("--from", o.from_version, "First version to list");
  rounds->add_option("--limit", o.limit, "At most N rounds (0: the server's default, 100)");
  auto* exp = app.add_subcommand("export", "Write a stored model version to a named-tensor file");
  exp->add_option("--out", o.out, "Output file")->required();
  exp->add_option("--version", o.version, "Model version (0: latest)")->capture_default_str();
  exp->add_option("--encoding", o.encoding, "fp32, fp16, bf16 or int8")->capture_default_str();
  auto* health = app.add_subcommand("health", "gRPC health check (grpc.health.v1): exit 0 when SERVING");
  health->add_option("--service", o.health_service, "Service name (empty: the whole server)");
  // --json and --admin are accepted after the subcommand too.
  for (CLI::App* sub : {status, clients, history, rounds, exp, health}) {
    sub->add_flag("--json", o.json, "Machine-readable JSON on stdout instead of tables");
    sub->add_option("--admin", o.admin, "Admin service address");
  }
  app.add_option("--tls-ca", o.tls_ca,
                 "CA certificate (PEM) that signed the coordinator's: connect over TLS");
  app.add_option("--tls-cert", o.tls_cert, "Client certificate (PEM) for mTLS (with --tls-key)");
  app.add_option("--tls-key", o.tls_key, "Client private key (PEM) for mTLS");
  app.add_option("--tls-server-name", o.tls_server_name,
                 "Name to check in the coordinator's certificate (default: the --admin host)");
  if (auto code = murmur::ParseCommandLine(app, argc, argv)) return *code == 0 ? 0 : 2;

  Result<std::shared_ptr<grpc::Channel>> channel = MakeChannel(o);
  if (!channel.ok()) return Fail(channel.status().message());
  Admin admin(o, *std::move(channel));
  if (std::string e = admin.Connect(); !e.empty()) return Fail(e);
  if (status->parsed()) return RunStatus(admin, o);
  if (clients->parsed()) return RunClients(admin, o);
  if (history->parsed()) return RunHistory(admin, o);
  if (rounds->parsed()) return RunRounds(admin, o);
  if (health->parsed()) return RunHealth(admin, o);
  return RunExport(admin, o);
}
