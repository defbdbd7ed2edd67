// murmur_admin_push_helper ADDR CLIENTS UPDATES_PER_CLIENT [BAD_PUSHES]:
// drives a running murmur-coordinator over gRPC for the murmurctl and
// metrics end-to-end tests (admin_murmurctl_test.sh, metrics_test.sh).
// CLIENTS sessions ("client-0", ...) each check in, pull the model and push
// a small delta, UPDATES_PER_CLIENT times, in turn. Then client-0 pushes
// BAD_PUSHES (default 0) deltas claiming K = 1000000 local steps, each of
// which must be rejected as local_steps_out_of_range. Prints "accepted N rejected M" and exits 0 when
// every update had its expected outcome, 1 otherwise (with the reason), 2
// on bad usage.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "client/transport/grpc_coordinator.h"
#include "common/codec/tensor_codec.h"

int main(int argc, char** argv) {
  using namespace murmur;
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s ADDR CLIENTS UPDATES_PER_CLIENT [BAD_PUSHES]\n", argv[0]);
    return 2;
  }
  const std::string addr = argv[1];
  const int clients = std::atoi(argv[2]);
  const int updates = std::atoi(argv[3]);
  const int bad_pushes = argc == 5 ? std::atoi(argv[4]) : 0;
  auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  std::vector<std::unique_ptr<client::GrpcCoordinator>> sessions;
  for (int i = 0; i < clients; ++i) {
    auto s = std::make_unique<client::GrpcCoordinator>(channel);
    const std::string name = "client-" + std::to_string(i);
    auto r = s->Register(name, {.device = "cpu", .num_samples = 100u * (i + 1)},
                         "enrollment-secret-" + name);
    if (!r.ok()) {
      std::fprintf(stderr, "register client-%d: %s\n", i, r.status().ToString().c_str());
      return 1;
    }
    sessions.push_back(std::move(s));
  }
  int accepted = 0, rejected = 0;
  for (int u = 0; u < updates; ++u) {
    for (int i = 0; i < clients; ++i) {
      auto& s = *sessions[i];
      auto d = s.CheckIn(2, 0);
      if (!d.ok() || d->kind != api::CheckInDecision::Kind::kTrain) {
        std::fprintf(stderr, "check-in client-%d: %s\n", i,
                     d.ok() ? d->reason.c_str() : d.status().ToString().c_str());
        return 1;
      }
      auto pulled = s.PullModel(d->model_version);
      if (!pulled.ok()) {
        std::fprintf(stderr, "pull: %s\n", pulled.status().ToString().c_str());
        return 1;
      }
      auto model = DecodeTensors(pulled->bytes);
      if (!model.ok()) return 1;
      for (auto& t : *model) {
        for (float& v : t.data) v = 0.001f * static_cast<float>(i + 1);
      }
      api::UpdateToPush push{.base_version = pulled->version,
                             .local_steps = d->local_steps,
                             .num_samples = 10u * (i + 1),
                             .mean_loss = 1.0 / (u + 1),
                             .payload = *EncodeTensors(*model)};
      auto o = s.PushUpdate(push);
      if (!o.ok()) {
        std::fprintf(stderr, "push: %s\n", o.status().ToString().c_str());
        return 1;
      }
      if (o->accepted) {
        ++accepted;
      } else {
        ++rejected;
        std::fprintf(stderr, "client-%d rejected: %s\n", i, o->message.c_str());
      }
    }
  }
  int bad_rejected = 0;
  for (int n = 0; n < bad_pushes; ++n) {
    auto& s = *sessions[0];
    auto d = s.CheckIn(2, 0);
    if (!d.ok() || d->kind != api::CheckInDecision::Kind::kTrain) {
      std::fprintf(stderr, "check-in for a bad push: %s\n",
                   d.ok() ? d->reason.c_str() : d.status().ToString().c_str());
      return 1;
    }
    auto pulled = s.PullModel(d->model_version);
    if (!pulled.ok()) return 1;
    auto model = DecodeTensors(pulled->bytes);
    if (!model.ok()) return 1;
    auto o = s.PushUpdate({.base_version = pulled->version,
                           .local_steps = 1000000,  // outside any recipe
                           .num_samples = 10,
                           .mean_loss = 1.0,
                           .payload = *EncodeTensors(*model)});
    if (!o.ok()) {
      std::fprintf(stderr, "bad push: %s\n", o.status().ToString().c_str());
      return 1;
    }
    if (o->accepted || o->reason != api::RejectReason::kLocalStepsOutOfRange) {
      std::fprintf(stderr, "a push with K out of range was answered %s: %s\n",
                   o->accepted ? "accepted" : "rejected", o->message.c_str());
      return 1;
    }
    ++bad_rejected;
  }
  std::printf("accepted %d rejected %d\n", accepted, rejected + bad_rejected);
  return rejected == 0 ? 0 : 1;
}
