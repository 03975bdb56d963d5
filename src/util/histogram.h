// LatencyHistogram: lock-free latency percentiles for the hot paths.
//
// Buckets are log-linear: 8 per power of two of nanoseconds (about 9% wide), so percentiles
// are within a bucket of the truth from 1 ns to hours. Recording is one relaxed atomic add;
// callers time only a sample of operations (Options::latency_sample_every).

#ifndef BITCASK_UTIL_HISTOGRAM_H_
#define BITCASK_UTIL_HISTOGRAM_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

#include "bitcask/stats.h"

namespace bitcask::util {

class LatencyHistogram {
 public:
  void Record(uint64_t nanos) {
    buckets_[Bucket(nanos)].fetch_add(1, std::memory_order_relaxed);
    uint64_t seen = max_.load(std::memory_order_relaxed);
    while (nanos > seen && !max_.compare_exchange_weak(seen, nanos, std::memory_order_relaxed)) {
    }
  }

  LatencyStats Summary() const {
    std::array<uint64_t, kBuckets> counts;
    uint64_t total = 0;
    for (size_t i = 0; i < kBuckets; i++) {
      counts[i] = buckets_[i].load(std::memory_order_relaxed);
      total += counts[i];
    }
    LatencyStats out;
    out.samples = total;
    if (total == 0) return out;
    out.max_us = max_.load(std::memory_order_relaxed) / 1000.0;
    // A bucket's upper edge can lie past every sample in it; no percentile is above the
    // maximum. (A sample recorded since the counts were read may raise the maximum, never
    // lower it.)
    out.p50_us = std::min(Percentile(counts, total, 0.50), out.max_us);
    out.p99_us = std::min(Percentile(counts, total, 0.99), out.max_us);
    out.p999_us = std::min(Percentile(counts, total, 0.999), out.max_us);
    return out;
  }

 private:
  static constexpr unsigned kSubBits = 3;  // 8 buckets per power of two
  static constexpr size_t kBuckets = 64 << kSubBits;

  static size_t Bucket(uint64_t v) {
    if (v < (1u << kSubBits)) return static_cast<size_t>(v);
    const unsigned exp = 63 - std::countl_zero(v);  // v in [2^exp, 2^(exp+1))
    const uint64_t sub = (v >> (exp - kSubBits)) & ((1u << kSubBits) - 1);
    return ((exp - kSubBits + 1) << kSubBits) + sub;
  }
  // Upper edge of a bucket, in nanoseconds.
  static double BucketLimit(size_t b) {
    if (b < (1u << kSubBits)) return double(b + 1);
    const unsigned exp = static_cast<unsigned>(b >> kSubBits) + kSubBits - 1;
    const uint64_t sub = b & ((1u << kSubBits) - 1);
    return double((uint64_t{1} << exp) + ((sub + 1) << (exp - kSubBits)));
  }
  static double Percentile(const std::array<uint64_t, kBuckets>& counts, uint64_t total, double p) {
    const uint64_t rank = static_cast<uint64_t>(p * double(total - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; i++) {
      seen += counts[i];
      if (seen >= rank) return BucketLimit(i) / 1000.0;
    }
    return BucketLimit(kBuckets - 1) / 1000.0;
  }

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> max_{0};
};

}  // namespace bitcask::util

#endif  // BITCASK_UTIL_HISTOGRAM_H_
