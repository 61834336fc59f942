#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "arttrack/peaks.hpp"
#include "check.hpp"

using arttrack::LocrefMapView;
using arttrack::PeakParams;
using arttrack::ScoreMapView;

namespace {

struct Ref {
  std::int32_t part;
  std::int64_t row, col;
  float score;
};

// Straightforward definition: full sort per channel, compare with every kept cell.
std::vector<Ref> brute_force(const std::vector<float>& m, std::int64_t h, std::int64_t w, std::int64_t nj,
                             std::int64_t r, double min_score) {
  std::vector<Ref> out;
  for (std::int64_t j = 0; j < nj; ++j) {
    std::vector<std::int64_t> idx(static_cast<std::size_t>(h * w));
    for (std::int64_t i = 0; i < h * w; ++i) idx[static_cast<std::size_t>(i)] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](std::int64_t a, std::int64_t b) {
      return m[static_cast<std::size_t>(a * nj + j)] > m[static_cast<std::size_t>(b * nj + j)];
    });
    std::vector<Ref> kept;
    for (std::int64_t i : idx) {
      const float s = m[static_cast<std::size_t>(i * nj + j)];
      if (!(static_cast<double>(s) >= min_score)) continue;
      bool ok = true;
      for (const Ref& k : kept) {
        const double d = std::hypot(static_cast<double>(k.row - i / w), static_cast<double>(k.col - i % w));
        if (d <= static_cast<double>(r)) ok = false;
      }
      if (ok) kept.push_back({static_cast<std::int32_t>(j), i / w, i % w, s});
    }
    out.insert(out.end(), kept.begin(), kept.end());
  }
  return out;
}

void compare(const std::vector<float>& m, std::int64_t h, std::int64_t w, std::int64_t nj, std::int64_t r,
             double min_score) {
  ScoreMapView s{m.data(), {h, w, nj}};
  PeakParams p;
  p.nms_radius = r;
  p.min_score = min_score;
  const auto got = arttrack::find_peaks(s, LocrefMapView{}, p);
  const auto want = brute_force(m, h, w, nj, r, min_score);
  CHECK(got.size() == static_cast<std::int64_t>(want.size()));
  for (std::size_t q = 0; q < want.size(); ++q) {
    CHECK(got.part[q] == want[q].part);
    CHECK(got.cell[2 * q] == want[q].row);
    CHECK(got.cell[2 * q + 1] == want[q].col);
    CHECK(got.score[q] == want[q].score);
    CHECK_NEAR(got.xy[2 * q], want[q].col * 8.0 + 4.0, 1e-4);
    CHECK_NEAR(got.xy[2 * q + 1], want[q].row * 8.0 + 4.0, 1e-4);
  }
}

}  // namespace

ARTTRACK_TEST(random_maps_match_brute_force) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int t = 0; t < 40; ++t) {
    const std::int64_t h = 1 + t % 13, w = 1 + (t * 7) % 17, nj = 1 + t % 4;
    std::vector<float> m(static_cast<std::size_t>(h * w * nj));
    // Quantised scores make many ties.
    for (auto& v : m) v = (t % 2) ? std::floor(u(rng) * 4.f) / 4.f : u(rng);
    for (std::int64_t r : {0, 1, 2, 5, 40}) compare(m, h, w, nj, r, (t % 3) * 0.25);
  }
}

ARTTRACK_TEST(many_peaks_switch_to_grid) {
  // Radius 1 and min_score 0 on a noisy map: hundreds of kept peaks per channel.
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const std::int64_t h = 40, w = 50, nj = 3;
  std::vector<float> m(static_cast<std::size_t>(h * w * nj));
  for (auto& v : m) v = std::floor(u(rng) * 8.f) / 8.f;
  for (std::int64_t r : {1, 2, 3}) compare(m, h, w, nj, r, 0.0);
  std::fill(m.begin(), m.end(), 0.5f);  // one plateau: every tie resolved by row-major order
  compare(m, h, w, nj, 2, 0.0);
}

// Blob maps like a network's: hundreds of cells >= min_score per channel, so that the
// candidates are grouped by score bucket; near-ties inside one bucket, scores above 1, a
// negative threshold and signed zeros; radii whose disks span several words of the
// suppression bit set (W > 64, r >= 32).
ARTTRACK_TEST(blob_maps_match_brute_force) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  struct Case {
    std::int64_t h, w, nj;
    int mode;
    double min_score;
    std::vector<std::int64_t> radii;
  };
  const Case cases[] = {
      {30, 40, 5, 0, 0.2, {0, 1, 3, 5, 9}},   {20, 150, 2, 0, 0.2, {5, 32, 33, 70, 200}},
      {25, 30, 3, 1, 0.3, {1, 2, 5}},          {25, 30, 3, 2, -0.5, {1, 4, 7}},
      {25, 30, 3, 3, 0.0, {0, 2, 6}},          {9, 70, 2, 0, 0.2, {64, 65}}};
  for (const Case& c : cases) {
    std::vector<float> m(static_cast<std::size_t>(c.h * c.w * c.nj));
    for (auto& v : m) v = 0.15f * u(rng);
    for (std::int64_t j = 0; j < c.nj; ++j) {
      for (int b = 0; b < 12; ++b) {
        const float cy = u(rng) * static_cast<float>(c.h), cx = u(rng) * static_cast<float>(c.w);
        const float peak = 0.5f + 0.45f * u(rng);
        for (std::int64_t y = 0; y < c.h; ++y)
          for (std::int64_t x = 0; x < c.w; ++x) {
            const float d2 = (static_cast<float>(y) - cy) * (static_cast<float>(y) - cy) +
                             (static_cast<float>(x) - cx) * (static_cast<float>(x) - cx);
            float& v = m[static_cast<std::size_t>((y * c.w + x) * c.nj + j)];
            v = std::max(v, peak * std::exp(-d2 / (2 * 2.25f)));
          }
      }
    }
    for (auto& v : m) {
      if (c.mode == 1) v = 0.3f + 1e-7f * std::floor(v * 8.f);  // near-ties: one bucket
      if (c.mode == 2) v = (v - 0.3f) * 4.f;                    // negative and > 1
      if (c.mode == 3) v = v < 0.2f ? (u(rng) < 0.5f ? -0.0f : 0.0f) : std::floor(v * 4.f) / 4.f;
    }
    for (std::int64_t r : c.radii) compare(m, c.h, c.w, c.nj, r, c.min_score);
  }
}

