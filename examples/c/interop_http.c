/*
 * interop_http.c: tun_http.c (unchanged, included below) with what the kernel
 * interop tests (examples/tests/run-kernel.sh) need around its host loop:
 *
 *   interop_http [OPTIONS] serve DEVICE [PORT] [SECONDS]
 *   interop_http [OPTIONS] get DEVICE URL [OUTFILE]
 *   interop_http gen N          N bytes of tun_http's /bytes/N body to stdout
 *
 * OPTIONS
 *   --loss P         drop each packet (both directions) with probability P
 *   --reorder P      hold a packet back behind the next one with probability P,
 *                    the same way in both directions: the next packet of the
 *                    same burst (tcpkit's transmit burst, the read batch from
 *                    the TUN device) overtakes it; if none does, it is sent
 *                    when that burst ends (never held across a poll wait)
 *   --seed N         seed of the fault generator (default 1)
 *   --pcap FILE      record every packet tcpkit emits and every packet fed to it
 *                    (LINKTYPE_RAW)
 *   --abort-after N  abort a connection (RST) once N bytes were sent on it
 *
 * Every CLOSED event with a reason other than OK is printed to stderr as
 * "interop: conn H closed: REASON", every failed send/recv as "interop: send
 * on conn H: REASON", and the fault counts at exit, so the test can check
 * what tcpkit saw; a connection that sent over 1 MB prints its loss
 * counters ("interop: conn H at close: ...") when it is closed. The faults
 * sit in the host loop (between the TUN device and the stack); the stack is
 * not told about them.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tcpkit.h"

static ssize_t ix_read(int fd, void *buf, size_t cap);
static ssize_t ix_write(int fd, const void *buf, size_t len);
static tcpkit_result ix_poll_event(tcpkit_stack *s, tcpkit_event *ev);
static tcpkit_result ix_send(tcpkit_stack *s, tcpkit_conn c, const uint8_t *d, size_t n, size_t *w);
static tcpkit_result ix_close(tcpkit_stack *s, tcpkit_conn c);
static tcpkit_result ix_recv(tcpkit_stack *s, tcpkit_conn c, uint8_t *b, size_t cap, size_t *got);
static tcpkit_result ix_poll_transmit(tcpkit_stack *s, uint64_t now, uint8_t *b, size_t cap, size_t *len);

/* Function-like macros: only calls are redirected, system headers are already in. */
#define read(fd, buf, cap) ix_read(fd, buf, cap)
#define write(fd, buf, len) ix_write(fd, buf, len)
#define tcpkit_stack_poll_event(s, ev) ix_poll_event(s, ev)
#define tcpkit_send(s, c, d, n, w) ix_send(s, c, d, n, w)
#define tcpkit_recv(s, c, b, cap, got) ix_recv(s, c, b, cap, got)
#define tcpkit_stack_poll_transmit(s, now, b, cap, len) ix_poll_transmit(s, now, b, cap, len)
#define tcpkit_close(s, c) ix_close(s, c)
#define main tun_http_main
/* 200 concurrent requests in the tests. */
#define MAX_CONNS 512
#define LISTEN_BACKLOG 256
#undef _DEFAULT_SOURCE /* tun.h defines it again; the headers are already in */
#include "tun_http.c"
#undef read
#undef write
#undef tcpkit_stack_poll_event
#undef tcpkit_send
#undef tcpkit_recv
#undef tcpkit_stack_poll_transmit
#undef tcpkit_close
#undef main

static double ix_loss, ix_reorder;
static uint64_t ix_rng = 1, ix_abort_after;
static FILE *ix_pcap;
static uint64_t ix_dropped_in, ix_dropped_out, ix_reordered_in, ix_reordered_out;
static uint8_t ix_held_in[65536], ix_held_out[65536];
static size_t ix_held_in_len, ix_held_out_len;
static int ix_held_out_fd = -1;
static int ix_release_in;

/* Per-connection byte counts for --abort-after (a small open-addressed table). */
#define IX_SLOTS 1024
static struct {
    tcpkit_conn conn;
    uint64_t sent;
} ix_sent[IX_SLOTS];

static int ix_chance(double p) {
    if (p <= 0) return 0;
    ix_rng ^= ix_rng << 13; /* xorshift64 */
    ix_rng ^= ix_rng >> 7;
    ix_rng ^= ix_rng << 17;
    return (double)(ix_rng >> 11) / 9007199254740992.0 < p;
}

