#include "arttrack/peaks.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace arttrack {
namespace {

std::string cell_str(std::int64_t flat, std::int64_t w, std::int64_t j) {
  const std::int64_t cell = flat / j;
  return "(" + std::to_string(cell / w) + ", " + std::to_string(cell % w) + ", " + std::to_string(flat % j) + ")";
}

void check_scoremap(const ScoreMapView& s) {
  for (std::size_t i = 0; i < 3; ++i)
    if (s.shape[i] < 0) throw std::invalid_argument("scoremap has a negative dimension");
  if (s.data == nullptr && s.size() > 0) throw std::invalid_argument("scoremap has no data");
}

void check_locref(const LocrefMapView& l, const ScoreMapView& s) {
  if (l.data == nullptr) return;
  if (l.shape[0] != s.shape[0] || l.shape[1] != s.shape[1] || l.shape[2] != s.shape[2] || l.shape[3] != 2)
    throw std::invalid_argument("locref must have shape (H, W, J, 2) = (" + std::to_string(s.shape[0]) + ", " +
                                std::to_string(s.shape[1]) + ", " + std::to_string(s.shape[2]) + ", 2)");
}

void check_common(double stride, double locref_stdev) {
  if (!(std::isfinite(stride) && stride > 0)) throw std::invalid_argument("stride must be finite and > 0");
  if (!std::isfinite(locref_stdev)) throw std::invalid_argument("locref_stdev must be finite");
}

[[noreturn]] void throw_nonfinite_score(const float* p, std::int64_t begin, std::int64_t end, std::int64_t w,
                                        std::int64_t j) {
  std::int64_t k = begin;
  while (k < end && std::isfinite(p[k])) ++k;
  throw std::invalid_argument("scoremap contains NaN or infinity at (row, col, joint) = " + cell_str(k, w, j));
}

// Position of cell `cell` of channel `j` with location refinement (double math, one rounding to float).
void cell_position(const ScoreMapView& s, const LocrefMapView& l, double stride, double stdev, std::int64_t cell,
                   std::int64_t j, float* xy) {
  const std::int64_t w = s.shape[1], nj = s.shape[2];
  double x = static_cast<double>(cell % w) * stride + 0.5 * stride;
  double y = static_cast<double>(cell / w) * stride + 0.5 * stride;
  if (l.data != nullptr) {
    const float* o = l.data + (cell * nj + j) * 2;
    if (!std::isfinite(o[0]) || !std::isfinite(o[1]))
      throw std::invalid_argument("locref contains NaN or infinity at (row, col, joint) = " +
                                  cell_str(cell * nj + j, w, nj));
    x += static_cast<double>(o[0]) * stdev;
    y += static_cast<double>(o[1]) * stdev;
  }
  xy[0] = static_cast<float>(x);
  xy[1] = static_cast<float>(y);
}

// Order-preserving unsigned image of a float (-0 folded into +0, so equal scores tie):
// a < b  <=>  ordered(a) < ordered(b) for all non-NaN floats.
inline std::uint32_t ordered_bits(float v) {
  if (v == 0.0f) v = 0.0f;
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// Bit t of `mask` = (q[t] >= thr) for the 64 floats at q; returns true if any is NaN/inf
// ((v - v) is 0 exactly for finite v).
inline bool block_mask(const float* q, float thr, std::uint64_t& mask) {
#if defined(__SSE2__)
  // 16 compares packed to bytes per movemask; (v - v) is +0 (all bits clear) for finite v.
  const __m128 t4 = _mm_set1_ps(thr);
  __m128 bad = _mm_setzero_ps();
  std::uint64_t m = 0;
  for (int i = 0; i < 4; ++i) {
    const float* q16 = q + 16 * i;
    const __m128 v0 = _mm_loadu_ps(q16), v1 = _mm_loadu_ps(q16 + 4), v2 = _mm_loadu_ps(q16 + 8),
                 v3 = _mm_loadu_ps(q16 + 12);
    const __m128i c01 = _mm_packs_epi32(_mm_castps_si128(_mm_cmpge_ps(v0, t4)), _mm_castps_si128(_mm_cmpge_ps(v1, t4)));
    const __m128i c23 = _mm_packs_epi32(_mm_castps_si128(_mm_cmpge_ps(v2, t4)), _mm_castps_si128(_mm_cmpge_ps(v3, t4)));
    m |= static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(_mm_packs_epi16(c01, c23)))) << (16 * i);
    bad = _mm_or_ps(bad, _mm_or_ps(_mm_or_ps(_mm_sub_ps(v0, v0), _mm_sub_ps(v1, v1)),
                                   _mm_or_ps(_mm_sub_ps(v2, v2), _mm_sub_ps(v3, v3))));
  }
  mask = m;
  return _mm_movemask_epi8(_mm_cmpeq_epi32(_mm_castps_si128(bad), _mm_setzero_si128())) != 0xffff;
#else
  std::uint64_t m = 0;
  unsigned bad = 0;
  for (int i = 0; i < 64; ++i) {
    m |= static_cast<std::uint64_t>(q[i] >= thr) << i;
    bad |= static_cast<unsigned>(!(q[i] - q[i] == 0.0f));
  }
  mask = m;
  return bad != 0;
#endif
}

