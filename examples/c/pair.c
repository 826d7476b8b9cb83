/*
 * pair.c: two tcpkit stacks transfer a file over an in-memory lossy link.
 *
 * Stack A (192.0.2.1) connects to stack B (192.0.2.2, port 5001) and sends
 * SIZE bytes of deterministic pseudo-random data; B compares every byte it
 * reads with the regenerated data (a function of the offset), and the
 * program also checks byte count and a hash of both streams. The link between them has a
 * bandwidth limit, a one-way latency, a bounded queue (tail drop), a seeded
 * random drop rate and some reordering. Time is virtual: the clock jumps to
 * the next packet delivery or stack deadline, so a run is reproducible for a
 * given seed and independent of the machine's speed; wall-clock goodput is
 * printed separately.
 *
 *   pair [--size BYTES] [--seed N] [--loss PERCENT] [--reorder PERCENT]
 *        [--latency-ms MS] [--rate-mbit MBIT] [--v6] [--no-sack]
 *        [--no-timestamps] [--newreno] [--pcap FILE] [--quiet]
 *
 * Exit status 0 only if every byte arrived once, in order, intact, and both
 * connections ended cleanly.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcpkit.h"

#define MTU 1500
#define LINK_QUEUE_MAX 256 /* packets in flight per direction before tail drop */
#define SIM_TIME_LIMIT_US (600ull * 1000000ull)
#define CHUNK 65536

static int quiet;

static void die(const char *what, tcpkit_result r) {
    fprintf(stderr, "pair: %s: %s (%u)\n", what, tcpkit_result_str(r), (unsigned)r);
    exit(2);
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        tcpkit_result r_ = (call);                                                                 \
        if (r_ != TCPKIT_OK) die(#call, r_);                                                       \
    } while (0)

/* ---- deterministic data and hashing ---- */

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Byte i of the file: a function of i alone, so any range can be regenerated. */
static void fill_data(uint8_t *dst, uint64_t offset, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint64_t pos = offset + i;
        uint64_t word = splitmix64(pos >> 3);
        /* The rest of this 8-byte word, little-endian. */
        for (unsigned k = (unsigned)(pos & 7); k < 8 && i < n; k++, i++)
            dst[i] = (uint8_t)(word >> (k * 8));
    }
}

/* FNV-1a 64: enough to detect corruption, reordering or duplication in a demo. */
static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

/* ---- seeded PRNG for the link ---- */

static uint64_t rng_state;
static uint64_t rng_next(void) {
    rng_state = splitmix64(rng_state);
    return rng_state;
}
/* True with probability pct/100 (pct in hundredths of a percent resolution). */
static int chance(double pct) { return (double)(rng_next() % 1000000) < pct * 10000.0; }

/* ---- the link: one direction, a min-heap of packets by delivery time ---- */

typedef struct {
    uint64_t deliver_at;
    uint64_t seq; /* tie-break: FIFO among equal times */
    size_t len;
    uint8_t data[MTU];
} packet;

typedef struct {
    packet *heap[LINK_QUEUE_MAX];
    size_t count;
    uint64_t busy_until; /* serialization: when the wire is free again */
    uint64_t next_seq;
    uint64_t sent, dropped_random, dropped_queue, reordered;
} link_dir;

static int pkt_before(const packet *a, const packet *b) {
    return a->deliver_at < b->deliver_at || (a->deliver_at == b->deliver_at && a->seq < b->seq);
}

static void heap_push(link_dir *l, packet *p) {
    size_t i = l->count++;
    l->heap[i] = p;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pkt_before(l->heap[i], l->heap[parent])) break;
        packet *t = l->heap[i];
        l->heap[i] = l->heap[parent];
        l->heap[parent] = t;
        i = parent;
    }
}

