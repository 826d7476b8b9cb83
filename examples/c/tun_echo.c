/*
 * tun_echo.c: a TCP echo server on a TUN device.
 *
 *   tun_echo DEVICE [PORT] [SECONDS]
 *
 * The stack takes 192.0.2.2 and 2001:db8::2 and echoes every connection on
 * PORT (default 7) until SIGINT/SIGTERM or SECONDS (default: no limit).
 * Setting up the device (root), in a network namespace:
 *   ip tuntap add dev tk0 mode tun && ip link set tk0 up
 *   ip addr add 192.0.2.1/24 dev tk0 && ip addr add 2001:db8::1/64 dev tk0 nodad
 *   tun_echo tk0 &  then  nc 192.0.2.2 7
 */
#include "tun.h"

#define MAX_CONNS 64
#define BUF_SIZE 65536

typedef struct {
    tcpkit_conn conn;
    uint8_t *buf;
    size_t len, off; /* pending echo: buf[off..len) */
    int eof;
} echo_conn;

static echo_conn conns[MAX_CONNS];

static echo_conn *find(tcpkit_conn c) {
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (conns[i].conn == c) return &conns[i];
    return NULL;
}

static void drop(tcpkit_stack *s, echo_conn *e) {
    tcpkit_close(s, e->conn);
    free(e->buf);
    memset(e, 0, sizeof *e);
}

/* Echoes as much as the stack takes; edge-triggered, so it loops until
   recv or send says WOULD_BLOCK. */
static void pump(tcpkit_stack *s, echo_conn *e) {
    for (;;) {
        if (e->off < e->len) {
            size_t w = 0;
            tcpkit_result r = tcpkit_send(s, e->conn, e->buf + e->off, e->len - e->off, &w);
            if (r == TCPKIT_WOULD_BLOCK) return; /* WRITABLE follows */
            if (r != TCPKIT_OK) {
                drop(s, e);
                return;
            }
            e->off += w;
            continue;
        }
        if (e->eof) return;
        size_t got = 0;
        tcpkit_result r = tcpkit_recv(s, e->conn, e->buf, BUF_SIZE, &got);
        if (r == TCPKIT_WOULD_BLOCK) return; /* READABLE follows */
        if (r != TCPKIT_OK) {
                drop(s, e);
                return;
            }
        if (got == 0) {
            e->eof = 1;
            tcpkit_shutdown(s, e->conn); /* echo the FIN too */
            return;
        }
        e->len = got;
        e->off = 0;
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: tun_echo DEVICE [PORT] [SECONDS]\n");
        return 2;
    }
    unsigned port = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 7;
    uint64_t seconds = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    int fd = tun_open(argv[1]);
    tcpkit_stack *s = tun_stack();
    tcpkit_endpoint any;
    memset(&any, 0, sizeof any);
    any.port = (uint16_t)port;
    tcpkit_listener l = 0;
    TK_CHECK(tcpkit_listen(s, &any, 64, &l));
    fprintf(stderr, "tun_echo: echo on %s, 192.0.2.2:%u and [2001:db8::2]:%u\n", argv[1], port, port);
    uint64_t end = seconds ? tun_now_us() + seconds * 1000000u : UINT64_MAX;

    while (tun_step(fd, s, 100) && tun_now_us() < end) {
        tcpkit_event ev;
        while (tcpkit_stack_poll_event(s, &ev) == TCPKIT_OK) {
            if (ev.kind == TCPKIT_EVENT_ACCEPTABLE) {
                tcpkit_conn c;
                while (tcpkit_accept(s, l, &c) == TCPKIT_OK) {
                    echo_conn *e = find(0);
                    uint8_t *buf = e ? malloc(BUF_SIZE) : NULL;
                    if (!buf) { /* full: refuse politely */
                        tcpkit_abort(s, c);
                        continue;
                    }
                    e->conn = c;
                    e->buf = buf;
                    pump(s, e);
                }
                continue;
            }
            echo_conn *e = find(ev.handle);
            if (!e) continue;
            if (ev.kind == TCPKIT_EVENT_CLOSED) drop(s, e);
            else pump(s, e);
        }
        tun_flush(fd, s);
    }
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (conns[i].conn) drop(s, &conns[i]);
    tcpkit_listener_close(s, l);
    tcpkit_stack_free(s);
    close(fd);
    return 0;
}
