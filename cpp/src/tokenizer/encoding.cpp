#include "tokenops/tokenizer/encoding.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "tokenops/text/error.hpp"
#include "tokenops/text/hash.hpp"
#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::tokenizer {

namespace {

constexpr std::uint64_t kNoPair = ~std::uint64_t{0};
constexpr std::size_t kSmallPiece = 64;  // pieces up to this many bytes use the O(n^2) merge
// Entries of bpe_parts' arrays: a piece's parts plus room for whole 8-lane blocks past them.
constexpr std::size_t kPartsCap = kSmallPiece + 24;

// A three-byte UTF-8 sequence (U+0800..U+FFFF shape): CJK, Indic, Thai... characters. Their
// tokens get a direct 256 KiB table, which keeps the BPE of unspaced scripts out of the big one.
inline bool is_utf8_3(const unsigned char* q) {
  return (q[0] & 0xF0) == 0xE0 && (q[1] & 0xC0) == 0x80 && (q[2] & 0xC0) == 0x80;
}
inline std::size_t utf8_3_index(const unsigned char* q) {
  return (std::size_t(q[0] & 0x0F) << 12) | (std::size_t(q[1] & 0x3F) << 6) | (q[2] & 0x3F);
}

inline std::uint64_t pack_pair(Rank priority, Rank result) {
  return (std::uint64_t(priority) << 32) | result;
}

inline std::uint64_t hash_u64(std::uint64_t x) { return text::fmix64(x); }

// Emit adaptors: plain functors, or ones that can ask the encoder to stop after a piece.
template <class E, class = void>
struct can_stop : std::false_type {};
template <class E>
struct can_stop<E, std::void_t<decltype(std::declval<const E&>().stopped())>> : std::true_type {};
// ... and ones that follow byte positions: skip(n) reports n bytes of text no token decodes to
// (white space an lstrip / rstrip added token took in), just before that token is emitted.
template <class E, class = void>
struct can_skip : std::false_type {};
template <class E>
struct can_skip<E, std::void_t<decltype(std::declval<E&>().skip(std::size_t{}))>> : std::true_type {};

// Per-thread memo of BPE results for pieces that are not tokens themselves. Natural text repeats
// its rare words; a hit skips the merge loop. Thread-local, so the shared Encoding stays
// immutable and lock-free; each entry is tagged with the encoding's serial and verified against
// the piece's bytes before use, so a hit is always exactly what the merge loop would produce.
struct MemoEntry {
  std::uint64_t hash = 0;
  std::uint64_t serial = 0;
  std::uint32_t len = 0;  // 0: empty
  std::uint32_t n = 0;
  std::uint32_t tok[10];
};
static_assert(sizeof(MemoEntry) == 64);
constexpr std::size_t kMemoEntries = 4096;  // 256 KiB per thread

// Pair-compatibility results (used by the chunked long-piece BPE), same tagging scheme.
struct CompatEntry {
  std::uint64_t key = ~std::uint64_t{0};  // a << 32 | b
  std::uint64_t serial = 0;               // 0: empty
  std::uint32_t n = 0;                    // tokens of BPE(bytes(a) + bytes(b)), if <= 6
  std::uint32_t tok[6];
};
constexpr std::size_t kCompatEntries = 1024;

struct ThreadScratch {
  MemoEntry memo[kMemoEntries];
  CompatEntry compat[kCompatEntries];
  std::uint64_t generation = 0;  // of g_memo_generation when last emptied
  void clear() noexcept {
    for (auto& e : memo) e = MemoEntry{};
    for (auto& e : compat) e = CompatEntry{};
  }
};

// Bumped by clear_memos(); a thread whose scratch is older empties it before its next lookup.
std::atomic<std::uint64_t> g_memo_generation{0};

ThreadScratch& scratch() {
  thread_local std::unique_ptr<ThreadScratch> s(new ThreadScratch());
  const std::uint64_t g = g_memo_generation.load(std::memory_order_relaxed);
  if (s->generation != g) {
    s->clear();
    s->generation = g;
  }
  return *s;
}

MemoEntry* thread_memo() { return scratch().memo; }

std::atomic<std::uint64_t> g_next_serial{1};

struct Collect {
  std::vector<Rank>* out;
  void operator()(Rank r) const { out->push_back(r); }
};
struct Counter {
  std::size_t n = 0;
  void operator()(Rank) { ++n; }
};

}  // namespace

const char* pretokenizer_name(PreTokenizer p) noexcept {
  switch (p) {
    case PreTokenizer::R50K:
      return "r50k";
    case PreTokenizer::CL100K:
      return "cl100k";
    case PreTokenizer::LLAMA3:
      return "llama3";
    case PreTokenizer::O200K:
      return "o200k";
    case PreTokenizer::TEKKEN:
      return "tekken";
  }
  return "?";
}

PreTokenizer pretokenizer_from_name(std::string_view name) {
  if (name == "r50k" || name == "gpt2") return PreTokenizer::R50K;
  if (name == "cl100k") return PreTokenizer::CL100K;
  if (name == "llama3") return PreTokenizer::LLAMA3;
  if (name == "o200k") return PreTokenizer::O200K;
  if (name == "tekken") return PreTokenizer::TEKKEN;
  throw InvalidArgument(::tokenops::detail::concat("unknown pre-tokenizer '", name,
                                       "'; known: r50k, cl100k, llama3, o200k, tekken"));
}