static packet *heap_pop(link_dir *l) {
    packet *top = l->heap[0];
    l->heap[0] = l->heap[--l->count];
    size_t i = 0;
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->count && pkt_before(l->heap[a], l->heap[m])) m = a;
        if (b < l->count && pkt_before(l->heap[b], l->heap[m])) m = b;
        if (m == i) break;
        packet *t = l->heap[i];
        l->heap[i] = l->heap[m];
        l->heap[m] = t;
        i = m;
    }
    return top;
}

typedef struct {
    double loss_pct, reorder_pct;
    uint64_t latency_us;
    double rate_bps;
} link_params;

static link_params params = {2.0, 1.0, 10000, 100e6};

/* Optional capture of every packet put on the link (before faults), pcap
   LINKTYPE_RAW, timestamps in virtual time: open it with tshark/wireshark. */
static FILE *pcap;

static void put32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void put16(FILE *f, uint16_t v) { fwrite(&v, 2, 1, f); }

static void pcap_open(const char *path) {
    pcap = fopen(path, "wb");
    if (!pcap) {
        perror(path);
        exit(2);
    }
    put32(pcap, 0xa1b2c3d4u); /* native byte order, microseconds */
    put16(pcap, 2);
    put16(pcap, 4);
    put32(pcap, 0);
    put32(pcap, 0);
    put32(pcap, 65535);
    put32(pcap, 101); /* LINKTYPE_RAW: IPv4 or IPv6 */
}

static void pcap_write(uint64_t now, const uint8_t *data, size_t len) {
    if (!pcap) return;
    put32(pcap, (uint32_t)(now / 1000000u));
    put32(pcap, (uint32_t)(now % 1000000u));
    put32(pcap, (uint32_t)len);
    put32(pcap, (uint32_t)len);
    fwrite(data, 1, len, pcap);
}

/* Puts a packet on the wire: serialization at the link rate, latency, and
   the configured faults. */
static void link_send(link_dir *l, uint64_t now, const uint8_t *data, size_t len) {
    l->sent++;
    pcap_write(now, data, len);
    if (chance(params.loss_pct)) {
        l->dropped_random++;
        return;
    }
    if (l->count >= LINK_QUEUE_MAX) {
        l->dropped_queue++;
        return;
    }
    packet *p = malloc(sizeof *p);
    if (!p) {
        fprintf(stderr, "pair: out of memory\n");
        exit(2);
    }
    uint64_t start = now > l->busy_until ? now : l->busy_until;
    l->busy_until = start + (uint64_t)((double)len * 8.0 * 1e6 / params.rate_bps);
    p->deliver_at = l->busy_until + params.latency_us;
    if (chance(params.reorder_pct)) {
        /* Held back 1-3 ms: later packets overtake it. */
        p->deliver_at += 1000 + rng_next() % 2000;
        l->reordered++;
    }
    p->seq = l->next_seq++;
    p->len = len;
    memcpy(p->data, data, len);
    heap_push(l, p);
}

static uint64_t link_next(const link_dir *l) {
    return l->count ? l->heap[0]->deliver_at : UINT64_MAX;
}

/* Feeds every packet due by `now` to `to`. */
static void link_deliver(link_dir *l, uint64_t now, tcpkit_stack *to) {
    while (l->count && l->heap[0]->deliver_at <= now) {
        packet *p = heap_pop(l);
        tcpkit_result r = tcpkit_stack_feed(to, now, p->data, p->len);
        if (r != TCPKIT_OK) die("tcpkit_stack_feed", r);
        free(p);
    }
}

static void link_free(link_dir *l) {
    while (l->count) free(heap_pop(l));
}

/* Moves every packet `from` wants to send onto the link. */
static void drain_transmit(tcpkit_stack *from, uint64_t now, link_dir *l) {
    uint8_t buf[MTU];
    for (;;) {
        size_t len = 0;
        tcpkit_result r = tcpkit_stack_poll_transmit(from, now, buf, sizeof buf, &len);
        if (r == TCPKIT_WOULD_BLOCK) return;
        if (r != TCPKIT_OK) die("tcpkit_stack_poll_transmit", r);
        link_send(l, now, buf, len);
    }
}