static void ix_record(const void *pkt, size_t len) {
    if (!ix_pcap) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint32_t rec[4] = {(uint32_t)tv.tv_sec, (uint32_t)tv.tv_usec, (uint32_t)len, (uint32_t)len};
    fwrite(rec, sizeof rec, 1, ix_pcap);
    fwrite(pkt, 1, len, ix_pcap);
}

static void ix_flush_held_out(int fd) {
    if (ix_held_out_len) {
        (void)write(fd, ix_held_out, ix_held_out_len);
        ix_held_out_len = 0;
    }
}

static ssize_t ix_read(int fd, void *buf, size_t cap) {
    ix_flush_held_out(fd); /* a held outgoing packet waits at most one loop step */
    if (ix_release_in && ix_held_in_len && ix_held_in_len <= cap) {
        size_t n = ix_held_in_len;
        memcpy(buf, ix_held_in, n);
        ix_held_in_len = 0;
        ix_release_in = 0;
        ix_record(buf, n);
        return (ssize_t)n;
    }
    for (int i = 0; i < 1024; i++) {
        ssize_t r = read(fd, buf, cap);
        if (r <= 0) {
            if (ix_held_in_len && ix_held_in_len <= cap) { /* nothing to overtake it */
                size_t n = ix_held_in_len;
                memcpy(buf, ix_held_in, n);
                ix_held_in_len = 0;
                ix_release_in = 0;
                ix_record(buf, n);
                return (ssize_t)n;
            }
            return r;
        }
        if (ix_chance(ix_loss)) {
            ix_dropped_in++;
            continue;
        }
        if (!ix_held_in_len && (size_t)r <= sizeof ix_held_in && ix_chance(ix_reorder)) {
            memcpy(ix_held_in, buf, (size_t)r);
            ix_held_in_len = (size_t)r;
            ix_reordered_in++;
            continue;
        }
        ix_release_in = ix_held_in_len != 0;
        ix_record(buf, (size_t)r);
        return r;
    }
    errno = EAGAIN;
    return -1;
}

static ssize_t ix_write(int fd, const void *buf, size_t len) {
    ix_record(buf, len);
    if (ix_chance(ix_loss)) {
        ix_dropped_out++;
        return (ssize_t)len;
    }
    if (!ix_held_out_len && len <= sizeof ix_held_out && ix_chance(ix_reorder)) {
        memcpy(ix_held_out, buf, len);
        ix_held_out_len = len;
        ix_held_out_fd = fd;
        ix_reordered_out++;
        return (ssize_t)len;
    }
    ssize_t r = write(fd, buf, len);
    ix_flush_held_out(fd);
    return r;
}

/* tun.h gives the stack a TUN_MTU (1500) buffer: say what did not fit.
   WOULD_BLOCK ends a burst (tun_flush stops there): a held outgoing packet
   goes out now, behind the burst, as a held incoming packet does when the
   read batch ends. Held longer, it would wait for the poll to return, i.e.
   for the kernel's next packet or tcpkit's next timer (TLP/RTO), which the
   kernel as the sender never suffers. */
static tcpkit_result ix_poll_transmit(tcpkit_stack *s, uint64_t now, uint8_t *b, size_t cap, size_t *len) {
    tcpkit_result r = tcpkit_stack_poll_transmit(s, now, b, cap, len);
    if (r == TCPKIT_ERR_BUFFER_TOO_SMALL)
        fprintf(stderr, "interop: the stack emits a %zu-byte packet, over the %zu-byte MTU\n", *len, cap);
    if (r == TCPKIT_WOULD_BLOCK && ix_held_out_len) ix_flush_held_out(ix_held_out_fd);
    return r;
}

/* The sender's loss-recovery counters when the application closes (the
   last send buffer's worth is still in flight then). */
static tcpkit_result ix_close(tcpkit_stack *s, tcpkit_conn c) {
    tcpkit_conn_info ci;
    if (tcpkit_conn_get_info(s, c, &ci) == TCPKIT_OK && ci.bytes_sent > 1000000)
        fprintf(stderr,
                "interop: conn %" PRIu64 " at close: segs_sent %" PRIu64 " retransmitted %" PRIu64
                " timeouts %" PRIu64 " sack_recoveries %" PRIu64 " srtt_us %" PRIu64 " cwnd %" PRIu64
                " ssthresh %" PRIu64 " snd_wnd %" PRIu64 "\n",
                (uint64_t)c, ci.segs_sent, ci.segs_retransmitted, ci.timeouts, ci.sack_recoveries, ci.srtt_us,
                ci.cwnd, ci.ssthresh, ci.snd_wnd);
    return tcpkit_close(s, c);
}

