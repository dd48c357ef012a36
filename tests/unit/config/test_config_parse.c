/*
 * Unit tests of config_parse on good input: the defaults, every flag with
 * its accepted spellings and suffixes, -o settings, and repeated parsing in
 * one process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config_test.h"

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

static void assert_defaults(const struct config *c)
{
    assert_int_equal(c->port, 11211);
    assert_int_equal(c->nlisten, 1);
    assert_string_equal(c->listen[0], "127.0.0.1");
    assert_int_equal(c->threads, 4);
    assert_int_equal(c->memory_limit, 64 * MIB);
    assert_int_equal(c->maxconns, 1024);
    assert_int_equal(c->item_size_max, MIB);
    assert_int_equal(c->verbose, 0);
    assert_string_equal(c->user, "");
    assert_int_equal(c->reqs_per_event, 20);
    assert_int_equal(c->inbox_batch, 10);
    assert_int_equal(c->send_buffer_threshold, 4096);
    assert_int_equal(c->max_send_queue, MIB);
    assert_string_equal(c->engine, "memory");
    assert_int_equal(c->reader_threads, 4);
    assert_int_equal(c->enable_test_opcodes, 0);
    assert_string_equal(c->wouldblock_inner, "memory");
    assert_string_equal(c->wouldblock_mode, "always");
    assert_int_equal(c->wouldblock_delay_us, 0);
}

static void test_defaults(void **state)
{
    struct config c;
    memset(&c, 0x5a, sizeof(c));
    config_defaults(&c);
    assert_defaults(&c);
}

static void test_no_arguments_gives_defaults(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN_NONE(&r), CONFIG_RUN);
    assert_defaults(&r.c);
    assert_string_equal(r.err, "");
    assert_int_equal(r.outlen, 0);
    run_free(&r);
}

static void test_argc_zero(void **state)
{
    struct config c;
    char err[64];
    char *argv[] = {NULL};
    assert_int_equal(config_parse(&c, 0, argv, stdout, err, sizeof(err)), CONFIG_RUN);
    assert_defaults(&c);
}

static void test_port(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-p", "0"), CONFIG_RUN);
    assert_int_equal(r.c.port, 0);
    assert_int_equal(RUN(&r, "-p", "1"), CONFIG_RUN);
    assert_int_equal(r.c.port, 1);
    assert_int_equal(RUN(&r, "-p", "65535"), CONFIG_RUN);
    assert_int_equal(r.c.port, 65535);
    assert_int_equal(RUN(&r, "-p11311"), CONFIG_RUN);
    assert_int_equal(r.c.port, 11311);
    assert_int_equal(RUN(&r, "--port", "11312"), CONFIG_RUN);
    assert_int_equal(r.c.port, 11312);
    assert_int_equal(RUN(&r, "--port=11313"), CONFIG_RUN);
    assert_int_equal(r.c.port, 11313);
    /* The last one wins, as with memcached. */
    assert_int_equal(RUN(&r, "-p", "1000", "-p", "2000"), CONFIG_RUN);
    assert_int_equal(r.c.port, 2000);
    run_free(&r);
}