// ------------------------------------------------------------------------------------------
// Construction and validation
// ------------------------------------------------------------------------------------------
Encoding::Encoding(EncodingSpec spec)
    : name_(std::move(spec.name)),
      serial_(g_next_serial.fetch_add(1, std::memory_order_relaxed)),
      pretok_(spec.pretokenizer),
      merge_mode_(spec.merge_mode || !spec.merges.empty()),
      ignore_merges_(spec.ignore_merges),
      n_mergeable_(spec.tokens.size()),
      specials_(std::move(spec.specials)) {
  TOKENOPS_CHECK(spec.tokens.size() == spec.ids.size(), InvalidArgument, "encoding '", name_,
                 "': ", spec.tokens.size(), " tokens but ", spec.ids.size(), " ids");
  TOKENOPS_CHECK(!spec.tokens.empty(), InvalidArgument, "encoding '", name_,
                 "' has no mergeable tokens");
  // Ids: unique, and the decode table.
  constexpr Rank kMaxTokenId = Rank{1} << 24;
  Rank max_id = 0;
  for (Rank id : spec.ids) max_id = std::max(max_id, id);
  for (const auto& s : specials_) max_id = std::max(max_id, s.id);
  // Decoding uses dense tables indexed by id (8 bytes per id up to the largest), so a sparse id
  // near 2^31 would ask for 16 GiB. The largest real vocabularies hold ~260k ids.
  TOKENOPS_CHECK(max_id < kMaxTokenId, InvalidArgument, "encoding '", name_, "': token id ",
                 max_id, " is too large (ids must be below ", kMaxTokenId,
                 "; decode tables are dense)");
  max_token_ = max_id;
  dec_off_.assign(std::size_t(max_id) + 1, 0);
  dec_len_.assign(std::size_t(max_id) + 1, kNoRank);
  std::size_t total = 0;
  for (const auto& t : spec.tokens) total += t.size();
  for (const auto& s : specials_) total += s.text.size();
  dec_bytes_.reserve(total);
  auto add_decode = [&](Rank id, std::string_view bytes, const char* kind, std::size_t index) {
    const bool special = std::string_view(kind) == "special token";
    TOKENOPS_CHECK(dec_len_[id] == kNoRank, InvalidArgument, "encoding '", name_, "': ", kind,
                   " #", index, special ? " '" : "", special ? bytes : std::string_view(),
                   special ? "'" : "", " reuses token id ", id,
                   special ? ", which another token already has" : "");
    dec_off_[id] = static_cast<std::uint32_t>(dec_bytes_.size());
    dec_len_[id] = static_cast<std::uint32_t>(bytes.size());
    dec_bytes_.append(bytes);
  };
  std::vector<std::string_view> keys;
  keys.reserve(spec.tokens.size());
  for (std::size_t i = 0; i < spec.tokens.size(); ++i) {
    TOKENOPS_CHECK(!spec.tokens[i].empty(), InvalidArgument, "encoding '", name_,
                   "': mergeable token with id ", spec.ids[i], " has empty bytes");
    add_decode(spec.ids[i], spec.tokens[i], "mergeable token", i);
    keys.emplace_back(spec.tokens[i]);
  }
  {
    // Duplicate byte strings would make the map ambiguous.
    const auto [dup, first] = text::find_duplicate(keys);
    TOKENOPS_CHECK(dup == static_cast<std::size_t>(-1), InvalidArgument, "encoding '", name_,
                   "': token ids ", spec.ids[first], " and ", spec.ids[dup],
                   " have the same bytes");
  }
  table_.build(keys, spec.ids);
  for (int b = 0; b < 256; ++b) {
    unsigned char c = static_cast<unsigned char>(b);
    Rank id = table_.find(&c, 1);
    TOKENOPS_CHECK(id != ByteTable::kMissing, InvalidArgument, "encoding '", name_,
                   "': the vocabulary has no token for the single byte 0x", std::hex, b,
                   "; byte-level BPE needs all 256 bytes");
    byte_id_[b] = id;
  }
  // Special tokens.
  {
    std::vector<std::string_view> texts;
    for (const auto& s : specials_) texts.emplace_back(s.text);
    const auto [dup, first] = text::find_duplicate(texts);
    TOKENOPS_CHECK(dup == static_cast<std::size_t>(-1), InvalidArgument, "encoding '", name_,
                   "': special token '", texts[dup == static_cast<std::size_t>(-1) ? 0 : dup],
                   "' is listed twice");
    for (std::size_t i = 0; i < specials_.size(); ++i) {
      const auto& s = specials_[i];
      TOKENOPS_CHECK(!s.text.empty(), InvalidArgument, "encoding '", name_,
                     "': special token with id ", s.id, " has empty text");
      // Several special texts may share an id (o200k_harmony lists both <|endofprompt|> and
      // <|reserved_200018|> as 200018); the first one listed is what decoding returns, as in
      // tiktoken. A special id must not collide with a mergeable token of other bytes.
      bool shared = false;
      for (std::size_t j = 0; j < i && !shared; ++j) shared = specials_[j].id == s.id;
      // A Hugging Face added token may be the vocabulary's own token, same bytes and id (an
      // added "x" that is the byte token 'x', which byte-level BPE cannot do without).
      if (!shared && table_.find(s.text) == s.id) shared = true;
      if (!shared) add_decode(s.id, s.text, "special token", i);
      const auto* q = reinterpret_cast<const unsigned char*>(s.text.data());
      special_first_[q[0]] = 1;
      if (s.text.size() == 1) has_short_special_ = true;
      else special_prefix2_[q[0] | (q[1] << 8)] = 1;
      if (std::find(special_lengths_.begin(), special_lengths_.end(), s.text.size()) ==
          special_lengths_.end())
        special_lengths_.push_back(s.text.size());
    }
    std::sort(special_lengths_.rbegin(), special_lengths_.rend());
    std::vector<std::string_view> skeys;
    std::vector<std::uint32_t> sidx;
    for (std::size_t i = 0; i < specials_.size(); ++i) {
      skeys.emplace_back(specials_[i].text);
      sidx.push_back(static_cast<std::uint32_t>(i));
    }
    if (!skeys.empty()) special_table_.build(skeys, sidx);
    always_.assign(specials_.size(), 0);
    for (std::size_t i = 0; i < specials_.size(); ++i)
      if (specials_[i].always) always_[i] = has_always_ = true;
    int distinct = 0;
    for (int b = 0; b < 256; ++b)
      if (special_first_[b]) {
        ++distinct;
        single_first_ = b;
      }
    if (distinct != 1) single_first_ = -1;
  }
  if (!merge_mode_) {
    pair2_.assign(65536, kNoRank);
    utf8_3_.assign(65536, kNoRank);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto* q = reinterpret_cast<const unsigned char*>(keys[i].data());
      if (keys[i].size() == 2) pair2_[q[0] | (q[1] << 8)] = spec.ids[i];
      if (keys[i].size() == 3 && is_utf8_3(q)) utf8_3_[utf8_3_index(q)] = spec.ids[i];
    }
    build_char_starts(keys, spec.ids);
  } else {
    std::size_t cap = 16;
    while (cap < spec.merges.size() * 2 + 1) cap <<= 1;
    merge_keys_.assign(cap, kNoPair);
    merge_vals_.assign(cap, kNoPair);
    merge_mask_ = cap - 1;
    for (std::size_t m = 0; m < spec.merges.size(); ++m) {
      const auto& [a, b, r] = spec.merges[m];
      TOKENOPS_CHECK(has_token(a) && has_token(b) && has_token(r), InvalidArgument, "encoding '",
                     name_, "': merge #", m, " refers to an unknown token id");
      std::string ab(token_bytes(a));
      ab += token_bytes(b);
      TOKENOPS_CHECK(ab == token_bytes(r), InvalidArgument, "encoding '", name_, "': merge #", m,
                     " (", a, ", ", b, ") does not produce the bytes of token ", r);
      std::uint64_t key = (std::uint64_t(a) << 32) | b;
      std::size_t i = hash_u64(key) & merge_mask_;
      bool dup = false;
      while (merge_keys_[i] != kNoPair) {
        if (merge_keys_[i] == key) {
          dup = true;  // keep the first occurrence (Hugging Face keeps the last: its loader,
                       // io/hf_tokenizer.cpp, drops the earlier ones before they get here)
          break;
        }
        i = (i + 1) & merge_mask_;
      }
      if (dup) continue;
      merge_keys_[i] = key;
      merge_vals_[i] = pack_pair(static_cast<Rank>(m), r);
    }
    // A piece that equals a token may be emitted directly only if merging its bytes gives it.
    whole_ok_.assign(std::size_t(max_token_) + 1, 0);
    std::vector<Rank> tmp;
    for (std::size_t i = 0; i < spec.tokens.size(); ++i) {
      const auto& t = spec.tokens[i];
      tmp.clear();
      if (t.size() == 1) {
        whole_ok_[spec.ids[i]] = 1;
        continue;
      }
      bpe(reinterpret_cast<const unsigned char*>(t.data()), t.size(), Collect{&tmp});
      whole_ok_[spec.ids[i]] = (tmp.size() == 1 && tmp[0] == spec.ids[i]) ? 1 : 0;
    }
  }
}

void Encoding::clear_memos() noexcept {
  g_memo_generation.fetch_add(1, std::memory_order_relaxed);
  scratch();  // the calling thread's, now
}

