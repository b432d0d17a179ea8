#pragma once
// Scorer interfaces. A UnitScorer gives every unit a number (higher = more worth keeping); a
// ChunkScorer gives every chunk one (question-aware relevance). Scorers are immutable and
// thread-safe; the Compressor combines them with weights after normalising each one.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/text/parallel.hpp"
#include "tokenops/compress/segment.hpp"

namespace tokenops::compress {

/// What a scorer sees: the text, its segmentation and the (possibly empty) question.
struct ScoreContext {
  std::string_view text;
  const Segmentation& seg;
  std::string_view question;
  const text::StopFn* stop = nullptr;  // a long scorer asks it between batches (may be null)
  bool stopped() const { return stop && *stop && (*stop)(); }
};

class UnitScorer {
 public:
  virtual ~UnitScorer() = default;
  virtual std::string name() const = 0;
  /// Writes one score per unit (out is resized by the caller to seg.units.size()).
  virtual void score_units(const ScoreContext& ctx, std::vector<float>& out) const = 0;
};

class ChunkScorer {
 public:
  virtual ~ChunkScorer() = default;
  virtual std::string name() const = 0;
  /// True when the scorer means nothing without a question (it is then skipped).
  virtual bool needs_question() const { return true; }
  /// Writes one non-negative score per chunk (out is resized to seg.chunks.size()).
  virtual void score_chunks(const ScoreContext& ctx, std::vector<float>& out) const = 0;
};

template <class S>
struct Weighted {
  std::shared_ptr<const S> scorer;
  float weight = 1.0f;
};

}  // namespace tokenops::compress
