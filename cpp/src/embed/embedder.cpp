#include "tokenops/embed/embedder.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "encoder.hpp"
#include "tokenops/io/safetensors.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/text/parallel.hpp"
#include "tokenops/text/thread_team.hpp"
#include "tokenops/text/worker_pool.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::embed {

namespace fs = std::filesystem;

struct Embedder::Weights {
  std::unique_ptr<internal::EncoderWeights> enc;
};

namespace {

constexpr const char* kLayout =
    "expected a sentence-transformers model directory holding config.json, model.safetensors, "
    "tokenizer.json (or vocab.txt [+ tokenizer_config.json]) and optionally "
    "sentence_bert_config.json, modules.json and 1_Pooling/config.json";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw IoError(detail::concat("cannot read ", p.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_optional(const fs::path& p) { return fs::is_regular_file(p) ? read_text(p) : std::string(); }

fs::path require_file(const fs::path& dir, const char* name) {
  fs::path p = dir / name;
  if (!fs::is_regular_file(p))
    throw IoError(detail::concat("model directory ", dir.string(), " has no ", name, " (", kLayout, ")"));
  return p;
}

}  // namespace

Embedder::Embedder() = default;
Embedder::~Embedder() = default;

std::shared_ptr<const Embedder> Embedder::load(const std::string& model_dir) {
  const fs::path dir(model_dir);
  if (!fs::is_directory(dir))
    throw IoError(detail::concat("model directory ", model_dir, " does not exist or is not a directory (",
                                 kLayout, ")"));
  std::shared_ptr<Embedder> e(new Embedder());
  e->info_.path = model_dir;

  const fs::path cfg_path = require_file(dir, "config.json");
  e->info_.config = io::parse_bert_config(read_text(cfg_path), cfg_path.string());
  const io::BertConfig& cfg = e->info_.config;

  // Tokenizer: tokenizer.json when present (what Hugging Face loads), else vocab.txt.
  io::WordPieceSpec spec;
  const bool from_json = fs::is_regular_file(dir / "tokenizer.json");
  if (from_json) {
    spec = io::parse_wordpiece_tokenizer_json(read_text(dir / "tokenizer.json"), (dir / "tokenizer.json").string());
    if (fs::is_regular_file(dir / "tokenizer_config.json")) {
      io::WordPieceSpec opts = io::parse_vocab_txt("x", "", read_text(dir / "tokenizer_config.json"),
                                                   (dir / "tokenizer_config.json").string());
      spec.model_max_length = opts.model_max_length;
    }
  } else {
    if (!fs::is_regular_file(dir / "vocab.txt"))
      throw IoError(detail::concat("model directory ", model_dir,
                                   " has neither tokenizer.json nor vocab.txt (", kLayout, ")"));
    spec = io::parse_vocab_txt(read_text(dir / "vocab.txt"), (dir / "vocab.txt").string(),
                               read_optional(dir / "tokenizer_config.json"),
                               (dir / "tokenizer_config.json").string());
  }
  TOKENOPS_CHECK(spec.vocab.size() <= cfg.vocab_size, InvalidArgument, model_dir, ": the tokenizer has ",
                 spec.vocab.size(), " tokens but config.json says vocab_size = ", cfg.vocab_size);
  const std::string tok_file = (dir / (from_json ? "tokenizer.json" : "vocab.txt")).string();
  try {
    e->tokenizer_ = std::make_unique<WordPieceTokenizer>(spec);
  } catch (const InvalidArgument& ex) {
    throw InvalidArgument(detail::concat(tok_file, ": ", ex.what()));  // name the file at fault
  }
  TOKENOPS_CHECK(e->tokenizer_->id_bound() <= cfg.vocab_size, InvalidArgument, model_dir,
                 ": an added token has id ", e->tokenizer_->id_bound() - 1,
                 " but config.json says vocab_size = ", cfg.vocab_size, " (the embedding table has no row for it)");

  // Without modules.json, sentence-transformers builds its default pipeline (the transformer +
  // mean pooling) and reads neither sentence_bert_config.json nor 1_Pooling/config.json.
  const std::string modules = read_optional(dir / "modules.json");
  const io::SentenceConfig sc = io::parse_sentence_config(
      modules.empty() ? std::string() : read_optional(dir / "sentence_bert_config.json"), modules,
      modules.empty() ? std::string() : read_optional(dir / "1_Pooling" / "config.json"), model_dir);
  TOKENOPS_CHECK(!sc.do_lower_case, InvalidArgument, model_dir,
                 "/sentence_bert_config.json: do_lower_case = true is not supported");
  // sentence-transformers: max_seq_length, else the tokenizer's model_max_length, capped by the
  // position table.
  std::size_t max_len = sc.max_seq_length ? sc.max_seq_length
                        : spec.model_max_length ? spec.model_max_length
                                                : cfg.max_position_embeddings;
  max_len = std::min(max_len, cfg.max_position_embeddings);
  TOKENOPS_CHECK(max_len >= 2, InvalidArgument, model_dir, ": max_seq_length ", max_len, " is below 2");
  e->info_.max_tokens = max_len;
  e->info_.dim = cfg.hidden_size;
  e->info_.pooling = sc.pooling;
  e->info_.normalize = sc.normalize;

  const fs::path st = require_file(dir, "model.safetensors");
  e->weights_ = std::make_unique<Weights>();
  e->weights_->enc = internal::EncoderWeights::load(io::SafetensorsFile::open(st.string()), cfg);
  e->weights_->enc->pooling = sc.pooling;
  e->weights_->enc->normalize = sc.normalize;
  return e;
}

std::size_t Embedder::dim() const noexcept { return info_.dim; }
std::size_t Embedder::max_tokens() const noexcept { return info_.max_tokens; }
const ModelInfo& Embedder::info() const noexcept { return info_; }
const WordPieceTokenizer& Embedder::tokenizer() const noexcept { return *tokenizer_; }

std::vector<std::uint32_t> Embedder::tokenize(std::string_view text) const {
  return tokenizer_->encode(text, info_.max_tokens);
}

std::vector<float> Embedder::embed(std::span<const std::string_view> texts, const EmbedOptions& opt) const {
  std::vector<float> out(texts.size() * info_.dim);
  embed(texts, out.data(), opt);
  return out;
}

void Embedder::embed(std::span<const std::string_view> texts, float* out, const EmbedOptions& opt) const {
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::size_t bad = text::find_invalid_utf8(texts[i]);
    TOKENOPS_CHECK(bad == std::string_view::npos, InvalidArgument, "texts[", i,
                   "] is not valid UTF-8 (first bad byte at offset ", bad, ")");
  }
  std::vector<std::vector<std::uint32_t>> ids(texts.size());
  const std::size_t threads = text::resolve_threads(opt.num_threads, texts.size());
  text::parallel_for(texts.size(), threads, [&](std::size_t i) {
    ids[i].reserve(16);
    ids[i].push_back(tokenizer_->cls_id());
    tokenizer_->encode_pieces(texts[i], ids[i], info_.max_tokens - 2);
    ids[i].push_back(tokenizer_->sep_id());
  });
  run(ids, out, opt);
}

void Embedder::embed_ids(std::span<const std::vector<std::uint32_t>> ids, float* out,
                         const EmbedOptions& opt) const {
  const std::uint32_t V = static_cast<std::uint32_t>(info_.config.vocab_size);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    TOKENOPS_CHECK(!ids[i].empty() && ids[i].size() <= info_.max_tokens, InvalidArgument, "ids[", i,
                   "] has ", ids[i].size(), " tokens; expected 1..", info_.max_tokens);
    for (std::size_t t = 0; t < ids[i].size(); ++t)
      TOKENOPS_CHECK(ids[i][t] < V, InvalidArgument, "ids[", i, "][", t, "] = ", ids[i][t],
                     " is not below vocab_size ", V);
  }
  run(ids, out, opt);
}