// Per-thread scratch reused across calls (no allocation per frame once warm).
struct Scratch {
  // Candidate keys (~ordered score << 32 | cell: ascending key = decreasing score, then
  // increasing row-major cell), channel j's from j * H*W on, in cell order. Left
  // uninitialised: only the pages holding candidates are ever touched.
  std::unique_ptr<std::uint64_t[]> keys;
  std::size_t keys_size = 0;
  std::vector<std::uint64_t*> next;
  std::vector<std::uint8_t> group;        // score bucket of each of one channel's keys
  std::vector<std::uint64_t> by_bucket;   // one channel's keys grouped by score bucket
  std::vector<std::uint64_t> suppressed;  // (H*W) bit set of cells within r of a kept cell
  bool clean = true;                      // `suppressed` all zero (false after an exception)
};

// Sets bits [a, b] (inclusive, a <= b) of the bit set `s`, which has a word beyond the
// one of bit b. Segments within two words (all of them for radii < 32) take no branch.
inline void set_bits(std::uint64_t* s, std::uint64_t a, std::uint64_t b) {
  const std::uint64_t wa = a >> 6, wb = b >> 6, ones = ~std::uint64_t{0};
  const std::uint64_t lo = ones << (a & 63), hi = ones >> (63 - (b & 63));
  const bool same = wa == wb;
  s[wa] |= lo & (same ? hi : ones);
  s[wa + 1] |= same ? 0 : hi;
  if (wb > wa + 1) {
    for (std::uint64_t k = wa + 1; k < wb; ++k) s[k] = ones;
    s[wb] |= hi;
  }
}

// Ascending sort of m keys: insertion sort for the usual few, std::sort beyond.
inline void sort_keys(std::uint64_t* k, std::size_t m) {
  if (m > 16) {
    if (!std::is_sorted(k, k + m)) std::sort(k, k + m);  // sorted: e.g. a plateau, in cell order
    return;
  }
  for (std::size_t i = 1; i < m; ++i) {
    const std::uint64_t v = k[i];
    std::size_t q = i;
    for (; q > 0 && k[q - 1] > v; --q) k[q] = k[q - 1];
    k[q] = v;
  }
}

// best[j] = max over rows of p[row * nj + j]; bad[j] != 0 if any value is NaN/inf
// ((v - v) is 0 exactly for finite v, NaN otherwise; NaN + 0 stays NaN).
void max_rows(const float* __restrict p, std::int64_t rows, std::int64_t nj, float* __restrict best,
              float* __restrict bad) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* __restrict row = p + r * nj;
    for (std::int64_t j = 0; j < nj; ++j) {
      const float v = row[j];
      best[j] = v > best[j] ? v : best[j];
      bad[j] = bad[j] + (v - v);
    }
  }
}

}  // namespace

