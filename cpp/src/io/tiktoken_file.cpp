#include "tokenops/io/tiktoken_file.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "tokenops/text/error.hpp"
#include "tokenops/text/hash.hpp"

namespace tokenops::io {

namespace {
constexpr std::array<std::int8_t, 256> make_b64() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kB64 = make_b64();
}  // namespace

namespace {
// A short, one-line rendering of a piece of a rank file for a message: at most 60 bytes (cut on
// a UTF-8 boundary, the full length said), control characters escaped. A whole field was quoted:
// a cl100k file with CR-only line ends is one "line" whose rank field is 1.7 MB.
std::string preview(std::string_view s) {
  constexpr std::size_t kMax = 60;
  std::size_t cut = std::min(s.size(), kMax);
  while (cut > 0 && cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  std::string out;
  for (const char c : s.substr(0, cut)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (u < 0x20 || u == 0x7F) out += detail::concat("\\x", "0123456789abcdef"[u >> 4], "0123456789abcdef"[u & 15]);
    else out += c;
  }
  if (cut < s.size()) out += detail::concat("... (", s.size(), " bytes)");
  return out;
}

// Decodes into dst (capacity in.size() / 4 * 3); returns the length, or -1 if invalid.
long base64_decode_raw(std::string_view in, unsigned char* dst) {
  const std::size_t n = in.size();
  if (n == 0 || n % 4 != 0) return -1;
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t pad = 0;
  if (s[n - 1] == '=') pad = s[n - 2] == '=' ? 2 : 1;
  unsigned char* w = dst;
  for (std::size_t i = 0; i < n; i += 4) {
    const bool last = i + 4 == n;
    const int a = kB64[s[i]], b = kB64[s[i + 1]];
    int c = kB64[s[i + 2]], d = kB64[s[i + 3]];
    if (last && pad >= 1) d = (s[i + 3] == '=') ? 0 : -1;
    if (last && pad == 2) c = (s[i + 2] == '=') ? 0 : -1;
    if ((a | b | c | d) < 0) return -1;
    const std::uint32_t v = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) |
                            (std::uint32_t(c) << 6) | std::uint32_t(d);
    *w++ = static_cast<unsigned char>(v >> 16);
    if (!(last && pad == 2)) *w++ = static_cast<unsigned char>(v >> 8);
    if (!(last && pad >= 1)) *w++ = static_cast<unsigned char>(v);
  }
  return w - dst;
}
}  // namespace

bool base64_decode(std::string_view in, std::string& out) {
  out.resize(in.size() / 4 * 3 + 3);
  const long len = base64_decode_raw(in, reinterpret_cast<unsigned char*>(out.data()));
  if (len < 0) {
    out.clear();
    return false;
  }
  out.resize(static_cast<std::size_t>(len));
  return true;
}

std::vector<RankEntry> parse_tiktoken_ranks(std::string_view content, std::string_view source,
                                            const std::vector<std::uint32_t>& reserved_ids) {
  std::vector<RankEntry> entries;
  std::vector<std::size_t> line_of;
  entries.reserve(content.size() / 12);
  std::size_t line_no = 0;
  std::size_t pos = 0;
  std::string decoded;
  while (pos < content.size()) {
    std::size_t eol = content.find('\n', pos);
    if (eol == std::string_view::npos) eol = content.size();
    std::string_view line = content.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t sp = line.find(' ');
    TOKENOPS_CHECK(sp != std::string_view::npos && sp > 0, InvalidArgument, source, " line ",
                   line_no, ": expected '<base64 token> <rank>', got '", preview(line), "'");
    std::string_view b64 = line.substr(0, sp);
    std::string_view rank_s = line.substr(sp + 1);
    unsigned char buf[512];
    long blen = -1;
    if (b64.size() / 4 * 3 <= sizeof(buf)) {
      blen = base64_decode_raw(b64, buf);
    } else if (base64_decode(b64, decoded)) {
      blen = 0;
    }
    TOKENOPS_CHECK(blen > 0 || (blen == 0 && !decoded.empty()), InvalidArgument, source,
                   " line ", line_no, ": invalid base64 token '", preview(b64), "'");
    std::uint32_t rank = 0;
    auto [ptr, ec] = std::from_chars(rank_s.data(), rank_s.data() + rank_s.size(), rank);
    TOKENOPS_CHECK(ec == std::errc() && ptr == rank_s.data() + rank_s.size() && !rank_s.empty(),
                   InvalidArgument, source, " line ", line_no, ": rank '", preview(rank_s),
                   "' is not a non-negative integer below 2^32",
                   rank_s.find('\r') != std::string_view::npos
                       ? " (the file's lines end in a bare CR; a .tiktoken file has one "
                         "'<base64 token> <rank>' per line, each ending in LF or CR LF)"
                       : "");
    if (blen > 0) entries.push_back({std::string(reinterpret_cast<char*>(buf), static_cast<std::size_t>(blen)), rank});
    else entries.push_back({decoded, rank});
    line_of.push_back(line_no);
  }
  TOKENOPS_CHECK(!entries.empty(), InvalidArgument, source, " holds no ranks (empty file?)");
  // Sort by rank (files are usually sorted already) and check uniqueness and gaps.
  std::vector<std::size_t> order(entries.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (!std::is_sorted(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return entries[a].rank < entries[b].rank;
      }))
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return entries[a].rank < entries[b].rank;
    });
  std::vector<std::uint32_t> reserved(reserved_ids);
  std::sort(reserved.begin(), reserved.end());
  std::uint32_t expect = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto& e = entries[order[k]];
    if (k > 0) {
      const auto& p = entries[order[k - 1]];
      TOKENOPS_CHECK(e.rank != p.rank, InvalidArgument, source, " line ", line_of[order[k]],
                     ": duplicate rank ", e.rank, " (also on line ", line_of[order[k - 1]], ")");
    }
    while (expect < e.rank) {
      TOKENOPS_CHECK(std::binary_search(reserved.begin(), reserved.end(), expect),
                     InvalidArgument, source, " line ", line_of[order[k]], ": rank ", e.rank,
                     " leaves a gap (rank ", expect,
                     " is missing and is not a special token of this encoding)");
      ++expect;
    }
    expect = e.rank + 1;
  }
  {
    std::vector<std::string_view> keys;
    keys.reserve(entries.size());
    for (const auto& e : entries) keys.emplace_back(e.bytes);
    const auto [dup, first] = text::find_duplicate(keys);
    TOKENOPS_CHECK(dup == static_cast<std::size_t>(-1), InvalidArgument, source, " line ",
                   line_of[dup], ": duplicate token (same bytes as line ", line_of[first], ")");
  }
  if (order.front() != 0 || !std::is_sorted(order.begin(), order.end())) {
    std::vector<RankEntry> sorted;
    sorted.reserve(entries.size());
    for (std::size_t i : order) sorted.push_back(std::move(entries[i]));
    return sorted;
  }
  return entries;
}

}  // namespace tokenops::io
