/*
 * Reading a parsed configuration back: the settings under memcached's
 * `stats settings` names, the frame limit, and listen addresses split into
 * host and port. Pure functions of a struct config; any thread (the config is
 * read-only once the server runs).
 */
#include "config/config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config/value.h"

size_t config_frame_limit(const struct config *c)
{
    return c->item_size_max + CONFIG_FRAME_OVERHEAD;
}

int config_listen_addr(const struct config *c, int i, char *host, size_t hostlen, int *port)
{
    const char *why;
    if (i < 0 || i >= c->nlisten)
        return -1;
    if (config_split_addr(c->listen[i], host, hostlen, port, &why) != 0)
        return -1;
    if (*port < 0)
        *port = c->port;
    return 0;
}

bool config_listen_tls(const struct config *c, int i)
{
    if (c->listen_tls[i] == CONFIG_TLS_DEFAULT)
        return c->ssl_enabled;
    return c->listen_tls[i] == CONFIG_TLS_ON;
}

bool config_tls_used(const struct config *c)
{
    for (int i = 0; i < c->nlisten; i++) {
        if (config_listen_tls(c, i))
            return true;
    }
    return false;
}

typedef void (*setting_fn)(void *ctx, const char *name, const char *value);

static void emit_number(setting_fn fn, void *ctx, const char *name, unsigned long long v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%llu", v);
    fn(ctx, name, buf);
}

static void emit_int(setting_fn fn, void *ctx, const char *name, int v)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", v);
    fn(ctx, name, buf);
}

/* A duration in seconds, as it is typed ("30", "0.5"). */
static void emit_duration(setting_fn fn, void *ctx, const char *name, int ms)
{
    char buf[24];
    config_format_duration(ms, buf, sizeof(buf));
    fn(ctx, name, buf);
}

void config_foreach(const struct config *c,
                    void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    /* Every address plus a separator fits: each is shorter than CONFIG_ADDR_LEN. */
    char inter[CONFIG_MAX_LISTEN * CONFIG_ADDR_LEN];
    size_t used = 0;
    inter[0] = '\0';
    for (int i = 0; i < c->nlisten; i++) {
        snprintf(inter + used, sizeof(inter) - used, "%s%s", i ? "," : "", c->listen[i]);
        used += strlen(inter + used);
    }

    /* memcached's names and order first, then basalt's own settings. */
    emit_number(fn, ctx, "maxbytes", c->memory_limit);
    emit_int(fn, ctx, "maxconns", c->maxconns);
    emit_int(fn, ctx, "tcpport", c->port);
    fn(ctx, "udpport", "0");
    fn(ctx, "inter", inter);
    emit_int(fn, ctx, "verbosity", c->verbose);
    fn(ctx, "evictions", "on");
    emit_int(fn, ctx, "num_threads", c->threads);
    emit_int(fn, ctx, "reqs_per_event", c->reqs_per_event);
    fn(ctx, "cas_enabled", "yes");
    /* memcached's names for -B. */
    bool is_auto = strcmp(c->protocol, "auto") == 0;
    fn(ctx, "binding_protocol", is_auto ? "auto-negotiate" : c->protocol);
    emit_number(fn, ctx, "item_size_max", c->item_size_max);
    emit_int(fn, ctx, "inbox_batch", c->inbox_batch);
    emit_number(fn, ctx, "send_buffer_threshold", c->send_buffer_threshold);
    emit_number(fn, ctx, "max_send_queue", c->max_send_queue);
    emit_duration(fn, ctx, "idle_timeout", c->idle_timeout_ms);
    emit_duration(fn, ctx, "read_timeout", c->read_timeout_ms);
    emit_duration(fn, ctx, "stuck_send_timeout", c->stuck_send_timeout_ms);
    emit_duration(fn, ctx, "shutdown_timeout", c->shutdown_timeout_ms);
    fn(ctx, "engine", c->engine);
    fn(ctx, "ssl_enabled", config_tls_used(c) ? "yes" : "no");
    fn(ctx, "ssl_chain_cert", c->ssl_chain_cert);
    fn(ctx, "ssl_key", c->ssl_key);
    fn(ctx, "ssl_ca_cert", c->ssl_ca_cert);
    emit_int(fn, ctx, "ssl_verify_mode", c->ssl_verify_mode);
    fn(ctx, "ssl_min_version", c->ssl_min_version);
    fn(ctx, "ssl_ciphers", c->ssl_ciphers);
    emit_int(fn, ctx, "ssl_handshake_timeout", c->ssl_handshake_timeout);
    fn(ctx, "auth_enabled_sasl", c->sasl_required ? "yes" : "no");
    fn(ctx, "sasl_users", c->sasl_users);
    emit_int(fn, ctx, "sasl_plain_over_plaintext", c->sasl_plain_over_plaintext);
    emit_int(fn, ctx, "reader_threads", c->reader_threads);
    fn(ctx, "shutdown_command", c->enable_shutdown ? "yes" : "no");
}
