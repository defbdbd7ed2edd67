#include "sim/availability_trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace murmur::sim {
namespace {

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool ParseDouble(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(*out);
}

const std::vector<Interval> kNone;

}  // namespace

Result<AvailabilityTrace> AvailabilityTrace::Parse(std::istream& in, const std::string& name) {
  AvailabilityTrace trace;
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line == "client,online_from_s,online_to_s") continue;
    auto bad = [&](const std::string& why) {
      return InvalidArgumentError(name + ":" + std::to_string(line_no) + ": " + why + " in '" +
                                  line + "' (expected client,online_from_s,online_to_s)");
    };
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) fields.push_back(Trim(f));
    if (!line.empty() && line.back() == ',') fields.push_back("");
    if (fields.size() != 3) return bad(std::to_string(fields.size()) + " fields instead of 3");
    uint32_t client = 0;
    auto [p, ec] = std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), client);
    if (ec != std::errc() || p != fields[0].data() + fields[0].size() || fields[0].empty()) {
      return bad("client '" + fields[0] + "' is not a non-negative integer");
    }
    double from = 0, to = 0;
    if (!ParseDouble(fields[1], &from)) return bad("online_from_s '" + fields[1] + "' is not a number");
    if (!ParseDouble(fields[2], &to)) return bad("online_to_s '" + fields[2] + "' is not a number");
    if (from < 0) return bad("online_from_s is negative");
    if (!(to > from)) return bad("online_to_s must be greater than online_from_s");
    trace.Add(client, {from, to});
  }
  trace.Normalize();
  return trace;
}

Result<AvailabilityTrace> AvailabilityTrace::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("cannot open availability trace " + path);
  return Parse(in, path);
}

const std::vector<Interval>& AvailabilityTrace::intervals(uint32_t client) const {
  return client < by_client_.size() ? by_client_[client] : kNone;
}

bool AvailabilityTrace::IsOnline(uint32_t client, double t_s) const {
  for (const Interval& iv : intervals(client)) {
    if (t_s < iv.from_s) return false;
    if (t_s < iv.to_s) return true;
  }
  return false;
}

double AvailabilityTrace::OnlineFraction(uint32_t client, double horizon_s) const {
  double on = 0;
  for (const Interval& iv : intervals(client)) {
    on += std::max(0.0, std::min(iv.to_s, horizon_s) - std::min(iv.from_s, horizon_s));
  }
  return horizon_s > 0 ? on / horizon_s : 0;
}

void AvailabilityTrace::Add(uint32_t client, Interval iv) {
  if (client >= by_client_.size()) by_client_.resize(client + 1);
  by_client_[client].push_back(iv);
}

void AvailabilityTrace::SetNumClients(uint32_t n) {
  if (n > by_client_.size()) by_client_.resize(n);
}

void AvailabilityTrace::Normalize() {
  for (auto& ivs : by_client_) {
    std::sort(ivs.begin(), ivs.end(),
              [](const Interval& a, const Interval& b) { return a.from_s < b.from_s; });
    std::vector<Interval> merged;
    for (const Interval& iv : ivs) {
      if (!merged.empty() && iv.from_s <= merged.back().to_s) {
        merged.back().to_s = std::max(merged.back().to_s, iv.to_s);
      } else {
        merged.push_back(iv);
      }
    }
    ivs = std::move(merged);
  }
}

void AvailabilityTrace::Write(std::ostream& out) const {
  out << "client,online_from_s,online_to_s\n";
  char buf[96];
  for (size_t c = 0; c < by_client_.size(); ++c) {
    for (const Interval& iv : by_client_[c]) {
      std::snprintf(buf, sizeof buf, "%zu,%.3f,%.3f\n", c, iv.from_s, iv.to_s);
      out << buf;
    }
  }
}

AvailabilityTrace GenerateDiurnalTrace(const DiurnalOptions& o, Rng& rng) {
  AvailabilityTrace trace;
  constexpr double kDay = 86400;
  const double horizon = o.days * kDay;
  for (uint32_t c = 0; c < o.clients; ++c) {
    Rng r = rng.Fork(c);
    const double zone_h = r.Uniform(-12, 12);  // the client's time zone
    const int days = static_cast<int>(std::ceil(o.days)) + 1;
    for (int d = -1; d < days; ++d) {
      // Poisson(sessions_per_day) by counting exponential gaps in one day.
      int sessions = 0;
      for (double acc = r.Exponential(1.0); acc < o.sessions_per_day; acc += r.Exponential(1.0)) {
        ++sessions;
      }
      for (int s = 0; s < sessions; ++s) {
        const double hour = o.peak_hour - zone_h + r.Normal(0, o.spread_hours);
        const double from = d * kDay + hour * 3600;
        const double to = from + r.Exponential(1.0 / o.session_mean_s);
        const double a = std::max(0.0, from), b = std::min(horizon, to);
        if (b > a) trace.Add(c, {std::round(a), std::max(std::round(a) + 1, std::round(b))});
      }
    }
  }
  trace.SetNumClients(o.clients);
  trace.Normalize();
  return trace;
}

}  // namespace murmur::sim
