#include "tokenops/router/router.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <numeric>

#include "tokenops/text/error.hpp"
#include "tokenops/text/parallel.hpp"
#include "tokenops/text/worker_pool.hpp"

namespace tokenops::router {

namespace {


inline double sigmoid(double z) noexcept {
  return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}
enum class BinaryKind { kSingle, kDiff, kNeed, kSigmoidDiff };
inline BinaryKind binary_kind(const std::string& s) noexcept {
  return s == "single" ? BinaryKind::kSingle
         : s == "diff" ? BinaryKind::kDiff
         : s == "need" ? BinaryKind::kNeed
                       : BinaryKind::kSigmoidDiff;
}
/// The binary score from a head's pre-link values z and outputs q.
inline double combine(BinaryKind k, int strong, int weak, const double* z, const double* q) noexcept {
  switch (k) {
    case BinaryKind::kSingle: return q[0];
    case BinaryKind::kDiff: return q[strong] - q[weak];
    case BinaryKind::kNeed: return q[strong] * (1.0 - q[weak]);
    default: return sigmoid(z[strong] - z[weak]);
  }
}
inline double softplus(double z) noexcept {
  return z > 30 ? z : std::log1p(std::exp(z));
}

/// One prompt's features as the heads see them.
struct Input {
  const SparseFeatures* sparse = nullptr;
  const float* dense = nullptr;  // standardised, dense_dim() values
  const float* emb = nullptr;    // embedding_dim() values
  float* work = nullptr;         // Head::work_size() floats of per-thread scratch
};

const io::RouterTensor& tensor(const io::RouterFile& f, const std::string& name) {
  auto it = f.tensors.find(name);
  TOKENOPS_CHECK(it != f.tensors.end(), InvalidArgument, "router file (family '", f.family,
                 "') lacks the tensor '", name, "'");
  return it->second;
}

void check_shape(const io::RouterTensor& t, const std::string& name, std::size_t rows,
                 std::size_t cols) {
  const bool ok = (t.shape.size() == 2 && t.rows() == rows && t.cols() == cols) ||
                  (cols == 1 && t.shape.size() == 1 && t.rows() == rows);
  std::string got;
  for (auto d : t.shape) got += (got.empty() ? "" : " x ") + std::to_string(d);
  TOKENOPS_CHECK(ok, InvalidArgument, "router tensor '", name, "' has shape (", got,
                 ") but the feature config needs (", rows, " x ", cols, ")");
}

/// acc[0..W) += sign(code) * M[bucket(code), 0..W) over codes[lo, hi), for a compile-time W.
/// Branch-free (the sign is random, a branch on it mispredicts half the time); two
/// accumulators per output to break the floating-point add chain.
template <std::size_t W>
inline void gather_rows(const float* m, const std::uint32_t* code, std::size_t lo, std::size_t hi,
                        float* out) noexcept {
  float acc[2][W] = {};
  const auto signed_row = [&](std::size_t i, float* a) {
    const std::uint32_t c = code[i];
    const float* row = m + static_cast<std::size_t>(c & 0x7FFFFFFFu) * W;
    const std::uint32_t sign = c & 0x80000000u;
    for (std::size_t j = 0; j < W; ++j) a[j] += std::bit_cast<float>(std::bit_cast<std::uint32_t>(row[j]) ^ sign);
  };
  std::size_t i = lo;
  for (; i + 2 <= hi; i += 2) {
    signed_row(i, acc[0]);
    signed_row(i + 1, acc[1]);
  }
  if (i < hi) signed_row(i, acc[0]);
  for (std::size_t j = 0; j < W; ++j) out[j] = acc[0][j] + acc[1][j];
}

/// y[0..w) += x^T M over a dense block (M row-major, rows x w), y not aliasing M or x.
inline void dense_rows(const float* __restrict m, const float* __restrict x, std::size_t rows,
                       std::size_t w, float* __restrict y) noexcept {
  for (std::size_t k = 0; k < rows; ++k) {
    const float v = x[k];
    const float* row = m + k * w;
    for (std::size_t j = 0; j < w; ++j) y[j] += v * row[j];
  }
}

/// y = bias + M^T x over the full input (sparse | dense | emb); M is dim x width, row-major.
struct LinearMap {
  const float* m = nullptr;
  const float* bias = nullptr;
  std::size_t width = 0, sparse_dim = 0, dense_dim = 0, emb_dim = 0;