std::size_t Encoding::memory_bytes() const noexcept {
  return table_.memory_bytes() + whole_ok_.capacity() +
         (pair2_.capacity() + utf8_3_.capacity()) * sizeof(Rank) +
         (merge_keys_.capacity() + merge_vals_.capacity()) * 8 + dec_bytes_.capacity() +
         char_start_.capacity() * sizeof(CharStart) + cross_keys_.capacity() * 8 +
         (dec_off_.capacity() + dec_len_.capacity()) * 4;
}

// ------------------------------------------------------------------------------------------
// BPE
// ------------------------------------------------------------------------------------------
[[gnu::always_inline]] inline std::uint64_t Encoding::pair(const unsigned char* p, std::size_t len, Rank ta,
                                    Rank tb) const noexcept {
  if (!merge_mode_) {
    Rank r;
    if (len == 2) {
      r = pair2_[p[0] | (p[1] << 8)];
    } else if (len == 3 && is_utf8_3(p)) {
      r = utf8_3_[utf8_3_index(p)];
    } else {
      const ByteTable::Probe pr = table_.probe(p, len);
      if (!table_.may_contain(pr)) return kNoPair;
      r = table_.find(pr, p, len);
    }
    return r == kNoRank ? kNoPair : pack_pair(r, r);
  }
  const std::uint64_t key = (std::uint64_t(ta) << 32) | tb;
  std::size_t i = hash_u64(key) & merge_mask_;
  for (;;) {
    std::uint64_t k = merge_keys_[i];
    if (k == key) return merge_vals_[i];
    if (k == kNoPair) return kNoPair;
    i = (i + 1) & merge_mask_;
  }
}

template <class Emit>
void Encoding::bpe_small(const unsigned char* p, std::size_t len, Emit&& emit) const {
  // Non-ASCII pieces of a rank-mode vocabulary start from per-character tokens where that is
  // provably the same as merging from bytes (see build_char_starts); everything else starts
  // from bytes.
  if (!char_start_.empty()) {
    std::uint64_t any_high = 0;
    std::size_t i = 0;
    for (; i + 8 <= len; i += 8) any_high |= text::load_head(p + i, 8);
    if (i < len) any_high |= text::load_head(p + i, len - i);
    if ((any_high & 0x8080808080808080ull) != 0 && bpe_chars(p, len, emit)) return;
  }
  if (!merge_mode_) {
    alignas(32) std::uint32_t pos[kPartsCap];
    alignas(32) Rank tok[kPartsCap];
    for (std::size_t i = 0; i < len; ++i) {
      pos[i] = static_cast<std::uint32_t>(i);
      tok[i] = byte_id_[p[i]];
    }
    pos[len] = static_cast<std::uint32_t>(len);
    bpe_parts(p, pos, tok, len, emit);
    return;
  }
  std::uint32_t end[kSmallPiece], prev[kSmallPiece];
  Rank tok[kSmallPiece];
  for (std::size_t i = 0; i < len; ++i) {
    end[i] = static_cast<std::uint32_t>(i + 1);
    prev[i] = static_cast<std::uint32_t>(i - 1);
    tok[i] = byte_id_[p[i]];
  }
  bpe_run(p, len, end, prev, tok, emit);
}

template <class Emit>
void Encoding::bpe_parts(const unsigned char* p, std::uint32_t* pos, Rank* tok, std::size_t m,
                         Emit&& emit) const {
  // tiktoken's loop on compact arrays: key[i] is the rank of parts i and i+1 merged (kNoRank
  // if that is no token), which in rank mode is also the merged token. Each step merges the
  // lowest rank, leftmost among equals, and closes the gap. pos, tok and key have kPartsCap
  // entries, so whole 8-lane blocks past the live ones can be read and shifted; key keeps at
  // least 8 kNoRank entries after its live ones, which never win the minimum.
  if (m <= 1) {
    if (m == 1) emit(tok[0]);
    return;
  }
  alignas(32) Rank key[kPartsCap];
  for (std::size_t i = 0; i + 1 < m; ++i)
    key[i] = static_cast<Rank>(pair(p + pos[i], pos[i + 2] - pos[i], 0, 0));
  for (std::size_t k = 0; k < 16; ++k) key[m - 1 + k] = kNoRank;
  while (m > 1) {
    const std::size_t n = m - 1;  // live keys
    std::size_t b;
#if defined(__AVX2__)
    __m256i mn = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(key));
    for (std::size_t i = 8; i < n; i += 8)
      mn = _mm256_min_epu32(mn, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + i)));
    __m128i x = _mm_min_epu32(_mm256_castsi256_si128(mn), _mm256_extracti128_si256(mn, 1));
    x = _mm_min_epu32(x, _mm_shuffle_epi32(x, 0x4E));
    x = _mm_min_epu32(x, _mm_shuffle_epi32(x, 0xB1));
    const Rank best = static_cast<Rank>(_mm_cvtsi128_si32(x));
    if (best == kNoRank) break;
    const __m256i bv = _mm256_set1_epi32(static_cast<int>(best));
    for (std::size_t i = 0;; i += 8) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + i));
      const unsigned mask = static_cast<unsigned>(
          _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(v, bv))));
      if (mask != 0) {
        b = i + static_cast<std::size_t>(__builtin_ctz(mask));
        break;
      }
    }
    // Close the gap of part b + 1, 8 lanes at a time (ascending: each block is read before
    // the next store can reach it).
    auto shift = [](std::uint32_t* a, std::size_t from, std::size_t to) {
      for (std::size_t i = from; i < to; i += 8)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(a + i),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i + 1)));
    };
#else
    Rank best = kNoRank;
    b = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (key[i] < best) {
        best = key[i];
        b = i;
      }
    }
    if (best == kNoRank) break;
    auto shift = [](std::uint32_t* a, std::size_t from, std::size_t to) {
      for (std::size_t i = from; i < to + 8; ++i) a[i] = a[i + 1];
    };
#endif
    tok[b] = best;
    shift(pos, b + 1, m);      // pos[b + 1 .. m] -> pos[b + 1 .. m - 1]
    shift(tok, b + 1, m - 1);
    shift(key, b + 1, n);  // key[n - 1] takes the first kNoRank of the tail
    --m;
    key[b] = b + 1 < m ? static_cast<Rank>(pair(p + pos[b], pos[b + 2] - pos[b], 0, 0)) : kNoRank;
    if (b > 0) key[b - 1] = static_cast<Rank>(pair(p + pos[b - 1], pos[b + 1] - pos[b - 1], 0, 0));
  }
  for (std::size_t i = 0; i < m; ++i) emit(tok[i]);
}

