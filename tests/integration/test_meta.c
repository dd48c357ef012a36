/*
 * Meta protocol scenarios over raw sockets: one per command and flag
 * (mg, ms, md, ma, mn, me; b c f h k l O q s t T v N R I E M D J C),
 * ms with I (an older CAS stores a stale item),
 * stale-while-revalidate (md I, then mg sees X/W/Z), quiet pipelines ended
 * by mn, and the errors (invalid flag, bad tokens, bad data chunk).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "integration/harness.h"
#include "integration/text_client.h"

static int conn(void **state)
{
    struct server *s = *state;
    int fd = sock_connect(s->port);
    assert_true(fd >= 0);
    return fd;
}

/* Reads one reply line and returns the number after " <flag>" in it (asserts it is there). */
static unsigned long long line_flag(int fd, char flag, char *line, size_t cap)
{
    text_read_line(fd, line, cap);
    char pat[4] = {' ', flag, '\0'};
    const char *p = strstr(line, pat);
    if (p == NULL)
        fail_msg("no flag %c in '%s'", flag, line);
    return strtoull(p + 2, NULL, 10);
}

/*
 * Sends cmd and expects the reply line head, a number of seconds that is ttl
 * or ttl - 1 (the server's clock may tick between the command that set it
 * and this one), tail; then rest (if not NULL).
 */
static void xchg_ttl(int fd, const char *cmd, const char *head, unsigned ttl, const char *tail,
                     const char *rest)
{
    char line[128], a[128], b[128];
    text_send(fd, cmd);
    text_read_line(fd, line, sizeof(line));
    snprintf(a, sizeof(a), "%s%u%s", head, ttl, tail);
    snprintf(b, sizeof(b), "%s%u%s", head, ttl - 1, tail);
    if (strcmp(line, a) != 0 && strcmp(line, b) != 0)
        fail_msg("%s: got '%s', want '%s'", cmd, line, a);
    if (rest != NULL)
        text_expect(fd, rest);
}

static void test_mg_ms_basic(void **state)
{
    int fd = conn(state);
    text_xchg(fd, "mg foo v\r\n", "EN\r\n");
    text_xchg(fd, "ms foo 2 T90 F5\r\nhi\r\n", "HD\r\n");
    text_xchg(fd, "mg foo v\r\n", "VA 2\r\nhi\r\n");
    text_xchg(fd, "mg foo\r\n", "HD\r\n");
    text_xchg(fd, "mg foo s v f k O12\r\n", "VA 2 s2 f5 kfoo O12\r\nhi\r\n");
    xchg_ttl(fd, "mg foo t\r\n", "HD t", 90, "", NULL);
    text_xchg(fd, "mg foo T0 t\r\n", "HD t-1\r\n");
    /* Miss: EN echoes O and k. */
    text_xchg(fd, "mg nope O7 k v\r\n", "EN O7 knope\r\n");
    /* h: fetched before; l: seconds since the last access. */
    text_xchg(fd, "ms h 1\r\nx\r\n", "HD\r\n");
    xchg_ttl(fd, "mg h h l\r\n", "HD h0 l", 1, "", NULL); /* l0, or l1 across a clock tick */
    text_xchg(fd, "mg h h\r\n", "HD h1\r\n");
    /* c: the CAS, the same one gets reports. */
    char line[256];
    unsigned long long cas = line_flag(fd, 'c', (text_send(fd, "mg h c\r\n"), line), sizeof(line));
    unsigned f, n;
    unsigned long long gcas;
    text_send(fd, "gets h\r\n");
    text_read_line(fd, line, sizeof(line));
    assert_int_equal(sscanf(line, "VALUE h %u %u %llu", &f, &n, &gcas), 3);
    assert_int_equal(gcas, cas);
    text_expect(fd, "x\r\nEND\r\n");
    /* A negative TTL expires at once. */
    text_xchg(fd, "ms gone 1 T-1\r\nx\r\nmg gone v\r\n", "HD\r\nEN\r\n");
    close(fd);
}