/* tls:/notls: prefixes are stripped and decide per listener; -Z decides for the rest. */
static void test_listen_tls(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-l", "tls:127.0.0.1:1,notls:[::1]:2,localhost", "-o",
                         "ssl_chain_cert=c.pem,ssl_key=k.pem"),
                     CONFIG_RUN);
    assert_int_equal(r.c.nlisten, 3);
    assert_string_equal(r.c.listen[0], "127.0.0.1:1");
    assert_string_equal(r.c.listen[1], "[::1]:2");
    assert_true(config_listen_tls(&r.c, 0));
    assert_false(config_listen_tls(&r.c, 1));
    assert_false(config_listen_tls(&r.c, 2));
    assert_true(config_tls_used(&r.c));
    assert_int_equal(RUN(&r, "-Z", "-l", "a,notls:b", "-o", "ssl_chain_cert=c,ssl_key=k"),
                     CONFIG_RUN);
    assert_true(r.c.ssl_enabled);
    assert_true(config_listen_tls(&r.c, 0));
    assert_false(config_listen_tls(&r.c, 1));
    assert_int_equal(RUN(&r, "-o",
                         "ssl_verify_mode=3,ssl_ca_cert=ca.pem,ssl_min_version=tlsv1.3,"
                         "ssl_ciphers=HIGH:!aNULL,ssl_handshake_timeout=5"),
                     CONFIG_RUN);
    assert_false(config_tls_used(&r.c));
    assert_int_equal(r.c.ssl_verify_mode, 3);
    assert_string_equal(r.c.ssl_ca_cert, "ca.pem");
    assert_string_equal(r.c.ssl_min_version, "tlsv1.3");
    assert_string_equal(r.c.ssl_ciphers, "HIGH:!aNULL");
    assert_int_equal(r.c.ssl_handshake_timeout, 5);
    assert_int_equal(RUN(&r, "-S", "-o", "sasl_users=u.txt,sasl_plain_over_plaintext=1"),
                     CONFIG_RUN);
    assert_true(r.c.sasl_required);
    assert_string_equal(r.c.sasl_users, "u.txt");
    assert_int_equal(r.c.sasl_plain_over_plaintext, 1);
    run_free(&r);
}

