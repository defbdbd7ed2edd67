#include "server/strategy/client_tables.h"

#include <memory>
#include <utility>

namespace murmur::server::strategy {

std::unordered_set<uint64_t> ParticipantIds(std::span<const ClientUpdate> updates) {
  std::unordered_set<uint64_t> ids;
  for (const ClientUpdate& u : updates) ids.insert(u.client_id);
  return ids;
}

std::map<uint64_t, TableEntry> KeepRegistered(const std::map<uint64_t, TableEntry>& table,
                                              std::span<const uint64_t> all_clients) {
  std::map<uint64_t, TableEntry> kept;
  for (uint64_t id : all_clients) {
    auto it = table.find(id);
    if (it != table.end()) kept.emplace(id, it->second);
  }
  return kept;
}

TableEntry MakeEntry(TensorList value, double local_lr, uint64_t round) {
  return TableEntry{std::make_shared<const TensorList>(std::move(value)), local_lr, round};
}

}  // namespace murmur::server::strategy
