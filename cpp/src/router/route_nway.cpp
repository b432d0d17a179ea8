// N-way routing decision: argmax over models of lambda * predicted quality - cost. Kept in a
// file of its own so it is compiled without fused multiply-add (CMakeLists.txt): lambda * q - c
// must round exactly as the float64 evaluation (metrics.lambda_sweep, pandas) computes it, so
// exact ties go to the first model on every machine and -march.
#include <cmath>
#include <cstdint>
#include <vector>

#include "tokenops/router/router.hpp"
#include "tokenops/text/error.hpp"

namespace tokenops::router {

std::vector<std::int32_t> Router::route(const Batch& batch, double lambda,
                                        const std::vector<double>& costs, int num_threads,
                                        const text::StopFn& stop) const {
  TOKENOPS_CHECK(n_out_ == file_.models.size(), InvalidArgument,
                 "N-way routing needs a per-model router (this one has a single binary output)");
  TOKENOPS_CHECK(std::isfinite(lambda) && lambda >= 0, InvalidArgument,
                 "lambda (willingness to pay) must be finite and >= 0, got ", lambda);
  const std::vector<double>& c = costs.empty() ? file_.costs : costs;
  TOKENOPS_CHECK(!c.empty() || !costs.empty() || n_out_ == 0, InvalidArgument,
                 "this router file stores no per-model costs: pass costs (one per model, ", n_out_,
                 ")");
  TOKENOPS_CHECK(c.size() == n_out_, InvalidArgument, "need one cost per model (", n_out_,
                 "), got ", c.size());
  for (double v : c)
    TOKENOPS_CHECK(std::isfinite(v) && v >= 0, InvalidArgument,
                   "costs must be finite and non-negative, got ", v);
  const std::vector<double> q = outputs(batch, num_threads, stop);
  std::vector<std::int32_t> out(batch.texts.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::int32_t best = 0;
    double best_v = -INFINITY;
    for (std::size_t j = 0; j < n_out_; ++j) {
      const double v = lambda * q[i * n_out_ + j] - c[j];
      if (v > best_v) {
        best_v = v;
        best = static_cast<std::int32_t>(j);
      }
    }
    out[i] = best;
  }
  return out;
}

}  // namespace tokenops::router
