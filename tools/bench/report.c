/*
 * The end-of-run report: ops/s, hit ratio, latency percentiles per request
 * kind, errors by cause and the server-counter check, as text or JSON on
 * stdout. Runs on the main thread after the workers have ended.
 */
#include <stdio.h>

#include "bench.h"

static const double pcts[] = {50, 90, 99, 99.9};
static const char *const pct_names[] = {"p50", "p90", "p99", "p99_9"};

uint64_t report_errors(const struct bench_counts *c)
{
    return c->err_status + c->err_closed + c->err_timeout + c->err_protocol;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static double hit_ratio(const struct bench_counts *c)
{
    return c->gets ? (double)c->hits / (double)c->gets : 0.0;
}

static void text_lat(const char *name, const struct hist *h)
{
    if (h->count == 0)
        return;
    printf("  %-4s %10llu %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", name,
           (unsigned long long)h->count, us((uint64_t)hist_mean(h)), us(hist_percentile(h, 50)),
           us(hist_percentile(h, 90)), us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)),
           us(h->max));
}

static void print_text(const struct bench_opts *o, const struct bench_result *r)
{
    const struct bench_counts *c = &r->c;
    printf("basalt-bench: %s, %u server(s), %u threads x %u conns, %s", opts_proto_name(o->proto),
           o->nservers, o->threads, o->conns * o->nservers,
           o->rate > 0 ? "open loop" : "closed loop");
    if (o->rate > 0)
        printf(" at %.0f req/s\n", o->rate);
    else
        printf(", pipeline %u\n", o->pipeline);
    printf("ops        %llu in %.3f s: %.0f ops/s (gets %llu, sets %llu, requests %llu)\n",
           (unsigned long long)c->ops, r->elapsed_s,
           r->elapsed_s > 0 ? (double)c->ops / r->elapsed_s : 0.0, (unsigned long long)c->gets,
           (unsigned long long)c->sets, (unsigned long long)c->reqs);
    printf("hit ratio  %.4f (hits %llu, misses %llu)%s\n", hit_ratio(c),
           (unsigned long long)c->hits, (unsigned long long)c->misses,
           o->prefill ? "" : ", no --prefill");
    printf("latency us %10s %9s %9s %9s %9s %9s %9s\n", "count", "mean", "p50", "p90", "p99",
           "p99.9", "max");
    text_lat("get", r->get);
    text_lat("set", r->set);
    text_lat("all", r->all);
    printf("errors     %llu (status %llu, closed %llu, timeout %llu, protocol %llu), "
           "connections lost %llu\n",
           (unsigned long long)report_errors(c), (unsigned long long)c->err_status,
           (unsigned long long)c->err_closed, (unsigned long long)c->err_timeout,
           (unsigned long long)c->err_protocol, (unsigned long long)c->conns_lost);
    if (r->stats_checked)
        printf("server     cmd_get+cmd_set grew by %llu, client sent %llu: %s\n",
               (unsigned long long)r->server_delta, (unsigned long long)r->client_total,
               r->stats_agree ? "agree" : "DISAGREE");
    else
        printf("server     counts not checked: %s\n", r->stats_note);
}

static void json_lat(const char *name, const struct hist *h, bool last)
{
    printf("\"%s\":{\"count\":%llu,\"mean\":%.1f", name, (unsigned long long)h->count,
           us((uint64_t)hist_mean(h)));
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
        printf(",\"%s\":%.1f", pct_names[i], us(hist_percentile(h, pcts[i])));
    printf(",\"max\":%.1f}%s", us(h->max), last ? "" : ",");
}

static void print_json(const struct bench_opts *o, const struct bench_result *r)
{
    const struct bench_counts *c = &r->c;
    printf("{\"protocol\":\"%s\",\"servers\":%u,\"threads\":%u,\"conns\":%u,\"pipeline\":%u,"
           "\"rate\":%.1f,\"multiget\":%u,",
           opts_proto_name(o->proto), o->nservers, o->threads, o->conns * o->nservers, o->pipeline,
           o->rate, o->multiget);
    printf("\"elapsed_s\":%.4f,\"ops\":%llu,\"ops_per_sec\":%.1f,\"requests\":%llu,"
           "\"gets\":%llu,\"sets\":%llu,\"hits\":%llu,\"misses\":%llu,\"hit_ratio\":%.4f,"
           "\"prefill_sets\":%llu,",
           r->elapsed_s, (unsigned long long)c->ops,
           r->elapsed_s > 0 ? (double)c->ops / r->elapsed_s : 0.0, (unsigned long long)c->reqs,
           (unsigned long long)c->gets, (unsigned long long)c->sets, (unsigned long long)c->hits,
           (unsigned long long)c->misses, hit_ratio(c), (unsigned long long)c->prefill_sets);
    printf("\"errors\":{\"total\":%llu,\"status\":%llu,\"closed\":%llu,\"timeout\":%llu,"
           "\"protocol\":%llu,\"conns_lost\":%llu},",
           (unsigned long long)report_errors(c), (unsigned long long)c->err_status,
           (unsigned long long)c->err_closed, (unsigned long long)c->err_timeout,
           (unsigned long long)c->err_protocol, (unsigned long long)c->conns_lost);
    printf("\"latency_us\":{");
    json_lat("get", r->get, false);
    json_lat("set", r->set, false);
    json_lat("all", r->all, true);
    printf("},\"stats_check\":{\"checked\":%s,\"agree\":%s,\"server_delta\":%llu,"
           "\"client\":%llu}}\n",
           r->stats_checked ? "true" : "false", r->stats_agree ? "true" : "false",
           (unsigned long long)r->server_delta, (unsigned long long)r->client_total);
}

void report_print(const struct bench_opts *o, const struct bench_result *r)
{
    if (o->json)
        print_json(o, r);
    else
        print_text(o, r);
    fflush(stdout);
}
