#include "server/store/checkpoint_file.h"

#include <fmt/format.h>

#include <filesystem>

#include "common/checksum.h"
#include "common/codec/tensor_codec.h"

namespace murmur::server::store {

Status MakeDirs(const std::string& dir, FileOps* ops) { return OrPosix(ops)->MakeDirs(dir); }

Status WriteFileAtomically(const std::string& path, std::string_view bytes, FileOps* ops) {
  ops = OrPosix(ops);
  const std::string tmp = path + ".tmp";
  {
    MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, ops->CreateFile(tmp));
    MURMUR_RETURN_IF_ERROR(file->Append(bytes));
    // Without this fsync a power loss after the rename below may leave the
    // new name pointing at a file whose data never reached the disk.
    MURMUR_RETURN_IF_ERROR(file->Sync());
    MURMUR_RETURN_IF_ERROR(file->Close());
  }
  MURMUR_RETURN_IF_ERROR(ops->Rename(tmp, path));
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return ops->SyncDir(parent.empty() ? std::string(".") : parent.string());
}

Result<std::string> ReadWholeFile(const std::string& path, FileOps* ops) {
  return OrPosix(ops)->ReadFile(path);
}

Result<EncodedCheckpoint> EncodeCheckpoint(const TensorList& model) {
  EncodedCheckpoint c;
  MURMUR_RETURN_IF_ERROR(EncodeTensorsInto(model, {.encoding = Encoding::kFp32}, &c.bytes));
  c.checksum = Xxh3(c.bytes);
  return c;
}

Result<TensorList> ReadCheckpoint(const std::string& path, uint64_t expected_checksum,
                                  const ModelSpec* spec, FileOps* ops) {
  Result<std::string> bytes = ReadWholeFile(path, ops);
  if (!bytes.ok()) {
    return Status(bytes.status().code(),
                  fmt::format("model checkpoint is unreadable: {}", bytes.status().message()));
  }
  const uint64_t got = Xxh3(*bytes);
  if (got != expected_checksum) {
    return DataLossError(fmt::format(
        "model checkpoint {} is corrupt: its {} bytes hash to {:016x} but the store recorded "
        "{:016x}",
        path, bytes->size(), got, expected_checksum));
  }
  Result<TensorList> model = DecodeTensors(*bytes, {.expected = spec});
  if (!model.ok()) {
    return Status(model.status().code(),
                  fmt::format("model checkpoint {} does not decode: {}", path,
                              model.status().message()));
  }
  return model;
}

}  // namespace murmur::server::store
