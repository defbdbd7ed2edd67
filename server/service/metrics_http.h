// MetricsHttpServer: serves GET /metrics over plain HTTP/1.1 (cpp-httplib)
// with the Prometheus text format 0.0.4 that `render` returns at each
// request. murmur-coordinator runs it on --metrics-listen, apart from the
// gRPC listeners. Other paths answer 404, other methods 405.
//
// Threading: Start binds and then serves on a thread of its own (with a
// small pool of two request threads); `render` is called from those
// threads. The destructor stops serving and joins; it must run before
// whatever `render` reads is destroyed.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "common/status.h"

namespace httplib {
class Server;
}

namespace murmur::server {

class MetricsHttpServer {
 public:
  // `address`: "HOST:PORT" ("127.0.0.1:9464", "[::1]:9464",
  // "localhost:0"); port 0 picks a free port (see port()).
  static Result<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address,
                                                          std::function<std::string()> render);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;

  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

// Splits "HOST:PORT" (brackets stripped from an IPv6 host).
Result<std::pair<std::string, int>> SplitHostPort(const std::string& address);

}  // namespace murmur::server