static tcpkit_result ix_poll_event(tcpkit_stack *s, tcpkit_event *ev) {
    tcpkit_result r = tcpkit_stack_poll_event(s, ev);
    if (r == TCPKIT_OK && ev->kind == TCPKIT_EVENT_CLOSED && ev->reason != TCPKIT_OK)
        fprintf(stderr, "interop: conn %" PRIu64 " closed: %s\n", (uint64_t)ev->handle,
                tcpkit_result_str(ev->reason));
    return r;
}

/* What the application sees of a connection's end (a reset shows here first). */
static void ix_log_result(const char *op, tcpkit_conn c, tcpkit_result r) {
    if (r != TCPKIT_OK && r != TCPKIT_WOULD_BLOCK)
        fprintf(stderr, "interop: %s on conn %" PRIu64 ": %s\n", op, (uint64_t)c, tcpkit_result_str(r));
}

static tcpkit_result ix_recv(tcpkit_stack *s, tcpkit_conn c, uint8_t *b, size_t cap, size_t *got) {
    tcpkit_result r = tcpkit_recv(s, c, b, cap, got);
    ix_log_result("recv", c, r);
    return r;
}

static tcpkit_result ix_send(tcpkit_stack *s, tcpkit_conn c, const uint8_t *d, size_t n, size_t *w) {
    tcpkit_result r = tcpkit_send(s, c, d, n, w);
    ix_log_result("send", c, r);
    if (r != TCPKIT_OK || !ix_abort_after) return r;
    size_t i = (size_t)(c % IX_SLOTS);
    for (size_t k = 0; k < IX_SLOTS && ix_sent[i].conn && ix_sent[i].conn != c; k++)
        i = (i + 1) % IX_SLOTS;
    if (ix_sent[i].conn != c) {
        if (ix_sent[i].conn) return r; /* table full: no abort for this one */
        ix_sent[i].conn = c;
        ix_sent[i].sent = 0;
    }
    ix_sent[i].sent += *w;
    if (ix_sent[i].sent >= ix_abort_after) {
        fprintf(stderr, "interop: aborting conn %" PRIu64 " after %" PRIu64 " bytes\n", (uint64_t)c,
                ix_sent[i].sent);
        tcpkit_abort(s, c);
        ix_sent[i].sent = 0; /* handles are generation-checked: never reused as-is */
        return TCPKIT_ERR_CLOSED;
    }
    return r;
}

static int ix_gen(uint64_t n) {
    static uint8_t out[BUF_SIZE];
    for (uint64_t off = 0; off < n;) {
        size_t k = n - off < BUF_SIZE ? (size_t)(n - off) : BUF_SIZE;
        fill_data(out, off, k);
        if (fwrite(out, 1, k, stdout) != k) return 1;
        off += k;
    }
    return fflush(stdout) != 0;
}

int main(int argc, char **argv) {
    int i = 1;
    const char *pcap = NULL;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (!strcmp(argv[i], "--loss")) ix_loss = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--reorder")) ix_reorder = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--seed")) ix_rng = strtoull(argv[i + 1], NULL, 10) | 1;
        else if (!strcmp(argv[i], "--pcap")) pcap = argv[i + 1];
        else if (!strcmp(argv[i], "--abort-after")) ix_abort_after = strtoull(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "interop_http: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc - i == 2 && !strcmp(argv[i], "gen")) return ix_gen(strtoull(argv[i + 1], NULL, 10));
    if (pcap) {
        ix_pcap = fopen(pcap, "wb");
        if (!ix_pcap) {
            perror(pcap);
            return 2;
        }
        /* pcap header: magic, v2.4, tz 0, sigfigs 0, snaplen, LINKTYPE_RAW (101) */
        uint32_t hdr[6] = {0xa1b2c3d4u, 0x00040002u, 0, 0, 65535, 101};
        fwrite(hdr, sizeof hdr, 1, ix_pcap);
    }
    argv[i - 1] = argv[0];
    int rc = tun_http_main(argc - i + 1, argv + i - 1);
    fprintf(stderr,
            "interop: dropped in %" PRIu64 " out %" PRIu64 ", reordered in %" PRIu64 " out %" PRIu64 "\n",
            ix_dropped_in, ix_dropped_out, ix_reordered_in, ix_reordered_out);
    if (ix_pcap && fclose(ix_pcap) != 0) rc = rc ? rc : 2;
    return rc;
}
