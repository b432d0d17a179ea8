#include "tokenops/io/tiktoken_file.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <unordered_map>

#include "tokenops/text/error.hpp"

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

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 != 0 || in.empty()) return false;
  std::size_t pad = 0;
  if (in.back() == '=') pad = (in.size() >= 2 && in[in.size() - 2] == '=') ? 2 : 1;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      unsigned char c = static_cast<unsigned char>(in[i + k]);
      int d;
      if (c == '=' && last && k >= 4 - static_cast<int>(pad)) {
        d = 0;
      } else {
        d = kB64[c];
        if (d < 0) return false;
      }
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out.push_back(static_cast<char>((v >> 16) & 0xFF));
    if (!(last && pad == 2)) out.push_back(static_cast<char>((v >> 8) & 0xFF));
    if (!(last && pad >= 1)) out.push_back(static_cast<char>(v & 0xFF));
  }
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
                   line_no, ": expected '<base64 token> <rank>', got '",
                   line.substr(0, std::min<std::size_t>(line.size(), 60)), "'");
    std::string_view b64 = line.substr(0, sp);
    std::string_view rank_s = line.substr(sp + 1);
    TOKENOPS_CHECK(base64_decode(b64, decoded) && !decoded.empty(), InvalidArgument, source,
                   " line ", line_no, ": invalid base64 token '",
                   b64.substr(0, std::min<std::size_t>(b64.size(), 60)), "'");
    std::uint32_t rank = 0;
    auto [ptr, ec] = std::from_chars(rank_s.data(), rank_s.data() + rank_s.size(), rank);
    TOKENOPS_CHECK(ec == std::errc() && ptr == rank_s.data() + rank_s.size() && !rank_s.empty(),
                   InvalidArgument, source, " line ", line_no, ": rank '", rank_s,
                   "' is not a non-negative integer below 2^32");
    entries.push_back({decoded, rank});
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
  std::unordered_map<std::string_view, std::size_t> seen;
  seen.reserve(entries.size() * 2);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto [it, inserted] = seen.emplace(entries[i].bytes, i);
    TOKENOPS_CHECK(inserted, InvalidArgument, source, " line ", line_of[i],
                   ": duplicate token (same bytes as line ", line_of[it->second], ")");
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
