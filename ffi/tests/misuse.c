/*
 * misuse.c: the C ABI's documented answers to misuse, and its basic rules.
 * Every check prints nothing when it passes; a failure prints the line, and
 * the exit status is the number of failed checks (capped at 100).
 *
 * Run under valgrind and ASan/UBSan by ffi/tests/run.sh.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpkit.h"

static int failures;
static const char *current = "";

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, current, #cond);          \
        }                                                                                          \
    } while (0)

#define EXPECT_R(call, want)                                                                       \
    do {                                                                                           \
        tcpkit_result got_ = (call);                                                               \
        if (got_ != (want)) {                                                                      \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d [%s]: %s = %u (%s), want %s\n", __FILE__, __LINE__,        \
                    current, #call, (unsigned)got_, tcpkit_result_str(got_), #want);               \
        }                                                                                          \
    } while (0)

#define TEST(name) current = name

/* ---- layout: CONTRACT.md's fields, in CONTRACT.md's order ---- */

#include <stddef.h>
#define IN_ORDER(T, a, b) _Static_assert(offsetof(T, a) < offsetof(T, b), #T ": " #a " before " #b)
_Static_assert(sizeof(tcpkit_result) == 4 && sizeof(tcpkit_event_kind) == 4, "uint32_t enums");
_Static_assert(sizeof(tcpkit_state) == 4 && sizeof(tcpkit_option) == 4, "uint32_t enums");
_Static_assert(sizeof(tcpkit_conn) == 8 && sizeof(tcpkit_listener) == 8 && sizeof(tcpkit_udp) == 8,
               "uint64_t handles");
_Static_assert(offsetof(tcpkit_endpoint, family) == 0 && offsetof(tcpkit_endpoint, addr) == 1,
               "endpoint: family, addr");
IN_ORDER(tcpkit_endpoint, addr, port);
IN_ORDER(tcpkit_event, kind, handle);
IN_ORDER(tcpkit_event, handle, reason);
IN_ORDER(tcpkit_event, reason, user_data);
IN_ORDER(tcpkit_config, mtu, isn_secret);
IN_ORDER(tcpkit_config, isn_secret, send_buffer);
IN_ORDER(tcpkit_config, send_buffer, recv_buffer);
IN_ORDER(tcpkit_config, recv_buffer, max_connections);
IN_ORDER(tcpkit_config, max_connections, syn_backlog);
IN_ORDER(tcpkit_config, syn_backlog, time_wait_us);
IN_ORDER(tcpkit_config, time_wait_us, fin_wait2_timeout_us);
IN_ORDER(tcpkit_config, fin_wait2_timeout_us, initial_rto_us);
IN_ORDER(tcpkit_config, initial_rto_us, min_rto_us);
IN_ORDER(tcpkit_config, min_rto_us, max_rto_us);
IN_ORDER(tcpkit_config, max_rto_us, max_retries);
IN_ORDER(tcpkit_config, max_retries, delayed_ack_us);
IN_ORDER(tcpkit_config, delayed_ack_us, initial_cwnd_segments);
IN_ORDER(tcpkit_config, initial_cwnd_segments, congestion);
IN_ORDER(tcpkit_config, congestion, enable_sack);
IN_ORDER(tcpkit_config, enable_sack, enable_timestamps);
IN_ORDER(tcpkit_config, enable_timestamps, enable_window_scale);
IN_ORDER(tcpkit_config, enable_window_scale, accept_any_destination);
IN_ORDER(tcpkit_config, accept_any_destination, reserved);
_Static_assert(sizeof(((tcpkit_config *)0)->reserved) == 64, "config reserved[64]");
IN_ORDER(tcpkit_conn_info, state, local);
IN_ORDER(tcpkit_conn_info, local, remote);
IN_ORDER(tcpkit_conn_info, remote, mss);
IN_ORDER(tcpkit_conn_info, mss, srtt_us);
IN_ORDER(tcpkit_conn_info, srtt_us, rttvar_us);
IN_ORDER(tcpkit_conn_info, rttvar_us, rto_us);
IN_ORDER(tcpkit_conn_info, rto_us, cwnd);
IN_ORDER(tcpkit_conn_info, cwnd, ssthresh);
IN_ORDER(tcpkit_conn_info, ssthresh, snd_wnd);
IN_ORDER(tcpkit_conn_info, snd_wnd, rcv_wnd);
IN_ORDER(tcpkit_conn_info, rcv_wnd, bytes_sent);
IN_ORDER(tcpkit_conn_info, bytes_sent, bytes_acked);
IN_ORDER(tcpkit_conn_info, bytes_acked, bytes_received);
IN_ORDER(tcpkit_conn_info, bytes_received, bytes_unsent);
IN_ORDER(tcpkit_conn_info, bytes_unsent, bytes_unacked);
IN_ORDER(tcpkit_conn_info, bytes_unacked, bytes_readable);
IN_ORDER(tcpkit_conn_info, bytes_readable, segs_sent);
IN_ORDER(tcpkit_conn_info, segs_sent, segs_received);
IN_ORDER(tcpkit_conn_info, segs_received, segs_retransmitted);
IN_ORDER(tcpkit_conn_info, segs_retransmitted, timeouts);
IN_ORDER(tcpkit_conn_info, timeouts, sack_recoveries);
IN_ORDER(tcpkit_conn_info, sack_recoveries, reserved);
_Static_assert(sizeof(((tcpkit_conn_info *)0)->reserved) == 64, "conn_info reserved[64]");
IN_ORDER(tcpkit_counters, packets_in, packets_out);
IN_ORDER(tcpkit_counters, packets_out, bytes_in);
IN_ORDER(tcpkit_counters, bytes_in, bytes_out);
IN_ORDER(tcpkit_counters, bytes_out, dropped_malformed);
IN_ORDER(tcpkit_counters, dropped_malformed, dropped_checksum);
IN_ORDER(tcpkit_counters, dropped_checksum, dropped_not_for_us);
IN_ORDER(tcpkit_counters, dropped_not_for_us, dropped_no_listener);
IN_ORDER(tcpkit_counters, dropped_no_listener, syn_cookies_sent);
IN_ORDER(tcpkit_counters, syn_cookies_sent, syn_cookies_accepted);
IN_ORDER(tcpkit_counters, syn_cookies_accepted, rst_sent);
IN_ORDER(tcpkit_counters, rst_sent, challenge_acks_sent);
IN_ORDER(tcpkit_counters, challenge_acks_sent, connections_opened);
IN_ORDER(tcpkit_counters, connections_opened, connections_closed);
IN_ORDER(tcpkit_counters, connections_closed, connections_active);
IN_ORDER(tcpkit_counters, connections_active, reserved);
_Static_assert(sizeof(((tcpkit_counters *)0)->reserved) == 128, "counters reserved[128]");