template <class Emit>
void Encoding::bpe_run(const unsigned char* p, std::size_t len, std::uint32_t* end,
                       std::uint32_t* prev, Rank* tok, Emit&& emit) const {
  // Merge-list models (rank mode uses bpe_parts). Parts are identified by their start offset;
  // end[i] is the end of the part starting at i (and prev[i] the start of the part before it,
  // tok[i] its token) for every part start i.
  // key[i] = (priority << 32) | i for merging part i with its successor (kNoPair if impossible
  // or if i is not a part start), so one vectorised min gives the lowest priority and, among
  // equals, the leftmost position: tiktoken's order. res[i] is the merged token.
  Rank res[kSmallPiece];
  std::uint64_t key[kSmallPiece];
  auto set = [&](std::size_t i, std::uint64_t v) {
    if (v == kNoPair) {
      key[i] = kNoPair;
    } else {
      key[i] = (v & 0xFFFFFFFF00000000ull) | i;
      res[i] = static_cast<Rank>(v);
    }
  };
  for (std::size_t i = 0; i < len; ++i) key[i] = kNoPair;
  for (std::size_t i = 0; end[i] < len; i = end[i])
    set(i, pair(p + i, end[end[i]] - i, tok[i], tok[end[i]]));
  for (;;) {
    std::uint64_t best = kNoPair;
    for (std::size_t i = 0; i + 1 < len; ++i) best = std::min(best, key[i]);
    if (best == kNoPair) break;
    const std::size_t i = best & 0xFFFFFFFFu;
    const std::uint32_t j = end[i];  // right part
    const std::uint32_t k = end[j];  // end of the merged part
    tok[i] = res[i];
    end[i] = k;
    key[j] = kNoPair;
    if (k < len) {
      prev[k] = static_cast<std::uint32_t>(i);
      set(i, pair(p + i, end[k] - i, tok[i], tok[k]));
    } else {
      key[i] = kNoPair;
    }
    if (i > 0) {
      const std::uint32_t h = prev[i];
      set(h, pair(p + h, k - h, tok[h], tok[i]));
    }
  }
  for (std::size_t i = 0; i < len; i = end[i]) emit(tok[i]);
}

namespace {
// A character or a partial character as a 32-bit code: its bytes, little-endian, zero padded.
// UTF-8 units of one to four bytes never contain a zero byte except the character U+0000 itself,
// so the code is unambiguous. n is 0 to 4.
inline std::uint32_t unit_code(const unsigned char* q, std::size_t n) noexcept {
  switch (n) {
    case 0:
      return 0;
    case 1:
      return q[0];
    case 2:
      return std::uint32_t(q[0]) | (std::uint32_t(q[1]) << 8);
    case 3:
      return std::uint32_t(q[0]) | (std::uint32_t(q[1]) << 8) | (std::uint32_t(q[2]) << 16);
    default: {
      std::uint32_t v;
      std::memcpy(&v, q, 4);
      return v;
    }
  }
}
constexpr std::uint8_t kFollowsPartial = 1;   // the unit (or a prefix) comes right after a partial
constexpr std::uint8_t kPrecedesPartial = 2;  // the unit (or a suffix) comes right before a partial
inline std::uint64_t cross_key(std::uint32_t left, std::uint32_t right) noexcept {
  return (std::uint64_t(left) << 32) | right;
}
}  // namespace

bool Encoding::crosses(std::uint32_t left, std::uint32_t right) const noexcept {
  const std::uint64_t key = cross_key(left, right);
  std::size_t i = hash_u64(key) & cross_mask_;
  for (;;) {
    const std::uint64_t k = cross_keys_[i];
    if (k == key) return true;
    if (k == kNoPair) return false;
    i = (i + 1) & cross_mask_;
  }
}

template <class Emit>
bool Encoding::bpe_chars(const unsigned char* p, std::size_t len, Emit&& emit) const {
  // Decode the characters; invalid UTF-8 goes back to the byte-level start.
  if (!text::is_valid_utf8(std::string_view(reinterpret_cast<const char*>(p), len))) return false;
  std::uint8_t clen[kSmallPiece];
  std::uint32_t cpt[kSmallPiece];
  bool raw[kSmallPiece];
  std::size_t m = 0;
  for (std::size_t i = 0; i < len;) {
    int l;
    const std::uint32_t cp = text::decode_utf8(p + i, l);
    clen[m] = static_cast<std::uint8_t>(l);
    cpt[m] = cp;
    // Four-byte characters and characters without a safe solo merge start from bytes.
    raw[m] = l == 4 || (l > 1 && char_start_[cp].n == 0);
    ++m;
    i += l;
  }
  // Boundary checks: a character next to a token that would take only part of it starts from
  // bytes (see build_char_starts).
  {
    std::size_t off = 0;
    for (std::size_t c = 0; c + 1 < m; ++c) {
      const std::size_t e = c + 1;
      const unsigned char* qc = p + off;
      const unsigned char* qe = qc + clen[c];
      off += clen[c];
      if (clen[c] == 1 && clen[e] == 1) continue;
      // A crossing pair needs c to end in a partial that some token continues with e (or its
      // prefix), or e to start with a partial that some token puts after c (or its suffix).
      const std::uint8_t fc = clen[c] == 4 ? 0x3 : clen[c] == 1 ? ascii_cross_[cpt[c]] : char_start_[cpt[c]].cross;
      const std::uint8_t fe = clen[e] == 4 ? 0x3 : clen[e] == 1 ? ascii_cross_[cpt[e]] : char_start_[cpt[e]].cross;
      const std::uint8_t lead =
          (fe & kFollowsPartial) ? (clen[c] == 4 ? 0x7 : clen[c] == 1 ? 0 : char_start_[cpt[c]].lead) : 0;
      const std::uint8_t tail =
          (fc & kPrecedesPartial) ? (clen[e] == 4 ? 0x7 : clen[e] == 1 ? 0 : char_start_[cpt[e]].tail) : 0;
      if ((lead | tail) == 0) continue;
      const std::uint32_t ue = unit_code(qe, clen[e]);
      const std::uint8_t etail = clen[e] == 4 ? 0x7 : clen[e] == 1 ? 0 : char_start_[cpt[e]].tail;
      for (std::size_t k = 1; k < clen[c]; ++k) {
        if (!((lead >> (k - 1)) & 1)) continue;
        const std::uint32_t sk = unit_code(qc + clen[c] - k, k);
        if (crosses(sk, ue)) raw[c] = true;
        for (std::size_t j = 1; j < clen[e]; ++j)
          if (((etail >> (j - 1)) & 1) && crosses(sk, unit_code(qe, j))) raw[c] = raw[e] = true;
      }
      if (tail != 0) {
        const std::uint32_t uc = unit_code(qc, clen[c]);
        for (std::size_t j = 1; j < clen[e]; ++j)
          if (((tail >> (j - 1)) & 1) && crosses(uc, unit_code(qe, j))) raw[e] = true;
      }
    }
  }
  alignas(32) std::uint32_t pos[kPartsCap];
  alignas(32) Rank tok[kPartsCap];
  std::size_t parts = 0;
  auto add = [&](std::size_t at, Rank t) {  // a part starting at byte `at`
    pos[parts] = static_cast<std::uint32_t>(at);
    tok[parts++] = t;
  };
  std::size_t off = 0;
  for (std::size_t c = 0; c < m; ++c) {
    if (clen[c] == 1 || raw[c]) {
      for (std::size_t b = 0; b < clen[c]; ++b) add(off + b, byte_id_[p[off + b]]);
    } else {
      const CharStart& cs = char_start_[cpt[c]];
      if (cs.n == 1) {
        add(off, cs.t0);
      } else {
        add(off, cs.t0);
        add(off + cs.len0, cs.t1);
      }
    }
    off += clen[c];
  }
  pos[parts] = static_cast<std::uint32_t>(len);
  bpe_parts(p, pos, tok, parts, emit);
  return true;
}

