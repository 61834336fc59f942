#include "arttrack/pairwise.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace arttrack {
namespace {

std::string str(std::int64_t v) { return std::to_string(v); }

void check_view_data(const void* data, std::int64_t size, const char* name) {
  if (data == nullptr && size > 0) throw std::invalid_argument(std::string(name) + " has no data");
}

// Validates the detections against the map; returns N.
std::int64_t check_detections(const DetectionsView& det, const PairwiseMapView& map, std::int64_t num_joints) {
  const std::int64_t n = det.part.shape[0];
  if (n < 0) throw std::invalid_argument("peaks.part has a negative dimension");
  if (det.xy.shape[0] != n || det.xy.shape[1] != 2)
    throw std::invalid_argument("peaks.xy must have shape (N, 2) with N = " + str(n));
  if (det.cell.shape[0] != n || det.cell.shape[1] != 2)
    throw std::invalid_argument("peaks.cell must have shape (N, 2) with N = " + str(n));
  check_view_data(det.part.data, n, "peaks.part");
  check_view_data(det.xy.data, 2 * n, "peaks.xy");
  check_view_data(det.cell.data, 2 * n, "peaks.cell");
  const std::int64_t h = map.shape[0], w = map.shape[1];
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t j = det.part.data[i];
    if (j < 0 || j >= num_joints)
      throw std::invalid_argument("peaks.part[" + str(i) + "] = " + str(j) + " is outside [0, " + str(num_joints) +
                                  ") (J from the pairwise map)");
    const std::int64_t r = det.cell.data[2 * i], c = det.cell.data[2 * i + 1];
    if (r < 0 || r >= h || c < 0 || c >= w)
      throw std::invalid_argument("peaks.cell[" + str(i) + "] = (" + str(r) + ", " + str(c) +
                                  ") is outside the pairwise map (" + str(h) + ", " + str(w) + ")");
    if (!std::isfinite(det.xy.data[2 * i]) || !std::isfinite(det.xy.data[2 * i + 1]))
      throw std::invalid_argument("peaks.xy[" + str(i) + "] is not finite");
  }
  return n;
}

void check_origin(const DisplacementOrigin& origin) {
  if (origin.cell_centre && !(std::isfinite(origin.stride) && origin.stride > 0.0))
    throw std::invalid_argument("the displacement origin's stride must be a positive number");
}

std::int64_t check_map(const PairwiseMapView& map) {
  for (std::int64_t s : map.shape)
    if (s < 0) throw std::invalid_argument("pairwise has a negative dimension");
  if (map.shape[3] != 2) throw std::invalid_argument("pairwise must have shape (H, W, J*(J-1), 2)");
  const std::int64_t nj = num_joints_from_pair_channels(map.shape[2]);
  check_view_data(map.data, map.size(), "pairwise");
  return nj;
}

void check_pairs(const ArrayView<std::int64_t, 2>& pairs, std::int64_t num_joints, const char* name) {
  const std::int64_t np = pairs.shape[0];
  if (np < 0 || pairs.shape[1] != 2) throw std::invalid_argument(std::string(name) + " must have shape (P, 2)");
  check_view_data(pairs.data, 2 * np, name);
  std::vector<std::pair<std::int64_t, std::int64_t>> seen;  // (min, max) of each pair, then sorted
  seen.reserve(static_cast<std::size_t>(np));
  for (std::int64_t p = 0; p < np; ++p) {
    const std::int64_t a = pairs.data[2 * p], b = pairs.data[2 * p + 1];
    if (a < 0 || a >= num_joints || b < 0 || b >= num_joints)
      throw std::invalid_argument(std::string(name) + "[" + str(p) + "] = (" + str(a) + ", " + str(b) +
                                  ") has a joint outside [0, " + str(num_joints) + ")");
    if (a == b) throw std::invalid_argument(std::string(name) + "[" + str(p) + "] joins joint " + str(a) + " to itself");
    seen.emplace_back(std::min(a, b), std::max(a, b));
  }
  std::sort(seen.begin(), seen.end());
  const auto dup = std::adjacent_find(seen.begin(), seen.end());
  if (dup != seen.end())
    throw std::invalid_argument(std::string(name) + " repeats the joint pair (" + str(dup->first) + ", " +
                                str(dup->second) + ")");
}