/* ---- a loss-free wire between two stacks, recording events ---- */

#define MAX_EVENTS 256
typedef struct {
    tcpkit_stack *s;
    tcpkit_event ev[MAX_EVENTS];
    size_t nev;
} side;

static uint64_t now_us;

static void collect(side *x) {
    tcpkit_event e;
    while (tcpkit_stack_poll_event(x->s, &e) == TCPKIT_OK)
        if (x->nev < MAX_EVENTS) x->ev[x->nev++] = e;
}

/* Number of recorded events of `kind` naming `handle` (0: any handle). */
static size_t count_events(const side *x, tcpkit_event_kind kind, uint64_t handle) {
    size_t n = 0;
    for (size_t i = 0; i < x->nev; i++)
        if (x->ev[i].kind == kind && (handle == 0 || x->ev[i].handle == handle)) n++;
    return n;
}

static const tcpkit_event *find_event(const side *x, tcpkit_event_kind kind, uint64_t handle) {
    for (size_t i = 0; i < x->nev; i++)
        if (x->ev[i].kind == kind && x->ev[i].handle == handle) return &x->ev[i];
    return NULL;
}

static size_t move_packets(side *from, side *to) {
    uint8_t buf[2048];
    size_t moved = 0, len = 0;
    while (tcpkit_stack_poll_transmit(from->s, now_us, buf, sizeof buf, &len) == TCPKIT_OK) {
        tcpkit_stack_feed(to->s, now_us, buf, len);
        moved++;
    }
    return moved;
}

/* Exchanges packets until both sides are quiet; advances time by 1 ms per
   round so delayed ACKs fire, and runs due timers. Bounded. */
static void settle(side *a, side *b) {
    for (int round = 0; round < 2000; round++) {
        size_t moved = move_packets(a, b) + move_packets(b, a);
        collect(a);
        collect(b);
        uint64_t ta = UINT64_MAX, tb = UINT64_MAX;
        tcpkit_stack_next_timeout(a->s, &ta);
        tcpkit_stack_next_timeout(b->s, &tb);
        if (moved == 0 && (ta == UINT64_MAX || ta > now_us + 200000) &&
            (tb == UINT64_MAX || tb > now_us + 200000))
            return;
        now_us += 1000;
        if (ta <= now_us) tcpkit_stack_handle_timeout(a->s, now_us);
        if (tb <= now_us) tcpkit_stack_handle_timeout(b->s, now_us);
    }
}

static tcpkit_stack *new_stack(const char *addr) {
    tcpkit_stack *s = NULL;
    tcpkit_result r = tcpkit_stack_new(NULL, &s);
    if (r != TCPKIT_OK || !s) {
        fprintf(stderr, "misuse: tcpkit_stack_new: %s\n", tcpkit_result_str(r));
        exit(100);
    }
    r = tcpkit_stack_add_address(s, addr);
    if (r != TCPKIT_OK) {
        failures++;
        fprintf(stderr, "FAIL: tcpkit_stack_add_address(%s) = %s\n", addr, tcpkit_result_str(r));
    }
    return s;
}

static tcpkit_endpoint ep(const char *text) {
    tcpkit_endpoint e;
    memset(&e, 0, sizeof e);
    tcpkit_result r = tcpkit_endpoint_parse(text, &e);
    if (r != TCPKIT_OK) {
        failures++;
        fprintf(stderr, "FAIL: tcpkit_endpoint_parse(%s) = %s\n", text, tcpkit_result_str(r));
    }
    return e;
}