void Encoding::build_char_starts(const std::vector<std::string_view>& keys,
                                 const std::vector<Rank>& ids) {
  // BPE from bytes and BPE from per-character starts agree when, for every character c that
  // starts pre-merged (its "solo" merges done, i.e. the BPE of c's bytes alone):
  //  (A) no vocabulary token can cover part of c together with bytes of a neighbour at the
  //      boundaries c actually has in the piece, so c's internal merges run undisturbed and any
  //      merge across c's boundaries takes c whole; and
  //  (B) every token spanning several characters that contains c whole has a larger rank than
  //      every merge of c's solo run, so such a merge never becomes possible earlier than it
  //      would have (while c is incomplete, the merge chosen has a rank <= c's next merge).
  // Tokens are analysed as UTF-8 fragments: [continuation bytes][whole chars][incomplete char].
  // (A) is kept as the set `cross_` of (left unit, right unit) pairs met at a boundary inside a
  // token where one side is a partial character; the piece checks its own boundaries against it.
  constexpr Rank kNone = kNoRank;
  std::vector<Rank> min_multi(0x10000, kNone);
  std::vector<std::uint64_t> pairs;
  // Partials of one or two bytes, by unit code (enough for 2- and 3-byte characters).
  std::vector<std::uint8_t> lead_seen(1 << 16, 0), tail_seen(1 << 16, 0);
  auto cont = [](unsigned char x) { return (x & 0xC0) == 0x80; };
  // kFollowsPartial / kPrecedesPartial per unit: ASCII bytes, 2-3-byte code points, and partial
  // prefixes / suffixes (conservatively: a one- or two-byte partial marks every char it begins /
  // ends; a longer one only concerns 4-byte chars, which always start from bytes).
  ascii_cross_.fill(0);
  std::vector<std::uint8_t> cp_cross(0x10000, 0), follow_prefix(1 << 16, 0), precede_suffix(1 << 16, 0);
  // Byte length of the character a lead byte starts; 0 for a continuation or invalid byte.
  auto lead_len = [&](unsigned char b) -> std::size_t {
    return cont(b) || b >= 0xF8 ? 0 : static_cast<std::size_t>(text::utf8_seq_len(b));
  };
  // Marks the whole character at u (its sequence is complete: checked by the caller).
  auto mark = [&](const unsigned char* u, std::uint8_t bit) {
    int l;
    const char32_t cp = text::decode_utf8(u, l);
    if (l == 1) ascii_cross_[cp] |= bit;
    else if (cp < 0x10000) cp_cross[cp] |= bit;
  };
  for (std::size_t t = 0; t < keys.size(); ++t) {
    const auto* q = reinterpret_cast<const unsigned char*>(keys[t].data());
    const std::size_t n = keys[t].size();
    std::size_t i = 0;
    while (i < n && cont(q[i])) ++i;
    const std::size_t n_lead = i;
    if (n_lead > 3) continue;  // never a substring of valid UTF-8
    std::size_t first_full = n, last_full = n;  // offsets of the first and last whole chars
    std::size_t n_full = 0, tail_at = n;
    bool valid = true;
    while (i < n) {
      const unsigned char b = q[i];
      const std::size_t l = lead_len(b);
      if (l == 0) { valid = false; break; }
      std::size_t have = 1;
      while (have < l && i + have < n && cont(q[i + have])) ++have;
      if (have < l) {
        if (i + have < n) { valid = false; break; }  // a non-continuation byte inside a char
        tail_at = i;
        break;
      }
      if (first_full == n) first_full = i;
      last_full = i;
      ++n_full;
      i += l;
    }
    if (!valid) continue;
    const std::size_t tail_len = n - tail_at;
    const std::size_t units = (n_lead > 0) + n_full + (tail_len > 0);
    if (units < 2) continue;  // inside one character: crosses no boundary
    const Rank r = ids[t];
    for (std::size_t at = n_lead; at < tail_at;) {
      int l;
      const char32_t cp = text::decode_utf8(q + at, l);
      if (l > 1 && cp < 0x10000) min_multi[cp] = std::min(min_multi[cp], r);
      at += static_cast<std::size_t>(l);
    }
    if (n_lead > 0) {
      // The unit after the leading partial: a whole char (marked by code point or ASCII byte)
      // or an incomplete one (marked by prefix, expanded per character below).
      if (n_full) {
        mark(q + first_full, kFollowsPartial);
      } else {
        follow_prefix[unit_code(q + tail_at, std::min<std::size_t>(tail_len, 2)) & 0xFFFF] = 1;
      }
      const std::uint32_t left = unit_code(q, n_lead);
      const std::uint32_t right = n_full ? unit_code(q + first_full, lead_len(q[first_full]))
                                         : unit_code(q + tail_at, tail_len);
      pairs.push_back(cross_key(left, right));
      if (n_lead <= 2) lead_seen[left & 0xFFFF] = 1;
    }
    if (tail_len > 0) {
      if (n_full) mark(q + last_full, kPrecedesPartial);
      else precede_suffix[unit_code(q, std::min<std::size_t>(n_lead, 2)) & 0xFFFF] = 1;
      const std::uint32_t left = n_full ? unit_code(q + last_full, lead_len(q[last_full]))
                                        : unit_code(q, n_lead);
      const std::uint32_t right = unit_code(q + tail_at, tail_len);
      pairs.push_back(cross_key(left, right));
      if (tail_len <= 2) tail_seen[right & 0xFFFF] = 1;
    }
  }
  std::size_t cap = 64;
  while (cap < pairs.size() * 2 + 1) cap <<= 1;
  cross_keys_.assign(cap, kNoPair);
  cross_mask_ = cap - 1;
  for (std::uint64_t key : pairs) {
    std::size_t i = hash_u64(key) & cross_mask_;
    while (cross_keys_[i] != kNoPair && cross_keys_[i] != key) i = (i + 1) & cross_mask_;
    cross_keys_[i] = key;
  }
  // Per character U+0080..U+FFFF: the solo BPE of its bytes and the largest rank it merges at.
  char_start_.assign(0x10000, CharStart{});
  std::string utf8;
  for (std::uint32_t cp = 0x80; cp < 0x10000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    utf8.clear();
    text::append_utf8(utf8, cp);
    const auto* b = reinterpret_cast<const unsigned char*>(utf8.data());
    const std::size_t l = utf8.size();
    CharStart& cs = char_start_[cp];
    cs.cross = cp_cross[cp];
    for (std::size_t k = 1; k < l; ++k) {  // its proper prefixes and suffixes (1 or 2 bytes)
      const std::uint32_t pre = unit_code(b, k), suf = unit_code(b + l - k, k);
      if (follow_prefix[pre]) cs.cross |= kFollowsPartial;
      if (precede_suffix[suf]) cs.cross |= kPrecedesPartial;
      if (lead_seen[suf]) cs.lead |= std::uint8_t(1u << (k - 1));
      if (tail_seen[pre]) cs.tail |= std::uint8_t(1u << (k - 1));
    }
    Rank rmax;
    if (l == 2) {
      const Rank r = pair2_[b[0] | (b[1] << 8)];
      if (r == kNone) continue;  // no merge: starts from bytes anyway
      cs.n = 1;
      cs.t0 = r;
      cs.len0 = 2;
      rmax = r;
    } else {
      const Rank r01 = pair2_[b[0] | (b[1] << 8)];
      const Rank r12 = pair2_[b[1] | (b[2] << 8)];
      const Rank r012 = utf8_3_[utf8_3_index(b)];
      if (r01 == kNone && r12 == kNone) continue;
      if (r01 < r12) {
        if (r012 != kNone) {
          cs.n = 1; cs.t0 = r012; cs.len0 = 3; rmax = std::max(r01, r012);
        } else {
          cs.n = 2; cs.t0 = r01; cs.len0 = 2; cs.t1 = byte_id_[b[2]]; rmax = r01;
        }
      } else {
        if (r012 != kNone) {
          cs.n = 1; cs.t0 = r012; cs.len0 = 3; rmax = std::max(r12, r012);
        } else {
          cs.n = 2; cs.t0 = byte_id_[b[0]]; cs.len0 = 1; cs.t1 = r12; rmax = r12;
        }
      }
    }
    if (min_multi[cp] <= rmax) cs.n = 0;  // (B) fails: start from bytes
  }
}