// Offset (x, y) of ordered pair (j, k) at detection i's cell; throws if not finite.
inline const float* read_offset(const DetectionsView& det, const PairwiseMapView& map, std::int64_t nj, std::int64_t i,
                                std::int64_t k) {
  const std::int64_t j = det.part.data[i];
  const std::int64_t ch = pair_channel(j, k, nj);
  const std::int64_t r = det.cell.data[2 * i], c = det.cell.data[2 * i + 1];
  const float* o = map.data + ((r * map.shape[1] + c) * map.shape[2] + ch) * 2;
  if (!std::isfinite(o[0]) || !std::isfinite(o[1]))
    throw std::invalid_argument("pairwise contains NaN or infinity at (row, col, channel) = (" + str(r) + ", " +
                                str(c) + ", " + str(ch) + ")");
  return o;
}

// Detections grouped by joint, each group in increasing index order.
std::vector<std::vector<std::int64_t>> by_joint(const ArrayView<std::int32_t, 1>& part, std::int64_t num_joints) {
  std::vector<std::vector<std::int64_t>> g(static_cast<std::size_t>(num_joints));
  for (std::int64_t i = 0; i < part.shape[0]; ++i) g[static_cast<std::size_t>(part.data[i])].push_back(i);
  return g;
}

}  // namespace

std::int64_t num_joints_from_pair_channels(std::int64_t channels) {
  if (channels >= 2) {
    auto j = static_cast<std::int64_t>(std::llround((1.0 + std::sqrt(1.0 + 4.0 * static_cast<double>(channels))) / 2));
    for (std::int64_t c = std::max<std::int64_t>(2, j - 1); c <= j + 1; ++c)
      if (c * (c - 1) == channels) {
        if (c > (1 << 20)) throw std::invalid_argument("pairwise has too many channels (J > 2^20)");
        return c;
      }
  }
  throw std::invalid_argument("pairwise must have J*(J-1) channels with J >= 2 (shape (H, W, J*(J-1), 2)), got " +
                              str(channels) + " channels");
}

