/*
 * Integration test harness: server processes (fork/exec, readiness by
 * connecting, stop by PID with bounded waits), raw sockets with timeouts, and
 * binary frames encoded with the protocol codec. Runs on the test's thread.
 */
#include "integration/harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_ATTEMPTS 5
#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000
#define MAX_ARGS 64
#define MAX_BODY (64u << 20)

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

const char *server_path(void)
{
    const char *p = getenv("BASALT_TEST_SERVER");
    return p && *p ? p : BASALT_BIN;
}

bool server_is_memcached(void)
{
    const char *p = server_path();
    const char *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    return strncmp(base, "memcached", 9) == 0;
}

/* Binds port 0 on loopback to learn a free port; racy by nature, start retries. */
int pick_free_port(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int rc = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        *port = ntohs(a.sin_port);
        rc = 0;
    }
    close(fd);
    return rc;
}

static void add_list(const char **argv, int *n, const char *const *list)
{
    for (; list && *list && *n < MAX_ARGS - 1; list++) {
        argv[(*n)++] = *list;
    }
}

/* Child side of fork: dies with the test process, then execs the server. */
static void exec_server(const char **argv, pid_t parent, const char *stderr_path)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(127);
    }
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
    }
    int log = stderr_path ? open(stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0600) : -1;
    if (log >= 0) {
        dup2(log, STDERR_FILENO);
    }
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        return errno == ENOENT ? 0 : -1;
    }
    struct dirent *e;
    char file[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
            unlink(file);
        }
    }
    closedir(d);
    return rmdir(path);
}

#define DATA_DIR_MARK "@DATA_DIR@"

/* Copies env into buf with every @DATA_DIR@ replaced by a fresh directory made for s. */
static int expand_data_dir(struct server *s, const char *env, char *buf, size_t cap)
{
    const char *mark = strstr(env, DATA_DIR_MARK);
    if (mark == NULL) {
        snprintf(buf, cap, "%s", env);
        return 0;
    }
    if (s->data_dir[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(s->data_dir, sizeof(s->data_dir), "%s/basalt-data-XXXXXX", tmp ? tmp : "/tmp");
        if (mkdtemp(s->data_dir) == NULL) {
            s->data_dir[0] = '\0';
            return -1;
        }
    }
    snprintf(buf, cap, "%.*s%s%s", (int)(mark - env), env, s->data_dir,
             mark + strlen(DATA_DIR_MARK));
    return 0;
}

/*
 * Appends $BASALT_TEST_ARGS (words separated by spaces) for basalt: how ctest
 * runs the same suite against other engine settings (e.g. wouldblock, disk;
 * @DATA_DIR@ stands for an empty directory per server). buf holds the words
 * and must live until exec.
 */
static void add_env_args(struct server *s, const char **argv, int *n, char *buf, size_t cap)
{
    const char *env = getenv("BASALT_TEST_ARGS");
    if (env == NULL || expand_data_dir(s, env, buf, cap) != 0) {
        return;
    }
    for (char *w = strtok(buf, " "); w && *n < MAX_ARGS - 1; w = strtok(NULL, " ")) {
        argv[(*n)++] = w;
    }
}

static pid_t spawn_server(struct server *s, const struct server_opts *o)
{
    static char env_args[1024];
    char port[16];
    snprintf(port, sizeof(port), "%u", (unsigned)s->port);
    const char *argv[MAX_ARGS];
    int n = 0;
    argv[n++] = server_path();
    argv[n++] = "-p";
    argv[n++] = port;
    argv[n++] = "-l";
    argv[n++] = "127.0.0.1";
    if (s->is_memcached) {
        argv[n++] = "-U";
        argv[n++] = "0";
        if (geteuid() == 0) {
            argv[n++] = "-u";
            argv[n++] = "root";
        }
    }
    if (o) {
        add_list(argv, &n, o->args);
        add_list(argv, &n, s->is_memcached ? o->memcached_args : o->basalt_args);
    }
    if (!s->is_memcached) {
        add_env_args(s, argv, &n, env_args, sizeof(env_args));
    }
    argv[n] = NULL;
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        exec_server(argv, parent, o ? o->stderr_path : NULL);
    }
    return pid;
}

static bool try_connect(uint16_t port)
{
    int fd = sock_connect(port);
    if (fd < 0) {
        return false;
    }
    close(fd);
    return true;
}

