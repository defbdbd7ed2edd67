#include "common/data/text_dataset.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <system_error>

#include <fmt/format.h>

#include "common/data/utf8.h"

namespace murmur::data {
namespace {

namespace fs = std::filesystem;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Status OpenError(const std::string& path, int err) {
  const std::string why = std::generic_category().message(err);
  if (err == ENOENT || err == ENOTDIR) {
    return NotFoundError(fmt::format("{}: cannot open: {}", path, why));
  }
  if (err == EACCES || err == EPERM) {
    return PermissionDeniedError(fmt::format("{}: cannot open: {}", path, why));
  }
  return InvalidArgumentError(fmt::format("{}: cannot open: {}", path, why));
}

}  // namespace

Result<std::string> ReadUtf8File(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec) return OpenError(path, ec.value());
  if (!fs::is_regular_file(st)) {
    return InvalidArgumentError(fmt::format("{}: not a regular file", path));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"),
                                                   &std::fclose);
  if (!f) return OpenError(path, errno);
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return OpenError(path, ec.value());
  if (size > kMaxTextFileBytes) {
    return ResourceExhaustedError(fmt::format("{}: {} bytes, over the {}-byte text file limit",
                                              path, size, kMaxTextFileBytes));
  }
  std::string text(static_cast<size_t>(size), '\0');
  const size_t got = std::fread(text.data(), 1, text.size(), f.get());
  if (got != text.size() || std::ferror(f.get())) {
    return DataLossError(fmt::format("{}: read {} of {} bytes", path, got, text.size()));
  }
  Status valid = ValidateUtf8(text);
  if (!valid.ok()) return valid.WithContext(path);
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
  return text;
}

Result<TextDataset> LoadTextFiles(std::span<const std::string> paths, const Vocabulary* vocab) {
  if (paths.empty()) return InvalidArgumentError("no text files given");
  std::vector<std::u32string> texts;
  texts.reserve(paths.size());
  size_t total = 0;
  for (const std::string& path : paths) {
    MURMUR_ASSIGN_OR_RETURN(std::string text, ReadUtf8File(path));
    MURMUR_ASSIGN_OR_RETURN(std::u32string decoded, DecodeUtf8(text));
    total += decoded.size();
    texts.push_back(std::move(decoded));
  }
  if (total == 0) {
    return InvalidArgumentError(paths.size() == 1
                                    ? fmt::format("{}: contains no text", paths[0])
                                    : fmt::format("none of the {} text files (first: {}) "
                                                  "contains any text",
                                                  paths.size(), paths[0]));
  }
  TextDataset out;
  if (vocab != nullptr) {
    out.vocab = *vocab;
  } else {
    std::u32string all;
    all.reserve(total);
    for (const auto& t : texts) all += t;
    out.vocab = Vocabulary::FromCodePoints(all);
  }
  out.tokens.reserve(total);
  for (size_t i = 0; i < paths.size(); ++i) {
    TextSource src;
    src.path = paths[i];
    src.name = fs::path(paths[i]).filename().string();
    src.begin = out.tokens.size();
    for (char32_t cp : texts[i]) out.tokens.push_back(out.vocab.Id(cp));
    src.end = out.tokens.size();
    out.sources.push_back(std::move(src));
  }
  return out;
}

Result<TextDataset> LoadTextFile(const std::string& path, const Vocabulary* vocab) {
  return LoadTextFiles(std::span<const std::string>(&path, 1), vocab);
}

Result<std::vector<std::string>> ListFortuneFiles(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NotFoundError(fmt::format(
        "{}: no fortune directory there (install the Debian package `fortunes`)", dir));
  }
  std::vector<std::string> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(".") || EndsWith(name, ".dat") || EndsWith(name, ".u8")) continue;
    // symlink_status: the .u8 names are symlinks to the plain files.
    if (!fs::is_regular_file(it->symlink_status())) continue;
    files.push_back(it->path().string());
  }
  if (ec) {
    return PermissionDeniedError(fmt::format("{}: cannot list: {}", dir, ec.message()));
  }
  if (files.empty()) {
    return NotFoundError(fmt::format("{}: holds no fortune files", dir));
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<TextDataset> LoadFortunes(const std::string& dir, const Vocabulary* vocab) {
  MURMUR_ASSIGN_OR_RETURN(std::vector<std::string> files, ListFortuneFiles(dir));
  return LoadTextFiles(files, vocab);
}

Result<TextChunks> ChunkText(const TextDataset& data, size_t length) {
  if (length == 0) return InvalidArgumentError("text chunk length must be > 0");
  TextChunks out;
  out.length = length;
  for (size_t s = 0; s < data.sources.size(); ++s) {
    const TextSource& src = data.sources[s];
    for (size_t start = src.begin; start + length <= src.end; start += length) {
      out.starts.push_back(start);
      out.source.push_back(static_cast<uint32_t>(s));
    }
  }
  return out;
}

}  // namespace murmur::data
