// ProgressBar: a one-line progress display on stderr for long local jobs
// (training, simulation).
//
//   epoch 3/10 [##########..........]  51%  470/921  12.3s  eta 11.8s  loss 0.412
//
// On a terminal the line is redrawn in place (at most ~10 times a second);
// when the stream is not a terminal (a log file, CI) a plain line is written
// at every 10% instead, so logs stay readable. Disabled bars print nothing.
//
// Threading: one thread drives a bar; the stream is not locked.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace murmur {

class ProgressBar {
 public:
  // `total` > 0 units of work; `out` defaults to stderr.
  ProgressBar(std::string label, int64_t total, std::FILE* out = stderr, bool enabled = true);
  ~ProgressBar();  // Finish() if not yet done

  // `done` units finished; `suffix` is appended (e.g. "loss 0.41").
  void Update(int64_t done, std::string_view suffix = {});
  // Draws the final state and ends the line.
  void Finish(std::string_view suffix = {});

  // The line for a given state (exposed for tests).
  static std::string Render(std::string_view label, int64_t done, int64_t total, double seconds,
                            std::string_view suffix, int width = 24);

 private:
  void Draw(int64_t done, std::string_view suffix, bool final);

  std::string label_;
  int64_t total_;
  std::FILE* out_;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  int64_t last_done_ = 0;
  int last_decile_ = -1;
  std::string last_suffix_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace murmur
