/*
 * Unit tests of config_parse on bad input: every refusal returns
 * CONFIG_ERROR with a one-line reason that names the flag, and nothing is
 * written to stderr or to out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_test.h"

struct bad_case {
    const char *args[6];
    const char *want; /* the whole message */
};

static const struct bad_case bad_cases[] = {
    /* -p */
    {{"-p", "70000"}, "-p: must be between 0 and 65535, got 70000"},
    {{"-p", "abc"}, "-p: expected a number, got 'abc'"},
    {{"-p", "-1"}, "-p: must be between 0 and 65535, got -1"},
    {{"-p", "12ab"}, "-p: expected a number, got '12ab'"},
    {{"-p", " 1"}, "-p: expected a number, got ' 1'"},
    {{"-p", ""}, "-p: expected a number, got ''"},
    {{"--port=99999999999999999999999"},
     "--port: must be between 0 and 65535, got 99999999999999999999999"},
    {{"-p"}, "-p: missing argument"},
    {{"--port"}, "--port: missing argument"},
    /* -t */
    {{"-t", "0"}, "-t: must be between 1 and 256, got 0"},
    {{"--threads", "0"}, "--threads: must be between 1 and 256, got 0"},
    {{"-t", "257"}, "-t: must be between 1 and 256, got 257"},
    {{"-t", "4x"}, "-t: expected a number, got '4x'"},
    {{"-vvt"}, "-t: missing argument"},
    /* -m */
    {{"-m", "0"}, "-m: must be between 1m and 1024g, got 0"},
    {{"-m", "512k"}, "-m: must be between 1m and 1024g, got 512k"},
    {{"-m", "1025g"}, "-m: must be between 1m and 1024g, got 1025g"},
    {{"-m", "18446744073709551616"}, "-m: must be between 1m and 1024g, got 18446744073709551616"},
    {{"-m", "64t"}, "-m: expected a size such as 4096, 512k or 64m, got '64t'"},
    {{"-m", "-5"}, "-m: expected a size such as 4096, 512k or 64m, got '-5'"},
    /* -m 1 leaves no room for the default 1m item size. */
    {{"-m", "1"}, "-I: item size max 1m is more than half of the memory limit (-m 1m)"},
    /* -c */
    {{"-c", "0"}, "-c: must be between 1 and 2147483647, got 0"},
    {{"--conn-limit=2147483648"}, "--conn-limit: must be between 1 and 2147483647, got 2147483648"},
    /* -I */
    {{"-I", "10"}, "-I: must be between 1k and 1g, got 10"},
    {{"-I", "1023"}, "-I: must be between 1k and 1g, got 1023"},
    {{"-I", "2000m", "-m", "64"}, "-I: must be between 1k and 1g, got 2000m"},
    {{"-I", "2g", "-m", "8g"}, "-I: must be between 1k and 1g, got 2g"},
    {{"-I", "64m", "-m", "64"},
     "-I: item size max 64m is more than half of the memory limit (-m 64m)"},
    {{"-m", "64", "-I", "33m"},
     "-I: item size max 33m is more than half of the memory limit (-m 64m)"},
    {{"--max-item-size=1mm"},
     "--max-item-size: expected a size such as 4096, 512k or 64m, got '1mm'"},
    {{"-I", "m"}, "-I: expected a size such as 4096, 512k or 64m, got 'm'"},
    {{"-I", "1.5m"}, "-I: expected a size such as 4096, 512k or 64m, got '1.5m'"},
    /* -U */
    {{"-U", "5"}, "-U: UDP is not supported (only 0 is accepted), got 5"},
    {{"--udp-port=11211"}, "--udp-port: UDP is not supported (only 0 is accepted), got 11211"},
    {{"-U", "abc"}, "-U: expected a number, got 'abc'"},
    /* -u */
    {{"-u", ""}, "-u: user name must be 1 to 63 characters"},
    {{"-u", "0123456789012345678901234567890123456789012345678901234567890123"},
     "-u: user name must be 1 to 63 characters"},
    /* -v */
    {{"--verbose=11"}, "--verbose: must be between 0 and 10, got 11"},
    {{"--verbose=x"}, "--verbose: expected a number, got 'x'"},
    /* -l */
    {{"-l", ""}, "-l: empty address"},
    {{"-l", "a,,b"}, "-l: empty address"},
    {{"-l", "a,"}, "-l: empty address"},
    {{"-l", "[::1"}, "-l: missing ']' in '[::1'"},
    {{"-l", "[::1]x"}, "-l: unexpected text after ']' in '[::1]x'"},
    {{"-l", "[]:11211"}, "-l: empty host in '[]:11211'"},
    {{"-l", ":11211"}, "-l: empty host in ':11211'"},
    {{"-l", "host:abc"}, "-l: port must be a number between 0 and 65535 in 'host:abc'"},
    {{"-l", "host:70000"}, "-l: port must be a number between 0 and 65535 in 'host:70000'"},
    {{"-l", "[::1]:"}, "-l: port must be a number between 0 and 65535 in '[::1]:'"},
    {{"-l", "a", "--listen", "b,a"}, "--listen: 'a' given twice"},
    {{"-l", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"}, "-l: at most 16 addresses"},
    /* -o */
    {{"-o", "unknown=1"}, "-o: unknown option 'unknown'"},
    {{"--extended", "reqs_per_event=5,bogus"}, "--extended: unknown option 'bogus'"},
    {{"-o", "reqs_per_event=0"}, "-o reqs_per_event: must be between 1 and 10000, got 0"},
    {{"-o", "reqs_per_event=10001"}, "-o reqs_per_event: must be between 1 and 10000, got 10001"},
    {{"-o", "reqs_per_event"}, "-o: reqs_per_event needs a value (reqs_per_event=N)"},
    {{"-o", "reqs_per_event="}, "-o reqs_per_event: expected a number, got ''"},
    {{"-o", "inbox_batch=0"}, "-o inbox_batch: must be between 1 and 10000, got 0"},
    {{"-o", "send_buffer_threshold=2g"},
     "-o send_buffer_threshold: must be between 0 and 1g, got 2g"},
    {{"-o", "max_send_queue=4095"}, "-o max_send_queue: must be between 4k and 1g, got 4095"},
    {{"-o", "idle_timeout=-1"},
     "-o idle_timeout: expected seconds such as 30 or 0.5, or 250ms, got '-1'"},
    {{"-o", "read_timeout=0.1234"},
     "-o read_timeout: expected seconds such as 30 or 0.5, or 250ms, got '0.1234'"},
    {{"-o", "read_timeout=5s"},
     "-o read_timeout: expected seconds such as 30 or 0.5, or 250ms, got '5s'"},
    {{"-o", "stuck_send_timeout=86401"}, "-o stuck_send_timeout: at most 86400 seconds, got 86401"},
    {{"-o", "engine=nope"}, "-o engine: unknown value 'nope' (known: memory, wouldblock, disk)"},
    {{"-o", "engine=Memory"},
     "-o engine: unknown value 'Memory' (known: memory, wouldblock, disk)"},
    {{"-o", "engine=disk"}, "-o engine=disk needs a data directory (--data-dir PATH)"},
    {{"-o", "durability=always"}, "-o durability: unknown value 'always' (known: async, sync)"},
    {{"-o", "flush_interval_ms=0"}, "-o flush_interval_ms: must be between 1 and 60000, got 0"},
    {{"--repair=1"}, "--repair: takes no argument"},
    {{"-o", "reader_threads=0"}, "-o reader_threads: must be between 1 and 64, got 0"},
    {{"-o", "reader_threads=65"}, "-o reader_threads: must be between 1 and 64, got 65"},
    {{"-o", "enable_test_opcodes=2"}, "-o enable_test_opcodes: must be between 0 and 1, got 2"},
    {{"-o", "wouldblock_inner=wouldblock"},
     "-o wouldblock_inner: unknown value 'wouldblock' (known: memory)"},
    {{"-o", "wouldblock_mode="}, "-o wouldblock_mode: value must be 1 to 63 characters"},
    {{"-o", "wouldblock_delay_us=-1"},
     "-o wouldblock_delay_us: must be between 0 and 10000000, got -1"},
    {{"-B", "text"}, "-B: unknown value 'text' (known: auto, binary, ascii)"},
    {{"-o", ""}, "-o: empty setting name"},
    {{"-o", "inbox_batch=2,"}, "-o: empty setting name"},
    {{"-o", "=5"}, "-o: empty setting name"},
    {{"-R", "0"}, "-R: must be between 1 and 10000, got 0"},
    /* TLS and SASL */
    {{"-Z"}, "TLS (-Z or -l tls:) needs -o ssl_chain_cert=FILE,ssl_key=FILE"},
    {{"-l", "tls:127.0.0.1:1", "-o", "ssl_chain_cert=c"},
     "TLS (-Z or -l tls:) needs -o ssl_chain_cert=FILE,ssl_key=FILE"},
    {{"-Z", "-o", "ssl_chain_cert=c,ssl_key=k,ssl_verify_mode=2"},
     "-o ssl_verify_mode=2 needs -o ssl_ca_cert=FILE to check client certificates against"},
    {{"-o", "ssl_verify_mode=4"}, "-o ssl_verify_mode: must be between 0 and 3, got 4"},
    {{"-o", "ssl_min_version=tlsv1.1"},
     "-o ssl_min_version: unknown value 'tlsv1.1' (known: tlsv1.2, tlsv1.3)"},
    {{"-o", "ssl_handshake_timeout=0"},
     "-o ssl_handshake_timeout: must be between 1 and 3600, got 0"},
    {{"-o", "sasl_plain_over_plaintext=2"},
     "-o sasl_plain_over_plaintext: must be between 0 and 1, got 2"},
    {{"-S"}, "-S needs -o sasl_users=FILE"},
    {{"-l", "tls:"}, "-l: empty address"},
    /* getopt's own refusals */
    {{"-q"}, "unknown option -q"},
    {{"-Y"}, "unknown option -Y"},
    {{"-d"}, "unknown option -d"},
    {{"-v", "-qv"}, "unknown option -q"},
    {{"--verbose", "-qv"}, "unknown option -q"},
    {{"--bogus"}, "unknown or ambiguous option --bogus"},
    {{"--bogus=1"}, "unknown or ambiguous option --bogus"},
    {{"--ver"}, "unknown or ambiguous option --ver"},
    {{"--help=1"}, "--help: takes no argument"},
    {{"--version=yes"}, "--version: takes no argument"},
    {{"extra"}, "unexpected argument 'extra'"},
    {{"-p", "1", "extra", "-t", "2"}, "unexpected argument 'extra'"},
    {{"--", "-t"}, "unexpected argument '-t'"},
    {{"-"}, "unexpected argument '-'"},
    /* In order: an error before --help wins. */
    {{"-t", "0", "--help"}, "-t: must be between 1 and 256, got 0"},
};

/* Every bad case: CONFIG_ERROR, the exact message, nothing printed anywhere. */
static void test_bad_cases(void **state)
{
    struct run r = {0};
    char path[] = "/tmp/basalt-config-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);

    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *b = &bad_cases[i];
        assert_true(dup2(fd, STDERR_FILENO) >= 0);
        enum config_result res = run_args(&r, b->args);
        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        if (res != CONFIG_ERROR || strcmp(r.err, b->want) != 0)
            fail_msg("case %zu (%s %s ...): result %d, err '%s', want '%s'", i, b->args[0],
                     b->args[1] ? b->args[1] : "", (int)res, r.err, b->want);
        assert_null(strchr(r.err, '\n'));
        assert_int_equal(r.outlen, 0);
    }
    assert_int_equal(lseek(fd, 0, SEEK_END), 0);
    close(saved);
    close(fd);
    run_free(&r);
}

/* Messages stay one printable line whatever the argument held. */
static void test_message_is_one_line(void **state)
{
    struct run r = {0};
    assert_int_equal(RUN(&r, "-t", "1\n2"), CONFIG_ERROR);
    assert_string_equal(r.err, "-t: expected a number, got '1?2'");

    char longarg[400];
    memset(longarg, 'a', sizeof(longarg) - 1);
    longarg[sizeof(longarg) - 1] = '\0';
    assert_int_equal(RUN(&r, "-o", longarg), CONFIG_ERROR);
    assert_string_equal(r.err,
                        "-o: unknown option "
                        "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
    assert_int_equal(RUN(&r, "-l", longarg), CONFIG_ERROR);
    assert_non_null(strstr(r.err, "-l: address longer than 255 characters"));
    run_free(&r);
}

/* A too-small or missing err buffer is tolerated. */
static void test_small_err_buffer(void **state)
{
    struct config c;
    char arg0[] = "basalt", arg1[] = "-t", arg2[] = "0";
    char *argv[] = {arg0, arg1, arg2, NULL};
    char err[8];
    assert_int_equal(config_parse(&c, 3, argv, stdout, err, sizeof(err)), CONFIG_ERROR);
    assert_string_equal(err, "-t: mus");
    assert_int_equal(config_parse(&c, 3, argv, stdout, NULL, 0), CONFIG_ERROR);
    assert_int_equal(config_parse(&c, 3, argv, stdout, err, 0), CONFIG_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_message_is_one_line),
        cmocka_unit_test(test_small_err_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
