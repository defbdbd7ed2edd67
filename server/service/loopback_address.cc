#include "server/service/loopback_address.h"

#include <arpa/inet.h>

#include <string>

namespace murmur::server {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IsPort(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

bool IsLoopbackAddress(std::string_view address) {
  if (StartsWith(address, "unix:") || StartsWith(address, "unix-abstract:")) return true;
  if (StartsWith(address, "ipv4:")) address.remove_prefix(5);
  else if (StartsWith(address, "ipv6:")) address.remove_prefix(5);
  if (StartsWith(address, "dns:")) address.remove_prefix(4);
  std::string_view host;
  if (StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':' || !IsPort(address.substr(close + 2))) {
      return false;
    }
    host = address.substr(1, close - 1);
    in6_addr a6{};
    return inet_pton(AF_INET6, std::string(host).c_str(), &a6) == 1 &&
           IN6_IS_ADDR_LOOPBACK(&a6);
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || !IsPort(address.substr(colon + 1))) return false;
  host = address.substr(0, colon);
  if (host == "localhost") return true;
  in_addr a4{};
  if (inet_pton(AF_INET, std::string(host).c_str(), &a4) != 1) return false;
  return (ntohl(a4.s_addr) >> 24) == 127;
}

}  // namespace murmur::server
