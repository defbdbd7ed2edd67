#include "server/service/admin_service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <vector>

#include "common/checksum.h"
#include "common/codec/tensor_codec.h"
#include "server/service/grpc_status.h"

namespace murmur::server {
namespace {

uint32_t Clamp(uint32_t asked, uint32_t fallback, uint32_t most) {
  return std::min(asked == 0 ? fallback : asked, most);
}

void FillParticipation(const store::ParticipationRecord& r, v1::Participation* p) {
  p->set_client_id(r.client_id);
  p->set_base_version(r.base_version);
  p->set_round_version(r.round_version);
  p->set_local_steps(r.local_steps);
  p->set_num_samples(r.num_samples);
  p->set_mean_loss(r.mean_loss);
  p->set_staleness(r.staleness);
  p->set_weight(r.weight.value_or(0.0));
  p->set_accepted(r.accepted);
  p->set_reject_reason(static_cast<v1::RejectReason>(r.reject_reason));
  p->set_message(r.message);
  p->set_received_at_s(r.received_at_s);
}

}  // namespace

std::string EnabledTriggers(const EngineConfig& config) {
  std::vector<std::string_view> on;
  if (config.updates_per_round > 0) on.push_back(RoundTriggerName(RoundTrigger::kBufferFull));
  if (config.round_deadline_s > 0) on.push_back(RoundTriggerName(RoundTrigger::kDeadline));
  if (config.mode == RoundMode::kSync) on.push_back(RoundTriggerName(RoundTrigger::kAllReported));
  return fmt::format("{}", fmt::join(on, "+"));
}

AdminService::AdminService(RoundEngine* engine, store::Store* store, AdminServiceOptions options)
    : engine_(engine), store_(store), options_(options) {}

grpc::Status AdminService::NeedStore() const {
  if (store_ != nullptr) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "this coordinator runs without a store: no history to query");
}

