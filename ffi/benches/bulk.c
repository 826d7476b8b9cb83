/* Bulk goodput through the C ABI: the same transfer as the Rust harness
 * (core/benches/compare, "goodput MTU 1500"): two stacks in one thread,
 * packets handed over directly through one reused buffer, virtual time that
 * jumps to the next deadline only when nothing else can happen, 256 KiB
 * buffers, the same 64 KiB pattern, thread CPU time.
 *
 * Usage: bulk MTU MEGABYTES RUNS  -> prints "c_abi_goodput_gbps <median>"
 * Built and run by core/benches/run.sh against libtcpkit.a. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcpkit.h"

#define CHECK(call)                                                                  \
    do {                                                                             \
        tcpkit_result r_ = (call);                                                   \
        if (r_ != TCPKIT_OK) {                                                       \
            fprintf(stderr, "%s:%d: %s -> %s\n", __FILE__, __LINE__, #call,           \
                    tcpkit_result_str(r_));                                          \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static double cpu_secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The packet buffer and the receive buffer are page-aligned heap blocks: as
 * static arrays their page offset came from the linker (0xae0 for pkt in one
 * build), and the aliasing of that offset with the rings cost ~5% by itself,
 * which is not the C ABI's cost. */
#define PKT_LEN 65536
#define RBUF_LEN (64 * 1024)
static uint8_t *pkt;
static uint8_t *rbuf;

/* Moves every ready packet from -> to; returns how many. */
static int move(tcpkit_stack *from, tcpkit_stack *to, uint64_t now) {
    int n = 0;
    size_t len;
    while (tcpkit_stack_poll_transmit(from, now, pkt, PKT_LEN, &len) == TCPKIT_OK) {
        (void)tcpkit_stack_feed(to, now, pkt, len);
        n++;
    }
    return n;
}

static void drain_events(tcpkit_stack *s) {
    tcpkit_event ev;
    while (tcpkit_stack_poll_event(s, &ev) == TCPKIT_OK) {
    }
}

/* Jumps virtual time to the next deadline of either stack; 0 if none. */
static int jump(tcpkit_stack *a, tcpkit_stack *b, uint64_t *now) {
    uint64_t da = UINT64_MAX, db = UINT64_MAX;
    int ha = tcpkit_stack_next_timeout(a, &da) == TCPKIT_OK;
    int hb = tcpkit_stack_next_timeout(b, &db) == TCPKIT_OK;
    if (!ha && !hb) return 0;
    uint64_t next = da < db ? da : db;
    if (next > *now) *now = next;
    CHECK(tcpkit_stack_handle_timeout(a, *now));
    CHECK(tcpkit_stack_handle_timeout(b, *now));
    return 1;
}

static double run(uint32_t mtu, size_t bytes, const uint8_t *app, size_t app_len) {
    tcpkit_config cfg;
    tcpkit_config_default(&cfg);
    cfg.mtu = mtu;
    cfg.send_buffer = cfg.recv_buffer = 256 * 1024;
    memset(cfg.isn_secret, 1, sizeof cfg.isn_secret);
    tcpkit_stack *a, *b;
    CHECK(tcpkit_stack_new(&cfg, &a));
    memset(cfg.isn_secret, 2, sizeof cfg.isn_secret);
    CHECK(tcpkit_stack_new(&cfg, &b));
    CHECK(tcpkit_stack_add_address(a, "192.0.2.1"));
    CHECK(tcpkit_stack_add_address(b, "192.0.2.2"));
    tcpkit_endpoint any, remote;
    CHECK(tcpkit_endpoint_parse("0.0.0.0:80", &any));
    CHECK(tcpkit_endpoint_parse("192.0.2.2:80", &remote));
    tcpkit_listener l;
    CHECK(tcpkit_listen(b, &any, 16, &l));
    uint64_t now = 1000000;
    tcpkit_conn c, s;
    CHECK(tcpkit_connect(a, now, &remote, 0, &c));
    for (;;) {
        while (move(a, b, now) + move(b, a, now) != 0) {
        }
        if (tcpkit_accept(b, l, &s) == TCPKIT_OK) break;
        if (!jump(a, b, &now)) {
            fprintf(stderr, "handshake stalled\n");
            exit(1);
        }
    }
    size_t sent = 0, recvd = 0;
    double t0 = cpu_secs();
    while (recvd < bytes) {
        int progress = move(a, b, now) + move(b, a, now) != 0;
        while (sent < bytes) {
            size_t off = sent % app_len;
            size_t end = off + (bytes - sent);
            if (end > app_len) end = app_len;
            size_t n;
            if (tcpkit_send(a, c, app + off, end - off, &n) != TCPKIT_OK || n == 0) break;
            sent += n;
            progress = 1;
        }
        progress |= move(a, b, now) + move(b, a, now) != 0;
        size_t n;
        while (tcpkit_recv(b, s, rbuf, RBUF_LEN, &n) == TCPKIT_OK && n > 0) {
            if (rbuf[n - 1] != app[(recvd + n - 1) % app_len]) {
                fprintf(stderr, "wrong data\n");
                exit(1);
            }
            recvd += n;
            progress = 1;
        }
        drain_events(a);
        drain_events(b);
        if (!progress && !jump(a, b, &now)) {
            fprintf(stderr, "bulk stalled\n");
            exit(1);
        }
    }
    double secs = cpu_secs() - t0;
    tcpkit_stack_free(a);
    tcpkit_stack_free(b);
    return (double)bytes * 8.0 / secs / 1e9;
}

static int cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    uint32_t mtu = argc > 1 ? (uint32_t)atoi(argv[1]) : 1500;
    size_t mb = argc > 2 ? (size_t)atoi(argv[2]) : 64;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (runs < 1 || runs > 99) runs = 5;
    size_t app_len = 64 * 1024;
    uint8_t *app = malloc(app_len);
    pkt = aligned_alloc(4096, PKT_LEN);
    rbuf = aligned_alloc(4096, RBUF_LEN);
    if (!app || !pkt || !rbuf) return 1;
    /* The same pattern as the Rust harness. */
    for (uint32_t i = 0; i < app_len; i++) app[i] = (uint8_t)((i * 2654435761u) >> 13);
    double r[99];
    (void)run(mtu, mb << 20, app, app_len); /* untimed warm-up, as in the Rust harness */
    for (int i = 0; i < runs; i++) r[i] = run(mtu, mb << 20, app, app_len);
    qsort(r, (size_t)runs, sizeof r[0], cmp);
    double med = runs % 2 ? r[runs / 2] : (r[runs / 2 - 1] + r[runs / 2]) / 2.0;
    printf("c_abi_goodput_gbps %.3f\n", med);
    free(app);
    free(pkt);
    free(rbuf);
    return 0;
}
