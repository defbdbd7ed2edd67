#include "common/progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace murmur {

ProgressBar::ProgressBar(std::string label, int64_t total, std::FILE* out, bool enabled)
    : label_(std::move(label)),
      total_(std::max<int64_t>(total, 1)),
      out_(out),
      enabled_(enabled && out != nullptr),
      tty_(out != nullptr && ::isatty(::fileno(out)) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  if (!finished_) Finish(last_suffix_);
}

std::string ProgressBar::Render(std::string_view label, int64_t done, int64_t total,
                                double seconds, std::string_view suffix, int width) {
  total = std::max<int64_t>(total, 1);
  done = std::clamp<int64_t>(done, 0, total);
  const double frac = static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), '.');
  std::string eta = "eta -";
  if (done > 0 && done < total) {
    eta = fmt::format("eta {:.1f}s", seconds / frac - seconds);
  } else if (done == total) {
    eta = "done";
  }
  std::string line = fmt::format("{} [{}] {:3.0f}%  {}/{}  {:.1f}s  {}", label, bar, frac * 100.0,
                                 done, total, seconds, eta);
  if (!suffix.empty()) {
    line += "  ";
    line += suffix;
  }
  return line;
}

void ProgressBar::Draw(int64_t done, std::string_view suffix, bool final) {
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const std::string line = Render(label_, done, total_, seconds, suffix);
  if (tty_) {
    // \r, the line, then clear to the end of the line (a shorter redraw).
    std::fprintf(out_, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
  last_draw_ = now;
}

void ProgressBar::Update(int64_t done, std::string_view suffix) {
  last_done_ = done;
  last_suffix_ = std::string(suffix);
  if (!enabled_ || finished_) return;
  if (tty_) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    Draw(done, suffix, false);
    return;
  }
  const int decile = static_cast<int>(std::clamp<int64_t>(done * 10 / total_, 0, 10));
  if (decile > last_decile_ && decile < 10) {
    last_decile_ = decile;
    Draw(done, suffix, false);
  }
}

void ProgressBar::Finish(std::string_view suffix) {
  if (finished_) return;
  finished_ = true;
  if (enabled_) Draw(last_done_, suffix, true);
}

}  // namespace murmur