template <class Emit>
void Encoding::bpe_large(const unsigned char* p, std::size_t len, Emit&& emit) const {
  // Linked list of parts with a binary min-heap of (priority << 32 | start): O(n log n), the
  // same lowest-priority-then-leftmost order as the quadratic loop.
  std::vector<std::uint32_t> next(len), prev(len);
  std::vector<Rank> tok(len);
  std::vector<std::uint64_t> cur(len, kNoPair);  // pair value of part i with its successor
  std::vector<std::uint64_t> heap;
  heap.reserve(len);
  for (std::size_t i = 0; i < len; ++i) {
    next[i] = static_cast<std::uint32_t>(i + 1);
    prev[i] = static_cast<std::uint32_t>(i - 1);
    tok[i] = byte_id_[p[i]];
  }
  auto push = [&](std::uint64_t v, std::size_t i) {
    heap.push_back((v & 0xFFFFFFFF00000000ull) | i);
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (std::size_t i = 0; i + 1 < len; ++i) {
    cur[i] = pair(p + i, 2, tok[i], tok[i + 1]);
    if (cur[i] != kNoPair) heap.push_back((cur[i] & 0xFFFFFFFF00000000ull) | i);
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<>());
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const std::uint64_t top = heap.back();
    heap.pop_back();
    const std::size_t i = top & 0xFFFFFFFFu;
    if ((cur[i] & 0xFFFFFFFF00000000ull) != (top & 0xFFFFFFFF00000000ull) || cur[i] == kNoPair)
      continue;  // stale entry
    const std::size_t j = next[i];
    const std::size_t k = next[j];
    tok[i] = static_cast<Rank>(cur[i]);
    cur[j] = kNoPair;
    next[i] = static_cast<std::uint32_t>(k);
    if (k < len) {
      prev[k] = static_cast<std::uint32_t>(i);
      cur[i] = pair(p + i, next[k] - i, tok[i], tok[k]);
      if (cur[i] != kNoPair) push(cur[i], i);
    } else {
      cur[i] = kNoPair;
    }
    if (i > 0) {
      const std::size_t h = prev[i];
      cur[h] = pair(p + h, next[i] - h, tok[h], tok[i]);
      if (cur[h] != kNoPair) push(cur[h], h);
    }
  }
  for (std::size_t i = 0; i < len; i = next[i]) emit(tok[i]);
}

bool Encoding::pair_encoding(Rank a, Rank b, std::vector<Rank>* out) const {
  const std::uint64_t key = (std::uint64_t(a) << 32) | b;
  CompatEntry& ce = scratch().compat[hash_u64(key) & (kCompatEntries - 1)];
  if (ce.key == key && ce.serial == serial_ && ce.n > 0) {
    if (out) out->assign(ce.tok, ce.tok + ce.n);
    return ce.n == 2 && ce.tok[0] == a && ce.tok[1] == b;
  }
  const std::uint32_t la = dec_len_[a], lb = dec_len_[b];
  std::vector<unsigned char> q(la + lb);
  std::memcpy(q.data(), dec_bytes_.data() + dec_off_[a], la);
  std::memcpy(q.data() + la, dec_bytes_.data() + dec_off_[b], lb);
  std::vector<Rank> local;
  std::vector<Rank>& res = out ? *out : local;
  res.clear();
  auto put = [&](Rank r) { res.push_back(r); };
  if (la + lb <= kSmallPiece) bpe_small(q.data(), la + lb, put);
  else bpe_large(q.data(), la + lb, put);
  if (res.size() <= 6) {
    ce.key = key;
    ce.serial = serial_;
    ce.n = static_cast<std::uint32_t>(res.size());
    std::copy(res.begin(), res.end(), ce.tok);
  }
  return res.size() == 2 && res[0] == a && res[1] == b;
}

bool Encoding::compatible(Rank a, Rank b) const { return pair_encoding(a, b, nullptr); }

template <class Emit>
void Encoding::bpe_long(const unsigned char* p, std::size_t len, Emit&& emit) const {
  // Chunked BPE for long pieces, exact by the pair-compatibility property of BPE: a token
  // sequence is the BPE encoding of its bytes iff every adjacent pair (a, b) is compatible,
  // i.e. BPE(bytes(a) + bytes(b)) == [a, b] (the merge order inside any span bounded by
  // surviving boundaries equals the order of a run on that span alone; see
  // docs/tokenizer.md). Each chunk is encoded on its own; where a chunk meets the output so
  // far and the pair is incompatible, a window around the boundary is re-encoded and widened
  // until its edges are compatible. Linear in practice; if a window ever grows past
  // kMaxWindow bytes, the whole piece falls back to the O(n log n) heap merge.
  constexpr std::size_t kChunk = kSmallPiece;
  constexpr std::size_t kMaxWindow = 4096;
  std::vector<Rank> out;
  std::vector<std::uint32_t> start;  // start offset of each token in out
  out.reserve(len / 2 + 4);
  start.reserve(len / 2 + 4);
  std::vector<Rank> chunk, window;
  auto encode_span = [&](std::size_t a, std::size_t b, std::vector<Rank>& dst) {
    dst.clear();
    auto put = [&](Rank r) { dst.push_back(r); };
    if (b - a <= kSmallPiece) bpe_small(p + a, b - a, put);
    else bpe_large(p + a, b - a, put);
  };
  std::size_t pos = 0;
  while (pos < len) {
    std::size_t cend = std::min(pos + kChunk, len);
    // End chunks on a character start where possible (lets them take the per-character start).
    for (std::size_t back = cend; back > pos + kChunk / 2 && back < len; --back) {
      if ((p[back] & 0xC0) != 0x80) {
        cend = back;
        break;
      }
    }
    encode_span(pos, cend, chunk);
    std::size_t taken = 0;  // chunk tokens consumed by a boundary window
    if (!out.empty() && !pair_encoding(out.back(), chunk.front(), &window)) {
      // `window` now holds BPE of the two boundary tokens: the first window (r = s = 1).
      std::size_t r = 1, s = 1;
      for (;;) {
        const std::size_t left = start[out.size() - r];
        std::size_t right = pos;
        for (std::size_t k = 0; k < s; ++k) right += dec_len_[chunk[k]];
        if (right - left > kMaxWindow) {
          bpe_large(p, len, emit);
          return;
        }
        if (r > 1 || s > 1) encode_span(left, right, window);
        const bool left_ok = r == out.size() || compatible(out[out.size() - r - 1], window.front());
        const bool right_ok = s == chunk.size() || compatible(window.back(), chunk[s]);
        if (left_ok && right_ok) {
          out.resize(out.size() - r);
          start.resize(start.size() - r);
          std::size_t off = left;
          for (Rank t : window) {
            out.push_back(t);
            start.push_back(static_cast<std::uint32_t>(off));
            off += dec_len_[t];
          }
          taken = s;
          break;
        }
        if (!left_ok && r < out.size()) ++r;
        if (!right_ok && s < chunk.size()) ++s;
      }
    }
    std::size_t off = pos;
    for (std::size_t k = 0; k < taken; ++k) off += dec_len_[chunk[k]];
    for (std::size_t k = taken; k < chunk.size(); ++k) {
      out.push_back(chunk[k]);
      start.push_back(static_cast<std::uint32_t>(off));
      off += dec_len_[chunk[k]];
    }
    pos = cend;
  }
  for (Rank t : out) emit(t);
}