namespace {

constexpr double kPi = 3.14159265358979323846;

// atan(u) for |u| <= tan(pi/8): u * P(u^2), P a degree-7 Chebyshev fit (|error| < 3e-13).
inline double atan_small(double u) {
  const double s = u * u;
  double p = -0.03770171367982549;
  p = p * s + 0.06977003750796212;
  p = p * s - 0.08993216919840431;
  p = p * s + 0.11103534872137556;
  p = p * s - 0.1428539125660655;
  p = p * s + 0.19999993188800333;
  p = p * s - 0.33333333278383587;
  p = p * s + 0.9999999999992708;
  return u * p;
}

// atan2(y, x) for y >= 0, in [0, pi], with atan2(0, +-0) = 0 (absolute error < 1e-12);
// one division. std::atan2 was the largest per-edge cost. angle_of_pd below is the same
// computation on two lanes and gives bit-identical results.
inline double angle_of(double y, double x) {
  constexpr double kTanPi8 = 0.41421356237309504880;
  const double ax = std::fabs(x);
  const double lo = y < ax ? y : ax, hi = y > ax ? y : ax;
  // big: atan(lo/hi) = pi/4 + atan((lo-hi)/(lo+hi)). hi == 0 (both zero): lo/1 = 0.
  const bool big = lo > kTanPi8 * hi;
  const double num = big ? lo - hi : lo;
  const double den = big ? lo + hi : (hi > 0.0 ? hi : 1.0);
  double a = atan_small(num / den) + (big ? kPi / 4 : 0.0);
  a = y > ax ? kPi / 2 - a : a;
  return x < 0.0 ? kPi - a : a;
}

// exp(-a) for a in [0, pi] (angles): (e^(-a/8))^8 with a degree-11 Taylor polynomial on
// [-pi/8, 0]; relative error < 1e-13, about 3x faster than std::exp.
inline double exp_neg_angle(double a) {
  const double x = -0.125 * a;
  double p = 1.0 / 39916800.0;
  p = p * x + 1.0 / 3628800.0;
  p = p * x + 1.0 / 362880.0;
  p = p * x + 1.0 / 40320.0;
  p = p * x + 1.0 / 5040.0;
  p = p * x + 1.0 / 720.0;
  p = p * x + 1.0 / 120.0;
  p = p * x + 1.0 / 24.0;
  p = p * x + 1.0 / 6.0;
  p = p * x + 0.5;
  p = p * x + 1.0;
  p = p * x + 1.0;
  p *= p;
  p *= p;
  return p * p;
}

// The four geometric features (dist_fwd, dist_bwd, angle_fwd, angle_bwd). With
// bwd = -fwd (positions as origins) every operation gives the bits it gave when the
// backward terms were written with -fwd: IEEE negation and a - b = -(b - a) are exact.
inline void base_features(double oab_x, double oab_y, double oba_x, double oba_y, double dx, double dy,
                          double ex, double ey, double* f) {
  const double fx = oab_x - dx, fy = oab_y - dy, bx = oba_x - ex, by = oba_y - ey;
  f[kDistFwd] = std::sqrt(fx * fx + fy * fy);
  f[kDistBwd] = std::sqrt(bx * bx + by * by);
  // Angle between u and v: atan2(|u x v|, u . v).
  f[kAngleFwd] = angle_of(std::fabs(oab_x * dy - oab_y * dx), oab_x * dx + oab_y * dy);
  f[kAngleBwd] = angle_of(std::fabs(oba_x * ey - oba_y * ex), oba_x * ex + oba_y * ey);
}

// Where a detection's displacements start: its position or its cell's centre.
inline void origin_of(const DetectionsView& det, std::int64_t d, const DisplacementOrigin& origin, double& x,
                      double& y) {
  if (origin.cell_centre) {
    x = det.cell.data[2 * d + 1] * origin.stride + 0.5 * origin.stride;
    y = det.cell.data[2 * d] * origin.stride + 0.5 * origin.stride;
  } else {
    x = det.xy.data[2 * d];
    y = det.xy.data[2 * d + 1];
  }
}

#if defined(__SSE2__)
inline __m128d select_pd(__m128d mask, __m128d a, __m128d b) {
  return _mm_or_pd(_mm_and_pd(mask, a), _mm_andnot_pd(mask, b));
}

inline __m128d atan_small_pd(__m128d u) {
  const __m128d s = _mm_mul_pd(u, u);
  __m128d p = _mm_set1_pd(-0.03770171367982549);
  p = _mm_add_pd(_mm_mul_pd(p, s), _mm_set1_pd(0.06977003750796212));
  p = _mm_sub_pd(_mm_mul_pd(p, s), _mm_set1_pd(0.08993216919840431));
  p = _mm_add_pd(_mm_mul_pd(p, s), _mm_set1_pd(0.11103534872137556));
  p = _mm_sub_pd(_mm_mul_pd(p, s), _mm_set1_pd(0.1428539125660655));
  p = _mm_add_pd(_mm_mul_pd(p, s), _mm_set1_pd(0.19999993188800333));
  p = _mm_sub_pd(_mm_mul_pd(p, s), _mm_set1_pd(0.33333333278383587));
  p = _mm_add_pd(_mm_mul_pd(p, s), _mm_set1_pd(0.9999999999992708));
  return _mm_mul_pd(u, p);
}

inline __m128d angle_of_pd(__m128d y, __m128d x) {
  const __m128d ax = _mm_andnot_pd(_mm_set1_pd(-0.0), x);
  const __m128d lo = _mm_min_pd(y, ax), hi = _mm_max_pd(y, ax);
  const __m128d big = _mm_cmpgt_pd(lo, _mm_mul_pd(_mm_set1_pd(0.41421356237309504880), hi));
  const __m128d num = select_pd(big, _mm_sub_pd(lo, hi), lo);
  const __m128d den = select_pd(big, _mm_add_pd(lo, hi),
                                select_pd(_mm_cmpgt_pd(hi, _mm_setzero_pd()), hi, _mm_set1_pd(1.0)));
  __m128d a = _mm_add_pd(atan_small_pd(_mm_div_pd(num, den)), _mm_and_pd(big, _mm_set1_pd(kPi / 4)));
  a = select_pd(_mm_cmpgt_pd(y, ax), _mm_sub_pd(_mm_set1_pd(kPi / 2), a), a);
  return select_pd(_mm_cmplt_pd(x, _mm_setzero_pd()), _mm_sub_pd(_mm_set1_pd(kPi), a), a);
}

inline __m128d exp_neg_angle_pd(__m128d a) {
  const __m128d x = _mm_mul_pd(_mm_set1_pd(-0.125), a);
  static constexpr double kC[12] = {1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
                                    1.0 / 5040.0,     1.0 / 720.0,     1.0 / 120.0,    1.0 / 24.0,
                                    1.0 / 6.0,        0.5,             1.0,            1.0};
  __m128d p = _mm_set1_pd(kC[0]);
  for (int i = 1; i < 12; ++i) p = _mm_add_pd(_mm_mul_pd(p, x), _mm_set1_pd(kC[i]));
  p = _mm_mul_pd(p, p);
  p = _mm_mul_pd(p, p);
  return _mm_mul_pd(p, p);
}
#endif

// Edges (d1, d2_q), q < nb: both distances and the logit without the exp(-dist) terms.
// d1 has offset (ox1, oy1), origin (x1, y1) and position (px1, py1); d2_q has offset
// (bx, by)[q], position (x2, y2)[q] and origin (u2, v2)[q]; fwd = p2 - q1, bwd = p1 - q2;
// sc[k] = w_k / range_k. Two edges per step with SSE2 (the scalar tail does the same
// operations in the same order, so results do not depend on the lane).
struct LogitParams {
  double bias, sc[kNumPairwiseFeatures], mn[kNumPairwiseFeatures];
};

inline void partial_logit_one(double ox1, double oy1, double dx, double dy, double ex, double ey, double ox2,
                              double oy2, const LogitParams& lp, double& df, double& db, double& z) {
  const double fx = ox1 - dx, fy = oy1 - dy, gx = ox2 - ex, gy = oy2 - ey;
  df = std::sqrt(fx * fx + fy * fy);
  db = std::sqrt(gx * gx + gy * gy);
  const double af = angle_of(std::fabs(ox1 * dy - oy1 * dx), ox1 * dx + oy1 * dy);
  const double ab = angle_of(std::fabs(ox2 * ey - oy2 * ex), ox2 * ex + oy2 * ey);
  z = lp.bias + lp.sc[kDistFwd] * (df - lp.mn[kDistFwd]) + lp.sc[kDistBwd] * (db - lp.mn[kDistBwd]) +
      lp.sc[kAngleFwd] * (af - lp.mn[kAngleFwd]) + lp.sc[kAngleBwd] * (ab - lp.mn[kAngleBwd]) +
      lp.sc[kExpAngleFwd] * (exp_neg_angle(af) - lp.mn[kExpAngleFwd]) +
      lp.sc[kExpAngleBwd] * (exp_neg_angle(ab) - lp.mn[kExpAngleBwd]);
}

void partial_logits(std::size_t nb, double ox1, double oy1, double x1, double y1, double px1, double py1,
                    const double* bx, const double* by, const double* x2, const double* y2, const double* u2,
                    const double* v2, const LogitParams& lp, double* dist_f, double* dist_b, double* zpart) {
  std::size_t q = 0;
#if defined(__SSE2__)
  const __m128d vox1 = _mm_set1_pd(ox1), voy1 = _mm_set1_pd(oy1), vx1 = _mm_set1_pd(x1), vy1 = _mm_set1_pd(y1);
  const __m128d vpx1 = _mm_set1_pd(px1), vpy1 = _mm_set1_pd(py1);
  const __m128d sign = _mm_set1_pd(-0.0);
  auto term = [&](__m128d acc, int k, __m128d f) {
    return _mm_add_pd(acc, _mm_mul_pd(_mm_set1_pd(lp.sc[k]), _mm_sub_pd(f, _mm_set1_pd(lp.mn[k]))));
  };
  for (; q + 2 <= nb; q += 2) {
    const __m128d dx = _mm_sub_pd(_mm_loadu_pd(x2 + q), vx1), dy = _mm_sub_pd(_mm_loadu_pd(y2 + q), vy1);
    const __m128d ex = _mm_sub_pd(vpx1, _mm_loadu_pd(u2 + q)), ey = _mm_sub_pd(vpy1, _mm_loadu_pd(v2 + q));
    const __m128d ox2 = _mm_loadu_pd(bx + q), oy2 = _mm_loadu_pd(by + q);
    const __m128d fx = _mm_sub_pd(vox1, dx), fy = _mm_sub_pd(voy1, dy);
    const __m128d gx = _mm_sub_pd(ox2, ex), gy = _mm_sub_pd(oy2, ey);
    const __m128d df = _mm_sqrt_pd(_mm_add_pd(_mm_mul_pd(fx, fx), _mm_mul_pd(fy, fy)));
    const __m128d db = _mm_sqrt_pd(_mm_add_pd(_mm_mul_pd(gx, gx), _mm_mul_pd(gy, gy)));
    const __m128d cf = _mm_andnot_pd(sign, _mm_sub_pd(_mm_mul_pd(vox1, dy), _mm_mul_pd(voy1, dx)));
    const __m128d af = angle_of_pd(cf, _mm_add_pd(_mm_mul_pd(vox1, dx), _mm_mul_pd(voy1, dy)));
    const __m128d cb = _mm_andnot_pd(sign, _mm_sub_pd(_mm_mul_pd(ox2, ey), _mm_mul_pd(oy2, ex)));
    const __m128d ab = angle_of_pd(cb, _mm_add_pd(_mm_mul_pd(ox2, ex), _mm_mul_pd(oy2, ey)));
    __m128d z = _mm_set1_pd(lp.bias);
    z = term(z, kDistFwd, df);
    z = term(z, kDistBwd, db);
    z = term(z, kAngleFwd, af);
    z = term(z, kAngleBwd, ab);
    z = term(z, kExpAngleFwd, exp_neg_angle_pd(af));
    z = term(z, kExpAngleBwd, exp_neg_angle_pd(ab));
    _mm_storeu_pd(dist_f + q, df);
    _mm_storeu_pd(dist_b + q, db);
    _mm_storeu_pd(zpart + q, z);
  }
#endif
  for (; q < nb; ++q)
    partial_logit_one(ox1, oy1, x2[q] - x1, y2[q] - y1, px1 - u2[q], py1 - v2[q], bx[q], by[q], lp, dist_f[q],
                      dist_b[q], zpart[q]);
}

}  // namespace