  /// y must not alias the weights or the inputs.
  void apply(const Input& x, float* __restrict y) const {
    if (bias)
      std::copy(bias, bias + width, y);
    else
      std::fill(y, y + width, 0.0f);
    if (x.sparse && x.sparse->size() > 0) {
      const SparseFeatures& sp = *x.sparse;
      const std::uint32_t* code = sp.code.data();
      if (width <= 4) {
        // signed sums per block (word, char), then one scale each
        float sw[4] = {}, sc[4] = {};
        switch (width) {
          case 1: gather_rows<1>(m, code, 0, sp.n_word, sw); gather_rows<1>(m, code, sp.n_word, sp.size(), sc); break;
          case 2: gather_rows<2>(m, code, 0, sp.n_word, sw); gather_rows<2>(m, code, sp.n_word, sp.size(), sc); break;
          case 3: gather_rows<3>(m, code, 0, sp.n_word, sw); gather_rows<3>(m, code, sp.n_word, sp.size(), sc); break;
          default: gather_rows<4>(m, code, 0, sp.n_word, sw); gather_rows<4>(m, code, sp.n_word, sp.size(), sc); break;
        }
        for (std::size_t j = 0; j < width; ++j) y[j] += sw[j] * sp.word_value + sc[j] * sp.char_value;
      } else {
        for (std::size_t i = 0; i < sp.size(); ++i) {
          const float* row = m + static_cast<std::size_t>(code[i] & 0x7FFFFFFFu) * width;
          const float v = sp.value(i);
          for (std::size_t j = 0; j < width; ++j) y[j] += v * row[j];
        }
      }
    }
    const float* base = m + sparse_dim * width;
    if (dense_dim) dense_rows(base, x.dense, dense_dim, width, y);
    base += dense_dim * width;
    if (emb_dim) dense_rows(base, x.emb, emb_dim, width, y);
  }
};

}  // namespace

struct Router::Head {
  virtual ~Head() = default;
  /// Pre-link values z (K of them) and outputs q = link(z).
  virtual void forward(const Input& x, double* z, double* q) const = 0;
  /// Binary score; the default goes through forward().
  virtual double binary(const Input& x, const io::RouterFile& f, BinaryKind kind, double* z,
                        double* q) const {
    forward(x, z, q);
    return combine(kind, f.strong, f.weak, z, q);
  }
  /// Floats of scratch forward() needs in Input::work (allocated once per thread and chunk).
  virtual std::size_t work_size() const { return 0; }
  /// kNN works on whole blocks of queries; others are per prompt.
  virtual bool blockwise() const { return false; }
  virtual void forward_block(const float*, std::size_t, double*, double*) const {}
};

namespace {

LinearMap make_map(const io::RouterFile& f, const FeatureExtractor& fx, const std::string& wname,
                   const std::string& bname, std::size_t width) {
  const auto& w = tensor(f, wname);
  check_shape(w, wname, fx.dim(), width);
  LinearMap map{w.data.data(), nullptr, width, fx.sparse_dim(), fx.dense_dim(), fx.embedding_dim()};
  if (!bname.empty()) {
    const auto& b = tensor(f, bname);
    check_shape(b, bname, width, 1);
    map.bias = b.data.data();
  }
  return map;
}

struct LinearHead final : Router::Head {
  LinearMap map;
  bool sig;
  std::size_t k;
  LinearHead(const io::RouterFile& f, const FeatureExtractor& fx, std::size_t k_)
      : map(make_map(f, fx, "W", "b", k_)), sig(f.output_link == "sigmoid"), k(k_) {}
  std::size_t work_size() const override { return k; }
  void forward(const Input& x, double* z, double* q) const override {
    float* out = x.work;
    map.apply(x, out);
    for (std::size_t j = 0; j < k; ++j) {
      z[j] = out[j];
      q[j] = sig ? sigmoid(z[j]) : z[j];
    }
  }
};

struct MlpHead final : Router::Head {
  LinearMap first;
  std::vector<const io::RouterTensor*> w, b;  // layers 1..L
  std::size_t k, max_width;
  bool sig, relu;
  MlpHead(const io::RouterFile& f, const FeatureExtractor& fx, std::size_t k_)
      : k(k_), sig(f.output_link == "sigmoid"), relu(f.activation == "relu") {
    const auto& w0 = tensor(f, "W0");
    TOKENOPS_CHECK(w0.shape.size() == 2, InvalidArgument, "router tensor 'W0' must be 2-D");
    first = make_map(f, fx, "W0", "b0", w0.cols());
    std::size_t width = w0.cols();
    max_width = std::max(width, k);
    for (int l = 1;; ++l) {
      std::string wname = "W", bname = "b";
      wname += std::to_string(l);
      bname += std::to_string(l);
      auto it = f.tensors.find(wname);
      if (it == f.tensors.end()) break;
      TOKENOPS_CHECK(it->second.shape.size() == 2, InvalidArgument, "router tensor 'W", l,
                     "' must be 2-D");
      check_shape(it->second, it->first, width, it->second.cols());
      const auto& bl = tensor(f, bname);
      check_shape(bl, bname, it->second.cols(), 1);
      w.push_back(&it->second);
      b.push_back(&bl);
      width = it->second.cols();
      max_width = std::max(max_width, width);
    }
    TOKENOPS_CHECK(!w.empty(), InvalidArgument, "an mlp router needs at least W0 and W1");
    TOKENOPS_CHECK(width == k, InvalidArgument, "the mlp's last layer has ", width,
                   " outputs but the router declares ", k);
  }
  void act(float* h, std::size_t n) const {
    if (relu)
      for (std::size_t i = 0; i < n; ++i) h[i] = h[i] > 0 ? h[i] : 0;
    else
      for (std::size_t i = 0; i < n; ++i) h[i] = std::tanh(h[i]);
  }
  std::size_t work_size() const override { return 2 * max_width; }
  void forward(const Input& x, double* z, double* q) const override {
    float* a = x.work;
    float* c = x.work + max_width;
    first.apply(x, a);
    std::size_t width = first.width;
    for (std::size_t l = 0; l < w.size(); ++l) {
      act(a, width);
      const std::size_t out = w[l]->cols();
      const float* bias = b[l]->data.data();
      std::copy(bias, bias + out, c);
      for (std::size_t i = 0; i < width; ++i) {
        const float v = a[i];
        if (v == 0) continue;
        const float* row = w[l]->data.data() + i * out;
        for (std::size_t j = 0; j < out; ++j) c[j] += v * row[j];
      }
      std::swap(a, c);
      width = out;
    }
    for (std::size_t j = 0; j < k; ++j) {
      z[j] = a[j];
      q[j] = sig ? sigmoid(z[j]) : z[j];
    }
  }
};

struct MfHead final : Router::Head {
  LinearMap proj;
  std::vector<float> v;  // M x d, rows L2-normalised
  std::vector<float> w2;
  const float* bias = nullptr;
  std::size_t m, d;
  bool sig;
  // binary fast path: u = W1 ((v_s - v_w) ⊙ w2), so z_s - z_w = u^T x + b_s - b_w (same algebra)
  std::vector<float> u;
  LinearMap fast;
  MfHead(const io::RouterFile& f, const FeatureExtractor& fx, std::size_t m_)
      : m(m_), sig(f.output_link == "sigmoid") {
    const auto& p = tensor(f, "P");
    TOKENOPS_CHECK(p.shape.size() == 2 && p.rows() == m, InvalidArgument,
                   "router tensor 'P' must be (models x dim) with ", m, " rows");
    d = p.cols();
    proj = make_map(f, fx, "W1", "", d);
    const auto& w2t = tensor(f, "w2");
    check_shape(w2t, "w2", d, 1);
    w2 = w2t.data;
    if (f.tensors.count("b")) {
      check_shape(tensor(f, "b"), "b", m, 1);
      bias = tensor(f, "b").data.data();
    }
    v = p.data;
    for (std::size_t i = 0; i < m; ++i) {  // torch.nn.functional.normalize(p=2, eps=1e-12)
      double ss = 0;
      for (std::size_t j = 0; j < d; ++j) ss += double(v[i * d + j]) * v[i * d + j];
      const double norm = std::max(std::sqrt(ss), 1e-12);
      for (std::size_t j = 0; j < d; ++j) v[i * d + j] = static_cast<float>(v[i * d + j] / norm);
    }
    if (f.task == "binary" && f.binary_score == "sigmoid_diff") {
      const std::size_t dim = fx.dim();
      const float* w1 = tensor(f, "W1").data.data();
      std::vector<double> g(d);
      for (std::size_t j = 0; j < d; ++j)
        g[j] = (double(v[f.strong * d + j]) - v[f.weak * d + j]) * w2[j];
      u.resize(dim);
      for (std::size_t r = 0; r < dim; ++r) {
        double acc = 0;
        for (std::size_t j = 0; j < d; ++j) acc += w1[r * d + j] * g[j];
        u[r] = static_cast<float>(acc);
      }
      fast = LinearMap{u.data(), nullptr, 1, fx.sparse_dim(), fx.dense_dim(), fx.embedding_dim()};
    }
  }
  std::size_t work_size() const override { return d; }
  void forward(const Input& x, double* z, double* q) const override {
    float* e = x.work;
    proj.apply(x, e);
    for (std::size_t i = 0; i < m; ++i) {
      double acc = bias ? bias[i] : 0.0;
      for (std::size_t j = 0; j < d; ++j) acc += double(w2[j]) * v[i * d + j] * e[j];
      z[i] = acc;
      q[i] = sig ? sigmoid(acc) : acc;
    }
  }
  double binary(const Input& x, const io::RouterFile& f, BinaryKind kind, double* z,
                double* q) const override {
    if (u.empty()) return Head::binary(x, f, kind, z, q);
    float s = 0;
    fast.apply(x, &s);
    const double b = bias ? double(bias[f.strong]) - bias[f.weak] : 0.0;
    return sigmoid(double(s) + b);
  }
};

struct IrtHead final : Router::Head {
  LinearMap map;
  const float* theta;
  std::size_t m;
  IrtHead(const io::RouterFile& f, const FeatureExtractor& fx, std::size_t m_)
      : map(make_map(f, fx, "W", "c", 2)), m(m_) {
    const auto& t = tensor(f, "theta");
    check_shape(t, "theta", m, 1);
    theta = t.data.data();
  }
  void forward(const Input& x, double* z, double* q) const override {
    float y[2];
    map.apply(x, y);  // y[0] = difficulty, y[1] = log-discrimination (softplus)
    const double a = softplus(y[1]);
    for (std::size_t i = 0; i < m; ++i) {
      z[i] = a * (double(theta[i]) - y[0]);
      q[i] = sigmoid(z[i]);
    }
  }
};

struct KnnHead final : Router::Head {
  std::vector<float> keys;       // N x E, rows L2-normalised
  const io::RouterTensor* vals;  // N x M
  std::size_t m, k, e, n;
  KnnHead(const io::RouterFile& f, const FeatureExtractor& fx, std::size_t m_) : m(m_) {
    TOKENOPS_CHECK(fx.sparse_dim() == 0 && fx.dense_dim() == 0 && fx.embedding_dim() > 0,
                   InvalidArgument, "a knn router works on the embedding block only");
    e = fx.embedding_dim();
    const auto& kt = tensor(f, "keys");
    TOKENOPS_CHECK(kt.shape.size() == 2 && kt.cols() == e && kt.rows() > 0, InvalidArgument,
                   "router tensor 'keys' must be (N x ", e, ")");
    n = kt.rows();
    vals = &tensor(f, "values");
    check_shape(*vals, "values", n, m);
    TOKENOPS_CHECK(f.knn_k >= 1, InvalidArgument, "knn_k must be >= 1, got ", f.knn_k);
    k = std::min<std::size_t>(static_cast<std::size_t>(f.knn_k), n);
    keys = kt.data;
    for (std::size_t r = 0; r < n; ++r) normalise(keys.data() + r * e);
  }
  void normalise(float* v) const {
    double ss = 0;
    for (std::size_t j = 0; j < e; ++j) ss += double(v[j]) * v[j];
    if (ss > 0) {
      const float inv = static_cast<float>(1.0 / std::sqrt(ss));
      for (std::size_t j = 0; j < e; ++j) v[j] *= inv;
    }
  }
  bool blockwise() const override { return true; }
  void forward_block(const float* q_emb, std::size_t rows, double* z, double* q) const override {
    std::vector<float> qv(e), sims(n);
    std::vector<std::uint32_t> order(n);
    for (std::size_t r = 0; r < rows; ++r) {
      std::copy(q_emb + r * e, q_emb + (r + 1) * e, qv.begin());
      normalise(qv.data());
      for (std::size_t t = 0; t < n; ++t) {
        const float* kr = keys.data() + t * e;
        float acc = 0;
        for (std::size_t j = 0; j < e; ++j) acc += qv[j] * kr[j];
        sims[t] = acc;
      }
      std::iota(order.begin(), order.end(), 0u);
      const float* s = sims.data();
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                        [s](std::uint32_t a, std::uint32_t b) {
                          return s[a] > s[b] || (s[a] == s[b] && a < b);
                        });
      for (std::size_t j = 0; j < m; ++j) {
        double acc = 0;
        for (std::size_t t = 0; t < k; ++t) acc += vals->data[order[t] * m + j];
        z[r * m + j] = q[r * m + j] = acc / static_cast<double>(k);
      }
    }
  }
  void forward(const Input& x, double* z, double* q) const override {
    forward_block(x.emb, 1, z, q);
  }
};

}  // namespace

