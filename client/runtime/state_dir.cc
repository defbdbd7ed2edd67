#include "client/runtime/state_dir.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client/runtime/atomic_file.h"

namespace murmur::client {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Result<json> ParseJsonFile(const std::string& path, const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLossError(fmt::format("{} is not a JSON object (corrupt state file)", path));
  }
  return j;
}

template <typename T>
Status Get(const json& j, const char* key, T* out, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  try {
    *out = it->get<T>();
  } catch (const json::exception& e) {
    return DataLossError(fmt::format("{}: field '{}': {}", path, key, e.what()));
  }
  return Status::Ok();
}

}  // namespace

Result<StateDir> StateDir::Open(const std::string& path) {
  std::error_code ec;
  fs::create_directories(fs::path(path) / "outbox", ec);
  if (ec) {
    return UnavailableError(fmt::format("cannot create state directory {}: {}", path, ec.message()));
  }
  RemoveStaleTemps(path);
  RemoveStaleTemps(path + "/outbox");
  return StateDir(path);
}

Result<StateDir> StateDir::OpenExisting(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    return NotFoundError(fmt::format("state directory {} does not exist", path));
  }
  return StateDir(path);
}

Result<std::optional<ClientIdentity>> StateDir::LoadIdentity() const {
  const std::string file = path_ + "/identity.json";
  MURMUR_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadFileIfExists(file));
  if (!text) return std::optional<ClientIdentity>();
  MURMUR_ASSIGN_OR_RETURN(json j, ParseJsonFile(file, *text));
  ClientIdentity id;
  MURMUR_RETURN_IF_ERROR(Get(j, "name", &id.name, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "client_id", &id.client_id, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "token", &id.token, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "enrollment_secret", &id.enrollment_secret, file));
  if (id.name.empty()) return DataLossError(fmt::format("{} has no name", file));
  return std::optional<ClientIdentity>(std::move(id));
}

Status StateDir::SaveIdentity(const ClientIdentity& id) const {
  const json j = {{"name", id.name},
                  {"client_id", id.client_id},
                  {"token", id.token},
                  {"enrollment_secret", id.enrollment_secret}};
  return WriteFileAtomically(path_ + "/identity.json", j.dump(2) + "\n");
}

Result<ParticipationRecord> StateDir::LoadParticipation() const {
  const std::string file = path_ + "/participation.json";
  MURMUR_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadFileIfExists(file));
  ParticipationRecord r;
  if (!text) return r;
  MURMUR_ASSIGN_OR_RETURN(json j, ParseJsonFile(file, *text));
  MURMUR_RETURN_IF_ERROR(Get(j, "at_s", &r.at_s, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "base_version", &r.base_version, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "local_steps", &r.local_steps, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "train_seconds", &r.train_seconds, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "mean_loss", &r.mean_loss, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "outcome", &r.outcome, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "round_version", &r.round_version, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "accepted_total", &r.accepted_total, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "rejected_total", &r.rejected_total, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "budget_day", &r.budget_day, file));
  MURMUR_RETURN_IF_ERROR(Get(j, "budget_used_s", &r.budget_used_s, file));
  return r;
}

Status StateDir::SaveParticipation(const ParticipationRecord& r) const {
  const json j = {{"at_s", r.at_s},
                  {"base_version", r.base_version},
                  {"local_steps", r.local_steps},
                  {"train_seconds", r.train_seconds},
                  {"mean_loss", r.mean_loss},
                  {"outcome", r.outcome},
                  {"round_version", r.round_version},
                  {"accepted_total", r.accepted_total},
                  {"rejected_total", r.rejected_total},
                  {"budget_day", r.budget_day},
                  {"budget_used_s", r.budget_used_s}};
  return WriteFileAtomically(path_ + "/participation.json", j.dump(2) + "\n");
}

Result<std::string> GenerateSecret() {
  std::ifstream in("/dev/urandom", std::ios::binary);
  unsigned char buf[16];
  if (!in.read(reinterpret_cast<char*>(buf), sizeof buf)) {
    return UnavailableError("cannot read /dev/urandom for an enrollment secret");
  }
  std::string hex;
  for (unsigned char b : buf) hex += fmt::format("{:02x}", b);
  return hex;
}

}  // namespace murmur::client
