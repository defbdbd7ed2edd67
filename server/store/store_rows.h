// Internal to server/store/: how the Store's records map to table rows
// (column lists and row readers shared by the writer and the queries), and
// where checkpoint files live inside the store directory.
//
// Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "server/store/sqlite_db.h"
#include "server/store/store_types.h"

namespace murmur::server::store {

inline constexpr std::string_view kCheckpointDir = "checkpoints";

// "checkpoints/v0000000042.mrmt": relative to the store directory, so the
// directory can be moved.
std::string RelativeCheckpointPath(uint64_t version);

// The 16 participation columns, in ReadParticipationRow's order, unqualified
// and qualified with "p.".
extern const std::string_view kParticipationColumns;
extern const std::string_view kParticipationColumnsP;
ParticipationRecord ReadParticipationRow(const SqliteStatement& st, int first_col);

// The 12 client columns, in ReadClientRow's order.
extern const std::string_view kClientColumns;
ClientRecord ReadClientRow(const SqliteStatement& st);

}  // namespace murmur::server::store