static void test_ms_modes_and_cas(void **state)
{
    int fd = conn(state);
    text_xchg(fd, "ms k 1 MR\r\nx\r\n", "NS\r\n");
    text_xchg(fd, "ms k 1 ME\r\nx\r\n", "HD\r\n");
    text_xchg(fd, "ms k 1 ME\r\ny\r\n", "NS\r\n");
    text_xchg(fd, "ms k 1 MA\r\nb\r\n", "HD\r\n");
    text_xchg(fd, "ms k 1 MP\r\na\r\n", "HD\r\n");
    text_xchg(fd, "ms k 2 MR F9\r\nzz\r\nmg k v f\r\n", "HD\r\nVA 2 f9\r\nzz\r\n");
    text_xchg(fd, "ms k 1 MS\r\ns\r\nmg k v\r\n", "HD\r\nVA 1\r\ns\r\n");
    text_xchg(fd, "ms nope 1 MA\r\nx\r\n", "NS\r\n");
    text_xchg(fd, "ms k 1 MX\r\nx\r\n", "CLIENT_ERROR invalid mode for ms M token\r\n");
    char line[256], cmd[128];
    text_send(fd, "ms k 1 c\r\nv\r\n");
    unsigned long long cas = line_flag(fd, 'c', line, sizeof(line));
    snprintf(cmd, sizeof(cmd), "ms k 1 C%llu\r\nw\r\n", cas + 1);
    text_xchg(fd, cmd, "EX\r\n");
    snprintf(cmd, sizeof(cmd), "ms k 1 C%llu\r\nw\r\n", cas);
    text_xchg(fd, cmd, "HD\r\n");
    text_xchg(fd, "ms missing 1 C5\r\nw\r\n", "NF\r\n");
    /* E: the client chooses the new CAS (memcached 1.6.18 predates E). */
    if (!server_is_memcached()) {
        text_xchg(fd, "ms e 1 E987654\r\nx\r\nmg e c\r\n", "HD\r\nHD c987654\r\n");
        text_xchg(fd, "ms e 1 C987654 E55\r\ny\r\nmg e c v\r\n", "HD\r\nVA 1 c55\r\ny\r\n");
    }
    /* b: a base64 key is the same key as its decoded form. */
    text_xchg(fd, "ms Zm9vYg== 2 b\r\nhi\r\nmg foob v\r\n", "HD\r\nVA 2\r\nhi\r\n");
    text_xchg(fd, "mg Zm9vYg== b k v\r\n", "VA 2 kZm9vYg== b\r\nhi\r\n");
    close(fd);
}

static void test_md(void **state)
{
    int fd = conn(state);
    text_xchg(fd, "md k\r\n", "NF\r\n");
    text_xchg(fd, "ms k 1\r\nx\r\nmd k O3 k\r\n", "HD\r\nHD O3 kk\r\n");
    text_xchg(fd, "mg k v\r\n", "EN\r\n");
    char line[256], cmd[128];
    text_send(fd, "ms k 1 c\r\nx\r\n");
    unsigned long long cas = line_flag(fd, 'c', line, sizeof(line));
    snprintf(cmd, sizeof(cmd), "md k C%llu\r\n", cas + 1);
    text_xchg(fd, cmd, "EX\r\n");
    snprintf(cmd, sizeof(cmd), "md k C%llu\r\n", cas);
    text_xchg(fd, cmd, "HD\r\n");
    close(fd);
}