template <class Emit>
void Encoding::bpe(const unsigned char* p, std::size_t len, Emit&& emit) const {
  if (len == 1) {
    emit(byte_id_[p[0]]);
  } else if (len <= kSmallPiece) {
    bpe_small(p, len, emit);
  } else {
    bpe_long(p, len, emit);
  }
}

template <class Emit>
void Encoding::bpe_memo(const unsigned char* p, std::size_t len, std::uint64_t hash,
                        Emit&& emit) const {
  if (len > kSmallPiece) {
    bpe_long(p, len, emit);
    return;
  }
  MemoEntry& e = thread_memo()[(hash >> 20) & (kMemoEntries - 1)];
  if (e.hash == hash && e.len == len && e.serial == serial_) {
    // Verify: the cached tokens must spell exactly this piece.
    std::size_t off = 0;
    bool same = true;
    for (std::uint32_t k = 0; k < e.n && same; ++k) {
      const std::uint32_t l = dec_len_[e.tok[k]];
      const auto* tb = reinterpret_cast<const unsigned char*>(dec_bytes_.data()) + dec_off_[e.tok[k]];
      if (off + l > len) {
        same = false;
      } else if (l <= 8) {
        same = text::load_head(tb, l) == text::load_head(p + off, l);
      } else {
        same = std::memcmp(tb, p + off, l) == 0;
      }
      off += l;
    }
    if (same && off == len) {
      for (std::uint32_t k = 0; k < e.n; ++k) emit(e.tok[k]);
      return;
    }
  }
  Rank buf[kSmallPiece];
  std::uint32_t n = 0;
  bpe_small(p, len, [&](Rank r) { buf[n++] = r; });
  if (n <= 10) {
    e.hash = hash;
    e.serial = serial_;
    e.len = static_cast<std::uint32_t>(len);
    e.n = n;
    std::memcpy(e.tok, buf, n * sizeof(Rank));
  }
  for (std::uint32_t k = 0; k < n; ++k) emit(buf[k]);
}

template <PreTokenizer P, class Emit>
void Encoding::run_pieces(const unsigned char* s, std::size_t n, Emit&& emit) const {
  // Pre-tokenize a batch of pieces and prefetch their hash-table slots, then look them up:
  // the table does not fit in L2, so overlapping the memory accesses matters more than
  // anything else on large texts.
  constexpr int kBatch = 16;
  pretok::Text t{s, n};
  std::size_t starts[kBatch], lens[kBatch];
  ByteTable::Probe probes[kBatch];
  std::size_t pos = 0;
  while (pos < n) {
    int k = 0;
    for (; k < kBatch && pos < n; ++k) {
      std::size_t end;
      if constexpr (P == PreTokenizer::R50K) end = pretok::next_r50k(t, pos);
      else if constexpr (P == PreTokenizer::CL100K) end = pretok::next_cl100k<true>(t, pos);
      else if constexpr (P == PreTokenizer::LLAMA3) end = pretok::next_cl100k<false>(t, pos);
      else if constexpr (P == PreTokenizer::TEKKEN) end = pretok::next_o200k<true>(t, pos);
      else end = pretok::next_o200k(t, pos);
      starts[k] = pos;
      lens[k] = end - pos;
      if (lens[k] > 2 || (merge_mode_ && lens[k] == 2)) {
        probes[k] = pos + 8 <= n ? table_.probe_padded(s + pos, lens[k])
                                 : table_.probe(s + pos, lens[k]);
        table_.prefetch(probes[k]);
      }
      pos = end;
    }
    for (int i = 0; i < k; ++i) {
      const unsigned char* piece = s + starts[i];
      const std::size_t len = lens[i];
      if (len == 1) {
        emit(byte_id_[piece[0]]);
      } else if (len == 2 && !merge_mode_) {
        const Rank r = pair2_[piece[0] | (piece[1] << 8)];
        if (r != kNoRank) {
          emit(r);
        } else {
          emit(byte_id_[piece[0]]);
          emit(byte_id_[piece[1]]);
        }
      } else {
        const Rank id = table_.find(probes[i], piece, len);
        if (id != ByteTable::kMissing && (!merge_mode_ || ignore_merges_ || whole_ok_[id])) {
          emit(id);
        } else {
          bpe_memo(piece, len, probes[i].hash, emit);
        }
      }
      if constexpr (can_stop<std::decay_t<Emit>>::value) {
        if (emit.stopped()) return;
      }
    }
  }
}

template <class Emit>
void Encoding::run_ordinary(std::string_view text, Emit&& emit) const {
  if (has_always_) {
    run_segments(text, always_, emit);
  } else {
    run_plain(text, emit);
  }
}

SpecialMask Encoding::with_always(const SpecialMask& allowed) const {
  SpecialMask m = always_;
  for (std::size_t i = 0; i < m.size() && i < allowed.size(); ++i) m[i] |= allowed[i];
  return m;
}

template <class Emit>
void Encoding::run_plain(std::string_view text, Emit&& emit) const {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  switch (pretok_) {
    case PreTokenizer::R50K:
      run_pieces<PreTokenizer::R50K>(s, text.size(), emit);
      break;
    case PreTokenizer::CL100K:
      run_pieces<PreTokenizer::CL100K>(s, text.size(), emit);
      break;
    case PreTokenizer::LLAMA3:
      run_pieces<PreTokenizer::LLAMA3>(s, text.size(), emit);
      break;
    case PreTokenizer::O200K:
      run_pieces<PreTokenizer::O200K>(s, text.size(), emit);
      break;
    case PreTokenizer::TEKKEN:
      run_pieces<PreTokenizer::TEKKEN>(s, text.size(), emit);
      break;
  }
}

template <class Emit>
void Encoding::run_with_specials(std::string_view text, const SpecialMask& allowed,
                                 Emit&& emit) const {
  if (has_always_) {
    run_segments(text, with_always(allowed), emit);
  } else {
    run_segments(text, allowed, emit);
  }
}

template <class Emit>
void Encoding::run_segments(std::string_view text, const SpecialMask& allowed, Emit&& emit) const {
  bool any = false;
  for (auto a : allowed) any |= (a != 0);
  if (!any || specials_.empty()) {
    run_plain(text, emit);
    return;
  }
  std::size_t start = 0;
  for (;;) {
    SpecialMatch m = find_special(text, start, &allowed);
    std::size_t end = m.pos == std::string_view::npos ? text.size() : m.pos;
    const SpecialToken* s = m.pos == std::string_view::npos ? nullptr : &specials_[m.index];
    if (s != nullptr && s->lstrip) end = text::white_space_run_start(text, start, end);
    // Each segment between special tokens is pre-tokenized on its own, as tiktoken does.
    run_plain(text.substr(start, end - start), emit);
    if (s == nullptr) break;
    if constexpr (can_stop<std::decay_t<Emit>>::value) {
      if (emit.stopped()) return;
    }
    const std::size_t after = m.pos + s->text.size();
    const std::size_t next = after_special(text, m);
    if constexpr (can_skip<std::decay_t<Emit>>::value) {
      if (m.pos - end + next - after != 0) emit.skip(m.pos - end + next - after);
    }
    emit(s->id);
    start = next;
    if constexpr (can_stop<std::decay_t<Emit>>::value) {
      if (emit.stopped()) return;
    }
  }
}

