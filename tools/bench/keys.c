/*
 * Random numbers, zipf sampling, key names and the consistent-hashing ring.
 * The ring and zipf table are built on the main thread before the workers
 * start; rng_* and zipf_sample run on each worker thread with its own rng.
 */
#include "keys.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    r->s[0] = splitmix64(&seed);
    r->s[1] = splitmix64(&seed);
    if ((r->s[0] | r->s[1]) == 0)
        r->s[0] = 1;
}

/* xoroshiro128+ */
uint64_t rng_next(struct rng *r)
{
    uint64_t s0 = r->s[0], s1 = r->s[1];
    uint64_t out = s0 + s1;
    s1 ^= s0;
    r->s[0] = ((s0 << 24) | (s0 >> 40)) ^ s1 ^ (s1 << 16);
    r->s[1] = (s1 << 37) | (s1 >> 27);
    return out;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
    /* Multiply-shift: the bias is below 2^-32 for any n we use. */
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

int zipf_init(struct zipf *z, uint64_t n, double s)
{
    z->n = n;
    z->cdf = malloc(n * sizeof(double));
    if (!z->cdf)
        return -1;
    double sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += 1.0 / pow((double)(i + 1), s);
        z->cdf[i] = sum;
    }
    for (uint64_t i = 0; i < n; i++)
        z->cdf[i] /= sum;
    z->cdf[n - 1] = 1.0;
    return 0;
}

void zipf_deinit(struct zipf *z)
{
    free(z->cdf);
    z->cdf = NULL;
}

uint64_t zipf_sample(const struct zipf *z, struct rng *r)
{
    double u = rng_unit(r);
    uint64_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

size_t key_name(char *buf, size_t cap, const char *prefix, size_t prefix_len, uint64_t i)
{
    char digits[24];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    if (prefix_len + nd > cap)
        return 0;
    memcpy(buf, prefix, prefix_len);
    for (size_t k = 0; k < nd; k++)
        buf[prefix_len + k] = digits[nd - 1 - k];
    return prefix_len + nd;
}

static int point_cmp(const void *a, const void *b)
{
    const struct ring_point *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->server < y->server ? -1 : (x->server > y->server);
}

int ring_init(struct ring *g, const char *const *names, unsigned nservers)
{
    g->npoints = (size_t)nservers * RING_POINTS_PER_SERVER;
    g->points = malloc(g->npoints * sizeof(*g->points));
    if (!g->points)
        return -1;
    size_t k = 0;
    for (unsigned s = 0; s < nservers; s++) {
        for (unsigned j = 0; j < RING_POINTS_PER_SERVER; j++) {
            char label[300];
            int n = snprintf(label, sizeof(label), "%s-%u", names[s], j);
            g->points[k].hash = (uint32_t)hash_key(label, (size_t)n);
            g->points[k].server = s;
            k++;
        }
    }
    qsort(g->points, g->npoints, sizeof(*g->points), point_cmp);
    return 0;
}

void ring_deinit(struct ring *g)
{
    free(g->points);
    g->points = NULL;
    g->npoints = 0;
}

unsigned ring_lookup(const struct ring *g, const void *key, size_t klen)
{
    uint32_t h = (uint32_t)hash_key(key, klen);
    size_t lo = 0, hi = g->npoints;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->points[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return g->points[lo == g->npoints ? 0 : lo].server;
}
