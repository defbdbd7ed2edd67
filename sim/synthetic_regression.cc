#include "sim/synthetic_regression.h"

#include <cmath>

namespace murmur::sim {

RegressionProblem MakeRegressionProblem(int dim, Rng& rng) {
  RegressionProblem p;
  p.dim = dim;
  p.w_true.resize(dim);
  for (float& w : p.w_true) w = static_cast<float>(rng.Normal(0, 1));
  p.b_true = static_cast<float>(rng.Normal(0, 1));
  return p;
}

RegressionData MakeClientData(const RegressionProblem& p, size_t n, double heterogeneity, Rng& rng) {
  RegressionData d;
  d.dim = p.dim;
  d.x.resize(n * p.dim);
  d.y.resize(n);
  std::vector<double> mean(p.dim);
  for (double& m : mean) m = rng.Normal(0, heterogeneity);
  const double label_bias = rng.Normal(0, 0.3 * heterogeneity);
  for (size_t i = 0; i < n; ++i) {
    double y = p.b_true + label_bias + rng.Normal(0, 0.1);
    for (int j = 0; j < p.dim; ++j) {
      const float v = static_cast<float>(mean[j] + rng.Normal(0, 1));
      d.x[i * p.dim + j] = v;
      y += p.w_true[j] * v;
    }
    d.y[i] = static_cast<float>(y);
  }
  return d;
}

ModelSpec RegressionSpec(int dim) { return {{"linear.weight", {1, dim}}, {"linear.bias", {1}}}; }

namespace {

double Predict(const std::vector<float>& w, float b, const float* x, int dim) {
  double s = b;
  for (int j = 0; j < dim; ++j) s += static_cast<double>(w[j]) * x[j];
  return s;
}

}  // namespace

double MeanSquaredError(const TensorList& params, const RegressionData& data) {
  const std::vector<float>& w = params[0].data;
  const float b = params[1].data[0];
  double sum = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const double e = Predict(w, b, &data.x[i * data.dim], data.dim) - data.y[i];
    sum += e * e;
  }
  return data.size() == 0 ? 0.0 : sum / static_cast<double>(data.size());
}

TensorList LeastSquaresSolution(const RegressionData& data) {
  const int n = data.dim + 1;  // weights, then the bias
  // [X 1]^T [X 1] | [X 1]^T y, then Gaussian elimination with partial pivoting.
  std::vector<std::vector<double>> m(n, std::vector<double>(n + 1, 0.0));
  std::vector<double> row(n);
  for (size_t i = 0; i < data.size(); ++i) {
    for (int j = 0; j < data.dim; ++j) row[j] = data.x[i * data.dim + j];
    row[data.dim] = 1.0;
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) m[a][b] += row[a] * row[b];
      m[a][n] += row[a] * data.y[i];
    }
  }
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int r = col + 1; r < n; ++r) {
      if (std::fabs(m[r][col]) > std::fabs(m[pivot][col])) pivot = r;
    }
    std::swap(m[col], m[pivot]);
    if (std::fabs(m[col][col]) < 1e-300) continue;  // singular (too few samples): leave 0
    for (int r = 0; r < n; ++r) {
      if (r == col) continue;
      const double f = m[r][col] / m[col][col];
      for (int c = col; c <= n; ++c) m[r][c] -= f * m[col][c];
    }
  }
  TensorList out = ZerosLike(RegressionSpec(data.dim));
  for (int j = 0; j < n; ++j) {
    const double v = std::fabs(m[j][j]) < 1e-300 ? 0.0 : m[j][n] / m[j][j];
    if (j < data.dim) {
      out[0].data[j] = static_cast<float>(v);
    } else {
      out[1].data[0] = static_cast<float>(v);
    }
  }
  return out;
}

RegressionDelta TrainLocalSgd(const TensorList& global, const RegressionData& data,
                              int local_steps, double lr, int batch_size, Rng& rng) {
  std::vector<float> w = global[0].data;
  float b = global[1].data[0];
  std::vector<double> gw(data.dim);
  double loss_sum = 0;
  uint64_t samples = 0;
  for (int step = 0; step < local_steps; ++step) {
    std::fill(gw.begin(), gw.end(), 0.0);
    double gb = 0, batch_loss = 0;
    for (int k = 0; k < batch_size; ++k) {
      const size_t i = rng.UniformInt(data.size());
      const float* x = &data.x[i * data.dim];
      const double e = Predict(w, b, x, data.dim) - data.y[i];
      batch_loss += 0.5 * e * e;
      for (int j = 0; j < data.dim; ++j) gw[j] += e * x[j];
      gb += e;
    }
    for (int j = 0; j < data.dim; ++j) w[j] -= static_cast<float>(lr * gw[j] / batch_size);
    b -= static_cast<float>(lr * gb / batch_size);
    loss_sum += batch_loss / batch_size;
    samples += batch_size;
  }
  RegressionDelta u;
  u.delta = ZerosLike(SpecOf(global));
  for (int j = 0; j < data.dim; ++j) u.delta[0].data[j] = w[j] - global[0].data[j];
  u.delta[1].data[0] = b - global[1].data[0];
  u.mean_loss = local_steps > 0 ? loss_sum / local_steps : 0.0;
  u.samples = samples;
  return u;
}

}  // namespace murmur::sim