void edge_features(double oab_x, double oab_y, double oba_x, double oba_y, double fwd_x, double fwd_y, double bwd_x,
                   double bwd_y, double* f) {
  base_features(oab_x, oab_y, oba_x, oba_y, fwd_x, fwd_y, bwd_x, bwd_y, f);
  f[kExpDistFwd] = std::exp(-f[kDistFwd]);
  f[kExpDistBwd] = std::exp(-f[kDistBwd]);
  f[kExpAngleFwd] = exp_neg_angle(f[kAngleFwd]);
  f[kExpAngleBwd] = exp_neg_angle(f[kAngleBwd]);
  f[kBias] = 1.0;
}

CandidateEdges candidate_edges(const ArrayView<std::int32_t, 1>& part, const ArrayView<std::int64_t, 2>& pairs,
                               std::int64_t num_joints) {
  if (num_joints < 1 || num_joints > (1 << 20)) throw std::invalid_argument("num_joints must be in [1, 2^20]");
  if (part.shape[0] < 0) throw std::invalid_argument("peaks.part has a negative dimension");
  check_view_data(part.data, part.shape[0], "peaks.part");
  for (std::int64_t i = 0; i < part.shape[0]; ++i)
    if (part.data[i] < 0 || part.data[i] >= num_joints)
      throw std::invalid_argument("peaks.part[" + str(i) + "] = " + str(part.data[i]) + " is outside [0, " +
                                  str(num_joints) + ")");
  check_pairs(pairs, num_joints, "pairs");
  const auto groups = by_joint(part, num_joints);
  CandidateEdges out;
  std::size_t total = 0;
  for (std::int64_t p = 0; p < pairs.shape[0]; ++p)
    total += groups[static_cast<std::size_t>(pairs.data[2 * p])].size() *
             groups[static_cast<std::size_t>(pairs.data[2 * p + 1])].size();
  out.edges.reserve(2 * total);
  out.pair_index.reserve(total);
  for (std::int64_t p = 0; p < pairs.shape[0]; ++p) {
    for (std::int64_t d1 : groups[static_cast<std::size_t>(pairs.data[2 * p])])
      for (std::int64_t d2 : groups[static_cast<std::size_t>(pairs.data[2 * p + 1])]) {
        out.edges.push_back(d1);
        out.edges.push_back(d2);
        out.pair_index.push_back(p);
      }
  }
  return out;
}