static void test_listen(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-l", "0.0.0.0"), CONFIG_RUN);
    assert_int_equal(r.c.nlisten, 1);
    assert_string_equal(r.c.listen[0], "0.0.0.0");

    assert_int_equal(RUN(&r, "--listen=10.0.0.1:7000,[::1]:11211,::1,localhost"), CONFIG_RUN);
    assert_int_equal(r.c.nlisten, 4);
    assert_string_equal(r.c.listen[0], "10.0.0.1:7000");
    assert_string_equal(r.c.listen[1], "[::1]:11211");
    assert_string_equal(r.c.listen[2], "::1");
    assert_string_equal(r.c.listen[3], "localhost");

    /* -l repeats and ';' separates too; the first -l replaces the default. */
    assert_int_equal(RUN(&r, "-l", "a;b", "-l", "c", "--listen", "[fe80::1]"), CONFIG_RUN);
    assert_int_equal(r.c.nlisten, 4);
    assert_string_equal(r.c.listen[0], "a");
    assert_string_equal(r.c.listen[1], "b");
    assert_string_equal(r.c.listen[2], "c");
    assert_string_equal(r.c.listen[3], "[fe80::1]");

    /* Exactly CONFIG_MAX_LISTEN addresses fit. */
    char many[CONFIG_MAX_LISTEN * 16] = "";
    for (int i = 0; i < CONFIG_MAX_LISTEN; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.0.%d", i ? "," : "", i);
    assert_int_equal(RUN(&r, "-l", many), CONFIG_RUN);
    assert_int_equal(r.c.nlisten, CONFIG_MAX_LISTEN);
    assert_string_equal(r.c.listen[CONFIG_MAX_LISTEN - 1], "10.0.0.15");
    run_free(&r);
}

static void test_threads(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-t", "1"), CONFIG_RUN);
    assert_int_equal(r.c.threads, 1);
    assert_int_equal(RUN(&r, "-t", "256"), CONFIG_RUN);
    assert_int_equal(r.c.threads, CONFIG_THREADS_MAX);
    assert_int_equal(RUN(&r, "--threads=16"), CONFIG_RUN);
    assert_int_equal(r.c.threads, 16);
    run_free(&r);
}

static void test_memory_limit(void **state)
{
    struct run r = {0};
    /* A bare number is megabytes. */
    assert_int_equal(RUN(&r, "-m", "128"), CONFIG_RUN);
    assert_int_equal(r.c.memory_limit, 128 * MIB);
    assert_int_equal(RUN(&r, "-m", "2"), CONFIG_RUN);
    assert_int_equal(r.c.memory_limit, 2 * MIB);
    assert_int_equal(RUN(&r, "-m", "2048k"), CONFIG_RUN);
    assert_int_equal(r.c.memory_limit, 2 * MIB);
    assert_int_equal(RUN(&r, "-m", "1536k", "-I", "768k"), CONFIG_RUN);
    assert_int_equal(r.c.memory_limit, 1536 * KIB);
    assert_int_equal(RUN(&r, "-m", "256m"), CONFIG_RUN);
    assert_int_equal(r.c.memory_limit, 256 * MIB);
    assert_int_equal(RUN(&r, "-m", "300M"), CONFIG_RUN);
    assert_int_equal(r.c.memory_limit, 300 * MIB);
    assert_int_equal(RUN(&r, "-m", "2g"), CONFIG_RUN);
    assert_int_equal(r.c.memory_limit, 2 * GIB);
    assert_int_equal(RUN(&r, "--memory-limit=3G"), CONFIG_RUN);
    assert_int_equal(r.c.memory_limit, 3 * GIB);
    assert_int_equal(RUN(&r, "-m", "1024g"), CONFIG_RUN);
    assert_int_equal(r.c.memory_limit, 1024 * GIB);
    /* The 1 MiB minimum works with an item size of at most half of it. */
    assert_int_equal(RUN(&r, "-m", "1", "-I", "512k"), CONFIG_RUN);
    assert_int_equal(r.c.memory_limit, MIB);
    assert_int_equal(r.c.item_size_max, 512 * KIB);
    run_free(&r);
}

static void test_conn_limit(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-c", "1"), CONFIG_RUN);
    assert_int_equal(r.c.maxconns, 1);
    assert_int_equal(RUN(&r, "-c", "100000"), CONFIG_RUN);
    assert_int_equal(r.c.maxconns, 100000);
    assert_int_equal(RUN(&r, "--conn-limit", "4096"), CONFIG_RUN);
    assert_int_equal(r.c.maxconns, 4096);
    assert_int_equal(RUN(&r, "-c", "2147483647"), CONFIG_RUN);
    assert_int_equal(r.c.maxconns, 2147483647);
    run_free(&r);
}

static void test_item_size(void **state)
{
    struct run r = {0};
    /* A bare number is bytes. */
    assert_int_equal(RUN(&r, "-I", "1024"), CONFIG_RUN);
    assert_int_equal(r.c.item_size_max, 1024);
    assert_int_equal(RUN(&r, "-I", "5000"), CONFIG_RUN);
    assert_int_equal(r.c.item_size_max, 5000);
    assert_int_equal(RUN(&r, "-I", "1k"), CONFIG_RUN);
    assert_int_equal(r.c.item_size_max, KIB);
    assert_int_equal(RUN(&r, "-I", "512K"), CONFIG_RUN);
    assert_int_equal(r.c.item_size_max, 512 * KIB);
    assert_int_equal(RUN(&r, "-I", "2m"), CONFIG_RUN);
    assert_int_equal(r.c.item_size_max, 2 * MIB);
    assert_int_equal(RUN(&r, "--max-item-size=4M"), CONFIG_RUN);
    assert_int_equal(r.c.item_size_max, 4 * MIB);
    /* Exactly half of -m is allowed, whichever flag comes first. */
    assert_int_equal(RUN(&r, "-I", "32m"), CONFIG_RUN);
    assert_int_equal(r.c.item_size_max, 32 * MIB);
    assert_int_equal(RUN(&r, "-I", "1g", "-m", "2048"), CONFIG_RUN);
    assert_int_equal(r.c.item_size_max, GIB);
    assert_int_equal(r.c.memory_limit, 2 * GIB);
    assert_int_equal(RUN(&r, "-m", "2g", "-I", "1024m"), CONFIG_RUN);
    assert_int_equal(r.c.item_size_max, GIB);
    run_free(&r);
}

static void test_udp_user_verbose(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-U", "0"), CONFIG_RUN);
    assert_int_equal(RUN(&r, "--udp-port=0"), CONFIG_RUN);
    assert_int_equal(RUN(&r, "-u", "memcache"), CONFIG_RUN);
    assert_string_equal(r.c.user, "memcache");
    assert_int_equal(RUN(&r, "--user=nobody"), CONFIG_RUN);
    assert_string_equal(r.c.user, "nobody");

    assert_int_equal(RUN(&r, "-v"), CONFIG_RUN);
    assert_int_equal(r.c.verbose, 1);
    assert_int_equal(RUN(&r, "-vv"), CONFIG_RUN);
    assert_int_equal(r.c.verbose, 2);
    assert_int_equal(RUN(&r, "-vvv"), CONFIG_RUN);
    assert_int_equal(r.c.verbose, 3);
    assert_int_equal(RUN(&r, "-v", "-v", "--verbose"), CONFIG_RUN);
    assert_int_equal(r.c.verbose, 3);
    assert_int_equal(RUN(&r, "--verbose=2"), CONFIG_RUN);
    assert_int_equal(r.c.verbose, 2);
    /* Flags cluster: -v twice, then -t with its argument attached. */
    assert_int_equal(RUN(&r, "-vvt8"), CONFIG_RUN);
    assert_int_equal(r.c.verbose, 2);
    assert_int_equal(r.c.threads, 8);
    run_free(&r);
}

static void test_extended(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-o", "reqs_per_event=5,inbox_batch=3", "-o",
                         "send_buffer_threshold=8k,max_send_queue=2m,engine=memory"),
                     CONFIG_RUN);
    assert_int_equal(r.c.reqs_per_event, 5);
    assert_int_equal(r.c.inbox_batch, 3);
    assert_int_equal(r.c.send_buffer_threshold, 8 * KIB);
    assert_int_equal(r.c.max_send_queue, 2 * MIB);
    assert_string_equal(r.c.engine, "memory");

    assert_int_equal(RUN(&r, "-o", "engine=wouldblock,wouldblock_inner=memory,reader_threads=2",
                         "-o", "wouldblock_mode=random:0.5,wouldblock_delay_us=1000", "-o",
                         "enable_test_opcodes=1"),
                     CONFIG_RUN);
    assert_string_equal(r.c.engine, "wouldblock");
    assert_string_equal(r.c.wouldblock_inner, "memory");
    assert_string_equal(r.c.wouldblock_mode, "random:0.5");
    assert_int_equal(r.c.wouldblock_delay_us, 1000);
    assert_int_equal(r.c.reader_threads, 2);
    assert_int_equal(r.c.enable_test_opcodes, 1);

    /* The disk engine: --data-dir implies it; its -o settings. */
    assert_int_equal(RUN(&r, "--data-dir", "/var/lib/basalt", "--repair"), CONFIG_RUN);
    assert_string_equal(r.c.engine, "disk");
    assert_string_equal(r.c.data_dir, "/var/lib/basalt");
    assert_true(r.c.repair);
    assert_string_equal(r.c.durability, "async");
    assert_int_equal(r.c.flush_interval_ms, 10);
    assert_string_equal(r.c.compact_threshold, "0.5");
    assert_int_equal(RUN(&r, "-o", "engine=disk,data_dir=/d,durability=sync,flush_interval_ms=5",
                         "-o", "compact_threshold=0.25,segment_size=1m"),
                     CONFIG_RUN);
    assert_string_equal(r.c.engine, "disk");
    assert_string_equal(r.c.data_dir, "/d");
    assert_false(r.c.repair);
    assert_string_equal(r.c.durability, "sync");
    assert_int_equal(r.c.flush_interval_ms, 5);
    assert_string_equal(r.c.compact_threshold, "0.25");
    assert_int_equal(r.c.segment_size, MIB);

    assert_int_equal(RUN(&r, "--extended=reqs_per_event=10000,inbox_batch=1"), CONFIG_RUN);
    assert_int_equal(r.c.reqs_per_event, 10000);
    assert_int_equal(r.c.inbox_batch, 1);
    assert_int_equal(RUN(&r, "-o", "send_buffer_threshold=0,max_send_queue=4096"), CONFIG_RUN);
    assert_int_equal(r.c.send_buffer_threshold, 0);
    assert_int_equal(r.c.max_send_queue, 4096);
    assert_int_equal(RUN(&r, "-o", "send_buffer_threshold=1g,max_send_queue=1G"), CONFIG_RUN);
    assert_int_equal(r.c.send_buffer_threshold, GIB);
    assert_int_equal(r.c.max_send_queue, GIB);

    /* memcached's -R is the same setting as reqs_per_event. */
    assert_int_equal(RUN(&r, "-R", "7"), CONFIG_RUN);
    assert_int_equal(r.c.reqs_per_event, 7);
    assert_int_equal(RUN(&r, "--max-reqs-per-event=9"), CONFIG_RUN);
    assert_int_equal(r.c.reqs_per_event, 9);
    run_free(&r);
}

