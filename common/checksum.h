// Payload checksums: XXH3-64 (libxxhash) over whole buffers or streamed in
// pieces (a model arriving as gRPC chunks).
//
// Threading: Xxh3Hasher is not synchronized; one per stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace murmur {

uint64_t Xxh3(const void* data, size_t size);
inline uint64_t Xxh3(std::string_view s) { return Xxh3(s.data(), s.size()); }

class Xxh3Hasher {
 public:
  Xxh3Hasher();
  ~Xxh3Hasher();
  Xxh3Hasher(const Xxh3Hasher&) = delete;
  Xxh3Hasher& operator=(const Xxh3Hasher&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  uint64_t Digest() const;
  void Reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace murmur
