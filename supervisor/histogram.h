// Histogram: a Prometheus "classic" histogram with fixed bucket bounds, counted on
// the core loop (one Observe per turn end, turn start or journal sync) and rendered
// by metrics.cc as cumulative `_bucket{le=...}` lines, `_sum` and `_count`.
//
// Contract: bounds are ascending upper bounds in the unit of the observations
// (seconds here); an implicit +Inf bucket follows them. Observe is O(buckets),
// allocates nothing, and never fails: NaN and negative values count in the first
// bucket (a clock step must not lose a turn from the count).
//
// Thread-safety: none; loop thread only.
#ifndef LANEWAY_SUPERVISOR_HISTOGRAM_H_
#define LANEWAY_SUPERVISOR_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace laneway::supervisor {

class Histogram {
 public:
  Histogram(std::initializer_list<double> upper_bounds)
      : bounds_(upper_bounds), counts_(bounds_.size() + 1, 0) {}

  void Observe(double v) {
    size_t i = 0;
    if (v == v && v > 0) {  // NaN and <= 0 land in bucket 0
      while (i < bounds_.size() && v > bounds_[i]) ++i;
      sum_ += v;
    }
    ++counts_[i];
    ++count_;
  }

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations <= bounds()[i], for i in [0, bounds().size()]; the last is +Inf.
  std::vector<uint64_t> Cumulative() const {
    std::vector<uint64_t> out(counts_.size());
    uint64_t running = 0;
    for (size_t i = 0; i < counts_.size(); ++i) out[i] = running += counts_[i];
    return out;
  }
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last = above every bound
  double sum_ = 0;
  uint64_t count_ = 0;
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_HISTOGRAM_H_
