// PullModelReactor: one PullModel call (murmur.v1.Coordinator) on gRPC's
// callback API. It checks the session (RoundEngine::Authenticate) before
// sending a byte: an unknown client is NOT_FOUND, a wrong token
// PERMISSION_DENIED, a client that left FAILED_PRECONDITION. Then it streams
// the requested version from the requested offset, one chunk per write: the
// next chunk is written from OnWriteDone, so a client that stops reading
// holds this reactor and one chunk, never a thread. Each chunk carries the
// version, encoding, total size and whole-payload XXH3-64 checksum.
//
// Threading: gRPC serializes the reactions of one call; the snapshot is
// immutable and shared. The reactor deletes itself in OnDone.
#pragma once

#include <grpcpp/support/server_callback.h>

#include <cstdint>

#include "murmur/v1/coordinator.pb.h"
#include "server/engine/round_engine.h"

namespace murmur::server {

class PullModelReactor final : public grpc::ServerWriteReactor<v1::ModelChunk> {
 public:
  // `chunk_bytes` is the served chunk size, already clamped by the service.
  PullModelReactor(const RoundEngine& engine, const v1::PullModelRequest& request,
                   uint32_t chunk_bytes);

  void OnWriteDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  void WriteNext();

  SnapshotPtr snapshot_;
  uint64_t offset_ = 0;
  uint32_t chunk_bytes_ = 0;
  v1::ModelChunk msg_;
};

}  // namespace murmur::server
