// Whether a gRPC listen address stays on this machine: used to refuse an
// unauthenticated listener (the Admin service) on a reachable interface.
//
// Pure function, safe from any thread.
#pragma once

#include <string_view>

namespace murmur::server {

// True for "127.x.y.z:PORT", "localhost:PORT", "[::1]:PORT", "ipv4:127..."
// and "ipv6:[::1]:PORT" forms, and for unix-domain sockets ("unix:PATH",
// "unix-abstract:NAME"). False for anything else, including "0.0.0.0",
// "[::]", a host name and an address without a port.
bool IsLoopbackAddress(std::string_view address);

}  // namespace murmur::server
