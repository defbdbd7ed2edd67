// murmur_tls_client_helper: a Coordinator client over TLS, mTLS or plaintext
// for tests/service_tls_test.sh.
//
//   murmur_tls_client_helper ADDR CREDS COMMAND [N]
//     CREDS    "plaintext", or "tls:CA_PEM" (verify the server against CA),
//              or "mtls:CA_PEM:CERT_PEM:KEY_PEM" (and present a client cert)
//     checkin  register $MURMUR_CLIENT_NAME (default "tls-client") and
//              check in once; prints
//              "checkin train|wait|finished version=V"
//     train N  register, then up to N times: check in, pull, push a small
//              delta; stops at "finished"; prints "accepted A finished F"
//     health   grpc.health.v1.Health/Check for the whole server (a raw
//              generic call: Debian ships no generated health stub); prints
//              "health SERVING" (or the status number)
//
// Exits 0 on success, 1 when a call fails (the gRPC status is printed on
// stderr, e.g. UNAVAILABLE for a failed handshake), 2 on bad usage.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "client/transport/grpc_coordinator.h"
#include "common/codec/tensor_codec.h"

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& addr, const std::string& creds) {
  grpc::ChannelArguments args;
  if (creds == "plaintext") {
    return grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
  }
  const auto parts = Split(creds, ':');
  grpc::SslCredentialsOptions ssl;
  if (parts.size() == 2 && parts[0] == "tls") {
    ssl.pem_root_certs = ReadFile(parts[1]);
  } else if (parts.size() == 4 && parts[0] == "mtls") {
    ssl.pem_root_certs = ReadFile(parts[1]);
    ssl.pem_cert_chain = ReadFile(parts[2]);
    ssl.pem_private_key = ReadFile(parts[3]);
  } else {
    std::fprintf(stderr, "bad CREDS %s\n", creds.c_str());
    std::exit(2);
  }
  return grpc::CreateCustomChannel(addr, grpc::SslCredentials(ssl), args);
}

const char* KindName(murmur::api::CheckInDecision::Kind k) {
  using K = murmur::api::CheckInDecision::Kind;
  return k == K::kTrain ? "train" : k == K::kWait ? "wait" : "finished";
}

int Health(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty;  // HealthCheckRequest{service: ""} encodes to zero bytes
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!status.ok()) {
    std::fprintf(stderr, "health: %d %s\n", status.error_code(), status.error_message().c_str());
    return 1;
  }
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return 1;
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status = 1 (varint)}: SERVING is 1, NOT_SERVING 2.
  if (bytes.size() == 2 && bytes[0] == 0x08) {
    if (bytes[1] == 1) {
      std::printf("health SERVING\n");
      return 0;
    }
    std::printf("health %d\n", bytes[1]);
    return 1;
  }
  std::printf("health UNKNOWN (%zu bytes)\n", bytes.size());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace murmur;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s ADDR CREDS checkin|train N|health\n", argv[0]);
    return 2;
  }
  const std::string addr = argv[1], command = argv[3];
  auto channel = MakeChannel(addr, argv[2]);
  if (command == "health") return Health(channel);

  client::GrpcCoordinator session(channel, {.rpc_timeout_s = 10});
  // The name (MURMUR_CLIENT_NAME, default "tls-client"): over mTLS it must be
  // the certificate's common name; otherwise its enrollment secret is sent.
  const char* env_name = std::getenv("MURMUR_CLIENT_NAME");
  const std::string name = env_name != nullptr ? env_name : "tls-client";
  auto reg = session.Register(name, {.device = "cpu", .num_samples = 100},
                              "enrollment-secret-" + name);
  if (!reg.ok()) {
    std::fprintf(stderr, "register: %s\n", reg.status().ToString().c_str());
    return 1;
  }
  if (command == "checkin") {
    auto d = session.CheckIn(2, 0);
    if (!d.ok()) {
      std::fprintf(stderr, "checkin: %s\n", d.status().ToString().c_str());
      return 1;
    }
    std::printf("checkin %s version=%llu\n", KindName(d->kind),
                static_cast<unsigned long long>(d->model_version));
    return 0;
  }
  if (command != "train" || argc != 5) {
    std::fprintf(stderr, "unknown command %s\n", command.c_str());
    return 2;
  }
  const int n = std::atoi(argv[4]);
  int accepted = 0, finished = 0;
  for (int i = 0; i < n; ++i) {
    auto d = session.CheckIn(2, 0);
    if (!d.ok()) {
      std::fprintf(stderr, "checkin: %s\n", d.status().ToString().c_str());
      return 1;
    }
    if (d->kind == api::CheckInDecision::Kind::kFinished) {
      finished = 1;
      break;
    }
    if (d->kind != api::CheckInDecision::Kind::kTrain) {
      std::fprintf(stderr, "checkin: wait: %s\n", d->reason.c_str());
      return 1;
    }
    auto pulled = session.PullModel(d->model_version);
    if (!pulled.ok()) {
      std::fprintf(stderr, "pull: %s\n", pulled.status().ToString().c_str());
      return 1;
    }
    auto model = DecodeTensors(pulled->bytes);
    if (!model.ok()) return 1;
    for (auto& t : *model) {
      for (float& v : t.data) v = 0.001f;
    }
    auto o = session.PushUpdate({.base_version = pulled->version,
                                 .local_steps = d->local_steps,
                                 .num_samples = 10,
                                 .mean_loss = 1.0,
                                 .payload = *EncodeTensors(*model)});
    if (!o.ok()) {
      std::fprintf(stderr, "push: %s\n", o.status().ToString().c_str());
      return 1;
    }
    if (!o->accepted) {
      std::fprintf(stderr, "push rejected: %s\n", o->message.c_str());
      return 1;
    }
    ++accepted;
  }
  std::printf("accepted %d finished %d\n", accepted, finished);
  return 0;
}
