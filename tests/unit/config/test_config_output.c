/*
 * Unit tests of what the config module prints and reports: --version,
 * --help, config_foreach's settings, the frame limit and listen addresses
 * split into host and port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config_test.h"

static void test_version(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-V"), CONFIG_EXIT_OK);
    assert_string_equal(r.out, "basalt " BASALT_VERSION "\n");
    assert_string_equal(r.err, "");
    assert_int_equal(RUN(&r, "--version"), CONFIG_EXIT_OK);
    assert_string_equal(r.out, "basalt " BASALT_VERSION "\n");
    /* It stops at --version: later arguments are not read. */
    assert_int_equal(RUN(&r, "-t", "8", "--version", "-t", "0", "junk"), CONFIG_EXIT_OK);
    assert_string_equal(r.out, "basalt " BASALT_VERSION "\n");
    run_free(&r);
}

/* The --help line that starts with option, or NULL. */
static const char *help_line(const char *out, const char *option)
{
    char needle[128];
    snprintf(needle, sizeof(needle), "\n  %s ", option);
    const char *p = strstr(out, needle);
    return p ? p + 1 : NULL;
}

/* The line of --help for option mentions want (its default, typically). */
static void assert_help_has(const char *out, const char *option, const char *want)
{
    const char *line = help_line(out, option);
    if (line == NULL)
        fail_msg("--help has no line for '%s'", option);
    const char *end = strchr(line, '\n');
    assert_non_null(end);
    const char *hit = strstr(line, want);
    if (hit == NULL || hit > end)
        fail_msg("--help line for '%s' lacks '%s': %.*s", option, want, (int)(end - line), line);
}

static void test_help(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "--help"), CONFIG_EXIT_OK);
    assert_non_null(strstr(r.out, "Usage: basalt [options]\n"));
    assert_help_has(r.out, "-p, --port=PORT", "(default: 11211)");
    assert_help_has(r.out, "-l, --listen=ADDR[,ADDR]", "(default: 127.0.0.1)");
    assert_help_has(r.out, "-t, --threads=N", "(default: 4)");
    assert_help_has(r.out, "-m, --memory-limit=MB", "(default: 64m)");
    assert_help_has(r.out, "-c, --conn-limit=N", "(default: 1024)");
    assert_help_has(r.out, "-I, --max-item-size=SIZE", "(default: 1m)");
    assert_help_has(r.out, "-R, --max-reqs-per-event=N", "(default: 20)");
    assert_help_has(r.out, "-U, --udp-port=PORT", "(default: 0)");
    assert_help_has(r.out, "-u, --user=USER", "user to run as");
    assert_help_has(r.out, "-v, --verbose[=N]", "(default: 0)");
    assert_help_has(r.out, "-o, --extended=KEY=VALUE[,...]", "extended settings");
    assert_help_has(r.out, "-V, --version", "version");
    assert_help_has(r.out, "-h, --help", "help");
    assert_help_has(r.out, "    reqs_per_event=N", "(default: 20)");
    assert_help_has(r.out, "    inbox_batch=N", "(default: 10)");
    assert_help_has(r.out, "    send_buffer_threshold=SIZE", "(default: 4k)");
    assert_help_has(r.out, "    max_send_queue=SIZE", "(default: 1m)");
    assert_help_has(r.out, "    engine=NAME", "(default: memory)");
    assert_help_has(r.out, "    reader_threads=N", "(default: 4)");
    assert_help_has(r.out, "    enable_test_opcodes=0|1", "(default: 0)");
    assert_help_has(r.out, "    wouldblock_inner=NAME", "(default: memory)");
    assert_help_has(r.out, "    wouldblock_mode=MODE", "(default: always)");
    assert_help_has(r.out, "    wouldblock_delay_us=N", "(default: 0)");
    assert_int_equal(r.out[r.outlen - 1], '\n');

    /* -h prints the same text. */
    char *first = strdup(r.out);
    assert_non_null(first);
    assert_int_equal(RUN(&r, "-h"), CONFIG_EXIT_OK);
    assert_string_equal(r.out, first);
    free(first);

    /* In order: flags before -h are read, and -h ends parsing. */
    assert_int_equal(RUN(&r, "-p", "1", "-h", "-t", "0"), CONFIG_EXIT_OK);
    assert_int_equal(RUN(&r, "-p", "x", "-h"), CONFIG_ERROR);
    assert_int_equal(r.outlen, 0);
    run_free(&r);
}

struct setting {
    char name[32];
    char value[128];
};

struct settings {
    struct setting s[48];
    int n;
};

static void collect(void *ctx, const char *name, const char *value)
{
    struct settings *all = ctx;
    assert_true(all->n < 48);
    snprintf(all->s[all->n].name, sizeof(all->s[0].name), "%s", name);
    snprintf(all->s[all->n].value, sizeof(all->s[0].value), "%s", value);
    all->n++;
}

static const char *setting(const struct settings *all, const char *name)
{
    for (int i = 0; i < all->n; i++) {
        if (strcmp(all->s[i].name, name) == 0)
            return all->s[i].value;
    }
    fail_msg("no setting '%s'", name);
    return NULL;
}