Peaks find_peaks(const ScoreMapView& scoremap, const LocrefMapView& locref, const PeakParams& params) {
  check_scoremap(scoremap);
  check_locref(locref, scoremap);
  check_common(params.stride, params.locref_stdev);
  if (!std::isfinite(params.min_score)) throw std::invalid_argument("min_score must be finite");
  if (params.nms_radius < 0) throw std::invalid_argument("nms_radius must be >= 0");

  const std::int64_t h = scoremap.shape[0], w = scoremap.shape[1], nj = scoremap.shape[2];
  const std::int64_t n = scoremap.size(), cells = h * w;
  Peaks out;
  if (n == 0) return out;
  if (nj > INT32_MAX || h > INT32_MAX || w > INT32_MAX || cells > static_cast<std::int64_t>(UINT32_MAX))
    throw std::invalid_argument("scoremap is too large (H, W, J < 2^31 and H*W < 2^32 required)");

  thread_local Scratch scratch;
  if (scratch.keys_size < static_cast<std::size_t>(n)) {
    scratch.keys.reset();
    scratch.keys.reset(new std::uint64_t[static_cast<std::size_t>(n)]);
    scratch.keys_size = static_cast<std::size_t>(n);
  }
  std::uint64_t* const keys = scratch.keys.get();
  auto& next = scratch.next;  // next[j]: where channel j's next key goes
  next.resize(static_cast<std::size_t>(nj));
  for (std::int64_t j = 0; j < nj; ++j) next[static_cast<std::size_t>(j)] = keys + j * cells;
  std::uint64_t** const dst = next.data();

  // 1. One pass over the interleaved map collecting the cells >= min_score per channel, in
  // cell order, as sort keys: a 64-bit hit mask per block of 64 floats (SIMD compares),
  // then one step per set bit. The same pass rejects NaN / infinity.
  // thr = the smallest float >= min_score, so that `v >= thr` in float is exactly
  // `double(v) >= min_score` for every float v.
  const float* p = scoremap.data;
  float thr = static_cast<float>(params.min_score);
  if (static_cast<double>(thr) < params.min_score) thr = std::nextafter(thr, INFINITY);
  // Flat index b + t (t < 64) of a block starting at cell c0, channel j0 is cell
  // c0 + div[j0 + t], channel mod[j0 + t]: no division per candidate.
  constexpr std::int64_t kBlock = 64;
  std::vector<std::int32_t> div_tab(static_cast<std::size_t>(nj + kBlock)), mod_tab(div_tab.size());
  for (std::size_t t = 0; t < div_tab.size(); ++t) {
    div_tab[t] = static_cast<std::int32_t>(static_cast<std::int64_t>(t) / nj);
    mod_tab[t] = static_cast<std::int32_t>(static_cast<std::int64_t>(t) % nj);
  }
  const std::int64_t step_cells = kBlock / nj, step_ch = kBlock % nj;
  std::uint64_t c0 = 0;
  std::int64_t j0 = 0;
  const std::int64_t full = n - n % kBlock;
  for (std::int64_t b = 0; b < n; b += kBlock) {
    std::uint64_t mask = 0;
    bool bad = false;
    if (b < full) {
      bad = block_mask(p + b, thr, mask);
    } else {
      for (std::int64_t k = b; k < n; ++k) {
        mask |= static_cast<std::uint64_t>(p[k] >= thr) << (k - b);
        bad |= !(p[k] - p[k] == 0.0f);
      }
    }
    if (bad) throw_nonfinite_score(p, b, std::min(n, b + kBlock), w, nj);
    while (mask) {
      const int t = __builtin_ctzll(mask);
      mask &= mask - 1;
      const auto jt = static_cast<std::size_t>(j0 + t);
      const std::int64_t j = mod_tab[jt];
      const std::uint64_t cell = c0 + static_cast<std::uint64_t>(div_tab[jt]);
      *dst[j]++ = (static_cast<std::uint64_t>(~ordered_bits(p[b + t])) << 32) | cell;
    }
    c0 += static_cast<std::uint64_t>(step_cells);
    j0 += step_ch;
    if (j0 >= nj) {
      j0 -= nj;
      ++c0;
    }
  }

  // 2. Greedy suppression per channel. The candidates (in cell order) are grouped by score
  // bucket, highest scores first, with one counting-sort pass: bucket = (ordered(v) -
  // ordered(thr)) >> shift, which is monotone in the score; the shift spreads [min_score, 1]
  // (probabilities) over the buckets, higher scores share the top one. A bit set marks the
  // cells within the radius of a kept cell (disks stamped row by row). Per group, the
  // candidates not yet marked are sorted by key and visited in that order, so that the
  // cells are visited by (decreasing score, cell) as the contract says; most candidates are
  // marked before their group comes and are never sorted. A channel with few candidates is
  // one group. After a channel, the rows its disks covered are cleared. Radii beyond H + W
  // act like H + W (no overflow).
  constexpr std::int64_t kBuckets = 128, kSmall = 32;
  static_assert(kBuckets <= 256, "bucket numbers are stored in bytes");
  const std::uint32_t base = ordered_bits(thr), one = ordered_bits(1.0f);
  const std::uint32_t span = one > base ? one - base : 0;
  int shift = 0;
  while ((span >> shift) >= static_cast<std::uint32_t>(kBuckets)) ++shift;
  // Group of a key, 0 = the highest scores.
  auto group_of = [base, shift](std::uint64_t key) {
    const std::uint32_t ord = ~static_cast<std::uint32_t>(key >> 32);
    return kBuckets - 1 - std::min<std::int64_t>((ord - base) >> shift, kBuckets - 1);
  };

  const std::int64_t r = std::min<std::int64_t>(params.nms_radius, h + w);
  const std::int64_t dmax = std::min(r, h - 1);
  std::vector<std::int64_t> half_width(static_cast<std::size_t>(dmax) + 1);  // max c: c^2 <= r^2 - d^2
  for (std::int64_t d = 0; d <= dmax; ++d) {
    const std::int64_t rem = r * r - d * d;
    std::int64_t c = static_cast<std::int64_t>(std::sqrt(static_cast<double>(rem)));
    while (c * c > rem) --c;
    while ((c + 1) * (c + 1) <= rem) ++c;
    half_width[static_cast<std::size_t>(d)] = c;
  }
  auto& supp = scratch.suppressed;
  const auto words = static_cast<std::size_t>((cells + 63) / 64) + 1;  // + 1: see set_bits
  if (supp.size() < words || !scratch.clean) supp.assign(std::max(words, supp.size()), 0);
  scratch.clean = false;
  std::uint64_t* const s = supp.data();
  auto marked = [s](std::uint64_t cell) { return ((s[cell >> 6] >> (cell & 63)) & 1) != 0; };
  std::int64_t row_lo = h, row_hi = -1;  // rows of the cells kept in the current channel
  // Visits the group g[0, m): greedy in key order over its unmarked candidates.
  auto visit = [&](std::uint64_t* g, std::int64_t m, std::int64_t j) {
    std::int64_t live = 0;
    for (std::int64_t i = 0; i < m; ++i) {
      const std::uint64_t key = g[i];
      g[live] = key;
      live += !marked(key & 0xffffffffu);
    }
    sort_keys(g, static_cast<std::size_t>(live));
    for (std::int64_t q = 0; q < live; ++q) {
      const std::uint64_t cell = g[q] & 0xffffffffu;
      if (q > 0 && marked(cell)) continue;
      const auto row = static_cast<std::int64_t>(static_cast<std::uint32_t>(cell) / static_cast<std::uint32_t>(w));
      const std::int64_t col = static_cast<std::int64_t>(cell) - row * w;
      out.part.push_back(static_cast<std::int32_t>(j));
      out.score.push_back(p[static_cast<std::int64_t>(cell) * nj + j]);
      out.cell.push_back(static_cast<std::int32_t>(row));
      out.cell.push_back(static_cast<std::int32_t>(col));
      // Mark the disk around (row, col), clipped to the map, row by row.
      const std::int64_t r0 = std::max<std::int64_t>(0, row - dmax), r1 = std::min(h - 1, row + dmax);
      for (std::int64_t rr = r0; rr <= r1; ++rr) {
        const std::int64_t hw = half_width[static_cast<std::size_t>(std::abs(rr - row))];
        const std::int64_t a = std::max<std::int64_t>(0, col - hw), e = std::min(w - 1, col + hw);
        set_bits(s, static_cast<std::uint64_t>(rr * w + a), static_cast<std::uint64_t>(rr * w + e));
      }
      row_lo = std::min(row_lo, row);
      row_hi = std::max(row_hi, row);
    }
  };
  std::int64_t total = 0;  // an upper bound on the detections, within reason
  for (std::int64_t j = 0; j < nj; ++j) total += dst[j] - (keys + j * cells);
  const auto guess = static_cast<std::size_t>(std::min<std::int64_t>(total, 4096));
  out.part.reserve(guess);
  out.score.reserve(guess);
  out.cell.reserve(2 * guess);
  auto& by_bucket = scratch.by_bucket;
  auto& group = scratch.group;
  std::int64_t end[kBuckets];
  for (std::int64_t j = 0; j < nj; ++j) {
    std::uint64_t* const k = keys + j * cells;
    const std::int64_t m = dst[j] - k;
    if (m == 0) continue;
    if (m <= kSmall) {
      visit(k, m, j);
    } else {
      if (static_cast<std::int64_t>(by_bucket.size()) < m) by_bucket.resize(static_cast<std::size_t>(m));
      std::uint64_t* const g = by_bucket.data();
      std::fill(end, end + kBuckets, 0);
      if (static_cast<std::int64_t>(group.size()) < m) group.resize(static_cast<std::size_t>(m));
      std::uint8_t* const gr = group.data();
      for (std::int64_t i = 0; i < m; ++i) {
        gr[i] = static_cast<std::uint8_t>(group_of(k[i]));
        ++end[gr[i]];
      }
      std::int64_t sum = 0;
      for (std::int64_t b = 0; b < kBuckets; ++b) {  // end[b] = start of group b
        const std::int64_t c = end[b];
        end[b] = sum;
        sum += c;
      }
      for (std::int64_t i = 0; i < m; ++i) g[end[gr[i]]++] = k[i];  // now end[b] = its end
      for (std::int64_t b = 0, lo = 0; b < kBuckets; lo = end[b++])
        if (end[b] > lo) visit(g + lo, end[b] - lo, j);
    }
    if (row_lo <= row_hi) {  // clear the rows that the disks covered
      const auto a = static_cast<std::size_t>((std::max<std::int64_t>(0, row_lo - dmax) * w) >> 6);
      const auto e = static_cast<std::size_t>((std::min(h - 1, row_hi + dmax) * w + w - 1) >> 6);
      std::memset(s + a, 0, (e - a + 1) * sizeof *s);
      row_lo = h;
      row_hi = -1;
    }
  }
  scratch.clean = true;

  // 3. Positions.
  const std::size_t m = out.part.size();
  out.xy.resize(2 * m);
  for (std::size_t q = 0; q < m; ++q) {
    const std::int64_t cell = static_cast<std::int64_t>(out.cell[2 * q]) * w + out.cell[2 * q + 1];
    cell_position(scoremap, locref, params.stride, params.locref_stdev, cell, out.part[q], &out.xy[2 * q]);
  }
  return out;
}