Router::Router(io::RouterFile file, std::shared_ptr<const tokenizer::Encoding> encoding)
    : file_(std::move(file)), encoding_(std::move(encoding)), features_(file_.features, encoding_) {
  const std::size_t m = file_.models.size();
  TOKENOPS_CHECK(m >= 1, InvalidArgument, "router file names no models");
  TOKENOPS_CHECK(file_.costs.empty() || file_.costs.size() == m, InvalidArgument,
                 "router file has ", file_.costs.size(), " costs for ", m, " models");
  TOKENOPS_CHECK(features_.dim() > 0, InvalidArgument,
                 "router feature config enables no features (no hashed n-grams, dense signals "
                 "or embedding)");
  if ((file_.task == "binary" && file_.binary_score != "single") || file_.strong >= 0 ||
      file_.weak >= 0) {
    TOKENOPS_CHECK(file_.strong >= 0 && file_.weak >= 0 && static_cast<std::size_t>(file_.strong) < m &&
                       static_cast<std::size_t>(file_.weak) < m && file_.strong != file_.weak,
                   InvalidArgument, "router file: strong/weak indices (", file_.strong, ", ",
                   file_.weak, ") must name two different models of ", m);
  }
  // number of outputs: one per model, except a binary 'single' head which has one output
  n_out_ = (file_.task == "binary" && file_.binary_score == "single") ? 1 : m;
  const std::string& fam = file_.family;
  if (fam == "linear")
    head_ = std::make_unique<LinearHead>(file_, features_, n_out_);
  else if (fam == "mlp")
    head_ = std::make_unique<MlpHead>(file_, features_, n_out_);
  else if (fam == "mf")
    head_ = std::make_unique<MfHead>(file_, features_, n_out_);
  else if (fam == "irt")
    head_ = std::make_unique<IrtHead>(file_, features_, n_out_);
  else if (fam == "knn")
    head_ = std::make_unique<KnnHead>(file_, features_, n_out_);
  else
    throw InvalidArgument("unknown router family '" + fam + "'");
  TOKENOPS_CHECK(!((fam == "irt" || fam == "mf" || fam == "knn") && n_out_ != m), InvalidArgument,
                 "router family '", fam, "' predicts one value per model; binary_score must be "
                 "'diff' or 'sigmoid_diff'");
}