static void test_foreach_defaults(void **state)
{
    static const char *const want[][2] = {
        {"maxbytes", "67108864"},
        {"maxconns", "1024"},
        {"tcpport", "11211"},
        {"udpport", "0"},
        {"inter", "127.0.0.1"},
        {"verbosity", "0"},
        {"evictions", "on"},
        {"num_threads", "4"},
        {"reqs_per_event", "20"},
        {"cas_enabled", "yes"},
        {"binding_protocol", "auto-negotiate"},
        {"item_size_max", "1048576"},
        {"inbox_batch", "10"},
        {"send_buffer_threshold", "4096"},
        {"max_send_queue", "1048576"},
        {"idle_timeout", "0"},
        {"read_timeout", "30"},
        {"stuck_send_timeout", "360"},
        {"shutdown_timeout", "5"},
        {"engine", "memory"},
        {"ssl_enabled", "no"},
        {"ssl_chain_cert", ""},
        {"ssl_key", ""},
        {"ssl_ca_cert", ""},
        {"ssl_verify_mode", "0"},
        {"ssl_min_version", "tlsv1.2"},
        {"ssl_ciphers", ""},
        {"ssl_handshake_timeout", "10"},
        {"auth_enabled_sasl", "no"},
        {"sasl_users", ""},
        {"sasl_plain_over_plaintext", "0"},
        {"reader_threads", "4"},
        {"shutdown_command", "no"},
    };
    struct config c;
    struct settings all = {0};
    config_defaults(&c);
    config_foreach(&c, collect, &all);
    assert_int_equal(all.n, sizeof(want) / sizeof(want[0]));
    for (int i = 0; i < all.n; i++) {
        assert_string_equal(all.s[i].name, want[i][0]);
        assert_string_equal(all.s[i].value, want[i][1]);
    }
}

static void test_foreach_parsed(void **state)
{
    struct run r = {0};
    struct settings all = {0};
    assert_int_equal(RUN(&r, "-m", "3g", "-c", "77", "-p", "0", "-l", "a:1,[::1]:2", "-vv", "-t",
                         "12", "-I", "2m", "-o",
                         "reqs_per_event=3,inbox_batch=4,send_buffer_threshold=0,"
                         "max_send_queue=8k,idle_timeout=0.25,read_timeout=1500ms,"
                         "stuck_send_timeout=7",
                         "-B", "ascii", "-A"),
                     CONFIG_RUN);
    config_foreach(&r.c, collect, &all);
    assert_string_equal(setting(&all, "maxbytes"), "3221225472");
    assert_string_equal(setting(&all, "maxconns"), "77");
    assert_string_equal(setting(&all, "tcpport"), "0");
    assert_string_equal(setting(&all, "inter"), "a:1,[::1]:2");
    assert_string_equal(setting(&all, "verbosity"), "2");
    assert_string_equal(setting(&all, "num_threads"), "12");
    assert_string_equal(setting(&all, "item_size_max"), "2097152");
    assert_string_equal(setting(&all, "reqs_per_event"), "3");
    assert_string_equal(setting(&all, "inbox_batch"), "4");
    assert_string_equal(setting(&all, "send_buffer_threshold"), "0");
    assert_string_equal(setting(&all, "max_send_queue"), "8192");
    assert_string_equal(setting(&all, "idle_timeout"), "0.250");
    assert_string_equal(setting(&all, "read_timeout"), "1.500");
    assert_string_equal(setting(&all, "stuck_send_timeout"), "7");
    assert_int_equal(r.c.idle_timeout_ms, 250);
    assert_int_equal(r.c.read_timeout_ms, 1500);
    assert_int_equal(r.c.stuck_send_timeout_ms, 7000);
    assert_string_equal(setting(&all, "binding_protocol"), "ascii");
    assert_string_equal(setting(&all, "shutdown_command"), "yes");
    run_free(&r);
}

static void test_frame_limit(void **state)
{
    struct run r = {0};
    struct config c;
    config_defaults(&c);
    assert_int_equal(config_frame_limit(&c), 1048576 + 1024);
    assert_int_equal(RUN(&r, "-I", "2m"), CONFIG_RUN);
    assert_int_equal(config_frame_limit(&r.c), 2 * 1048576 + CONFIG_FRAME_OVERHEAD);
    assert_int_equal(RUN(&r, "-I", "1024"), CONFIG_RUN);
    assert_int_equal(config_frame_limit(&r.c), 2048);
    run_free(&r);
}

static void assert_addr(const struct config *c, int i, const char *host, int port)
{
    char h[CONFIG_ADDR_LEN];
    int p = -2;
    assert_int_equal(config_listen_addr(c, i, h, sizeof(h), &p), 0);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
}

static void test_listen_addr(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN_NONE(&r), CONFIG_RUN);
    assert_addr(&r.c, 0, "127.0.0.1", 11211);

    assert_int_equal(
        RUN(&r, "-p", "5000", "-l", "[::1]:6000,::1,localhost,10.0.0.1:7000,[fe80::1%eth0],host:0"),
        CONFIG_RUN);
    assert_addr(&r.c, 0, "::1", 6000);
    assert_addr(&r.c, 1, "::1", 5000);
    assert_addr(&r.c, 2, "localhost", 5000);
    assert_addr(&r.c, 3, "10.0.0.1", 7000);
    assert_addr(&r.c, 4, "fe80::1%eth0", 5000);
    assert_addr(&r.c, 5, "host", 0);

    char h[CONFIG_ADDR_LEN];
    int p;
    assert_int_equal(config_listen_addr(&r.c, -1, h, sizeof(h), &p), -1);
    assert_int_equal(config_listen_addr(&r.c, 6, h, sizeof(h), &p), -1);
    /* "localhost" needs 10 bytes. */
    assert_int_equal(config_listen_addr(&r.c, 2, h, 9, &p), -1);
    assert_int_equal(config_listen_addr(&r.c, 2, h, 10, &p), 0);
    assert_string_equal(h, "localhost");
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),          cmocka_unit_test(test_help),
        cmocka_unit_test(test_foreach_defaults), cmocka_unit_test(test_foreach_parsed),
        cmocka_unit_test(test_frame_limit),      cmocka_unit_test(test_listen_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
