#include "arttrack/peaks.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
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

// Sort key of a candidate: decreasing score, then increasing row-major cell index.
// Scores map to order-preserving unsigned bits (-0 folded into +0, so equal scores tie).
inline std::uint64_t candidate_key(float v, std::uint64_t cell) {
  if (v == 0.0f) v = 0.0f;
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  const std::uint32_t ordered = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<std::uint64_t>(~ordered) << 32) | cell;
}

// Bit t of `mask` = (q[t] >= thr) for the 64 floats at q; returns true if any is NaN/inf
// ((v - v) is 0 exactly for finite v).
inline bool block_mask(const float* q, float thr, std::uint64_t& mask) {
#if defined(__SSE2__)
  const __m128 t4 = _mm_set1_ps(thr), zero = _mm_setzero_ps();
  __m128 bad = zero;
  std::uint64_t m = 0;
  for (int i = 0; i < 16; ++i) {
    const __m128 v = _mm_loadu_ps(q + 4 * i);
    m |= static_cast<std::uint64_t>(_mm_movemask_ps(_mm_cmpge_ps(v, t4))) << (4 * i);
    bad = _mm_or_ps(bad, _mm_cmpneq_ps(_mm_sub_ps(v, v), zero));
  }
  mask = m;
  return _mm_movemask_ps(bad) != 0;
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

// n / d for 32-bit n by one multiplication (Lemire, Kaser and Kurz 2019: M = 2^64 / d rounded up).
struct FastDiv32 {
  std::uint64_t d, m;
  explicit FastDiv32(std::uint64_t divisor) : d(divisor), m(UINT64_MAX / divisor + 1) {}
  std::uint64_t div(std::uint64_t n) const {
#if defined(__SIZEOF_INT128__)
    __extension__ typedef unsigned __int128 u128;
    return d == 1 ? n : static_cast<std::uint64_t>((static_cast<u128>(m) * n) >> 64);
#else
    return n / d;
#endif
  }
};

// Per-thread scratch reused across calls (no allocation per frame once warm).
struct Scratch {
  std::vector<std::vector<std::uint64_t>> buckets;  // candidate keys per channel
  std::vector<std::uint8_t> grid;                   // occupancy grid, all zero between uses
  std::vector<std::int64_t> kept_rc;
};

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
  const std::int64_t n = scoremap.size();
  Peaks out;
  if (n == 0) return out;
  if (nj > INT32_MAX || h > INT32_MAX || w > INT32_MAX || h * w > static_cast<std::int64_t>(UINT32_MAX))
    throw std::invalid_argument("scoremap is too large (H, W, J < 2^31 and H*W < 2^32 required)");

  thread_local Scratch scratch;
  auto& buckets = scratch.buckets;
  if (static_cast<std::int64_t>(buckets.size()) < nj) buckets.resize(static_cast<std::size_t>(nj));
  for (std::int64_t j = 0; j < nj; ++j) buckets[static_cast<std::size_t>(j)].clear();

  // 1. One pass over the interleaved map collecting the cells >= min_score per channel:
  // a 64-bit hit mask per block of 64 floats (SIMD compares), then one step per set bit.
  // The same pass rejects NaN / infinity.
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
      const float v = p[b + t];
      buckets[static_cast<std::size_t>(mod_tab[jt])].push_back(candidate_key(v, c0 + static_cast<std::uint64_t>(div_tab[jt])));
    }
    c0 += static_cast<std::uint64_t>(step_cells);
    j0 += step_ch;
    if (j0 >= nj) {
      j0 -= nj;
      ++c0;
    }
  }

  // 2. Greedy suppression per channel, candidates sorted by (decreasing score, cell).
  // Few kept peaks: compare with the kept list. Many: switch to an occupancy grid stamped
  // with the disk of each kept peak. Radii beyond H + W act like H + W (no overflow).
  const std::int64_t r = std::min<std::int64_t>(params.nms_radius, h + w);
  const std::int64_t r2 = r * r;
  std::vector<std::int64_t> half_width;  // half_width[d] = max c with c^2 <= r^2 - d^2
  auto& grid = scratch.grid;
  auto& kept_rc = scratch.kept_rc;
  constexpr std::size_t kListMax = 24;

  auto stamp = [&](std::int64_t row, std::int64_t col) {
    if (half_width.empty()) {
      const std::int64_t dmax = std::min(r, h - 1);
      half_width.resize(static_cast<std::size_t>(dmax) + 1);
      for (std::int64_t d = 0; d <= dmax; ++d) {
        const std::int64_t rem = r2 - d * d;
        std::int64_t c = static_cast<std::int64_t>(std::sqrt(static_cast<double>(rem)));
        while (c * c > rem) --c;
        while ((c + 1) * (c + 1) <= rem) ++c;
        half_width[static_cast<std::size_t>(d)] = c;
      }
    }
    const std::int64_t dmax = static_cast<std::int64_t>(half_width.size()) - 1;
    const std::int64_t r0 = std::max<std::int64_t>(0, row - dmax), r1 = std::min(h - 1, row + dmax);
    for (std::int64_t rr = r0; rr <= r1; ++rr) {
      const std::int64_t hw = half_width[static_cast<std::size_t>(std::abs(rr - row))];
      const std::int64_t c0 = std::max<std::int64_t>(0, col - hw), c1 = std::min(w - 1, col + hw);
      std::memset(grid.data() + rr * w + c0, 1, static_cast<std::size_t>(c1 - c0 + 1));
    }
  };

  const FastDiv32 by_w(static_cast<std::uint64_t>(w));
  for (std::int64_t j = 0; j < nj; ++j) {
    auto& cand = buckets[static_cast<std::size_t>(j)];
    if (cand.empty()) continue;
    std::sort(cand.begin(), cand.end());
    bool use_grid = false;
    kept_rc.clear();
    for (const std::uint64_t key : cand) {
      const auto cell = static_cast<std::int64_t>(key & 0xffffffffu);
      const auto row = static_cast<std::int64_t>(by_w.div(static_cast<std::uint64_t>(cell)));
      const std::int64_t col = cell - row * w;
      bool suppressed = false;
      if (use_grid) {
        suppressed = grid[static_cast<std::size_t>(cell)] != 0;
      } else {
        for (std::size_t q = 0; q < kept_rc.size(); q += 2) {
          const std::int64_t dr = row - kept_rc[q], dc = col - kept_rc[q + 1];
          if (dr * dr + dc * dc <= r2) {
            suppressed = true;
            break;
          }
        }
      }
      if (suppressed) continue;
      out.part.push_back(static_cast<std::int32_t>(j));
      out.score.push_back(p[cell * nj + j]);
      out.cell.push_back(static_cast<std::int32_t>(row));
      out.cell.push_back(static_cast<std::int32_t>(col));
      if (use_grid) {
        stamp(row, col);
      } else {
        kept_rc.push_back(row);
        kept_rc.push_back(col);
        if (kept_rc.size() / 2 > kListMax) {
          use_grid = true;
          if (grid.size() < static_cast<std::size_t>(h * w)) grid.assign(static_cast<std::size_t>(h * w), 0);
          for (std::size_t q = 0; q < kept_rc.size(); q += 2) stamp(kept_rc[q], kept_rc[q + 1]);
        }
      }
    }
    if (use_grid) std::fill(grid.begin(), grid.begin() + h * w, 0);
  }

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
