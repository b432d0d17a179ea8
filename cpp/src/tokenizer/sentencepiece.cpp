#include "tokenops/tokenizer/sentencepiece.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "tokenops/text/error.hpp"
#include "tokenops/text/hash.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::tokenizer {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's escaped space

// A minimal protobuf wire-format reader: enough for sentencepiece_model.proto.
struct Reader {
  std::string_view s;
  std::size_t i = 0;
  std::string_view source;
  const char* what;

  [[noreturn]] void fail(const char* why) const {
    throw InvalidArgument(::tokenops::detail::concat(source, ": not a SentencePiece model (", what, ": ", why,
                                                     " at byte ", i, ")"));
  }
  bool done() const { return i >= s.size(); }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (i >= s.size()) fail("truncated varint");
      const auto b = static_cast<unsigned char>(s[i++]);
      v |= std::uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  std::string_view bytes() {
    const std::uint64_t n = varint();
    if (n > s.size() - i) fail("length past the end");
    std::string_view v = s.substr(i, n);
    i += n;
    return v;
  }
  float fixed32() {
    if (s.size() - i < 4) fail("truncated float");
    float f;
    std::memcpy(&f, s.data() + i, 4);
    i += 4;
    return f;
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1: if (s.size() - i < 8) fail("truncated field"); i += 8; break;
      case 2: bytes(); break;
      case 5: if (s.size() - i < 4) fail("truncated field"); i += 4; break;
      default: fail("unsupported wire type");
    }
  }
};