grpc::Status AdminService::Status(grpc::ServerContext*, const v1::StatusRequest*,
                                  v1::StatusResponse* response) {
  const EngineStats s = engine_->Stats();
  response->set_strategy(s.strategy);
  response->set_trigger(EnabledTriggers(engine_->config()));
  response->set_model_version(s.version);
  response->set_registered_clients(s.registered_clients);
  response->set_active_trainers(s.active_trainers);
  response->set_buffered_updates(s.buffered_updates);
  response->set_accepted_updates(s.accepted_updates);
  response->set_rejected_updates(s.rejected_updates);
  response->set_uptime_s(s.uptime_s);
  response->set_finished(s.finished);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListClients(grpc::ServerContext*, const v1::ListClientsRequest* request,
                                       v1::ListClientsResponse* response) {
  if (grpc::Status s = NeedStore(); !s.ok()) return s;
  const uint32_t page =
      Clamp(request->page_size(), options_.default_page_size, options_.max_page_size);
  // One row more than the page tells whether another page follows.
  Result<std::vector<store::ClientRecord>> clients =
      store_->ListClients(request->after_client_id(), page + 1);
  if (!clients.ok()) return ToGrpcStatus(clients.status());
  const bool more = clients->size() > page;
  if (more) clients->resize(page);
  for (const store::ClientRecord& c : *clients) {
    v1::ClientInfo* info = response->add_clients();
    info->set_client_id(c.client_id);
    info->set_client_name(c.name);
    info->mutable_capabilities()->set_device(c.device);
    info->mutable_capabilities()->set_memory_bytes(c.memory_bytes);
    info->mutable_capabilities()->set_num_samples(c.num_samples);
    info->mutable_capabilities()->set_max_local_steps(c.max_local_steps);
    info->set_registered_at_s(c.registered_at_s);
    info->set_last_seen_s(c.last_seen_s);
    info->set_left(c.left);
    Result<store::ClientParticipationStats> stats = store_->ParticipationStats(c.client_id);
    if (stats.ok()) {
      info->set_participations(stats->accepted);
      info->set_rejections(stats->rejected);
      info->set_participation_rate(stats->participation_rate);
      // The weight of its most recent update whose round has closed.
      if (stats->last_weight.has_value()) info->set_fedau_weight(*stats->last_weight);
    } else if (stats.status().code() != StatusCode::kNotFound) {
      return ToGrpcStatus(stats.status());
    }
  }
  response->set_next_after_client_id(more && !clients->empty() ? clients->back().client_id : 0);
  return grpc::Status::OK;
}

grpc::Status AdminService::ClientHistory(grpc::ServerContext*,
                                         const v1::ClientHistoryRequest* request,
                                         v1::ClientHistoryResponse* response) {
  if (grpc::Status s = NeedStore(); !s.ok()) return s;
  Result<store::ClientParticipationStats> known = store_->ParticipationStats(request->client_id());
  if (!known.ok()) return ToGrpcStatus(known.status());
  const uint32_t limit =
      Clamp(request->limit(), options_.default_history_limit, options_.max_history_limit);
  Result<std::vector<store::ParticipationRecord>> history =
      store_->ClientHistory(request->client_id(), limit);
  if (!history.ok()) return ToGrpcStatus(history.status());
  for (const store::ParticipationRecord& r : *history) {
    FillParticipation(r, response->add_participations());
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ListRounds(grpc::ServerContext*, const v1::ListRoundsRequest* request,
                                      v1::ListRoundsResponse* response) {
  if (grpc::Status s = NeedStore(); !s.ok()) return s;
  const uint32_t limit =
      Clamp(request->limit(), options_.default_page_size, options_.max_page_size);
  Result<std::vector<store::RoundRecord>> rounds =
      store_->ListRounds(request->from_version(), limit);
  if (!rounds.ok()) return ToGrpcStatus(rounds.status());
  for (const store::RoundRecord& r : *rounds) {
    v1::Round* round = response->add_rounds();
    round->set_version(r.version);
    round->set_trigger(r.trigger);
    round->set_num_updates(r.num_updates);
    round->set_update_norm(r.update_norm);
    round->set_closed_at_s(r.closed_at_s);
    auto* metrics = round->mutable_metrics();
    for (const auto& [name, value] : r.metrics) (*metrics)[name] = value;
    if (metrics->count("mean_client_loss") == 0) (*metrics)["mean_client_loss"] = r.mean_client_loss;
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ExportModel(grpc::ServerContext* context,
                                       const v1::ExportModelRequest* request,
                                       grpc::ServerWriter<v1::ModelChunk>* writer) {
  if (grpc::Status s = NeedStore(); !s.ok()) return s;
  Encoding encoding = Encoding::kFp32;
  switch (request->encoding()) {
    case v1::ENCODING_UNSPECIFIED:
    case v1::ENCODING_FP32: encoding = Encoding::kFp32; break;
    case v1::ENCODING_FP16: encoding = Encoding::kFp16; break;
    case v1::ENCODING_BF16: encoding = Encoding::kBf16; break;
    case v1::ENCODING_INT8: encoding = Encoding::kInt8; break;
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          fmt::format("unknown encoding {}", static_cast<int>(request->encoding())));
  }
  uint64_t version = request->model_version();
  if (version == 0) {
    Result<uint64_t> latest = store_->LatestVersion();
    if (!latest.ok()) return ToGrpcStatus(latest.status());
    version = *latest;
  }
  Result<TensorList> model = store_->LoadCheckpoint(version);
  if (!model.ok()) return ToGrpcStatus(model.status());
  Result<std::string> bytes = EncodeTensors(*model, {.encoding = encoding});
  if (!bytes.ok()) return ToGrpcStatus(bytes.status().WithContext(
      fmt::format("encoding version {} as {}", version, EncodingName(encoding))));
  if (request->offset() > bytes->size()) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        fmt::format("offset {} is past the end of version {} ({} bytes)",
                                    request->offset(), version, bytes->size()));
  }
  const size_t chunk = std::clamp<uint32_t>(options_.chunk_bytes, 1, kMaxAdminChunkBytes);
  v1::ModelChunk msg;
  msg.set_model_version(version);
  msg.set_encoding(static_cast<v1::Encoding>(encoding));
  msg.mutable_chunk()->set_total_bytes(bytes->size());
  msg.mutable_chunk()->mutable_checksum()->set_kind(v1::CHECKSUM_XXH3_64);
  msg.mutable_chunk()->mutable_checksum()->set_value(Xxh3(*bytes));
  uint64_t offset = request->offset();
  do {
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    }
    const size_t n = std::min<size_t>(chunk, bytes->size() - offset);
    msg.mutable_chunk()->set_offset(offset);
    msg.mutable_chunk()->set_data(bytes->data() + offset, n);
    if (!writer->Write(msg)) return grpc::Status(grpc::StatusCode::CANCELLED, "stream closed");
    offset += n;
  } while (offset < bytes->size());
  return grpc::Status::OK;
}

}  // namespace murmur::server