/* ---- the application on each side ---- */

typedef struct {
    uint64_t total, sent, hash;
    tcpkit_conn conn;
    int connected, shut, closed;
    tcpkit_result close_reason;
} sender;

typedef struct {
    uint64_t received, hash;
    uint64_t first_mismatch; /* offset of the first byte that differs, UINT64_MAX: none */
    tcpkit_listener listener;
    tcpkit_conn conn;
    int eof, closed;
    tcpkit_result close_reason;
} receiver;

static uint8_t chunk[CHUNK], expect[CHUNK];

static void sender_pump(tcpkit_stack *s, sender *tx) {
    while (tx->sent < tx->total) {
        size_t n = tx->total - tx->sent < CHUNK ? (size_t)(tx->total - tx->sent) : CHUNK;
        fill_data(chunk, tx->sent, n);
        size_t written = 0;
        tcpkit_result r = tcpkit_send(s, tx->conn, chunk, n, &written);
        if (r == TCPKIT_WOULD_BLOCK) return; /* WRITABLE follows */
        if (r != TCPKIT_OK) die("tcpkit_send", r);
        tx->hash = fnv1a(tx->hash, chunk, written);
        tx->sent += written;
    }
    if (!tx->shut) {
        CHECK(tcpkit_shutdown(s, tx->conn)); /* FIN after the queued data */
        tx->shut = 1;
    }
}

static void receiver_pump(tcpkit_stack *s, receiver *rx) {
    while (rx->conn && !rx->eof) {
        size_t got = 0;
        tcpkit_result r = tcpkit_recv(s, rx->conn, chunk, sizeof chunk, &got);
        if (r == TCPKIT_WOULD_BLOCK) return; /* READABLE follows */
        if (r != TCPKIT_OK) die("tcpkit_recv", r);
        if (got == 0) {
            rx->eof = 1;
            CHECK(tcpkit_shutdown(s, rx->conn)); /* our FIN: orderly close */
            return;
        }
        rx->hash = fnv1a(rx->hash, chunk, got);
        /* Byte-exact: the data is a function of its offset, so regenerate and compare. */
        fill_data(expect, rx->received, got);
        if (rx->first_mismatch == UINT64_MAX && memcmp(chunk, expect, got) != 0) {
            size_t k = 0;
            while (chunk[k] == expect[k]) k++;
            rx->first_mismatch = rx->received + k;
        }
        rx->received += got;
    }
}

static void sender_events(tcpkit_stack *s, sender *tx) {
    tcpkit_event ev;
    while (tcpkit_stack_poll_event(s, &ev) == TCPKIT_OK) {
        if (ev.handle != tx->conn) continue;
        switch (ev.kind) {
        case TCPKIT_EVENT_CONNECTED: tx->connected = 1; /* fall through */
        case TCPKIT_EVENT_WRITABLE: sender_pump(s, tx); break;
        case TCPKIT_EVENT_READABLE:
        case TCPKIT_EVENT_PEER_CLOSED: {
            /* The receiver sends nothing but its FIN: read the end of stream. */
            uint8_t b[64];
            size_t got = 0;
            while (tcpkit_recv(s, tx->conn, b, sizeof b, &got) == TCPKIT_OK && got > 0) {
            }
            break;
        }
        case TCPKIT_EVENT_CLOSED:
            tx->closed = 1;
            tx->close_reason = ev.reason;
            break;
        default: break;
        }
    }
}