std::size_t Encoding::after_special(std::string_view text, const SpecialMatch& m) const {
  const SpecialToken& s = specials_[m.index];
  const std::size_t after = m.pos + s.text.size();
  return s.rstrip ? text::white_space_run_end(text, after) : after;
}

Encoding::SpecialMatch Encoding::find_special(std::string_view text, std::size_t from,
                                              const SpecialMask* mask) const noexcept {
  SpecialMatch result;
  if (specials_.empty()) return result;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = from;
  while (i < n) {
    if (single_first_ >= 0) {
      const void* hit = std::memchr(s + i, single_first_, n - i);
      if (!hit) break;
      i = static_cast<const unsigned char*>(hit) - s;
    } else if (!special_first_[s[i]]) {
      ++i;
      continue;
    }
    // Filter on the first two bytes, then look the candidate lengths up, longest first.
    if (i + 1 < n && !special_prefix2_[s[i] | (s[i + 1] << 8)] && !has_short_special_) {
      ++i;
      continue;
    }
    for (std::size_t len : special_lengths_) {
      if (len > n - i) continue;
      std::uint32_t k = special_table_.find(s + i, len);
      if (k != ByteTable::kMissing && (!mask || (*mask)[k])) {
        result.pos = i;
        result.index = k;
        return result;
      }
    }
    ++i;
  }
  return result;
}

// ------------------------------------------------------------------------------------------
// Public encoding API
// ------------------------------------------------------------------------------------------
void Encoding::encode_ordinary(std::string_view text, std::vector<Rank>& out) const {
  out.reserve(out.size() + text.size() / 4 + 4);
  run_ordinary(text, Collect{&out});
}

void Encoding::encode(std::string_view text, const SpecialMask& allowed,
                      std::vector<Rank>& out) const {
  out.reserve(out.size() + text.size() / 4 + 4);
  run_with_specials(text, allowed, Collect{&out});
}

std::size_t Encoding::count_ordinary(std::string_view text) const {
  Counter c;
  run_ordinary(text, c);
  return c.n;
}

std::size_t Encoding::count(std::string_view text, const SpecialMask& allowed) const {
  Counter c;
  run_with_specials(text, allowed, c);
  return c.n;
}

void Encoding::encode_single_piece(std::string_view bytes, std::vector<Rank>& out) const {
  if (bytes.empty()) return;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  Rank id = table_.find(p, bytes.size());
  if (id != ByteTable::kMissing && (!merge_mode_ || ignore_merges_ || whole_ok_[id])) {
    out.push_back(id);
    return;
  }
  bpe(p, bytes.size(), Collect{&out});
}

void Encoding::encode_single_piece_reference(std::string_view bytes, std::vector<Rank>& out) const {
  if (bytes.empty()) return;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() == 1) out.push_back(byte_id_[p[0]]);
  else bpe_large(p, bytes.size(), Collect{&out});
}

void Encoding::byte_pair_encode(std::string_view bytes, std::vector<Rank>& out) const {
  if (bytes.empty()) return;
  bpe(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), Collect{&out});
}

Rank Encoding::token_id(std::string_view bytes) const noexcept {
  if (bytes.empty()) return kNoRank;
  Rank id = table_.find(bytes);
  if (id != ByteTable::kMissing) return id;
  for (const auto& s : specials_)
    if (s.text == bytes) return s.id;
  return kNoRank;
}

namespace {
// Records the byte end of every emitted token; stops once `limit` tokens are known.
struct EndRecorder {
  const std::vector<std::uint32_t>* lens;
  std::vector<std::size_t>* ends;
  std::size_t limit;
  std::size_t pos = 0;
  void operator()(Rank r) {
    pos += (*lens)[r];
    ends->push_back(pos);
  }
  void skip(std::size_t n) { pos += n; }  // white space an lstrip / rstrip token took in
  bool stopped() const { return ends->size() >= limit; }
};

inline bool is_char_boundary(std::string_view text, std::size_t i) {
  return i == 0 || i >= text.size() || (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
}
}  // namespace

std::size_t Encoding::truncate_prefix(std::string_view text, std::size_t max_tokens,
                                      const SpecialMask& allowed) const {
  if (max_tokens == 0 || text.empty()) return 0;
  std::vector<std::size_t> ends;
  EndRecorder rec{&dec_len_, &ends, max_tokens + 1};
  run_with_specials(text, allowed, rec);
  if (ends.size() <= max_tokens) return text.size();
  // Candidate cuts: after token k-1 for k = max_tokens, max_tokens-1, ... on a char boundary,
  // whose re-encoding (the last piece may tokenize differently once cut) still fits.
  for (std::size_t k = max_tokens; k > 0; --k) {
    const std::size_t cut = ends[k - 1];
    if (!is_char_boundary(text, cut)) continue;
    if (count(text.substr(0, cut), allowed) <= max_tokens) return cut;
  }
  return 0;
}

std::size_t Encoding::truncate_suffix_start(std::string_view text, std::size_t max_tokens,
                                            const SpecialMask& allowed) const {
  if (text.empty()) return 0;
  if (max_tokens == 0) return text.size();
  std::vector<std::size_t> ends;
  EndRecorder rec{&dec_len_, &ends, static_cast<std::size_t>(-1)};
  run_with_specials(text, allowed, rec);
  const std::size_t total = ends.size();
  if (total <= max_tokens) return 0;
  for (std::size_t drop = total - max_tokens; drop < total; ++drop) {
    const std::size_t start = ends[drop - 1];
    if (!is_char_boundary(text, start)) continue;
    if (count(text.substr(start), allowed) <= max_tokens) return start;
  }
  return text.size();
}

// ------------------------------------------------------------------------------------------
// Decoding
// ------------------------------------------------------------------------------------------
std::string_view Encoding::token_bytes(Rank id) const {
  TOKENOPS_CHECK(has_token(id), NotFound, "Invalid token for decoding: ", id);
  return std::string_view(dec_bytes_).substr(dec_off_[id], dec_len_[id]);
}

std::size_t Encoding::decoded_length(const Rank* ids, std::size_t n) const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    TOKENOPS_CHECK(has_token(ids[i]), NotFound, "Invalid token for decoding: ", ids[i]);
    total += dec_len_[ids[i]];
  }
  return total;
}

std::string Encoding::decode_bytes(const Rank* ids, std::size_t n) const {
  std::string out;
  out.resize(decoded_length(ids, n));
  char* w = out.data();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t l = dec_len_[ids[i]];
    std::memcpy(w, dec_bytes_.data() + dec_off_[ids[i]], l);
    w += l;
  }
  return out;
}

std::string StreamDecoder::push(const Rank* ids, std::size_t n) {
  pending_ += enc_->decode_bytes(ids, n);
  const std::size_t ready = text::complete_utf8_prefix(pending_);
  std::string out = pending_.substr(0, ready);
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace tokenops::tokenizer
