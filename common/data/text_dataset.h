// TextDataset: UTF-8 text files as one char-level token stream.
//
// Any UTF-8 text file loads as a dataset of code-point tokens (see
// vocabulary.h for why code points, not bytes). Several files load into one
// dataset with one shared vocabulary; each file is a TextSource, a contiguous
// token range, which is what the natural (per-source) partition splits on.
// Files are validated as strict UTF-8 (the error names the path, byte offset
// and line); a leading byte-order mark is dropped; nothing else is changed.
//
// The default corpus is Debian's `fortunes` package: the fortune files in
// /usr/share/games/fortunes, one source (and so one client) per file, which
// makes a natural non-IID split (computers, literature, startrek, ...). The
// .dat index files and the .u8 symlinks there are skipped.
//
// ChunkText cuts the stream into fixed-length samples that never cross a
// source boundary; a sample's "label" for histograms and partitioners is its
// source id.
//
// Threading: a TextDataset is a plain value (concurrent reads are safe); the
// functions are safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/data/vocabulary.h"
#include "common/status.h"

namespace murmur::data {

inline constexpr char kDefaultFortunesDir[] = "/usr/share/games/fortunes";
// Files larger than this are refused (a text corpus, not a disk image).
inline constexpr uint64_t kMaxTextFileBytes = uint64_t{256} << 20;

struct TextSource {
  std::string name;  // the file name (without directories)
  std::string path;
  size_t begin = 0;  // token range [begin, end) in TextDataset::tokens
  size_t end = 0;
  size_t size() const { return end - begin; }
};

struct TextDataset {
  Vocabulary vocab;
  std::vector<uint32_t> tokens;  // vocabulary ids
  std::vector<TextSource> sources;

  size_t size() const { return tokens.size(); }
  std::span<const uint32_t> source_tokens(size_t s) const {
    return std::span<const uint32_t>(tokens).subspan(sources[s].begin, sources[s].size());
  }
};

// The file's text, validated as UTF-8, without a leading BOM.
Result<std::string> ReadUtf8File(const std::string& path);

// Loads files as sources, in the order given. With `vocab` null the
// vocabulary is built from the files; otherwise `*vocab` is used and
// characters outside it become Vocabulary::kUnknownId. Fails if a file is
// missing, too large or not UTF-8, or if all of them are empty.
Result<TextDataset> LoadTextFiles(std::span<const std::string> paths,
                                  const Vocabulary* vocab = nullptr);
Result<TextDataset> LoadTextFile(const std::string& path, const Vocabulary* vocab = nullptr);

// The fortune text files in `dir`, sorted by name: regular files only,
// skipping *.dat, *.u8, dot files and subdirectories. NotFound (naming the
// directory) when it is missing or holds none.
Result<std::vector<std::string>> ListFortuneFiles(const std::string& dir = kDefaultFortunesDir);
Result<TextDataset> LoadFortunes(const std::string& dir = kDefaultFortunesDir,
                                 const Vocabulary* vocab = nullptr);

// Fixed-length samples: sample i is tokens[starts[i], starts[i] + length),
// inside source `source[i]`. Each source is cut from its start into
// non-overlapping windows; a remainder shorter than `length` is dropped, so a
// source shorter than `length` contributes no samples.
struct TextChunks {
  size_t length = 0;
  std::vector<size_t> starts;
  std::vector<uint32_t> source;  // the per-sample label for partitioning
  size_t size() const { return starts.size(); }
};
// `length` must be > 0 (InvalidArgument otherwise).
Result<TextChunks> ChunkText(const TextDataset& data, size_t length);

}  // namespace murmur::data
