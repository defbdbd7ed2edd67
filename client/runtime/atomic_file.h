// Crash-safe small files for the client's state directory.
//
// WriteFileAtomically(path, bytes): writes `path.tmp-<pid>-<n>`, fsyncs it,
// renames it over `path` and fsyncs the directory, so after a crash at any
// moment `path` holds either the old or the new content, never a mix. Left-
// over temp files (a crash before the rename) start with ".tmp-" or contain
// ".tmp-"; readers ignore them and RemoveStaleTemps deletes them.
//
// Threading: free functions; concurrent writers of the same path are
// serialized by the rename (the last one wins).
#pragma once

#include <optional>
#include <string>

#include "common/status.h"

namespace murmur::client {

Status WriteFileAtomically(const std::string& path, std::string_view bytes);

// The file's bytes, nullopt when it does not exist; an error naming the path
// when it exists but cannot be read.
Result<std::optional<std::string>> ReadFileIfExists(const std::string& path);

// True for the names WriteFileAtomically uses for its temp files.
bool IsTempFileName(std::string_view file_name);

// Deletes temp files left in `dir` by an interrupted write; returns how many.
int RemoveStaleTemps(const std::string& dir);

}  // namespace murmur::client
