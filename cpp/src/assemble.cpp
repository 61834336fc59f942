#include "arttrack/assemble.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace arttrack {

People assemble(const ArrayView<std::int32_t, 1>& part, const ArrayView<float, 2>& xy,
                const ArrayView<float, 1>& score, const ArrayView<bool, 1>& active,
                const ArrayView<std::int64_t, 1>& cluster, std::int64_t num_joints, std::int64_t min_joints,
                double merge_radius) {
  const std::int64_t n = part.shape[0];
  if (num_joints < 1 || num_joints > (1 << 20)) throw std::invalid_argument("num_joints must be in [1, 2^20]");
  if (min_joints < 0) throw std::invalid_argument("min_joints must be >= 0");
  if (!(merge_radius >= 0.0)) throw std::invalid_argument("merge_radius must be >= 0 (infinity allowed)");
  if (n < 0) throw std::invalid_argument("peaks.part has a negative dimension");
  if (xy.shape[0] != n || xy.shape[1] != 2) throw std::invalid_argument("peaks.xy must have shape (N, 2)");
  if (score.shape[0] != n) throw std::invalid_argument("peaks.score must have shape (N,)");
  if (active.shape[0] != n) throw std::invalid_argument("active must have shape (N,) with N = " + std::to_string(n));
  if (cluster.shape[0] != n)
    throw std::invalid_argument("cluster must have shape (N,) with N = " + std::to_string(n));
  if (n > 0 && (!part.data || !xy.data || !score.data || !active.data || !cluster.data))
    throw std::invalid_argument("assemble: missing data");

  std::vector<std::pair<std::int64_t, std::int64_t>> members;  // (cluster id, detection)
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t j = part.data[i];
    if (j < 0 || j >= num_joints)
      throw std::invalid_argument("peaks.part[" + std::to_string(i) + "] = " + std::to_string(j) +
                                  " is outside [0, num_joints=" + std::to_string(num_joints) + ")");
    if (!active.data[i]) continue;
    if (!std::isfinite(xy.data[2 * i]) || !std::isfinite(xy.data[2 * i + 1]) || !std::isfinite(score.data[i]))
      throw std::invalid_argument("active detection " + std::to_string(i) + " has a non-finite peaks.xy or peaks.score");
    members.emplace_back(cluster.data[i], i);
  }
  std::sort(members.begin(), members.end());

  People out;
  out.num_joints = num_joints;
  const auto nj = static_cast<std::size_t>(num_joints);
  std::vector<std::int64_t> best(nj);  // per joint: index of the best detection, -1 if none
  std::vector<double> sw(nj), sx(nj), sy(nj), ux(nj), uy(nj), cnt(nj);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const double r2 = merge_radius * merge_radius;  // inf stays inf
  std::size_t b = 0;
  while (b < members.size()) {
    std::size_t e = b;
    while (e < members.size() && members[e].first == members[b].first) ++e;
    std::fill(best.begin(), best.end(), -1);
    for (std::size_t q = b; q < e; ++q) {  // members are in detection order within a cluster
      const std::int64_t i = members[q].second;
      const auto j = static_cast<std::size_t>(part.data[i]);
      if (best[j] < 0 || score.data[i] > score.data[best[j]]) best[j] = i;
    }
    std::int64_t detected = 0;
    for (std::size_t j = 0; j < nj; ++j) detected += best[j] >= 0;
    if (detected < min_joints) {
      b = e;
      continue;
    }
    std::fill(sw.begin(), sw.end(), 0.0);
    std::fill(sx.begin(), sx.end(), 0.0);
    std::fill(sy.begin(), sy.end(), 0.0);
    std::fill(ux.begin(), ux.end(), 0.0);
    std::fill(uy.begin(), uy.end(), 0.0);
    std::fill(cnt.begin(), cnt.end(), 0.0);
    for (std::size_t q = b; q < e; ++q) {
      const std::int64_t i = members[q].second;
      const auto j = static_cast<std::size_t>(part.data[i]);
      const std::int64_t k = best[j];
      const double x = xy.data[2 * i], y = xy.data[2 * i + 1];
      const double dx = x - xy.data[2 * k], dy = y - xy.data[2 * k + 1];
      if (i != k && !(dx * dx + dy * dy <= r2)) continue;
      const double s = score.data[i];
      sw[j] += s;
      sx[j] += s * x;
      sy[j] += s * y;
      ux[j] += x;
      uy[j] += y;
      cnt[j] += 1.0;
    }
    out.cluster.push_back(members[b].first);
    for (std::size_t j = 0; j < nj; ++j) {
      if (best[j] < 0) {
        out.joints.insert(out.joints.end(), {nan, nan, 0.0f});
        continue;
      }
      const float s = score.data[best[j]];
      if (cnt[j] == 1.0) {  // exact: the best detection alone
        out.joints.insert(out.joints.end(), {xy.data[2 * best[j]], xy.data[2 * best[j] + 1], s});
      } else if (sw[j] > 0) {
        out.joints.insert(out.joints.end(),
                          {static_cast<float>(sx[j] / sw[j]), static_cast<float>(sy[j] / sw[j]), s});
      } else {
        out.joints.insert(out.joints.end(),
                          {static_cast<float>(ux[j] / cnt[j]), static_cast<float>(uy[j] / cnt[j]), s});
      }
    }
    b = e;
  }
  return out;
}

}  // namespace arttrack