Router::~Router() = default;

void Router::check_batch(const Batch& batch) const {
  const std::size_t e = features_.embedding_dim();
  if (e == 0) return;
  TOKENOPS_CHECK(batch.embeddings != nullptr, InvalidArgument, "this router uses the embedder '",
                 file_.features.embedder, "'; pass the prompts' embeddings");
  TOKENOPS_CHECK(batch.embedding_rows == batch.texts.size() && batch.embedding_cols == e,
                 InvalidArgument, "embeddings have shape (", batch.embedding_rows, ", ",
                 batch.embedding_cols, ") but the router needs (", batch.texts.size(), ", ", e,
                 ") from the embedder '", file_.features.embedder, "'");
  for (std::size_t i = 0; i < batch.embedding_rows * e; ++i)
    TOKENOPS_CHECK(std::isfinite(batch.embeddings[i]), InvalidArgument,
                   "embedding of prompt ", i / e, " holds a non-finite value at column ", i % e);
}

template <class Fn>
void Router::for_each(const Batch& batch, int num_threads, const text::StopFn& stop, Fn&& fn) const {
  check_batch(batch);
  const std::size_t n = batch.texts.size();
  constexpr std::size_t kChunk = 32;
  const std::size_t chunks = (n + kChunk - 1) / kChunk;
  const std::size_t threads = text::resolve_threads(num_threads, chunks);
  const std::size_t e = features_.embedding_dim();
  const bool block = head_->blockwise();
  std::atomic<std::size_t> next{0};
  // one worker per thread, each with its own scratch (no allocation per prompt), pulling chunks
  // of prompts; every result is written by index, so any thread count gives the same output
  text::PooledTeam lease(threads);  // no thread start per call
  lease.team().run(threads, [&](std::size_t) {
    SparseFeatures sp;
    FeatureScratch scratch;
    std::vector<float> dense(features_.dense_dim()), work(head_->work_size());
    std::vector<double> z(n_out_ * kChunk), q(n_out_ * kChunk);
    for (;;) {
      const std::size_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks || (stop && stop())) return;
      const std::size_t lo = c * kChunk, hi = std::min(n, lo + kChunk);
      if (block) head_->forward_block(batch.embeddings + lo * e, hi - lo, z.data(), q.data());
      for (std::size_t i = lo; i < hi; ++i) {
        Input x;
        if (!block) {
          const bool want_sparse = features_.sparse_dim() > 0, want_dense = features_.dense_dim() > 0;
          if (want_sparse || want_dense)
            features_.extract(batch.texts[i], want_sparse ? &sp : nullptr,
                              want_dense ? dense.data() : nullptr, true, scratch);
          if (want_sparse) x.sparse = &sp;
          if (want_dense) x.dense = dense.data();
          if (e) x.emb = batch.embeddings + i * e;
          x.work = work.data();
        }
        fn(i, x, z.data() + (i - lo) * n_out_, q.data() + (i - lo) * n_out_);
      }
    }
  });
}

