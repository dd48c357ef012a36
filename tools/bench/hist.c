/*
 * Log-linear histogram: index arithmetic, recording, merging and percentile
 * queries. Pure data structure; each instance is used by one thread at a time.
 */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

size_t hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (size_t)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    /* (v >> shift) is in [HIST_SUB, 2 * HIST_SUB): the position inside the octave. */
    return (size_t)shift * HIST_SUB + (size_t)(v >> shift);
}

uint64_t hist_bucket_low(size_t i)
{
    if (i < 2 * HIST_SUB)
        return i;
    size_t shift = i / HIST_SUB - 1;
    uint64_t mant = i - shift * HIST_SUB;
    return mant << shift;
}

uint64_t hist_bucket_width(size_t i)
{
    if (i < 2 * HIST_SUB)
        return 1;
    return (uint64_t)1 << (i / HIST_SUB - 1);
}

void hist_record(struct hist *h, uint64_t v)
{
    h->buckets[hist_index(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->count == 0)
        return;
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    double want = ceil(p / 100.0 * (double)h->count);
    uint64_t rank = want < 1.0 ? 1 : (uint64_t)want;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen < rank)
            continue;
        uint64_t v = hist_bucket_low(i) + hist_bucket_width(i) / 2;
        if (v < h->min)
            v = h->min;
        if (v > h->max)
            v = h->max;
        return v;
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}