void pairwise_features(const DetectionsView& det, const PairwiseMapView& pairwise,
                       const ArrayView<std::int64_t, 2>& edges, double* out, const DisplacementOrigin& origin) {
  check_origin(origin);
  const std::int64_t nj = check_map(pairwise);
  const std::int64_t n = check_detections(det, pairwise, nj);
  const std::int64_t ne = edges.shape[0];
  if (ne < 0 || edges.shape[1] != 2) throw std::invalid_argument("edges must have shape (E, 2)");
  check_view_data(edges.data, 2 * ne, "edges");
  if (out == nullptr && ne > 0) throw std::invalid_argument("pairwise_features: null output");
  for (std::int64_t e = 0; e < ne; ++e) {
    const std::int64_t d1 = edges.data[2 * e], d2 = edges.data[2 * e + 1];
    if (d1 < 0 || d1 >= n || d2 < 0 || d2 >= n)
      throw std::invalid_argument("edges[" + str(e) + "] = (" + str(d1) + ", " + str(d2) +
                                  ") indexes outside the " + str(n) + " detections");
    const std::int64_t a = det.part.data[d1], b = det.part.data[d2];
    if (a == b)
      throw std::invalid_argument("edges[" + str(e) + "] joins two detections of joint " + str(a) +
                                  " (pairwise features need two different joints)");
    const float* oab = read_offset(det, pairwise, nj, d1, b);
    const float* oba = read_offset(det, pairwise, nj, d2, a);
    double q1x, q1y, q2x, q2y;
    origin_of(det, d1, origin, q1x, q1y);
    origin_of(det, d2, origin, q2x, q2y);
    const double dx = static_cast<double>(det.xy.data[2 * d2]) - q1x;
    const double dy = static_cast<double>(det.xy.data[2 * d2 + 1]) - q1y;
    const double ex = static_cast<double>(det.xy.data[2 * d1]) - q2x;
    const double ey = static_cast<double>(det.xy.data[2 * d1 + 1]) - q2y;
    edge_features(oab[0], oab[1], oba[0], oba[1], dx, dy, ex, ey, out + kNumPairwiseFeatures * e);
  }
}