void Embedder::run(std::span<const std::vector<std::uint32_t>> ids, float* out, const EmbedOptions& opt) const {
  TOKENOPS_CHECK(opt.batch_size >= 1, InvalidArgument, "batch_size must be at least 1");
  TOKENOPS_CHECK(opt.num_threads >= 0, InvalidArgument, "num_threads must be >= 0 (0 = all cores), got ",
                 opt.num_threads);
  const std::size_t n = ids.size();
  if (n == 0) return;
  const std::size_t H = info_.dim;
  // Sort by length (longest first, ties by index) so a batch holds texts of similar length. The
  // batches depend only on the inputs and batch_size, never on the thread count.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return ids[a].size() > ids[b].size(); });
  const std::size_t bs = opt.batch_size;
  const std::size_t n_batches = (n + bs - 1) / bs;
  const std::size_t threads = text::resolve_threads(opt.num_threads, std::numeric_limits<std::size_t>::max());

  auto run_batch = [&](std::size_t b, internal::Workspace& ws, text::ThreadTeam* team) {
    const std::size_t lo = b * bs, hi = std::min(n, lo + bs);
    std::vector<const std::vector<std::uint32_t>*> seqs;
    std::vector<float*> rows;
    for (std::size_t k = lo; k < hi; ++k) {
      seqs.push_back(&ids[order[k]]);
      rows.push_back(out + order[k] * H);
    }
    internal::forward(*weights_->enc, seqs, rows, ws, team, &opt.stop);
  };

  if (threads <= 1 || n_batches >= 2 * threads) {
    // Enough batches: each thread runs whole batches on its own.
    const std::size_t t = std::min(threads, n_batches);
    std::vector<internal::Workspace> ws(t);
    std::atomic<std::size_t> next{0};
    text::parallel_for(t, t, [&](std::size_t w) {
      for (std::size_t b = next.fetch_add(1); b < n_batches; b = next.fetch_add(1)) {
        if (opt.stop && opt.stop()) break;
        run_batch(b, ws[w], nullptr);
      }
    });
  } else {
    // Few batches (e.g. one query): the threads share each forward pass, on a pooled team (no
    // thread start per call: a semantic-cache lookup embeds one query at a time).
    text::PooledTeam lease(threads);
    internal::Workspace ws;
    for (std::size_t b = 0; b < n_batches; ++b) {
      if (opt.stop && opt.stop()) break;
      run_batch(b, ws, &lease.team());
    }
  }
}

}  // namespace tokenops::embed