static void receiver_events(tcpkit_stack *s, receiver *rx) {
    tcpkit_event ev;
    while (tcpkit_stack_poll_event(s, &ev) == TCPKIT_OK) {
        switch (ev.kind) {
        case TCPKIT_EVENT_ACCEPTABLE:
            if (ev.handle == rx->listener && !rx->conn) {
                CHECK(tcpkit_accept(s, rx->listener, &rx->conn));
                receiver_pump(s, rx);
            }
            break;
        case TCPKIT_EVENT_READABLE:
        case TCPKIT_EVENT_PEER_CLOSED:
            if (ev.handle == rx->conn) receiver_pump(s, rx);
            break;
        case TCPKIT_EVENT_CLOSED:
            if (ev.handle == rx->conn) {
                rx->closed = 1;
                rx->close_reason = ev.reason;
            }
            break;
        default: break;
        }
    }
}

static uint64_t next_deadline(tcpkit_stack *s) {
    uint64_t t = 0;
    tcpkit_result r = tcpkit_stack_next_timeout(s, &t);
    if (r == TCPKIT_WOULD_BLOCK) return UINT64_MAX;
    if (r != TCPKIT_OK) die("tcpkit_stack_next_timeout", r);
    return t;
}

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void) {
    fprintf(stderr, "usage: pair [--size BYTES] [--seed N] [--loss PCT] [--reorder PCT] "
                    "[--latency-ms MS] [--rate-mbit MBIT] [--v6] [--no-sack] [--no-timestamps] "
                    "[--newreno] [--pcap FILE] [--quiet]\n");
    exit(2);
}

