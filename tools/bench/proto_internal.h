/* Reply parsers of the line protocols, shared by proto.c and proto_text.c. Worker thread. */
#ifndef BASALT_TOOLS_BENCH_PROTO_INTERNAL_H
#define BASALT_TOOLS_BENCH_PROTO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct bench_conn;

/* Same contract as proto_parse: one reply line (and its data) per call. */
long proto_parse_text(struct bench_conn *c, const uint8_t *in, size_t n, uint64_t now);
long proto_parse_meta(struct bench_conn *c, const uint8_t *in, size_t n, uint64_t now);

#endif