PairwiseTerms pairwise_terms(const DetectionsView& det, const PairwiseMapView& pairwise,
                             const SpatialModelView& model, const SameJointParams& same_joint,
                             const DisplacementOrigin& origin) {
  check_origin(origin);
  const std::int64_t nj = check_map(pairwise);
  const std::int64_t n = check_detections(det, pairwise, nj);
  check_pairs(model.pairs, nj, "model.pairs");
  const std::int64_t np = model.pairs.shape[0];
  const struct {
    const ArrayView<double, 2>& v;
    const char* name;
  } mats[] = {{model.feat_min, "model.feat_min"}, {model.feat_max, "model.feat_max"}, {model.weights, "model.weights"}};
  for (const auto& m : mats) {
    if (m.v.shape[0] != np || m.v.shape[1] != kNumPairwiseFeatures)
      throw std::invalid_argument(std::string(m.name) + " must have shape (P, 9) with P = " + str(np));
    check_view_data(m.v.data, m.v.size(), m.name);
    for (std::int64_t k = 0; k < m.v.size(); ++k)
      if (!std::isfinite(m.v.data[k])) throw std::invalid_argument(std::string(m.name) + " is not finite");
  }
  if (same_joint.enabled && !(std::isfinite(same_joint.slope) && std::isfinite(same_joint.offset)))
    throw std::invalid_argument("same-joint slope and offset must be finite");

  const auto groups = by_joint(det.part, nj);
  std::size_t total = 0;
  for (std::int64_t p = 0; p < np; ++p)
    total += groups[static_cast<std::size_t>(model.pairs.data[2 * p])].size() *
             groups[static_cast<std::size_t>(model.pairs.data[2 * p + 1])].size();
  if (same_joint.enabled)
    for (const auto& g : groups) total += g.size() * (g.size() - (g.empty() ? 0 : 1)) / 2;

  PairwiseTerms out;
  out.edges.resize(2 * total);
  out.prob.resize(total);
  out.same_joint.resize(total);
  out.pair_index.resize(total);
  std::size_t e = 0;  // next edge

  std::vector<double> bx, by, x2, y2, u2, v2, dist_f, dist_b, zpart;  // per detection of joint b
  for (std::int64_t p = 0; p < np; ++p) {
    const std::int64_t a = model.pairs.data[2 * p], b = model.pairs.data[2 * p + 1];
    const auto& ga = groups[static_cast<std::size_t>(a)];
    const auto& gb = groups[static_cast<std::size_t>(b)];
    if (ga.empty() || gb.empty()) continue;
    // s_k = (f_k - min_k) * inv_range_k, zero range -> 1.
    double mn[kNumPairwiseFeatures], inv_range[kNumPairwiseFeatures], wt[kNumPairwiseFeatures];
    for (std::int64_t k = 0; k < kNumPairwiseFeatures; ++k) {
      mn[k] = model.feat_min.data[kNumPairwiseFeatures * p + k];
      const double range = model.feat_max.data[kNumPairwiseFeatures * p + k] - mn[k];
      inv_range[k] = range != 0.0 ? 1.0 / range : 1.0;
      wt[k] = model.weights.data[kNumPairwiseFeatures * p + k];
    }
    // exp(-dist) is skipped (taken as 0) beyond the distance where its term
    // |w_k / range_k| * exp(-dist) drops below 1e-13: most candidate edges join far-apart
    // detections, and this saves two of the five exp calls per edge. The change in the
    // logit is < 1e-13 (p changes by < 3e-14).
    double cutoff[2];
    for (int q = 0; q < 2; ++q) {
      const double g = std::fabs(wt[kExpDistFwd + q] * inv_range[kExpDistFwd + q]);
      cutoff[q] = g > 0.0 ? std::log(g) + 30.0 : 0.0;  // exp(-30) < 1e-13
    }
    // Structure of arrays for the b side, so that the inner loop over d2 vectorises.
    const std::size_t nb = gb.size();
    for (auto* v : {&bx, &by, &x2, &y2, &u2, &v2, &dist_f, &dist_b, &zpart}) v->resize(nb);
    for (std::size_t q = 0; q < nb; ++q) {
      const float* o = read_offset(det, pairwise, nj, gb[q], a);
      bx[q] = o[0];
      by[q] = o[1];
      x2[q] = det.xy.data[2 * gb[q]];
      y2[q] = det.xy.data[2 * gb[q] + 1];
      origin_of(det, gb[q], origin, u2[q], v2[q]);
    }
    LogitParams lp;
    lp.bias = wt[kBias];
    for (std::int64_t k = 0; k < kNumPairwiseFeatures; ++k) {
      lp.sc[k] = wt[k] * inv_range[k];
      lp.mn[k] = mn[k];
    }
    for (std::int64_t d1 : ga) {
      const float* oab = read_offset(det, pairwise, nj, d1, b);
      const double px1 = det.xy.data[2 * d1], py1 = det.xy.data[2 * d1 + 1];
      double x1, y1;
      origin_of(det, d1, origin, x1, y1);
      partial_logits(nb, oab[0], oab[1], x1, y1, px1, py1, bx.data(), by.data(), x2.data(), y2.data(), u2.data(),
                     v2.data(), lp, dist_f.data(), dist_b.data(), zpart.data());
      for (std::size_t q = 0; q < nb; ++q) {
        const double ef = dist_f[q] < cutoff[0] ? std::exp(-dist_f[q]) : 0.0;
        const double eb = dist_b[q] < cutoff[1] ? std::exp(-dist_b[q]) : 0.0;
        const double z = zpart[q] + lp.sc[kExpDistFwd] * (ef - mn[kExpDistFwd]) + lp.sc[kExpDistBwd] * (eb - mn[kExpDistBwd]);
        const std::int64_t d2 = gb[q];
        out.edges[2 * e] = std::min(d1, d2);
        out.edges[2 * e + 1] = std::max(d1, d2);
        out.prob[e] = 1.0 / (1.0 + std::exp(-z));
        out.same_joint[e] = 0;
        out.pair_index[e] = p;
        ++e;
      }
    }
  }
  if (same_joint.enabled) {
    for (const auto& g : groups) {
      for (std::size_t u = 0; u < g.size(); ++u) {
        const double x1 = det.xy.data[2 * g[u]], y1 = det.xy.data[2 * g[u] + 1];
        for (std::size_t v = u + 1; v < g.size(); ++v) {
          const double d = std::hypot(det.xy.data[2 * g[v]] - x1, det.xy.data[2 * g[v] + 1] - y1);
          out.edges[2 * e] = g[u];
          out.edges[2 * e + 1] = g[v];
          out.prob[e] = 1.0 / (1.0 + std::exp(same_joint.slope * d - same_joint.offset));
          out.same_joint[e] = 1;
          out.pair_index[e] = -1;
          ++e;
        }
      }
    }
  }
  (void)n;
  (void)e;
  return out;
}

}  // namespace arttrack