/* ---- tests that need no connection ---- */

static void test_strings(void) {
    TEST("strings");
    EXPECT(tcpkit_version() != NULL && strlen(tcpkit_version()) > 0);
    EXPECT(!strcmp(tcpkit_result_str(4242), "unknown result"));
    EXPECT(!strcmp(tcpkit_result_str(2), "unknown result"));
    EXPECT(strcmp(tcpkit_result_str(TCPKIT_OK), "unknown result") != 0);
    EXPECT(strcmp(tcpkit_result_str(TCPKIT_ERR_PANIC), "unknown result") != 0);
    EXPECT(strcmp(tcpkit_result_str(TCPKIT_ERR_REFUSED), tcpkit_result_str(TCPKIT_ERR_RESET)) != 0);
}

static void test_null_pointers(void) {
    TEST("null pointers");
    tcpkit_stack *s = new_stack("192.0.2.2");
    tcpkit_event e;
    uint64_t u64 = 0;
    size_t n = 0;
    uint8_t buf[16] = {0};
    tcpkit_endpoint any = ep("*:80");
    tcpkit_listener l = 0;
    tcpkit_conn c = 0;
    tcpkit_config_default(NULL); /* must not crash */
    tcpkit_stack_free(NULL);     /* fine */
    EXPECT_R(tcpkit_stack_new(NULL, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_add_address(NULL, "192.0.2.3"), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_add_address(s, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_feed(NULL, 0, buf, sizeof buf), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_feed(s, 0, NULL, 20), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_poll_transmit(s, 0, NULL, 1500, &n), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_poll_transmit(s, 0, buf, sizeof buf, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_poll_event(s, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_poll_event(NULL, &e), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_next_timeout(s, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_handle_timeout(NULL, 0), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_stack_get_counters(s, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_endpoint_parse(NULL, &any), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_endpoint_parse("1.2.3.4:5", NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_endpoint_format(NULL, (char *)buf, sizeof buf, &n), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_listen(s, NULL, 8, &l), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_listen(s, &any, 8, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_accept(s, 1, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_connect(s, 0, NULL, 0, &c), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_connect_from(s, 0, &any, NULL, &c), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_send(s, 1, NULL, 4, &n), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_send(s, 1, buf, 4, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_recv(s, 1, NULL, 4, &n), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_recv(s, 1, buf, 4, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_conn_state(s, 1, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_conn_get_info(s, 1, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_conn_get_option(s, 1, TCPKIT_OPT_NODELAY, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_udp_bind(s, NULL, &u64), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_udp_recv_from(s, 1, buf, sizeof buf, &n, NULL), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_shutdown(NULL, 1), TCPKIT_ERR_NULL);
    EXPECT_R(tcpkit_close(NULL, 1), TCPKIT_ERR_NULL);
    EXPECT(l == 0 && c == 0); /* outputs untouched on failure */
    tcpkit_stack_free(s);
}

static void test_config_and_new(void) {
    TEST("config and new");
    tcpkit_config cfg;
    tcpkit_config_default(&cfg);
    EXPECT(cfg.mtu == 1500);
    EXPECT(cfg.max_connections == 1048576);
    EXPECT(cfg.delayed_ack_us == 40000);
    EXPECT(cfg.initial_cwnd_segments == 10);
    EXPECT(cfg.congestion == TCPKIT_CC_CUBIC);
    EXPECT(cfg.enable_sack == 1 && cfg.enable_timestamps == 1 && cfg.enable_window_scale == 1);
    EXPECT(cfg.accept_any_destination == 0);

    tcpkit_stack *sentinel = (tcpkit_stack *)&cfg, *s = sentinel;
    tcpkit_config bad = cfg;
    bad.congestion = 7;
    EXPECT_R(tcpkit_stack_new(&bad, &s), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT(s == sentinel); /* _new writes *out only on success */
    bad = cfg;
    bad.enable_sack = 2;
    EXPECT_R(tcpkit_stack_new(&bad, &s), TCPKIT_ERR_INVALID_ARGUMENT);
    bad = cfg;
    bad.mtu = 100;
    EXPECT_R(tcpkit_stack_new(&bad, &s), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT(s == sentinel);
    EXPECT_R(tcpkit_stack_new(&cfg, &s), TCPKIT_OK);
    EXPECT(s != sentinel && s != NULL);
    if (s != sentinel) tcpkit_stack_free(s);
}

static void test_endpoints(void) {
    TEST("endpoints");
    tcpkit_endpoint e;
    memset(&e, 0xab, sizeof e);
    tcpkit_endpoint before = e;
    EXPECT_R(tcpkit_endpoint_parse("not an address", &e), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT_R(tcpkit_endpoint_parse("192.0.2.1:65536", &e), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT_R(tcpkit_endpoint_parse("2001:db8::1:80", &e), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT(!memcmp(&e, &before, sizeof e));
    EXPECT_R(tcpkit_endpoint_parse("192.0.2.1:80", &e), TCPKIT_OK);
    EXPECT(e.family == 4 && e.addr[0] == 192 && e.addr[3] == 1 && e.addr[4] == 0 && e.port == 80);
    char text[TCPKIT_ENDPOINT_STRLEN];
    size_t n = 0;
    EXPECT_R(tcpkit_endpoint_format(&e, text, sizeof text, &n), TCPKIT_OK);
    EXPECT(n == strlen("192.0.2.1:80") && !strcmp(text, "192.0.2.1:80"));
    EXPECT_R(tcpkit_endpoint_parse("[2001:db8::1]:443", &e), TCPKIT_OK);
    EXPECT(e.family == 6 && e.addr[0] == 0x20 && e.addr[1] == 0x01 && e.addr[15] == 1);
    char small[4] = {'x', 'x', 'x', 'x'};
    n = 0;
    EXPECT_R(tcpkit_endpoint_format(&e, small, sizeof small, &n), TCPKIT_ERR_BUFFER_TOO_SMALL);
    EXPECT(n == strlen("[2001:db8::1]:443") + 1);
    EXPECT(small[0] == 'x');
    EXPECT_R(tcpkit_endpoint_format(&e, text, n, &n), TCPKIT_OK);
    EXPECT(!strcmp(text, "[2001:db8::1]:443"));
    e.family = 5;
    EXPECT_R(tcpkit_endpoint_format(&e, text, sizeof text, &n), TCPKIT_ERR_INVALID_ARGUMENT);
}

/* IPv4 + TCP SYN from 192.0.2.1:40000 to dst:port with correct checksums. */
static size_t build_syn(uint8_t *p, const uint8_t dst[4], uint16_t port) {
    memset(p, 0, 40);
    p[0] = 0x45;
    p[3] = 40;
    p[8] = 64;
    p[9] = 6;
    p[12] = 192, p[13] = 0, p[14] = 2, p[15] = 1;
    memcpy(p + 16, dst, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    p[10] = (uint8_t)(~sum >> 8), p[11] = (uint8_t)~sum;
    uint8_t *t = p + 20;
    t[0] = 40000 >> 8, t[1] = 40000 & 0xff;
    t[2] = (uint8_t)(port >> 8), t[3] = (uint8_t)port;
    t[4] = 1; /* seq */
    t[12] = 5 << 4;
    t[13] = 0x02; /* SYN */
    t[14] = 0xff, t[15] = 0xff;
    sum = 0;
    for (int i = 12; i < 20; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    sum += 6 + 20;
    for (int i = 0; i < 20; i += 2) sum += (uint32_t)(t[i] << 8 | t[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    t[16] = (uint8_t)(~sum >> 8), t[17] = (uint8_t)~sum;
    return 40;
}

static void test_feed_rejects(void) {
    TEST("feed rejects");
    tcpkit_stack *s = new_stack("192.0.2.2");
    uint8_t pkt[64];
    const uint8_t us[4] = {192, 0, 2, 2}, other[4] = {198, 51, 100, 9};
    tcpkit_counters before, after;
    EXPECT_R(tcpkit_stack_get_counters(s, &before), TCPKIT_OK);
    uint8_t junk[3] = {0x45, 0, 0};
    EXPECT_R(tcpkit_stack_feed(s, 0, junk, sizeof junk), TCPKIT_ERR_MALFORMED);
    EXPECT_R(tcpkit_stack_feed(s, 0, junk, 0), TCPKIT_ERR_MALFORMED);
    size_t n = build_syn(pkt, other, 80);
    EXPECT_R(tcpkit_stack_feed(s, 0, pkt, n), TCPKIT_ERR_NOT_FOR_US);
    n = build_syn(pkt, us, 80);
    pkt[37] ^= 0x01; /* break the TCP checksum */
    EXPECT_R(tcpkit_stack_feed(s, 0, pkt, n), TCPKIT_ERR_CHECKSUM);
    /* A SYN to a closed port is OK: the RST comes out of poll_transmit. */
    n = build_syn(pkt, us, 80);
    EXPECT_R(tcpkit_stack_feed(s, 0, pkt, n), TCPKIT_OK);
    uint8_t out[1500];
    size_t len = 0;
    EXPECT_R(tcpkit_stack_poll_transmit(s, 0, out, sizeof out, &len), TCPKIT_OK);
    EXPECT(len >= 40 && (out[33] & 0x04)); /* RST flag */
    EXPECT_R(tcpkit_stack_get_counters(s, &after), TCPKIT_OK);
    EXPECT(after.dropped_malformed >= before.dropped_malformed + 2);
    EXPECT(after.dropped_not_for_us == before.dropped_not_for_us + 1);
    EXPECT(after.dropped_checksum == before.dropped_checksum + 1);
    EXPECT(after.rst_sent == before.rst_sent + 1);
    tcpkit_stack_free(s);
}

static void test_bad_arguments(void) {
    TEST("bad arguments");
    tcpkit_stack *s = new_stack("192.0.2.2");
    uint64_t v = 0;
    uint8_t b[4] = {0};
    size_t n = 0;
    tcpkit_state st = 99;
    EXPECT_R(tcpkit_stack_add_address(s, "192.0.2.300"), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT_R(tcpkit_stack_add_address(s, "example.com"), TCPKIT_ERR_INVALID_ARGUMENT);
    /* Handle 0 is never valid, nor are made-up ones. */
    EXPECT_R(tcpkit_send(s, 0, b, sizeof b, &n), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_conn_state(s, 0, &st), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_conn_state(s, 0x4000000100000000ull, &st), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT(st == 99);
    EXPECT_R(tcpkit_accept(s, 0, &v), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_listener_close(s, 12345), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_udp_close(s, 0), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_conn_set_option(s, 0, 0, 1), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT_R(tcpkit_conn_set_option(s, 0, 1000, 1), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT_R(tcpkit_conn_get_option(s, 0, 10, &v), TCPKIT_ERR_INVALID_ARGUMENT);
    /* A listen endpoint of an unknown family. */
    tcpkit_endpoint e = ep("192.0.2.2:80");
    e.family = 7;
    tcpkit_listener l = 0;
    EXPECT_R(tcpkit_listen(s, &e, 8, &l), TCPKIT_ERR_INVALID_ARGUMENT);
    /* No local IPv6 address: connect to an IPv6 remote cannot pick a source. */
    tcpkit_endpoint r6 = ep("[2001:db8::1]:80");
    tcpkit_conn c = 0;
    EXPECT_R(tcpkit_connect(s, 0, &r6, 0, &c), TCPKIT_ERR_ADDR_NOT_AVAILABLE);
    EXPECT(c == 0);
    /* Nothing to send, no event, no timer yet. */
    uint8_t out[1500];
    EXPECT_R(tcpkit_stack_poll_transmit(s, 0, out, sizeof out, &n), TCPKIT_WOULD_BLOCK);
    tcpkit_event ev;
    EXPECT_R(tcpkit_stack_poll_event(s, &ev), TCPKIT_WOULD_BLOCK);
    EXPECT_R(tcpkit_stack_handle_timeout(s, 5), TCPKIT_OK);
    tcpkit_stack_free(s);
}

/* ---- tests with two connected stacks ---- */

typedef struct {
    side a, b;
    tcpkit_listener l;
    tcpkit_conn ca, cb; /* client on a, accepted on b */
} pair_t;

static int open_pair(pair_t *p) {
    memset(p, 0, sizeof *p);
    p->a.s = new_stack("192.0.2.1");
    p->b.s = new_stack("192.0.2.2");
    tcpkit_endpoint any = ep("*:80"), srv = ep("192.0.2.2:80");
    EXPECT_R(tcpkit_listen(p->b.s, &any, 8, &p->l), TCPKIT_OK);
    EXPECT_R(tcpkit_connect(p->a.s, now_us, &srv, 0, &p->ca), TCPKIT_OK);
    settle(&p->a, &p->b);
    EXPECT(count_events(&p->a, TCPKIT_EVENT_CONNECTED, p->ca) == 1);
    EXPECT(count_events(&p->b, TCPKIT_EVENT_ACCEPTABLE, p->l) == 1);
    EXPECT_R(tcpkit_accept(p->b.s, p->l, &p->cb), TCPKIT_OK);
    tcpkit_state st = 0;
    EXPECT_R(tcpkit_conn_state(p->a.s, p->ca, &st), TCPKIT_OK);
    EXPECT(st == TCPKIT_STATE_ESTABLISHED);
    return p->ca != 0 && p->cb != 0 && st == TCPKIT_STATE_ESTABLISHED;
}

static void close_pair(pair_t *p) {
    tcpkit_stack_free(p->a.s);
    tcpkit_stack_free(p->b.s);
}

static void test_handles_and_kinds(void) {
    TEST("handles and kinds");
    pair_t p;
    if (!open_pair(&p)) {
        close_pair(&p);
        return;
    }
    tcpkit_conn c = 0;
    uint8_t buf[8];
    size_t n = 0;
    tcpkit_state st;
    /* The handle kinds never collide. */
    EXPECT(p.l != p.cb);
    EXPECT_R(tcpkit_conn_state(p.b.s, p.l, &st), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_accept(p.b.s, p.cb, &c), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_listener_close(p.b.s, p.cb), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_udp_close(p.b.s, p.cb), TCPKIT_ERR_INVALID_HANDLE);
    /* Nothing waiting: accept would block. */
    EXPECT_R(tcpkit_accept(p.b.s, p.l, &c), TCPKIT_WOULD_BLOCK);
    EXPECT(c == 0);
    /* recv: capacity 0 is invalid; no data yet is WOULD_BLOCK. */
    EXPECT_R(tcpkit_recv(p.b.s, p.cb, buf, 0, &n), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT_R(tcpkit_recv(p.b.s, p.cb, buf, sizeof buf, &n), TCPKIT_WOULD_BLOCK);
    /* Unknown option values. */
    EXPECT_R(tcpkit_conn_set_option(p.a.s, p.ca, 0, 1), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT_R(tcpkit_conn_set_option(p.a.s, p.ca, TCPKIT_OPT_CONGESTION, 3), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT_R(tcpkit_conn_set_option(p.a.s, p.ca, TCPKIT_OPT_USER_DATA, 0xfeedull), TCPKIT_OK);
    uint64_t ud = 0;
    EXPECT_R(tcpkit_conn_get_option(p.a.s, p.ca, TCPKIT_OPT_USER_DATA, &ud), TCPKIT_OK);
    EXPECT(ud == 0xfeedull);
    /* Closing a listener twice. */
    EXPECT_R(tcpkit_listener_close(p.b.s, p.l), TCPKIT_OK);
    EXPECT_R(tcpkit_listener_close(p.b.s, p.l), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_accept(p.b.s, p.l, &c), TCPKIT_ERR_INVALID_HANDLE);
    /* The accepted connection outlives its listener. */
    EXPECT_R(tcpkit_conn_state(p.b.s, p.cb, &st), TCPKIT_OK);
    /* Stale handle after close. */
    EXPECT_R(tcpkit_close(p.a.s, p.ca), TCPKIT_OK);
    EXPECT_R(tcpkit_conn_state(p.a.s, p.ca, &st), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_send(p.a.s, p.ca, buf, sizeof buf, &n), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_close(p.a.s, p.ca), TCPKIT_ERR_INVALID_HANDLE);
    size_t before = p.a.nev;
    settle(&p.a, &p.b);
    for (size_t i = before; i < p.a.nev; i++) EXPECT(p.a.ev[i].handle != p.ca);
    close_pair(&p);
}

static void test_use_after_abort(void) {
    TEST("use after abort");
    pair_t p;
    if (!open_pair(&p)) {
        close_pair(&p);
        return;
    }
    uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t n = 0;
    uint64_t v = 0;
    tcpkit_state st;
    tcpkit_conn_info info;
    EXPECT_R(tcpkit_abort(p.a.s, p.ca), TCPKIT_OK);
    EXPECT_R(tcpkit_send(p.a.s, p.ca, buf, sizeof buf, &n), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_recv(p.a.s, p.ca, buf, sizeof buf, &n), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_shutdown(p.a.s, p.ca), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_close(p.a.s, p.ca), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_abort(p.a.s, p.ca), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_conn_state(p.a.s, p.ca, &st), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_conn_get_info(p.a.s, p.ca, &info), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_conn_set_option(p.a.s, p.ca, TCPKIT_OPT_NODELAY, 1), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_conn_get_option(p.a.s, p.ca, TCPKIT_OPT_NODELAY, &v), TCPKIT_ERR_INVALID_HANDLE);
    /* The peer sees the RST: CLOSED with reason RESET; its handle stays valid
       and returns the reason until closed. */
    settle(&p.a, &p.b);
    const tcpkit_event *e = find_event(&p.b, TCPKIT_EVENT_CLOSED, p.cb);
    EXPECT(e != NULL && e->reason == TCPKIT_ERR_RESET);
    EXPECT_R(tcpkit_recv(p.b.s, p.cb, buf, sizeof buf, &n), TCPKIT_ERR_RESET);
    EXPECT_R(tcpkit_close(p.b.s, p.cb), TCPKIT_OK);
    EXPECT_R(tcpkit_close(p.b.s, p.cb), TCPKIT_ERR_INVALID_HANDLE);
    close_pair(&p);
}

static void test_small_transmit_buffer(void) {
    TEST("small transmit buffer");
    pair_t p;
    if (!open_pair(&p)) {
        close_pair(&p);
        return;
    }
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
    size_t n = 0;
    EXPECT_R(tcpkit_send(p.a.s, p.ca, data, sizeof data, &n), TCPKIT_OK);
    EXPECT(n == sizeof data);
    uint8_t tiny[20], full[1500];
    size_t need = 0, got = 0;
    memset(tiny, 0x5a, sizeof tiny);
    EXPECT_R(tcpkit_stack_poll_transmit(p.a.s, now_us, tiny, sizeof tiny, &need), TCPKIT_ERR_BUFFER_TOO_SMALL);
    EXPECT(need >= 40 + sizeof data && need <= 1500);
    /* A zero-length buffer too: same answer, same packet kept. */
    size_t need0 = 0;
    EXPECT_R(tcpkit_stack_poll_transmit(p.a.s, now_us, full, 0, &need0), TCPKIT_ERR_BUFFER_TOO_SMALL);
    EXPECT(need0 == need);
    EXPECT_R(tcpkit_stack_poll_transmit(p.a.s, now_us, full, need, &got), TCPKIT_OK);
    EXPECT(got == need);
    EXPECT(got >= sizeof data && !memcmp(full + got - sizeof data, data, sizeof data));
    tcpkit_stack_feed(p.b.s, now_us, full, got);
    settle(&p.a, &p.b);
    uint8_t rx[2000];
    EXPECT_R(tcpkit_recv(p.b.s, p.cb, rx, sizeof rx, &n), TCPKIT_OK);
    EXPECT(n == sizeof data && !memcmp(rx, data, sizeof data));
    /* Zero-length send: nothing queued, never an error for a valid handle. */
    size_t w = 99;
    tcpkit_result r = tcpkit_send(p.a.s, p.ca, data, 0, &w);
    EXPECT(r == TCPKIT_OK || r == TCPKIT_WOULD_BLOCK);
    EXPECT(r != TCPKIT_OK || w == 0);
    close_pair(&p);
}

static void test_refused(void) {
    TEST("connect to a closed port");
    side a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.s = new_stack("192.0.2.1");
    b.s = new_stack("192.0.2.2");
    tcpkit_endpoint srv = ep("192.0.2.2:9");
    tcpkit_conn c = 0;
    EXPECT_R(tcpkit_connect(a.s, now_us, &srv, 0, &c), TCPKIT_OK);
    EXPECT_R(tcpkit_conn_set_option(a.s, c, TCPKIT_OPT_USER_DATA, 42), TCPKIT_OK);
    settle(&a, &b);
    const tcpkit_event *e = find_event(&a, TCPKIT_EVENT_CLOSED, c);
    EXPECT(e != NULL && e->reason == TCPKIT_ERR_REFUSED && e->user_data == 42);
    EXPECT(count_events(&a, TCPKIT_EVENT_CONNECTED, c) == 0);
    tcpkit_state st = 99;
    EXPECT_R(tcpkit_conn_state(a.s, c, &st), TCPKIT_OK);
    EXPECT(st == TCPKIT_STATE_CLOSED);
    uint8_t buf[4];
    size_t n;
    EXPECT_R(tcpkit_send(a.s, c, buf, sizeof buf, &n), TCPKIT_ERR_REFUSED);
    EXPECT_R(tcpkit_close(a.s, c), TCPKIT_OK); /* OK on an ended connection */
    EXPECT_R(tcpkit_conn_state(a.s, c, &st), TCPKIT_ERR_INVALID_HANDLE);
    tcpkit_stack_free(a.s);
    tcpkit_stack_free(b.s);
}

static void test_orderly_close(void) {
    TEST("orderly close");
    pair_t p;
    if (!open_pair(&p)) {
        close_pair(&p);
        return;
    }
    uint8_t buf[64];
    size_t n = 0;
    EXPECT_R(tcpkit_send(p.a.s, p.ca, (const uint8_t *)"bye", 3, &n), TCPKIT_OK);
    EXPECT_R(tcpkit_shutdown(p.a.s, p.ca), TCPKIT_OK);
    EXPECT_R(tcpkit_send(p.a.s, p.ca, (const uint8_t *)"x", 1, &n), TCPKIT_ERR_CLOSED);
    settle(&p.a, &p.b);
    EXPECT(count_events(&p.b, TCPKIT_EVENT_PEER_CLOSED, p.cb) == 1);
    EXPECT(count_events(&p.b, TCPKIT_EVENT_READABLE, p.cb) >= 1);
    EXPECT_R(tcpkit_recv(p.b.s, p.cb, buf, sizeof buf, &n), TCPKIT_OK);
    EXPECT(n == 3 && !memcmp(buf, "bye", 3));
    n = 99;
    EXPECT_R(tcpkit_recv(p.b.s, p.cb, buf, sizeof buf, &n), TCPKIT_OK);
    EXPECT(n == 0); /* end of stream */
    tcpkit_state st = 0;
    EXPECT_R(tcpkit_conn_state(p.b.s, p.cb, &st), TCPKIT_OK);
    EXPECT(st == TCPKIT_STATE_CLOSE_WAIT);
    EXPECT_R(tcpkit_conn_state(p.a.s, p.ca, &st), TCPKIT_OK);
    EXPECT(st == TCPKIT_STATE_FIN_WAIT_2);
    EXPECT_R(tcpkit_shutdown(p.b.s, p.cb), TCPKIT_OK);
    settle(&p.a, &p.b);
    const tcpkit_event *e = find_event(&p.b, TCPKIT_EVENT_CLOSED, p.cb);
    EXPECT(e != NULL && e->reason == TCPKIT_OK);
    EXPECT(count_events(&p.b, TCPKIT_EVENT_CLOSED, p.cb) == 1);
    EXPECT(count_events(&p.a, TCPKIT_EVENT_PEER_CLOSED, p.ca) == 1);
    EXPECT_R(tcpkit_conn_state(p.a.s, p.ca, &st), TCPKIT_OK);
    EXPECT(st == TCPKIT_STATE_TIME_WAIT || st == TCPKIT_STATE_CLOSED);
    tcpkit_conn_info info;
    EXPECT_R(tcpkit_conn_get_info(p.a.s, p.ca, &info), TCPKIT_OK);
    EXPECT(info.bytes_acked == 3 && info.remote.port == 80 && info.remote.family == 4);
    EXPECT(info.local.addr[0] == 192 && info.local.addr[3] == 1);
    EXPECT_R(tcpkit_close(p.a.s, p.ca), TCPKIT_OK);
    EXPECT_R(tcpkit_close(p.b.s, p.cb), TCPKIT_OK);
    tcpkit_counters c;
    EXPECT_R(tcpkit_stack_get_counters(p.b.s, &c), TCPKIT_OK);
    EXPECT(c.connections_opened == 1 && c.packets_in > 0 && c.packets_out > 0);
    close_pair(&p);
}

static void test_udp(void) {
    TEST("udp");
    side a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.s = new_stack("2001:db8::1");
    b.s = new_stack("2001:db8::2");
    tcpkit_endpoint la = ep("[2001:db8::1]:5000"), lb = ep("[2001:db8::2]:53");
    tcpkit_udp ua = 0, ub = 0;
    EXPECT_R(tcpkit_udp_bind(a.s, &la, &ua), TCPKIT_OK);
    EXPECT_R(tcpkit_udp_bind(b.s, &lb, &ub), TCPKIT_OK);
    EXPECT(ua != 0 && ub != 0);
    tcpkit_state st;
    EXPECT_R(tcpkit_conn_state(b.s, ub, &st), TCPKIT_ERR_INVALID_HANDLE); /* kind tagged */
    const char msg[] = "datagram of 27 bytes total";
    EXPECT_R(tcpkit_udp_send_to(a.s, now_us, ua, &lb, (const uint8_t *)msg, sizeof msg), TCPKIT_OK);
    EXPECT_R(tcpkit_udp_send_to(a.s, now_us, ua, &lb, (const uint8_t *)msg, 0), TCPKIT_OK);
    settle(&a, &b);
    uint8_t small[4], big[128];
    size_t n = 0;
    tcpkit_endpoint from;
    memset(&from, 0, sizeof from);
    EXPECT_R(tcpkit_udp_recv_from(b.s, ub, big, 0, &n, &from), TCPKIT_ERR_INVALID_ARGUMENT);
    EXPECT(from.family == 0); /* not written on failure */
    EXPECT_R(tcpkit_udp_recv_from(b.s, ub, big, sizeof big, &n, &from), TCPKIT_OK);
    EXPECT(n == sizeof msg && !memcmp(big, msg, sizeof msg));
    EXPECT(from.family == 6 && from.port == 5000 && from.addr[15] == 1);
    n = 99;
    EXPECT_R(tcpkit_udp_recv_from(b.s, ub, big, sizeof big, &n, &from), TCPKIT_OK);
    EXPECT(n == 0); /* the empty datagram */
    /* Too small a buffer: the datagram is truncated, like recvfrom(2) (the
       stack's choice; see tcpkit_udp_recv_from's doc). */
    EXPECT_R(tcpkit_udp_send_to(a.s, now_us, ua, &lb, (const uint8_t *)msg, sizeof msg), TCPKIT_OK);
    settle(&a, &b);
    EXPECT_R(tcpkit_udp_recv_from(b.s, ub, small, sizeof small, &n, &from), TCPKIT_OK);
    EXPECT(n == sizeof small && !memcmp(small, msg, sizeof small));
    EXPECT_R(tcpkit_udp_recv_from(b.s, ub, big, sizeof big, &n, &from), TCPKIT_WOULD_BLOCK);
    EXPECT_R(tcpkit_udp_close(b.s, ub), TCPKIT_OK);
    EXPECT_R(tcpkit_udp_close(b.s, ub), TCPKIT_ERR_INVALID_HANDLE);
    EXPECT_R(tcpkit_udp_close(a.s, ua), TCPKIT_OK);
    tcpkit_stack_free(a.s);
    tcpkit_stack_free(b.s);
}

static void test_connect_from_and_listener_queue(void) {
    TEST("connect_from and listener queue");
    side a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.s = new_stack("192.0.2.1");
    b.s = new_stack("192.0.2.2");
    tcpkit_endpoint any = ep("*:80"), srv = ep("192.0.2.2:80"), local = ep("192.0.2.1:40001");
    tcpkit_listener l = 0;
    tcpkit_conn c1 = 0, c2 = 0;
    EXPECT_R(tcpkit_listen(b.s, &any, 8, &l), TCPKIT_OK);
    EXPECT_R(tcpkit_connect_from(a.s, now_us, &local, &srv, &c1), TCPKIT_OK);
    /* ADDR_IN_USE only for an identical 4-tuple. */
    EXPECT_R(tcpkit_connect_from(a.s, now_us, &local, &srv, &c2), TCPKIT_ERR_ADDR_IN_USE);
    EXPECT(c2 == 0);
    settle(&a, &b);
    EXPECT(count_events(&a, TCPKIT_EVENT_CONNECTED, c1) == 1);
    tcpkit_conn_info info;
    EXPECT_R(tcpkit_conn_get_info(a.s, c1, &info), TCPKIT_OK);
    EXPECT(info.local.port == 40001 && info.remote.port == 80);
    /* Closing the listener refuses what still waits in its accept queue. */
    EXPECT_R(tcpkit_listener_close(b.s, l), TCPKIT_OK);
    settle(&a, &b);
    const tcpkit_event *e = find_event(&a, TCPKIT_EVENT_CLOSED, c1);
    EXPECT(e != NULL && e->reason != TCPKIT_OK);
    tcpkit_stack_free(a.s);
    tcpkit_stack_free(b.s);
}

int main(void) {
    test_strings();
    test_null_pointers();
    test_config_and_new();
    test_endpoints();
    test_feed_rejects();
    test_bad_arguments();
    test_handles_and_kinds();
    test_use_after_abort();
    test_small_transmit_buffer();
    test_refused();
    test_orderly_close();
    test_udp();
    test_connect_from_and_listener_queue();
    /* Panic poisoning is tested in Rust (ffi/src/api.rs): there is no honest
       way to make the core panic from C without a test-only export. */
    printf("misuse: %d failure%s\n", failures, failures == 1 ? "" : "s");
    return failures > 100 ? 100 : failures;
}