// Length of the valid UTF-8 character at b (1-4), 0 when none starts there.
std::size_t utf8_char_at(const unsigned char* b, std::size_t n) {
  const std::size_t want = b[0] < 0x80 ? 1 : (b[0] & 0xE0) == 0xC0 ? 2 : (b[0] & 0xF0) == 0xE0 ? 3
                         : (b[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (want == 0 || want > n) return 0;
  return text::is_valid_utf8(std::string_view(reinterpret_cast<const char*>(b), want)) ? want : 0;
}

struct Trainer {
  int model_type = 1;  // UNIGRAM
  bool byte_fallback = false, suffix = false;
  int unk_id = 0, bos_id = 1, eos_id = 2;
  std::string unk_surface = " \xE2\x81\x87 ";
};
struct Normalizer {
  std::string name;
  bool has_charsmap = false, dummy = true, remove_ws = true, escape = true;
};

}  // namespace

std::shared_ptr<const SentencePieceBpe> SentencePieceBpe::from_model_proto(std::string_view data,
                                                                          std::string_view source) {
  auto m = std::make_shared<SentencePieceBpe>();
  Trainer tr;
  Normalizer nz;
  bool have_norm = false;
  Reader r{data, 0, source, "ModelProto"};
  while (!r.done()) {
    const std::uint64_t key = r.varint();
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (wire != 2 || (field != 1 && field != 2 && field != 3)) {
      r.skip(wire);
      continue;
    }
    Reader sub{r.bytes(), 0, source, field == 1 ? "piece" : field == 2 ? "trainer_spec" : "normalizer_spec"};
    if (field == 1) {
      Piece p;
      while (!sub.done()) {
        const std::uint64_t k = sub.varint();
        const int f = static_cast<int>(k >> 3), w = static_cast<int>(k & 7);
        if (f == 1 && w == 2) p.text = std::string(sub.bytes());
        else if (f == 2 && w == 5) p.score = sub.fixed32();
        else if (f == 3 && w == 0) p.type = static_cast<int>(sub.varint());
        else sub.skip(w);
      }
      m->pieces_.push_back(std::move(p));
    } else if (field == 2) {
      while (!sub.done()) {
        const std::uint64_t k = sub.varint();
        const int f = static_cast<int>(k >> 3), w = static_cast<int>(k & 7);
        if (w == 0 && (f == 3 || f == 24 || f == 35 || f == 40 || f == 41 || f == 42)) {
          const auto v = static_cast<std::int64_t>(sub.varint());
          if (f == 3) tr.model_type = static_cast<int>(v);
          else if (f == 24) tr.suffix = v != 0;
          else if (f == 35) tr.byte_fallback = v != 0;
          else if (f == 40) tr.unk_id = static_cast<int>(v);
          else if (f == 41) tr.bos_id = static_cast<int>(v);
          else tr.eos_id = static_cast<int>(v);
        } else if (f == 44 && w == 2) {
          tr.unk_surface = std::string(sub.bytes());
        } else {
          sub.skip(w);
        }
      }
    } else {
      have_norm = true;
      while (!sub.done()) {
        const std::uint64_t k = sub.varint();
        const int f = static_cast<int>(k >> 3), w = static_cast<int>(k & 7);
        if (f == 1 && w == 2) nz.name = std::string(sub.bytes());
        else if (f == 2 && w == 2) nz.has_charsmap = !sub.bytes().empty();
        else if (f == 3 && w == 0) nz.dummy = sub.varint() != 0;
        else if (f == 4 && w == 0) nz.remove_ws = sub.varint() != 0;
        else if (f == 5 && w == 0) nz.escape = sub.varint() != 0;
        else sub.skip(w);
      }
    }
  }
  auto unsupported = [&](const std::string& what) {
    throw InvalidArgument(::tokenops::detail::concat(source, ": unsupported SentencePiece model: ", what,
                                                     " (tokenops reads BPE models with the identity normalizer, as "
                                                     "Mistral's and Llama 2's tokenizer.model)"));
  };
  if (m->pieces_.empty()) unsupported("no pieces (is this a tokenizer.model file?)");
  if (tr.model_type != 2) unsupported(::tokenops::detail::concat("model_type ", tr.model_type, ", not BPE (2)"));
  if (!have_norm || (nz.name != "identity" && !nz.name.empty()) || nz.has_charsmap)
    unsupported("normalizer '" + nz.name + "'");
  if (nz.remove_ws) unsupported("remove_extra_whitespaces");
  if (tr.suffix) unsupported("treat_whitespace_as_suffix");
  m->byte_fallback_ = tr.byte_fallback;
  m->add_dummy_prefix_ = nz.dummy;
  m->escape_whitespaces_ = nz.escape;
  m->unk_surface_ = tr.unk_surface;
  m->bos_id_ = tr.bos_id;
  m->eos_id_ = tr.eos_id;
  const std::size_t n = m->pieces_.size();
  if (tr.unk_id < 0 || static_cast<std::size_t>(tr.unk_id) >= n || m->pieces_[tr.unk_id].type != kUnknown)
    throw InvalidArgument(::tokenops::detail::concat(source, ": unk_id ", tr.unk_id, " is not an <unk> piece"));
  m->unk_id_ = static_cast<Id>(tr.unk_id);
  std::array<bool, 256> have_byte{};
  m->byte_of_.assign(n, -1);
  std::vector<std::string_view> keys;
  std::vector<std::uint32_t> values;
  for (std::size_t id = 0; id < n; ++id) {
    const Piece& p = m->pieces_[id];
    if (p.type < kNormal || p.type > kByte)
      throw InvalidArgument(::tokenops::detail::concat(source, ": piece ", id, " has unknown type ", p.type));
    if (p.type == kUnused) unsupported(::tokenops::detail::concat("UNUSED piece ", id));
    if ((p.type == kControl || p.type == kUnknown) && !p.text.empty()) {
      int cl;
      text::decode_utf8(reinterpret_cast<const unsigned char*>(p.text.data()), cl);
      if (static_cast<std::size_t>(cl) == p.text.size())
        unsupported(::tokenops::detail::concat("control or unknown piece ", id, " '", p.text,
                                               "' is a single character (sentencepiece reads that character as it)"));
    }
    if (p.text.empty() || !text::is_valid_utf8(p.text))
      throw InvalidArgument(::tokenops::detail::concat(source, ": piece ", id, " is empty or not UTF-8"));
    if (p.type == kByte) {
      unsigned v = 0;
      if (p.text.size() != 6 || p.text.compare(0, 3, "<0x") != 0 || p.text[5] != '>' ||
          std::sscanf(p.text.c_str() + 3, "%2x", &v) != 1)
        throw InvalidArgument(::tokenops::detail::concat(source, ": byte piece ", id, " '", p.text, "' is not <0xXX>"));
      m->byte_ids_[v] = static_cast<Id>(id);
      m->byte_of_[id] = static_cast<std::int16_t>(v);
      have_byte[v] = true;
    } else if (p.type == kNormal || p.type == kUserDefined) {
      keys.emplace_back(p.text);
      values.push_back(static_cast<Id>(id));
      if (p.type == kUserDefined)
        m->user_by_first_[static_cast<unsigned char>(p.text[0])].push_back(static_cast<Id>(id));
    }
  }
  if (m->byte_fallback_)
    for (int b = 0; b < 256; ++b)
      if (!have_byte[b])
        throw InvalidArgument(::tokenops::detail::concat(source, ": byte_fallback without the piece <0x",
                                                         "0123456789ABCDEF"[b >> 4], "0123456789ABCDEF"[b & 15], ">"));
  for (auto& v : m->user_by_first_)
    std::stable_sort(v.begin(), v.end(), [&](Id a, Id b) { return m->pieces_[a].text.size() > m->pieces_[b].text.size(); });
  if (const auto [dup, first] = text::find_duplicate(keys); dup != static_cast<std::size_t>(-1))
    throw InvalidArgument(::tokenops::detail::concat(source, ": piece '", keys[dup], "' is listed twice (ids ",
                                                     values[first], " and ", values[dup], ")"));
  m->mergeable_.build(keys, values);
  // Words may be encoded apart when no mergeable piece puts "▁" right after another character:
  // no merge can then join the symbols on either side of such a boundary.
  bool split = true;
  for (std::string_view t : keys) {
    const auto* q = reinterpret_cast<const unsigned char*>(t.data());
    bool prev_other = false;  // the previous character is not "▁"
    for (std::size_t k = 0; k < t.size() && split;) {
      int l;
      text::decode_utf8(q + k, l);
      const bool space = t.compare(k, kSpace.size(), kSpace) == 0;
      if (space && prev_other) split = false;
      prev_other = !space;
      k += static_cast<std::size_t>(l);
    }
    if (!split) break;
  }
  m->split_words_ = split;
  // ASCII character pairs that some mergeable piece holds side by side: between two ASCII
  // characters that no piece joins, no merge can ever cross, so the text is cut there too.
  for (std::string_view t : keys)
    for (std::size_t k = 0; k + 1 < t.size(); ++k) {
      const auto a = static_cast<unsigned char>(t[k]), b = static_cast<unsigned char>(t[k + 1]);
      if (a < 128 && b < 128) m->ascii_pairs_[a * 128 + b] = true;
    }
  return m;
}

template <class Emit>
void SentencePieceBpe::emit_symbol(std::string_view s, Emit&& emit) const {
  const std::uint32_t id = mergeable_.find(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  if (id != ByteTable::kMissing) {
    emit(id);
  } else if (byte_fallback_) {
    for (unsigned char c : s) emit(byte_ids_[c]);
  } else {
    emit(unk_id_);
  }
}

template <class Emit>
void SentencePieceBpe::merge_segment(const std::string& norm, const std::uint32_t* start, const std::uint32_t* len0,
                                     std::size_t n, Scratch& scratch, Emit&& emit) const {
  if (n == 1) {
    emit_symbol(std::string_view(norm).substr(start[0], len0[0]), emit);
    return;
  }
  std::vector<std::uint32_t>& len = scratch.len;
  std::vector<std::int32_t>& prev = scratch.prev;
  std::vector<std::int32_t>& next = scratch.next;
  len.assign(len0, len0 + n);
  prev.resize(n);
  next.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<std::int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1;
  }
  using Pair = Scratch::Pair;
  // sentencepiece's SymbolPairComparator: the highest score first, then the leftmost
  auto worse = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::vector<Pair>& agenda = scratch.heap;  // a binary heap under `worse`: the best pair on top
  agenda.clear();
  const std::string_view text(norm);
  auto add = [&](std::int32_t l, std::int32_t r) {
    if (l < 0 || r < 0) return;
    const std::uint32_t size = len[l] + len[r];
    const std::uint32_t id =
        mergeable_.find(reinterpret_cast<const unsigned char*>(text.data()) + start[l], size);
    if (id == ByteTable::kMissing) return;
    agenda.push_back({pieces_[id].score, static_cast<std::uint32_t>(l), static_cast<std::uint32_t>(r), size});
    std::push_heap(agenda.begin(), agenda.end(), worse);
  };
  for (std::size_t i = 1; i < n; ++i) add(static_cast<std::int32_t>(i - 1), static_cast<std::int32_t>(i));
  while (!agenda.empty()) {
    std::pop_heap(agenda.begin(), agenda.end(), worse);
    const Pair top = agenda.back();
    agenda.pop_back();
    if (len[top.left] == 0 || len[top.right] == 0 || len[top.left] + len[top.right] != top.size) continue;
    len[top.left] += len[top.right];
    len[top.right] = 0;
    next[top.left] = next[top.right];
    if (next[top.right] >= 0) prev[next[top.right]] = static_cast<std::int32_t>(top.left);
    add(prev[top.left], static_cast<std::int32_t>(top.left));
    add(static_cast<std::int32_t>(top.left), next[top.left]);
  }
  for (std::int32_t i = 0; i >= 0; i = next[i]) emit_symbol(text.substr(start[i], len[i]), emit);
}

namespace {
constexpr std::size_t kMemoWord = 24;    // bytes of a memoised word
constexpr std::size_t kMemoIds = 6;      // ids of a memoised word (a 64-byte slot in all)
constexpr std::size_t kMemoSlots = 16384;  // 1 MiB per thread
struct MemoSlot {
  std::uint64_t serial = 0;  // the model's (0: empty)
  std::uint8_t len = 0, n = 0;
  char word[kMemoWord];
  std::uint32_t ids[kMemoIds];
};
MemoSlot* sp_memo() {
  thread_local std::vector<MemoSlot> slots(kMemoSlots);
  return slots.data();
}
std::atomic<std::uint64_t> g_sp_serial{1};
}  // namespace

SentencePieceBpe::SentencePieceBpe() : serial_(g_sp_serial.fetch_add(1, std::memory_order_relaxed)) {}

template <class Emit>
void SentencePieceBpe::run(std::string_view input, Emit&& emit) const {
  if (input.empty()) return;
  // Normalise: the identity normaliser, with the dummy prefix and spaces escaped.
  std::string norm;
  norm.reserve(input.size() + input.size() / 4 + 3);
  if (add_dummy_prefix_) norm += escape_whitespaces_ ? kSpace : std::string_view(" ");
  for (char c : input) {
    if (c == ' ' && escape_whitespaces_) norm += kSpace;
    else norm += c;
  }
  // Symbols: user-defined pieces whole (frozen), else one character each. Segments end at a
  // frozen symbol and, when split_words_, before a "▁" that follows another character.
  std::vector<std::uint32_t> start, len;
  start.reserve(norm.size());
  len.reserve(norm.size());
  const auto* s = reinterpret_cast<const unsigned char*>(norm.data());
  std::size_t i = 0, seg = 0;
  // Words recur: a segment of up to kMemoWord bytes met before on this thread (by this model)
  // reuses its ids from a direct-mapped memo, verified against the word's bytes.
  MemoSlot* memo = sp_memo();
  Scratch scratch;
  auto flush = [&]() {
    if (start.size() > seg) {
      const std::size_t k = start.size() - seg;
      const std::string_view word(norm.data() + start[seg], start.back() + len.back() - start[seg]);
      if (word.size() > kMemoWord || k == 1) {
        merge_segment(norm, start.data() + seg, len.data() + seg, k, scratch, emit);
      } else {
        MemoSlot& e = memo[text::hash_bytes(word) & (kMemoSlots - 1)];
        if (e.serial == serial_ && e.len == word.size() && std::memcmp(e.word, word.data(), word.size()) == 0) {
          for (std::uint32_t j = 0; j < e.n; ++j) emit(e.ids[j]);
        } else {
          Id ids[kMemoWord * 4];  // a character (<= 4 bytes) may become 4 byte tokens
          std::uint32_t cnt = 0;
          merge_segment(norm, start.data() + seg, len.data() + seg, k, scratch, [&](Id id) { ids[cnt++] = id; });
          for (std::uint32_t j = 0; j < cnt; ++j) emit(ids[j]);
          if (cnt <= kMemoIds) {
            e.serial = serial_;
            e.len = static_cast<std::uint8_t>(word.size());
            e.n = static_cast<std::uint8_t>(cnt);
            std::memcpy(e.word, word.data(), word.size());
            std::memcpy(e.ids, ids, cnt * sizeof(Id));
          }
        }
      }
    }
    seg = start.size();
  };
  while (i < norm.size()) {
    std::size_t ulen = 0;
    for (Id id : user_by_first_[s[i]]) {
      const std::string& t = pieces_[id].text;
      if (norm.compare(i, t.size(), t) == 0) {
        ulen = t.size();
        break;
      }
    }
    if (ulen) {
      flush();
      start.push_back(static_cast<std::uint32_t>(i));
      len.push_back(static_cast<std::uint32_t>(ulen));
      flush();
      i += ulen;
      continue;
    }
    int l;
    text::decode_utf8(s + i, l);
    const bool space = norm.compare(i, kSpace.size(), kSpace) == 0;
    if (start.size() > seg) {
      const std::uint32_t ps = start.back(), pl = len.back();
      if (split_words_ && space) {
        if (!(pl == kSpace.size() && norm.compare(ps, pl, kSpace) == 0)) flush();
      } else if (l == 1 && pl == 1 && s[i] < 128 && s[ps] < 128 && !ascii_pairs_[s[ps] * 128 + s[i]]) {
        flush();
      }
    }
    start.push_back(static_cast<std::uint32_t>(i));
    len.push_back(static_cast<std::uint32_t>(l));
    i += static_cast<std::size_t>(l);
  }
  flush();
}

template <class Emit>
void SentencePieceBpe::run_ids(std::string_view text, Emit&& emit) const {
  // Without byte fallback, a run of unknown symbols is one <unk> (sentencepiece's is_prev_unk),
  // across segment cuts and memo entries alike.
  bool prev_unk = false;
  run(text, [&](Id id) {
    const bool unk = id == unk_id_ && !byte_fallback_;
    if (!(unk && prev_unk)) emit(id);
    prev_unk = unk;
  });
}

void SentencePieceBpe::encode(std::string_view text, std::vector<Id>& out) const {
  run_ids(text, [&](Id id) { out.push_back(id); });
}

std::size_t SentencePieceBpe::count(std::string_view text) const {
  std::size_t n = 0;
  run_ids(text, [&](Id) { ++n; });
  return n;
}

std::string SentencePieceBpe::decode(const Id* ids, std::size_t n, bool replace_invalid) const {
  // As SentencePieceProcessor::Decode: control pieces are invisible, <unk> is its surface, a
  // run of byte pieces becomes its bytes (each byte that starts no valid UTF-8 character a
  // U+FFFD when replace_invalid), and while nothing has been written the leading "▁" of the
  // first normal or user-defined piece is the dummy prefix's, so it is dropped (once).
  std::string out, bytes;
  bool bos_ws_seen = false;
  auto flush_bytes = [&]() {
    if (bytes.empty()) return;
    if (!replace_invalid) {
      out += bytes;
    } else {
      const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
      for (std::size_t i = 0; i < bytes.size();) {
        const std::size_t k = utf8_char_at(b + i, bytes.size() - i);
        if (k > 0) {
          out.append(bytes, i, k);
          i += k;
        } else {
          out += "\xEF\xBF\xBD";
          ++i;
        }
      }
    }
    bytes.clear();
  };
  for (std::size_t k = 0; k < n; ++k) {
    if (ids[k] >= pieces_.size())
      throw InvalidArgument(::tokenops::detail::concat("token id ", ids[k], " is out of range (", pieces_.size(),
                                                       " pieces)"));
    const Piece& p = pieces_[ids[k]];
    if (p.type == kByte) {
      bytes += static_cast<char>(byte_of_[ids[k]]);
      continue;
    }
    flush_bytes();
    if (p.type == kControl) continue;
    if (p.type == kUnknown) {
      out += unk_surface_;
      continue;
    }
    std::string_view piece(p.text);
    const bool is_bos_ws = out.empty() && !bos_ws_seen;
    bos_ws_seen = false;
    if (is_bos_ws && add_dummy_prefix_ && piece.substr(0, kSpace.size()) == kSpace) {
      piece.remove_prefix(kSpace.size());
      bos_ws_seen = true;
    }
    for (std::size_t i = 0; i < piece.size();) {
      if (piece.compare(i, kSpace.size(), kSpace) == 0) {
        out += ' ';
        i += kSpace.size();
      } else {
        out += piece[i++];
      }
    }
  }
  flush_bytes();
  return out;
}

}  // namespace tokenops::tokenizer
