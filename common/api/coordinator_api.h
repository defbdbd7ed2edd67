// CoordinatorApi: one client session with the coordinator, in domain types.
// Everything that trains (the client daemon, the simulator, the demos,
// tests) talks to the coordinator through this interface; which side of a
// network the coordinator sits on is the implementation's business:
//   server::InProcessCoordinator   over a RoundEngine in the same process
//                                  (server/engine/in_process_coordinator.h)
//   client::GrpcCoordinator        over murmur.v1.Coordinator gRPC
//                                  (client/transport/grpc_coordinator.h)
// Both pass the same conformance suite (tests/api_conformance_test.cc) and
// answer every call identically.
//
// One object is one session: Register stores the client id and session
// token, and every later call sends them. Calling anything else before a
// successful Register is FAILED_PRECONDITION ("call Register first").
// Registering again (same object or another, same name) starts a new
// session for the same client id; the old token stops working. A name is
// bound to the credential of its first registration (the enrollment secret,
// or over mTLS the client certificate's subject): registering it again with
// another credential is PERMISSION_DENIED and changes nothing.
//
// Errors (the Status codes, gRPC numbering; messages are the coordinator's):
//   UNAVAILABLE          transient: the coordinator is busy (its update queue
//                        is full: nothing was recorded and the check-in stays
//                        open), stopped, or unreachable. Retry later; a
//                        retried identical update is accepted at most once.
//   DEADLINE_EXCEEDED    the call took longer than its timeout (gRPC):
//                        transient, retry as for UNAVAILABLE.
//   INVALID_ARGUMENT     the request itself is bad (e.g. an empty name, an
//                        enrollment secret under 16 bytes, none when the
//                        coordinator requires one).
//   NOT_FOUND            unknown client id, or a model version no longer
//                        served (PullModel): check in again for the current one.
//   PERMISSION_DENIED    the session token is not this client's (another
//                        session registered since): Register again. From
//                        Register: the name is bound to another credential.
//   FAILED_PRECONDITION  the client has left, or no Register yet.
//   DATA_LOSS            a downloaded model failed its checksum (gRPC, after
//                        the transport's own resumptions).
// An update the coordinator refuses is not an error: PushUpdate returns OK
// with UpdateOutcome{accepted = false, reason, message}. The one exception is
// RejectReason::kBusy, which comes back as UNAVAILABLE (transient).
//
// Threading: an object is not synchronized; call it from one thread at a
// time. Different objects (sessions) may be used from different threads at
// once, against the same coordinator.
#pragma once

#include <cstdint>
#include <string>

#include "common/api/types.h"
#include "common/status.h"

namespace murmur::api {

class CoordinatorApi {
 public:
  virtual ~CoordinatorApi() = default;

  // Starts a session as `client_name` (1..256 bytes); a known name gets its
  // old client id back. Remembers the id and token for the calls below.
  // `enrollment_secret`: the client's own secret (at least 16 bytes; empty:
  // none, accepted only by a coordinator that allows anonymous clients). The
  // first registration binds the name to it; later ones must send the same.
  // Over mTLS the coordinator binds the certificate's subject instead.
  virtual Result<Registration> Register(const std::string& client_name,
                                        const ClientCapabilities& capabilities,
                                        const std::string& enrollment_secret) = 0;

  // Asks whether to train now. `intended_local_steps`: the K the client
  // plans to run (0: the coordinator's minimum); `have_version`: the version
  // it already holds (0: none).
  virtual Result<CheckInDecision> CheckIn(uint32_t intended_local_steps,
                                          uint64_t have_version) = 0;

  // Downloads model `version` (0: the current one). The result's version is
  // the one actually sent.
  virtual Result<PulledModel> PullModel(uint64_t version) = 0;

  // Sends an update trained after a kTrain check-in. Returns once the
  // outcome is final (an accepted update is durably recorded).
  virtual Result<UpdateOutcome> PushUpdate(const UpdateToPush& update) = 0;

  // Ends the session: until the client registers again, its CheckIn and
  // Leave fail with FAILED_PRECONDITION and its updates are rejected
  // (kBadToken, "... has left"). PullModel does not check the session: the
  // service serves model versions to any caller, and both implementations
  // answer alike.
  virtual Status Leave(const std::string& reason) = 0;

  // The id from the last successful Register (0 before).
  virtual uint64_t client_id() const = 0;
};

}  // namespace murmur::api