/* Waits until the server accepts; -1 if it exited, -2 if the bound passed. */
static int wait_ready(struct server *s)
{
    int64_t deadline = now_ms() + READY_TIMEOUT_MS;
    while (now_ms() < deadline) {
        if (!server_alive(s)) {
            return -1;
        }
        if (try_connect(s->port)) {
            return 0;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "harness: server pid %d not ready after %d ms\n", (int)s->pid,
            READY_TIMEOUT_MS);
    return -2;
}

int server_start(struct server *s, const struct server_opts *o)
{
    signal(SIGPIPE, SIG_IGN);
    memset(s, 0, sizeof(*s));
    s->is_memcached = server_is_memcached();
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        if (pick_free_port(&s->port) != 0) {
            continue;
        }
        s->reaped = false;
        s->pid = spawn_server(s, o);
        if (s->pid < 0) {
            s->pid = 0;
            return -1;
        }
        int ready = wait_ready(s);
        if (ready == 0) {
            return 0;
        }
        (void)server_stop(s);
        if (ready == -2) {
            return -1; /* alive but not listening: retrying would only multiply the wait */
        }
        /* It exited, e.g. the port was taken meanwhile: try another. */
        fprintf(stderr, "harness: start attempt %d on port %u failed\n", attempt + 1,
                (unsigned)s->port);
    }
    return -1;
}

bool server_alive(struct server *s)
{
    if (s->pid <= 0 || s->reaped) {
        return false;
    }
    int st;
    pid_t r = waitpid(s->pid, &st, WNOHANG);
    if (r == s->pid) {
        s->reaped = true;
        s->status = st;
        return false;
    }
    return r == 0;
}

static int report_status(const struct server *s, bool killed)
{
    int st = s->status;
    if (killed) {
        fprintf(stderr, "harness: server pid %d ignored SIGTERM for %d ms; killed\n", (int)s->pid,
                STOP_TIMEOUT_MS);
        return -1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        return 0;
    }
    if (WIFEXITED(st)) {
        fprintf(stderr, "harness: server pid %d exited with status %d\n", (int)s->pid,
                WEXITSTATUS(st));
    } else if (WIFSIGNALED(st)) {
        fprintf(stderr, "harness: server pid %d died of signal %d (%s)\n", (int)s->pid,
                WTERMSIG(st), strsignal(WTERMSIG(st)));
    }
    return -1;
}

int server_stop(struct server *s)
{
    if (s->pid <= 0) {
        return 0;
    }
    bool killed = false;
    if (server_alive(s)) {
        kill(s->pid, SIGTERM);
        int64_t deadline = now_ms() + STOP_TIMEOUT_MS;
        while (server_alive(s) && now_ms() < deadline) {
            sleep_ms(5);
        }
        if (!s->reaped) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &s->status, 0);
            s->reaped = true;
            killed = true;
        }
    }
    int rc = report_status(s, killed);
    s->pid = 0;
    if (s->data_dir[0] != '\0') {
        if (remove_dir(s->data_dir) != 0) {
            fprintf(stderr, "harness: cannot remove %s: %s\n", s->data_dir, strerror(errno));
        }
        s->data_dir[0] = '\0';
    }
    return rc;
}

int server_setup_opts(void **state, const struct server_opts *o)
{
    struct server *s = calloc(1, sizeof(*s));
    if (!s) {
        return -1;
    }
    *state = s;
    if (server_start(s, o) != 0) {
        fprintf(stderr, "harness: could not start %s\n", server_path());
        free(s); /* cmocka skips teardown when setup fails; nothing is left running */
        *state = NULL;
        return -1;
    }
    return 0;
}

int server_setup(void **state)
{
    return server_setup_opts(state, NULL);
}

int server_teardown(void **state)
{
    struct server *s = *state;
    if (!s) {
        return 0;
    }
    int rc = server_stop(s);
    free(s);
    *state = NULL;
    return rc;
}

long server_rss_kib(const struct server *s)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    long kib = -1;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
            break;
        }
    }
    fclose(f);
    return kib;
}

int sock_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;
    do {
        r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r;
}