int main(int argc, char **argv) {
    uint64_t size = 8u << 20, seed = 1;
    int v6 = 0, no_sack = 0, no_ts = 0, newreno = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quiet")) quiet = 1;
        else if (!strcmp(a, "--v6")) v6 = 1;
        else if (!strcmp(a, "--no-sack")) no_sack = 1;
        else if (!strcmp(a, "--no-timestamps")) no_ts = 1;
        else if (!strcmp(a, "--newreno")) newreno = 1;
        else if (!v) usage();
        else if (!strcmp(a, "--pcap")) pcap_open(v), i++;
        else if (!strcmp(a, "--size")) size = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--loss")) params.loss_pct = strtod(v, NULL), i++;
        else if (!strcmp(a, "--reorder")) params.reorder_pct = strtod(v, NULL), i++;
        else if (!strcmp(a, "--latency-ms")) params.latency_us = strtoull(v, NULL, 10) * 1000, i++;
        else if (!strcmp(a, "--rate-mbit")) params.rate_bps = strtod(v, NULL) * 1e6, i++;
        else usage();
    }
    if (params.rate_bps <= 0) usage();
    rng_state = seed;

    tcpkit_config cfg;
    tcpkit_config_default(&cfg);
    if (no_sack) cfg.enable_sack = 0;
    if (no_ts) cfg.enable_timestamps = 0;
    if (newreno) cfg.congestion = TCPKIT_CC_NEWRENO;
    /* Fixed secrets: the run is reproducible for a given seed. */
    for (size_t i = 0; i < sizeof cfg.isn_secret; i++) cfg.isn_secret[i] = (uint8_t)(seed + i + 1);
    tcpkit_stack *a = NULL, *b = NULL;
    CHECK(tcpkit_stack_new(&cfg, &a));
    cfg.isn_secret[0] ^= 0xff;
    CHECK(tcpkit_stack_new(&cfg, &b));
    CHECK(tcpkit_stack_add_address(a, v6 ? "2001:db8::1" : "192.0.2.1"));
    CHECK(tcpkit_stack_add_address(b, v6 ? "2001:db8::2" : "192.0.2.2"));

    receiver rx = {0, FNV_INIT, UINT64_MAX, 0, 0, 0, 0, TCPKIT_OK};
    sender tx = {size, 0, FNV_INIT, 0, 0, 0, 0, TCPKIT_OK};
    tcpkit_endpoint any, server;
    CHECK(tcpkit_endpoint_parse("*:5001", &any));
    CHECK(tcpkit_listen(b, &any, 16, &rx.listener));
    CHECK(tcpkit_endpoint_parse(v6 ? "[2001:db8::2]:5001" : "192.0.2.2:5001", &server));

    uint64_t now = 0;
    CHECK(tcpkit_connect(a, now, &server, 0, &tx.conn));
    CHECK(tcpkit_conn_set_option(a, tx.conn, TCPKIT_OPT_NODELAY, 1));

    link_dir ab, ba;
    memset(&ab, 0, sizeof ab);
    memset(&ba, 0, sizeof ba);

    if (!quiet)
        printf("tcpkit pair: %" PRIu64 " bytes %s, link %.0f Mbit/s, %.1f ms one way, "
               "%.1f%% loss, %.1f%% reordered, seed %" PRIu64 "\n",
               size, v6 ? "over IPv6" : "over IPv4", params.rate_bps / 1e6,
               (double)params.latency_us / 1000.0, params.loss_pct, params.reorder_pct, seed);

    double wall0 = wall_seconds();
    uint64_t next_report = size / 10 ? size / 10 : 1;
    uint64_t steps = 0, done_at = 0; /* sim time the last byte and the FIN were read */
    int stalled = 0;
    for (;;) {
        drain_transmit(a, now, &ab);
        drain_transmit(b, now, &ba);
        sender_events(a, &tx);
        receiver_events(b, &rx);
        /* Commands issued by the event handlers may have produced packets. */
        drain_transmit(a, now, &ab);
        drain_transmit(b, now, &ba);

        while (!quiet && rx.received >= next_report && next_report <= size) {
            tcpkit_conn_info ci;
            memset(&ci, 0, sizeof ci);
            tcpkit_conn_get_info(a, tx.conn, &ci);
            char bar[21];
            int filled = (int)(20.0 * (double)rx.received / (double)size);
            for (int k = 0; k < 20; k++) bar[k] = k < filled ? '#' : '.';
            bar[20] = 0;
            printf("  [%s] %5.1f%%  %9" PRIu64 " bytes  sim %7.3f s  wall %6.3f s  "
                   "retransmitted %6" PRIu64 "  cwnd %8" PRIu64 "  srtt %6.2f ms\n",
                   bar, 100.0 * (double)rx.received / (double)size, rx.received, (double)now / 1e6,
                   wall_seconds() - wall0, ci.segs_retransmitted, ci.cwnd,
                   (double)ci.srtt_us / 1000.0);
            fflush(stdout);
            next_report += size / 10 ? size / 10 : 1;
        }
        if (rx.eof && !done_at) done_at = now ? now : 1;
        if (tx.closed && rx.closed) break;

        uint64_t next = link_next(&ab);
        uint64_t t;
        if ((t = link_next(&ba)) < next) next = t;
        if ((t = next_deadline(a)) < next) next = t;
        if ((t = next_deadline(b)) < next) next = t;
        if (next == UINT64_MAX || next > SIM_TIME_LIMIT_US || ++steps > 50000000ull) {
            stalled = 1;
            break;
        }
        if (next > now) now = next;
        link_deliver(&ab, now, b);
        link_deliver(&ba, now, a);
        if (next_deadline(a) <= now) CHECK(tcpkit_stack_handle_timeout(a, now));
        if (next_deadline(b) <= now) CHECK(tcpkit_stack_handle_timeout(b, now));
        /* CONTRACT: after handle_timeout(now) the next deadline is later than now;
           otherwise this loop could spin without time advancing. */
        if (next_deadline(a) <= now || next_deadline(b) <= now) {
            printf("contract violation: next_timeout <= now after handle_timeout(%" PRIu64 ")\n", now);
            stalled = 1;
            break;
        }
    }
    double wall = wall_seconds() - wall0;

    tcpkit_conn_info info;
    int have_info = tcpkit_conn_get_info(a, tx.conn, &info) == TCPKIT_OK;
    int ok = !stalled && rx.received == size && rx.hash == tx.hash && tx.sent == size &&
             rx.first_mismatch == UINT64_MAX &&
             rx.eof && tx.closed && rx.closed && tx.close_reason == TCPKIT_OK &&
             rx.close_reason == TCPKIT_OK;

    printf("%s: %" PRIu64 " of %" PRIu64 " bytes received, hash %016" PRIx64 " %s %016" PRIx64 ", %s\n",
           ok ? "OK" : "FAILED", rx.received, size, rx.hash, rx.hash == tx.hash ? "==" : "!=",
           tx.hash, rx.first_mismatch == UINT64_MAX ? "every byte as sent" : "DATA DIFFERS");
    if (rx.first_mismatch != UINT64_MAX)
        printf("first differing byte at offset %" PRIu64 "\n", rx.first_mismatch);
    if (done_at > 0)
        printf("goodput: %.2f Mbit/s simulated (%.3f s virtual), %.2f Mbit/s wall-clock (%.3f s)\n",
               (double)rx.received * 8.0 / ((double)done_at / 1e6) / 1e6, (double)done_at / 1e6,
               wall > 0 ? (double)rx.received * 8.0 / wall / 1e6 : 0.0, wall);
    if (done_at > 0)
        printf("link utilization: %.1f%% of %.0f Mbit/s\n",
               100.0 * (double)rx.received * 8.0 / ((double)done_at / 1e6) / params.rate_bps,
               params.rate_bps / 1e6);
    if (done_at > 0 && params.loss_pct > 0 && have_info && info.mss > 0) {
        /* Mathis et al. 1997: what loss-based congestion control can sustain
           at this loss rate and RTT, for comparison with the goodput above. */
        double rtt = 2.0 * (double)params.latency_us / 1e6;
        double ceiling = (double)info.mss * 8.0 / rtt * 1.22 / sqrt(params.loss_pct / 100.0) / 1e6;
        printf("for reference: loss-based congestion control at %.1f%% loss and %.0f ms RTT "
               "sustains about %.1f Mbit/s (Mathis et al.)\n",
               params.loss_pct, rtt * 1000.0, ceiling);
    }
    printf("link a->b: %" PRIu64 " packets, %" PRIu64 " dropped at random, %" PRIu64
           " dropped by the queue, %" PRIu64 " reordered\n",
           ab.sent, ab.dropped_random, ab.dropped_queue, ab.reordered);
    printf("link b->a: %" PRIu64 " packets, %" PRIu64 " dropped at random, %" PRIu64
           " dropped by the queue, %" PRIu64 " reordered\n",
           ba.sent, ba.dropped_random, ba.dropped_queue, ba.reordered);
    if (have_info)
        printf("sender: %" PRIu64 " segments, %" PRIu64 " retransmitted, %" PRIu64
               " timeouts, %" PRIu64 " SACK recoveries, srtt %.2f ms, cwnd %" PRIu64 " bytes\n",
               info.segs_sent, info.segs_retransmitted, info.timeouts, info.sack_recoveries,
               (double)info.srtt_us / 1000.0, info.cwnd);
    if (stalled) printf("stalled: no progress possible at sim time %.3f s\n", (double)now / 1e6);
    if (tx.closed && tx.close_reason != TCPKIT_OK)
        printf("sender closed: %s\n", tcpkit_result_str(tx.close_reason));
    if (rx.closed && rx.close_reason != TCPKIT_OK)
        printf("receiver closed: %s\n", tcpkit_result_str(rx.close_reason));

    if (tx.conn) tcpkit_close(a, tx.conn);
    if (rx.conn) tcpkit_close(b, rx.conn);
    if (rx.listener) tcpkit_listener_close(b, rx.listener);
    if (pcap) fclose(pcap);
    link_free(&ab);
    link_free(&ba);
    tcpkit_stack_free(a);
    tcpkit_stack_free(b);
    return ok ? 0 : 1;
}