void argmax_pose(const ScoreMapView& scoremap, const LocrefMapView& locref, double stride, double locref_stdev,
                 float* out) {
  check_scoremap(scoremap);
  check_locref(locref, scoremap);
  check_common(stride, locref_stdev);
  const std::int64_t h = scoremap.shape[0], w = scoremap.shape[1], nj = scoremap.shape[2];
  if (h * w == 0) throw std::invalid_argument("scoremap must have at least one cell (H*W > 0)");
  if (nj == 0) return;
  if (out == nullptr) throw std::invalid_argument("argmax_pose: null output");
  const float* p = scoremap.data;
  const std::int64_t n = scoremap.size();
  // Pass 1: per-channel maximum (branch-free, vectorisable) and the finiteness test.
  std::vector<float> best(p, p + nj);
  std::vector<float> bad_acc(static_cast<std::size_t>(nj), 0.0f);
  max_rows(p, h * w, nj, best.data(), bad_acc.data());
  for (float v : bad_acc)
    if (v != 0.0f) throw_nonfinite_score(p, 0, n, w, nj);
  // Pass 2: the first cell reaching the maximum, per channel (vectorised test per cell,
  // scalar work only on the rare cells that reach a maximum).
  std::vector<std::int64_t> best_cell(static_cast<std::size_t>(nj), -1);
  std::int64_t missing = nj;
  const float* bp = best.data();
  for (std::int64_t cell = 0; cell < h * w && missing > 0; ++cell) {
    const float* row = p + cell * nj;
    unsigned hit = 0;
    for (std::int64_t j = 0; j < nj; ++j) hit |= static_cast<unsigned>(row[j] == bp[j]);
    if (!hit) continue;
    for (std::int64_t j = 0; j < nj; ++j) {
      if (row[j] == bp[j] && best_cell[static_cast<std::size_t>(j)] < 0) {
        best_cell[static_cast<std::size_t>(j)] = cell;
        --missing;
      }
    }
  }
  for (std::int64_t j = 0; j < nj; ++j) {
    cell_position(scoremap, locref, stride, locref_stdev, best_cell[static_cast<std::size_t>(j)], j, out + 3 * j);
    out[3 * j + 2] = best[static_cast<std::size_t>(j)];
  }
}

}  // namespace arttrack