static void test_ma(void **state)
{
    int fd = conn(state);
    text_xchg(fd, "ma n\r\n", "NF\r\n");
    text_xchg(fd, "ma n N0 J10 v\r\n", "VA 2\r\n10\r\n");
    text_xchg(fd, "ma n v\r\n", "VA 2\r\n11\r\n");
    text_xchg(fd, "ma n D9 v\r\n", "VA 2\r\n20\r\n");
    text_xchg(fd, "ma n MD D5 v\r\n", "VA 2\r\n15\r\n");
    text_xchg(fd, "ma n M- D100 v\r\n", "VA 1\r\n0\r\n");
    text_xchg(fd, "ma n\r\n", "HD\r\n");
    text_xchg(fd, "ma n O9 k\r\n", "HD O9 kn\r\n");
    text_xchg(fd, "ma n T60 t v\r\n", "VA 1 t60\r\n3\r\n");
    xchg_ttl(fd, "mg n t\r\n", "HD t", 60, "", NULL);
    text_xchg(fd, "ms s 1\r\nx\r\nma s\r\n",
              "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    text_xchg(fd, "ma n MZ\r\n", "CLIENT_ERROR invalid mode for ma M token\r\n");
    char line[256], cmd[128];
    text_send(fd, "ma n c\r\n");
    unsigned long long cas = line_flag(fd, 'c', line, sizeof(line));
    snprintf(cmd, sizeof(cmd), "ma n C%llu\r\n", cas + 1);
    text_xchg(fd, cmd, "EX\r\n");
    snprintf(cmd, sizeof(cmd), "ma n C%llu v\r\n", cas);
    text_xchg(fd, cmd, "VA 1\r\n5\r\n");
    close(fd);
}

/* Quiet mode: q hides EN (mg) and HD (ms, md, ma); errors and hits still come; mn ends it. */
static void test_quiet_pipeline(void **state)
{
    int fd = conn(state);
    text_xchg(fd,
              "ms a 1 q\r\n1\r\nms b 1 q\r\n2\r\nmg a v q\r\nmg miss v q\r\nmg b v q k\r\n"
              "md a q\r\nmd a q\r\nma cnt q\r\nma b q\r\nms c 1 q MR\r\nx\r\nmn\r\n",
              "VA 1\r\n1\r\nVA 1 kb\r\n2\r\nNF\r\nNF\r\nNS\r\nMN\r\n");
    text_xchg(fd, "mg b v\r\n", "VA 1\r\n3\r\n");
    text_xchg(fd, "mn\r\n", "MN\r\n");
    close(fd);
}

/* Stale-while-revalidate: md I marks stale; the first mg wins (W), others see Z; a set clears. */
static void test_stale_while_revalidate(void **state)
{
    int fd = conn(state), other = conn(state);
    text_xchg(fd, "ms s 3 T100\r\nold\r\n", "HD\r\n");
    text_xchg(fd, "md s I T30\r\n", "HD\r\n");
    xchg_ttl(fd, "mg s v t\r\n", "VA 3 t", 30, " X W", "old\r\n");
    text_xchg(other, "mg s v\r\n", "VA 3 Z X\r\nold\r\n");
    text_xchg(fd, "ms s 3\r\nnew\r\n", "HD\r\n");
    text_xchg(other, "mg s v\r\n", "VA 3\r\nnew\r\n");
    text_xchg(fd, "md nope I\r\n", "NF\r\n");
    /* ms I with an older CAS stores anyway, marked stale; a newer CAS is refused. */
    char line[128], cmd[128];
    text_send(fd, "ms si 1 c\r\na\r\n");
    text_read_line(fd, line, sizeof(line));
    unsigned long long cas = strtoull(line + 4, NULL, 10);
    text_xchg(fd, "ms si 1 c\r\nb\r\n", "HD c");
    text_read_line(fd, line, sizeof(line));
    snprintf(cmd, sizeof(cmd), "ms si 1 I C%llu\r\nc\r\n", cas);
    text_xchg(fd, cmd, "HD\r\n");
    text_xchg(other, "mg si v\r\n", "VA 1 X W\r\nc\r\n");
    text_xchg(fd, "ms si 1 I C999999999\r\nd\r\n", "EX\r\n");
    /* N: a miss vivifies an empty item and wins; the next reader sees Z. */
    xchg_ttl(fd, "mg v N30 v s t\r\n", "VA 0 s0 t", 30, " W", "\r\n");
    text_xchg(other, "mg v N30 v\r\n", "VA 0 Z\r\n\r\n");
    /* R: a TTL below the token wins a recache once. */
    text_xchg(fd, "ms r 1 T10\r\nx\r\n", "HD\r\n");
    text_xchg(fd, "mg r R30 v\r\n", "VA 1 W\r\nx\r\n");
    text_xchg(other, "mg r R30 v\r\n", "VA 1 Z\r\nx\r\n");
    text_xchg(fd, "ms r 1 T100\r\ny\r\nmg r R30 v\r\n", "HD\r\nVA 1\r\ny\r\n");
    close(fd);
    close(other);
}

static void test_errors_and_me(void **state)
{
    int fd = conn(state);
    text_xchg(fd, "mg foo zz\r\n", "CLIENT_ERROR invalid flag\r\n");
    text_xchg(fd, "mg foo v v\r\n", "CLIENT_ERROR duplicate flag\r\n");
    text_xchg(fd, "mg foo Tx\r\n", "CLIENT_ERROR bad token in command line format\r\n");
    text_xchg(fd, "mg\r\n", "ERROR\r\n");
    /* A refused ms still skips its data block. */
    text_xchg(fd, "ms foo 2 Zz\r\nhi\r\nmn\r\n", "CLIENT_ERROR invalid flag\r\nMN\r\n");
    text_xchg(fd, "ms foo 2 O123456789012345678901234567890123\r\nhi\r\nmn\r\n",
              "CLIENT_ERROR opaque token too long\r\nMN\r\n");
    text_xchg(fd, "ms foo 2\r\nhiX\r\n", "CLIENT_ERROR bad data chunk\r\n");
    text_xchg(fd, "mn\r\n", "ERROR\r\nMN\r\n"); /* "X\r\n" read as a command */
    text_xchg(fd, "ms foo bar\r\n", "CLIENT_ERROR bad command line format\r\n");
    text_xchg(fd, "mg Zm9 b v\r\n", "CLIENT_ERROR error decoding key\r\n");
    text_xchg(fd, "me nope\r\n", "EN\r\n");
    if (!server_is_memcached()) {
        text_xchg(fd, "ms dbg 1\r\nx\r\nme dbg\r\n", "HD\r\nME dbg exp=-1 la=");
        char line[256];
        text_read_line(fd, line, sizeof(line));
        assert_non_null(strstr(line, "fetch=no"));
    }
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mg_ms_basic, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_ms_modes_and_cas, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_md, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_ma, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_quiet_pipeline, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_stale_while_revalidate, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_errors_and_me, server_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