std::vector<double> Router::score(const Batch& batch, int num_threads, const text::StopFn& stop) const {
  TOKENOPS_CHECK((file_.binary_score == "single" && n_out_ == 1) ||
                     (file_.strong >= 0 && file_.weak >= 0),
                 InvalidArgument, "this router has no binary score (no strong/weak pair); use "
                 "predict_quality() or route_nway() for N-way routing");
  std::vector<double> out(batch.texts.size());
  const bool block = head_->blockwise();
  const BinaryKind kind = binary_kind(file_.binary_score);
  for_each(batch, num_threads, stop, [&](std::size_t i, const Input& x, double* z, double* q) {
    const double s = block ? combine(kind, file_.strong, file_.weak, z, q) : head_->binary(x, file_, kind, z, q);
    TOKENOPS_CHECK(std::isfinite(s), InvalidArgument, "router produced a non-finite score for prompt ",
                   i, "; its features or weights overflowed");
    out[i] = s;
  });
  return out;
}

std::vector<double> Router::outputs(const Batch& batch, int num_threads, const text::StopFn& stop) const {
  std::vector<double> out(batch.texts.size() * n_out_);
  const bool block = head_->blockwise();
  for_each(batch, num_threads, stop, [&](std::size_t i, const Input& x, double* z, double* q) {
    if (!block) head_->forward(x, z, q);
    for (std::size_t j = 0; j < n_out_; ++j) {
      TOKENOPS_CHECK(std::isfinite(q[j]), InvalidArgument,
                     "router produced a non-finite output for prompt ", i, ", output ", j);
      out[i * n_out_ + j] = q[j];
    }
  });
  return out;
}

}  // namespace tokenops::router
