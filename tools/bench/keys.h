/*
 * Key space of the load generator: a per-thread random generator, the key
 * distributions (uniform, zipf), key names, and the ketama-style ring that
 * maps a key to a server. The ring and the zipf table are built by the main
 * thread and read-only afterwards; a struct rng belongs to one thread.
 */
#ifndef BASALT_TOOLS_BENCH_KEYS_H
#define BASALT_TOOLS_BENCH_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* xoshiro-style generator state (splitmix64 seeded). */
struct rng {
    uint64_t s[2];
};

/* Seeds *r from seed. */
void rng_seed(struct rng *r, uint64_t seed);

/* Returns 64 random bits. */
uint64_t rng_next(struct rng *r);

/* Returns a value uniform in [0, n) (n > 0). */
uint64_t rng_below(struct rng *r, uint64_t n);

/* Returns a double uniform in [0, 1). */
double rng_unit(struct rng *r);

/* Zipf over ranks 0..n-1 with exponent s: a cumulative table, searched by bisection. */
struct zipf {
    uint64_t n;
    double *cdf; /* n entries, cdf[n-1] == 1; owned */
};

/* Builds the table for n ranks (n > 0, s > 0). 0, or -1 when out of memory. */
int zipf_init(struct zipf *z, uint64_t n, double s);

/* Frees the table. */
void zipf_deinit(struct zipf *z);

/* Returns a rank: 0 is the most popular. */
uint64_t zipf_sample(const struct zipf *z, struct rng *r);

/* Writes the name of key i (prefix then decimal i) into buf; returns its length. */
size_t key_name(char *buf, size_t cap, const char *prefix, size_t prefix_len, uint64_t i);

/* Points each server gets on the ring (ketama uses 160). */
#define RING_POINTS_PER_SERVER 160

struct ring_point {
    uint32_t hash;
    uint32_t server;
};

/* A consistent-hashing ring over servers named "host:port". */
struct ring {
    struct ring_point *points; /* sorted by hash; owned */
    size_t npoints;
};

/* Builds the ring: point j of server s sits at hash("name-j"). 0, or -1 when out of memory. */
int ring_init(struct ring *g, const char *const *names, unsigned nservers);

/* Frees the ring. */
void ring_deinit(struct ring *g);

/* Returns the server of a key: the first point at or after the key's hash, wrapping. */
unsigned ring_lookup(const struct ring *g, const void *key, size_t klen);

#endif
