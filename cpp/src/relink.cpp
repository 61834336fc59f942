// Costs of re-linking tracks at a frame boundary and within one frame (relink.hpp).
#include "arttrack/relink.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace arttrack {
namespace {

using Index = std::int64_t;
std::size_t sz(Index i) { return static_cast<std::size_t>(i); }

void validate(const TrackWindow& w, const char* name) {
  const std::string n(name);
  if (w.num_tracks < 0 || w.num_frames < 0)
    throw std::invalid_argument(n + ": num_tracks and num_frames must be >= 0");
  if (w.num_joints <= 0) throw std::invalid_argument(n + ": num_joints must be > 0");
  if (w.xy.size() != sz(w.num_tracks * w.num_frames * w.num_joints * 2))
    throw std::invalid_argument(n + ": xy must hold N*T*J*2 = " +
                                std::to_string(w.num_tracks * w.num_frames * w.num_joints * 2) +
                                " values, got " + std::to_string(w.xy.size()));
  if (w.time.size() != sz(w.num_frames))
    throw std::invalid_argument(n + ": time must hold one value per frame");
  for (double t : w.time)
    if (!std::isfinite(t)) throw std::invalid_argument(n + ": frame times must be finite");
  for (double v : w.xy)
    if (std::isinf(v)) throw std::invalid_argument(n + ": xy must be finite or NaN (missing)");
}

// The noise pooled from lines' residuals, px^2 per coordinate (relink.hpp).
double pooled_sigma2(double squared_residual, double dof) {
  return std::max(dof > 0.0 ? squared_residual / dof : 100.0, 1.0);
}

// One joint's evidence that two ends are one person: min(d^2 / (2 sigma^2 var) - link_cost, 0).
double joint_cost(double d2, double sigma2, double var, double link_cost) {
  return std::min(d2 / (2.0 * sigma2 * var) - link_cost, 0.0);
}

}  // namespace

LineEnds line_ends(const TrackWindow& w, double at) {
  validate(w, "line_ends");
  if (!std::isfinite(at)) throw std::invalid_argument("line_ends: at must be finite");
  const Index N = w.num_tracks, T = w.num_frames, J = w.num_joints;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  LineEnds e;
  e.xy.assign(sz(N * J * 2), nan);
  e.variance.assign(sz(N * J), nan);
  for (Index a = 0; a < N; ++a)
    for (Index j = 0; j < J; ++j) {
      auto at_xy = [&](Index k) { return &w.xy[sz(((a * T + k) * J + j) * 2)]; };
      auto seen = [&](Index k) { return !std::isnan(at_xy(k)[0]) && !std::isnan(at_xy(k)[1]); };
      Index n = 0;
      double st = 0.0, sx = 0.0, sy = 0.0;
      for (Index k = 0; k < T; ++k)
        if (seen(k)) {
          ++n;
          st += w.time[sz(k)];
          sx += at_xy(k)[0];
          sy += at_xy(k)[1];
        }
      if (n == 0) continue;
      const double nn = static_cast<double>(n);
      const double tbar = st / nn, mx = sx / nn, my = sy / nn;
      double* out = &e.xy[sz((a * J + j) * 2)];
      double& var = e.variance[sz(a * J + j)];
      if (n < 3) {
        out[0] = mx;
        out[1] = my;
        var = 1.0 / nn + 2.0;
        continue;
      }
      double sxx = 0.0, bx = 0.0, by = 0.0;
      for (Index k = 0; k < T; ++k)
        if (seen(k)) {
          const double d = w.time[sz(k)] - tbar;
          sxx += d * d;
          bx += d * at_xy(k)[0];
          by += d * at_xy(k)[1];
        }
      if (!(sxx > 0.0)) throw std::invalid_argument("line_ends: frame times of one side must differ");
      bx /= sxx;
      by /= sxx;
      out[0] = mx + bx * (at - tbar);
      out[1] = my + by * (at - tbar);
      var = 1.0 / nn + (at - tbar) * (at - tbar) / sxx;
      for (Index k = 0; k < T; ++k)
        if (seen(k)) {
          const double d = w.time[sz(k)] - tbar;
          const double rx = at_xy(k)[0] - (mx + bx * d), ry = at_xy(k)[1] - (my + by * d);
          e.squared_residual += rx * rx + ry * ry;
        }
      e.dof += 2.0 * (nn - 2.0);
    }
  return e;
}

RelinkCosts relink_costs(const TrackWindow& past, const TrackWindow& future, double at, double link_cost) {
  if (!(link_cost > 0.0) || !std::isfinite(link_cost))
    throw std::invalid_argument("relink_costs: link_cost must be finite and > 0");
  if (past.num_joints != future.num_joints)
    throw std::invalid_argument("relink_costs: both sides must have the same number of joints");
  const LineEnds l = line_ends(past, at), r = line_ends(future, at);
  const Index L = past.num_tracks, R = future.num_tracks, J = past.num_joints;
  const double dof = l.dof + r.dof;
  RelinkCosts c;
  c.sigma2 = pooled_sigma2(l.squared_residual + r.squared_residual, dof);
  c.cost.assign(sz(L * R), 0.0);
  for (Index a = 0; a < L; ++a)
    for (Index b = 0; b < R; ++b) {
      double s = 0.0;
      for (Index j = 0; j < J; ++j) {
        const double* p = &l.xy[sz((a * J + j) * 2)];
        const double* q = &r.xy[sz((b * J + j) * 2)];
        if (std::isnan(p[0]) || std::isnan(q[0])) continue;
        const double d2 = (p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]);
        const double v = l.variance[sz(a * J + j)] + r.variance[sz(b * J + j)];
        s += joint_cost(d2, c.sigma2, v, link_cost);
      }
      c.cost[sz(a * R + b)] = s;
    }
  return c;
}

RelinkCosts frame_costs(const TrackWindow& around, const std::vector<double>& people, std::int64_t num_people,
                        double at, double link_cost) {
  if (!(link_cost > 0.0) || !std::isfinite(link_cost))
    throw std::invalid_argument("frame_costs: link_cost must be finite and > 0");
  const Index L = around.num_tracks, J = around.num_joints, P = num_people;
  if (P < 0 || people.size() != sz(P * J * 2))
    throw std::invalid_argument("frame_costs: people must hold P*J*2 = " + std::to_string(P * J * 2) +
                                " values, got " + std::to_string(people.size()));
  for (double v : people)
    if (std::isinf(v)) throw std::invalid_argument("frame_costs: people must be finite or NaN (missing)");
  const LineEnds e = line_ends(around, at);
  RelinkCosts c;
  c.sigma2 = pooled_sigma2(e.squared_residual, e.dof);
  c.cost.assign(sz(P * L), 0.0);
  for (Index p = 0; p < P; ++p)
    for (Index a = 0; a < L; ++a) {
      double s = 0.0;
      for (Index j = 0; j < J; ++j) {
        const double* x = &people[sz((p * J + j) * 2)];
        const double* q = &e.xy[sz((a * J + j) * 2)];
        if (std::isnan(x[0]) || std::isnan(x[1]) || std::isnan(q[0])) continue;
        const double d2 = (x[0] - q[0]) * (x[0] - q[0]) + (x[1] - q[1]) * (x[1] - q[1]);
        s += joint_cost(d2, c.sigma2, e.variance[sz(a * J + j)] + 1.0, link_cost);
      }
      c.cost[sz(p * L + a)] = s;
    }
  return c;
}

}  // namespace arttrack
