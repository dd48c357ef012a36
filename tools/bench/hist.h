/*
 * A log-linear latency histogram (the HdrHistogram idea, written for basalt):
 * values below 256 have a bucket each; above, every power of two [2^m, 2^m+1)
 * is split into 128 equal buckets, so a bucket is at most 1/128 of its lower
 * bound wide and a reported value (the bucket's midpoint) is within 0.4 % of
 * any value recorded in it. Covers the whole uint64 range in 7424 buckets.
 * Not thread-safe: each thread records into its own and the main thread merges.
 */
#ifndef BASALT_TOOLS_BENCH_HIST_H
#define BASALT_TOOLS_BENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t buckets[HIST_BUCKETS];
};

/* Empties *h. */
void hist_init(struct hist *h);

/* Returns the bucket index of a value; pure. */
size_t hist_index(uint64_t v);

/* Returns the smallest value of bucket i, and its width; pure. */
uint64_t hist_bucket_low(size_t i);
uint64_t hist_bucket_width(size_t i);

/* Records one value. */
void hist_record(struct hist *h, uint64_t v);

/* Adds every value of src into dst. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * Returns the value at percentile p (0 < p <= 100): the midpoint of the bucket
 * holding the ceil(p% * count)-th smallest value, clamped to [min, max]; 100
 * returns max exactly. 0 for an empty histogram.
 */
uint64_t hist_percentile(const struct hist *h, double p);

/* Returns the mean of the recorded values (0 when empty). */
double hist_mean(const struct hist *h);

#endif