int sock_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, IO_TIMEOUT_MS) <= 0) {
                fprintf(stderr, "harness: write stalled for %d ms\n", IO_TIMEOUT_MS);
                return -1;
            }
        } else if (w < 0 && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

int sock_read_exact(int fd, void *buf, size_t n, int timeout_ms)
{
    uint8_t *p = buf;
    int64_t deadline = now_ms() + timeout_ms;
    while (n > 0) {
        int left = (int)(deadline - now_ms());
        if (left <= 0 || wait_fd(fd, POLLIN, left) <= 0) {
            fprintf(stderr, "harness: read timed out, %zu bytes missing\n", n);
            return -1;
        }
        ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
        if (r == 0) {
            fprintf(stderr, "harness: connection closed, %zu bytes missing\n", n);
            return -1;
        }
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            fprintf(stderr, "harness: read: %s\n", strerror(errno));
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

bool sock_expect_closed(int fd, int timeout_ms)
{
    if (wait_fd(fd, POLLIN, timeout_ms) <= 0) {
        fprintf(stderr, "harness: connection still open after %d ms\n", timeout_ms);
        return false;
    }
    uint8_t b[64];
    ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno == ECONNRESET)) {
        return true;
    }
    if (r > 0) {
        fprintf(stderr, "harness: expected close, got %zd bytes, first 0x%02x\n", r, b[0]);
    } else {
        fprintf(stderr, "harness: expected close, got %s\n", strerror(errno));
    }
    return false;
}

bool sock_expect_silent(int fd, int timeout_ms)
{
    int r = wait_fd(fd, POLLIN, timeout_ms);
    if (r != 0) {
        uint8_t b;
        ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
        fprintf(stderr, "harness: expected silence, recv gives %zd (first byte 0x%02x)\n", n,
                n > 0 ? b : 0);
    }
    return r == 0;
}

size_t frame_size(const struct frame_req *r)
{
    return BIN_HEADER_LEN + r->extlen + r->keylen + r->vallen;
}

void frame_encode(const struct frame_req *r, uint8_t *out)
{
    struct bin_header h = {
        .magic = BIN_MAGIC_REQUEST,
        .opcode = r->opcode,
        .keylen = r->keylen,
        .extlen = r->extlen,
        .bodylen = (uint32_t)r->extlen + r->keylen + r->vallen,
        .opaque = r->opaque,
        .cas = r->cas,
    };
    bin_header_encode(&h, out);
    uint8_t *p = out + BIN_HEADER_LEN;
    if (r->extlen) {
        memcpy(p, r->extras, r->extlen);
        p += r->extlen;
    }
    if (r->keylen) {
        memcpy(p, r->key, r->keylen);
        p += r->keylen;
    }
    if (r->vallen) {
        memcpy(p, r->value, r->vallen);
    }
}

int frame_send(int fd, const struct frame_req *r)
{
    size_t n = frame_size(r);
    uint8_t *buf = malloc(n);
    if (!buf) {
        return -1;
    }
    frame_encode(r, buf);
    int rc = sock_write_all(fd, buf, n);
    free(buf);
    return rc;
}

int frame_recv(int fd, struct frame_resp *m, int timeout_ms)
{
    uint8_t raw[BIN_HEADER_LEN];
    memset(m, 0, sizeof(*m));
    int64_t deadline = now_ms() + timeout_ms;
    if (sock_read_exact(fd, raw, sizeof(raw), timeout_ms) != 0) {
        return -1;
    }
    bin_header_decode(raw, &m->h);
    if (m->h.bodylen == 0) {
        return 0;
    }
    if (m->h.bodylen > MAX_BODY) {
        fprintf(stderr, "harness: response bodylen %u too large\n", m->h.bodylen);
        return -1;
    }
    m->body = malloc(m->h.bodylen);
    if (!m->body || sock_read_exact(fd, m->body, m->h.bodylen, (int)(deadline - now_ms())) != 0) {
        frame_free(m);
        return -1;
    }
    return 0;
}

void frame_free(struct frame_resp *m)
{
    free(m->body);
    m->body = NULL;
}

int frame_call(int fd, const struct frame_req *r, struct frame_resp *m)
{
    if (frame_send(fd, r) != 0 || frame_recv(fd, m, IO_TIMEOUT_MS) != 0) {
        return -1;
    }
    return resp_status(m);
}

const uint8_t *resp_key(const struct frame_resp *m)
{
    return m->body ? m->body + m->h.extlen : NULL;
}

const uint8_t *resp_value(const struct frame_resp *m)
{
    return m->body ? m->body + m->h.extlen + m->h.keylen : NULL;
}

uint32_t resp_vallen(const struct frame_resp *m)
{
    uint32_t skip = (uint32_t)m->h.extlen + m->h.keylen;
    return m->h.bodylen > skip ? m->h.bodylen - skip : 0;
}

int kv_set(int fd, uint8_t opcode, const char *key, const void *val, uint32_t vallen,
           uint32_t exptime, uint64_t cas)
{
    uint8_t ext[8];
    bin_put_u32(ext, 0);
    bin_put_u32(ext + 4, exptime);
    bool with_extras = opcode != BIN_CMD_APPEND && opcode != BIN_CMD_PREPEND &&
                       opcode != BIN_CMD_APPENDQ && opcode != BIN_CMD_PREPENDQ;
    struct frame_req r = {.opcode = opcode,
                          .extras = ext,
                          .extlen = with_extras ? 8 : 0,
                          .key = key,
                          .keylen = (uint16_t)strlen(key),
                          .value = val,
                          .vallen = vallen,
                          .cas = cas};
    struct frame_resp m;
    int st = frame_call(fd, &r, &m);
    frame_free(&m);
    return st;
}

int kv_get(int fd, const char *key, char *out, size_t cap, size_t *len)
{
    struct frame_req r = {.opcode = BIN_CMD_GET, .key = key, .keylen = (uint16_t)strlen(key)};
    struct frame_resp m;
    int st = frame_call(fd, &r, &m);
    if (st == BIN_STATUS_SUCCESS) {
        size_t n = resp_vallen(&m);
        *len = n;
        memcpy(out, resp_value(&m), n < cap ? n : cap);
    }
    frame_free(&m);
    return st;
}

int kv_arith(int fd, uint8_t opcode, const char *key, uint64_t delta, uint64_t initial,
             uint32_t exptime, uint64_t *result)
{
    uint8_t ext[20];
    bin_put_u64(ext, delta);
    bin_put_u64(ext + 8, initial);
    bin_put_u32(ext + 16, exptime);
    struct frame_req r = {.opcode = opcode,
                          .extras = ext,
                          .extlen = sizeof(ext),
                          .key = key,
                          .keylen = (uint16_t)strlen(key)};
    struct frame_resp m;
    int st = frame_call(fd, &r, &m);
    if (st == BIN_STATUS_SUCCESS) {
        if (resp_vallen(&m) != 8) {
            fprintf(stderr, "harness: arith reply has %u value bytes, not 8\n", resp_vallen(&m));
            st = -1;
        } else {
            *result = bin_get_u64(resp_value(&m));
        }
    }
    frame_free(&m);
    return st;
}

/* Reads STAT until its terminator and returns the value of name, or -1. */
long long stat_value(int fd, const char *name)
{
    struct frame_req r = {.opcode = BIN_CMD_STAT};
    if (frame_send(fd, &r) != 0) {
        return -1;
    }
    long long v = -1;
    for (;;) {
        struct frame_resp m;
        if (frame_recv(fd, &m, IO_TIMEOUT_MS) != 0) {
            return -1;
        }
        if (m.h.keylen == 0) {
            frame_free(&m);
            return v;
        }
        if (m.h.keylen == strlen(name) && memcmp(resp_key(&m), name, m.h.keylen) == 0) {
            char buf[32] = "";
            uint32_t n = resp_vallen(&m) < sizeof(buf) - 1 ? resp_vallen(&m) : sizeof(buf) - 1;
            memcpy(buf, resp_value(&m), n);
            v = atoll(buf);
        }
        frame_free(&m);
    }
}

/* Drains the child's pipes into r until both close or the deadline passes. */
static void proc_collect(int fds[2], struct proc_result *r, int64_t deadline)
{
    char *bufs[2] = {r->out, r->err};
    size_t used[2] = {0, 0};
    size_t cap = sizeof(r->out) - 1;
    bool open_[2] = {true, true};
    while ((open_[0] || open_[1]) && now_ms() < deadline) {
        struct pollfd p[2] = {{.fd = open_[0] ? fds[0] : -1, .events = POLLIN},
                              {.fd = open_[1] ? fds[1] : -1, .events = POLLIN}};
        if (poll(p, 2, (int)(deadline - now_ms())) <= 0) {
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (!open_[i] || !p[i].revents) {
                continue;
            }
            char tmp[4096];
            ssize_t n = read(fds[i], tmp, sizeof(tmp));
            if (n <= 0) {
                open_[i] = n < 0 && errno == EINTR;
                continue;
            }
            size_t take = (size_t)n < cap - used[i] ? (size_t)n : cap - used[i];
            memcpy(bufs[i] + used[i], tmp, take);
            used[i] += take;
        }
    }
    r->out[used[0]] = '\0';
    r->err[used[1]] = '\0';
}

int proc_run(char *const argv[], int timeout_ms, struct proc_result *r)
{
    memset(r, 0, sizeof(*r));
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        return -1;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        dup2(po[1], STDOUT_FILENO);
        dup2(pe[1], STDERR_FILENO);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    if (pid < 0) {
        close(po[0]);
        close(pe[0]);
        return -1;
    }
    int64_t deadline = now_ms() + timeout_ms;
    proc_collect((int[2]){po[0], pe[0]}, r, deadline);
    close(po[0]);
    close(pe[0]);
    while (waitpid(pid, &r->status, WNOHANG) == 0) {
        if (now_ms() >= deadline) {
            r->timed_out = true;
            kill(pid, SIGKILL);
            waitpid(pid, &r->status, 0);
            break;
        }
        sleep_ms(5);
    }
    return 0;
}
