// GrpcLogWatch: routes gRPC's own log lines into murmur's log (levelled,
// with gRPC's file and line) and watches them for the one failure gRPC 1.51
// never recovers from: once accept4() fails on a listening socket (EMFILE
// when every descriptor is taken, ...), tcp_server_posix.cc logs "Failed
// accept4" and that listener accepts no connection again (later gRPC
// releases retry). murmur-coordinator then exits with code 4 so that its
// supervisor (systemd Restart=on-failure, Kubernetes) restarts it: the state
// is durable and a restart resumes exactly, while a process that stayed up
// would never admit a new (or reconnecting) client again.
//
// Threading: InstallGrpcLogWatch once, on the main thread, before the first
// gRPC call; the hook then runs on any gRPC thread; GrpcListenerLost and
// GrpcListenerLossReason from any thread.
#pragma once

#include <string>

namespace murmur::server {

void InstallGrpcLogWatch();
// True once gRPC has reported a listener that stopped accepting.
bool GrpcListenerLost();
// gRPC's message for it ("Failed accept4: Too many open files"); empty before.
std::string GrpcListenerLossReason();

}  // namespace murmur::server