static void test_everything_together(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-p", "22122", "-l", "0.0.0.0,[::]:22123", "-t", "8", "-m", "1024",
                         "-c", "5000", "-I", "4m", "-U", "0", "-u", "cache", "-vv", "-o",
                         "reqs_per_event=50,engine=memory", "--"),
                     CONFIG_RUN);
    assert_int_equal(r.c.port, 22122);
    assert_int_equal(r.c.nlisten, 2);
    assert_string_equal(r.c.listen[1], "[::]:22123");
    assert_int_equal(r.c.threads, 8);
    assert_int_equal(r.c.memory_limit, GIB);
    assert_int_equal(r.c.maxconns, 5000);
    assert_int_equal(r.c.item_size_max, 4 * MIB);
    assert_string_equal(r.c.user, "cache");
    assert_int_equal(r.c.verbose, 2);
    assert_int_equal(r.c.reqs_per_event, 50);
    assert_int_equal(r.c.inbox_batch, 10);
    run_free(&r);
}

/* getopt keeps global state; each call must start over, even after an error mid-cluster. */
static void test_parse_twice(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-t", "8", "-l", "a,b", "-vv"), CONFIG_RUN);
    assert_int_equal(r.c.threads, 8);
    assert_int_equal(r.c.nlisten, 2);
    assert_int_equal(RUN_NONE(&r), CONFIG_RUN);
    assert_defaults(&r.c);

    assert_int_equal(RUN(&r, "-qv"), CONFIG_ERROR);
    assert_int_equal(RUN(&r, "-t", "2"), CONFIG_RUN);
    assert_int_equal(r.c.threads, 2);
    assert_int_equal(r.c.verbose, 0);

    assert_int_equal(RUN(&r, "-vvt"), CONFIG_ERROR);
    assert_int_equal(RUN(&r, "-v"), CONFIG_RUN);
    assert_int_equal(r.c.verbose, 1);

    assert_int_equal(RUN(&r, "-h"), CONFIG_EXIT_OK);
    assert_int_equal(RUN(&r, "-p", "7"), CONFIG_RUN);
    assert_int_equal(r.c.port, 7);
    assert_int_equal(r.c.nlisten, 1);
    run_free(&r);
}

/* Only CONFIG_RUN fills *c; an error leaves the defaults behind. */
static void test_error_leaves_defaults(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-t", "8", "-p", "1", "-t", "0"), CONFIG_ERROR);
    assert_defaults(&r.c);
    assert_int_equal(RUN(&r, "-t", "8", "--version"), CONFIG_EXIT_OK);
    assert_defaults(&r.c);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_no_arguments_gives_defaults),
        cmocka_unit_test(test_argc_zero),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_listen_tls),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_conn_limit),
        cmocka_unit_test(test_item_size),
        cmocka_unit_test(test_udp_user_verbose),
        cmocka_unit_test(test_extended),
        cmocka_unit_test(test_everything_together),
        cmocka_unit_test(test_parse_twice),
        cmocka_unit_test(test_error_leaves_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
