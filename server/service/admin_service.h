// AdminService: murmur.v1.Admin over gRPC, the operator's and researcher's
// view of a running coordinator. Status comes from the engine's counters
// (RoundEngine::Stats, config); clients, histories, rounds and exported
// models come from the Store's query methods (any thread, concurrent with
// the engine's writer). Nothing here changes state.
//   Status        engine counters, strategy, the enabled round triggers
//   ListClients   paged by client id; counts and participation rate from
//                 Store::ParticipationStats; fedau_weight is the weight the
//                 strategy gave the client's most recent weighted update
//   ClientHistory most recent first, with staleness and weight per attempt
//   ListRounds    ascending from a version; metrics include the round's
//                 mean client loss as "mean_client_loss"
//   ExportModel   a stored checkpoint (0: latest) in the asked encoding,
//                 streamed in chunks below gRPC's default 4 MiB message
//                 limit, resumable from an offset, whole-payload checksum in
//                 every chunk
// It is meant for its own listener (murmur-coordinator --admin-listen),
// never the clients' one: it has no authentication of its own.
//
// Threading: synchronous handlers on gRPC's threads (store queries may
// block on SQLite); the service holds no mutable state. The engine and the
// store must outlive the grpc::Server.
#pragma once

#include <cstdint>
#include <string>

#include "murmur/v1/admin.grpc.pb.h"
#include "server/engine/round_engine.h"
#include "server/store/store.h"

namespace murmur::server {

struct AdminServiceOptions {
  uint32_t chunk_bytes = 1 << 20;         // ExportModel chunk (clamped below 4 MiB)
  uint32_t default_page_size = 100;       // ListClients, ListRounds
  uint32_t max_page_size = 1000;
  uint32_t default_history_limit = 100;   // ClientHistory
  uint32_t max_history_limit = 10000;
};

// The largest ExportModel chunk: 4 MiB minus room for the message framing,
// so a client with gRPC's default receive limit can read every chunk.
inline constexpr uint32_t kMaxAdminChunkBytes = (4u << 20) - (64u << 10);

// The round triggers `config` enables, in RoundTriggerName's words joined by
// "+": "buffer_full", "deadline", "buffer_full+deadline", "all_reported" ...
std::string EnabledTriggers(const EngineConfig& config);

class AdminService final : public v1::Admin::Service {
 public:
  // `store` may be null (an engine without one): then only Status answers;
  // the other methods are FAILED_PRECONDITION.
  AdminService(RoundEngine* engine, store::Store* store, AdminServiceOptions options = {});

  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                      v1::StatusResponse* response) override;
  grpc::Status ListClients(grpc::ServerContext*, const v1::ListClientsRequest* request,
                           v1::ListClientsResponse* response) override;
  grpc::Status ClientHistory(grpc::ServerContext*, const v1::ClientHistoryRequest* request,
                             v1::ClientHistoryResponse* response) override;
  grpc::Status ListRounds(grpc::ServerContext*, const v1::ListRoundsRequest* request,
                          v1::ListRoundsResponse* response) override;
  grpc::Status ExportModel(grpc::ServerContext* context, const v1::ExportModelRequest* request,
                           grpc::ServerWriter<v1::ModelChunk>* writer) override;

 private:
  grpc::Status NeedStore() const;

  RoundEngine* const engine_;
  store::Store* const store_;
  const AdminServiceOptions options_;
};

}  // namespace murmur::server