ARTTRACK_TEST(locref_applied) {
  const std::int64_t h = 3, w = 4, nj = 2;
  std::vector<float> m(static_cast<std::size_t>(h * w * nj), 0.f), l(static_cast<std::size_t>(h * w * nj * 2), 0.f);
  m[(1 * w + 2) * nj + 1] = 0.9f;  // joint 1 at row 1, col 2
  l[((1 * w + 2) * nj + 1) * 2 + 0] = 0.5f;
  l[((1 * w + 2) * nj + 1) * 2 + 1] = -1.0f;
  PeakParams p;
  p.stride = 8.0;
  p.locref_stdev = 2.0;
  const auto got = arttrack::find_peaks(ScoreMapView{m.data(), {h, w, nj}}, LocrefMapView{l.data(), {h, w, nj, 2}}, p);
  CHECK(got.size() == 1);
  CHECK(got.part[0] == 1);
  CHECK_NEAR(got.xy[0], 2 * 8 + 4 + 1.0, 1e-6);
  CHECK_NEAR(got.xy[1], 1 * 8 + 4 - 2.0, 1e-6);
  float pose[6];
  arttrack::argmax_pose(ScoreMapView{m.data(), {h, w, nj}}, LocrefMapView{l.data(), {h, w, nj, 2}}, 8.0, 2.0, pose);
  CHECK_NEAR(pose[0], 4.0, 1e-6);  // joint 0: all zeros -> first cell
  CHECK_NEAR(pose[1], 4.0, 1e-6);
  CHECK_NEAR(pose[2], 0.0, 1e-6);
  CHECK_NEAR(pose[3], 21.0, 1e-6);
  CHECK_NEAR(pose[4], 10.0, 1e-6);
  CHECK_NEAR(pose[5], 0.9, 1e-6);
}

ARTTRACK_TEST(bad_input_throws) {
  std::vector<float> m(12, 0.5f);
  ScoreMapView s{m.data(), {2, 3, 2}};
  PeakParams p;
  p.nms_radius = -1;
  CHECK_THROWS(arttrack::find_peaks(s, LocrefMapView{}, p), std::invalid_argument);
  p = PeakParams{};
  p.stride = 0.0;
  CHECK_THROWS(arttrack::find_peaks(s, LocrefMapView{}, p), std::invalid_argument);
  p = PeakParams{};
  p.min_score = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS(arttrack::find_peaks(s, LocrefMapView{}, p), std::invalid_argument);
  std::vector<float> l(24, 0.f);
  CHECK_THROWS(arttrack::find_peaks(s, LocrefMapView{l.data(), {2, 3, 1, 2}}, PeakParams{}), std::invalid_argument);
  m[7] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS(arttrack::find_peaks(s, LocrefMapView{}, PeakParams{}), std::invalid_argument);
  m[7] = std::numeric_limits<float>::infinity();
  CHECK_THROWS(arttrack::find_peaks(s, LocrefMapView{}, PeakParams{}), std::invalid_argument);
  m[7] = 0.5f;
  l[0] = std::numeric_limits<float>::quiet_NaN();  // read at the kept cell (0, 0, 0)
  CHECK_THROWS(arttrack::find_peaks(s, LocrefMapView{l.data(), {2, 3, 2, 2}}, PeakParams{}), std::invalid_argument);
  float pose[6];
  CHECK_THROWS(arttrack::argmax_pose(ScoreMapView{m.data(), {0, 3, 2}}, LocrefMapView{}, 8.0, 7.28, pose),
               std::invalid_argument);
}

ARTTRACK_TEST(empty_and_threshold_edges) {
  std::vector<float> m(12, 0.2f);
  PeakParams p;
  p.min_score = 0.2;  // float(0.2) > 0.2: every cell is >= min_score
  auto got = arttrack::find_peaks(ScoreMapView{m.data(), {2, 3, 2}}, LocrefMapView{}, p);
  CHECK(got.size() == 2);
  p.min_score = 0.9;
  got = arttrack::find_peaks(ScoreMapView{m.data(), {2, 3, 2}}, LocrefMapView{}, p);
  CHECK(got.size() == 0);
  got = arttrack::find_peaks(ScoreMapView{nullptr, {0, 3, 2}}, LocrefMapView{}, PeakParams{});
  CHECK(got.size() == 0);
}

ARTTRACK_TEST_MAIN()
