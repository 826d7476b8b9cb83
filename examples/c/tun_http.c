/*
 * tun_http.c: a small HTTP/1.1 server and client over a TUN device.
 *
 *   tun_http serve DEVICE [PORT] [SECONDS]
 *       GET /bytes/N  -> N bytes of deterministic data (byte i is byte (i % 8)
 *                        of splitmix64(i / 8), little-endian)
 *       POST /echo    -> the request body (Content-Length required)
 *       one request per connection (Connection: close)
 *   tun_http get DEVICE URL [OUTFILE]
 *       GETs http://192.0.2.1:8000/path or http://[2001:db8::1]:8000/path
 *       from a server on the kernel side; writes the body to OUTFILE or stdout;
 *       exit 0 only for status 200 with the whole body.
 *
 * The stack takes 192.0.2.2 and 2001:db8::2 (see tun_echo.c for the setup).
 */
#include "tun.h"

#include <inttypes.h>

#ifndef MAX_CONNS /* interop_http.c raises it and LISTEN_BACKLOG */
#define MAX_CONNS 64
#endif
#ifndef LISTEN_BACKLOG
#define LISTEN_BACKLOG 64
#endif
#define BUF_SIZE 65536
#define REQ_MAX 8192

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

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

/* Case-insensitive search for a header's value in a request/response head. */
static const char *header_value(const char *head, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (!strncasecmp(line, name, n) && line[n] == ':') {
            line += n + 1;
            while (*line == ' ') line++;
            return line;
        }
    }
    return NULL;
}

/* ---------------- server ---------------- */

typedef struct {
    tcpkit_conn conn;
    char req[REQ_MAX + 1];
    size_t req_len;
    int responding;
    char head[256];
    size_t head_len, head_off;
    uint64_t gen_total, gen_sent;   /* GET /bytes/N */
    int echo;                       /* POST /echo */
    uint64_t echo_left;             /* body bytes still to read */
    uint8_t *buf;
    size_t len, off;                /* pending echo chunk buf[off..len) */
} http_conn;

static http_conn conns[MAX_CONNS];
static uint8_t chunk[BUF_SIZE];

static http_conn *find(tcpkit_conn c) {
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (conns[i].conn == c) return &conns[i];
    return NULL;
}

static void release(tcpkit_stack *s, http_conn *h, int graceful) {
    if (graceful) tcpkit_close(s, h->conn); /* queued data still goes out, then FIN */
    else tcpkit_abort(s, h->conn);
    free(h->buf);
    memset(h, 0, sizeof *h);
}

/* Parses the request head in h->req (NUL-terminated at the blank line) and
   prepares the response head. */
static void start_response(http_conn *h) {
    const char *status = "200 OK";
    uint64_t length = 0;
    unsigned long long n = 0;
    char extra[64] = "";
    if (sscanf(h->req, "GET /bytes/%llu ", &n) == 1) {
        h->gen_total = n;
        length = n;
    } else if (!strncmp(h->req, "POST /echo ", 11)) {
        const char *cl = header_value(h->req, "Content-Length");
        if (cl) {
            h->echo = 1;
            h->echo_left = strtoull(cl, NULL, 10);
            length = h->echo_left;
            const char *ex = header_value(h->req, "Expect");
            if (ex && !strncasecmp(ex, "100-continue", 12))
                snprintf(extra, sizeof extra, "HTTP/1.1 100 Continue\r\n\r\n");
        } else {
            status = "411 Length Required";
        }
    } else {
        status = "404 Not Found";
    }
    h->head_len = (size_t)snprintf(h->head, sizeof h->head,
                                   "%sHTTP/1.1 %s\r\nContent-Length: %" PRIu64
                                   "\r\nContent-Type: application/octet-stream\r\n"
                                   "Connection: close\r\nServer: tcpkit-tun_http\r\n\r\n",
                                   extra, status, length);
    h->responding = 1;
}

/* Returns 1 while the connection has more to do, 0 when it is finished. */
static int serve_pump(tcpkit_stack *s, http_conn *h) {
    while (!h->responding) {
        size_t got = 0;
        tcpkit_result r = tcpkit_recv(s, h->conn, (uint8_t *)h->req + h->req_len,
                                      REQ_MAX - h->req_len, &got);
        if (r == TCPKIT_WOULD_BLOCK) return 1;
        if (r != TCPKIT_OK || got == 0) return 0;
        h->req_len += got;
        h->req[h->req_len] = 0;
        char *end = strstr(h->req, "\r\n\r\n");
        if (!end) {
            if (h->req_len == REQ_MAX) return 0; /* head too large */
            continue;
        }
        /* Bytes after the head are the start of the body. */
        size_t head_len = (size_t)(end - h->req) + 4;
        size_t body = h->req_len - head_len;
        end[2] = 0;
        start_response(h);
        if (h->echo) {
            if (body > h->echo_left) body = (size_t)h->echo_left;
            memcpy(h->buf, h->req + head_len, body);
            h->len = body;
            h->off = 0;
            h->echo_left -= body;
        }
    }
    for (;;) {
        size_t w = 0;
        tcpkit_result r;
        if (h->head_off < h->head_len) {
            r = tcpkit_send(s, h->conn, (const uint8_t *)h->head + h->head_off,
                            h->head_len - h->head_off, &w);
            if (r == TCPKIT_WOULD_BLOCK) return 1;
            if (r != TCPKIT_OK) return 0;
            h->head_off += w;
        } else if (h->gen_sent < h->gen_total) {
            uint64_t left = h->gen_total - h->gen_sent;
            size_t n = left < BUF_SIZE ? (size_t)left : BUF_SIZE;
            fill_data(chunk, h->gen_sent, n);
            r = tcpkit_send(s, h->conn, chunk, n, &w);
            if (r == TCPKIT_WOULD_BLOCK) return 1;
            if (r != TCPKIT_OK) return 0;
            h->gen_sent += w;
        } else if (h->off < h->len) {
            r = tcpkit_send(s, h->conn, h->buf + h->off, h->len - h->off, &w);
            if (r == TCPKIT_WOULD_BLOCK) return 1;
            if (r != TCPKIT_OK) return 0;
            h->off += w;
        } else if (h->echo_left > 0) {
            size_t cap = h->echo_left < BUF_SIZE ? (size_t)h->echo_left : BUF_SIZE;
            size_t got = 0;
            r = tcpkit_recv(s, h->conn, h->buf, cap, &got);
            if (r == TCPKIT_WOULD_BLOCK) return 1;
            if (r != TCPKIT_OK || got == 0) return 0;
            h->len = got;
            h->off = 0;
            h->echo_left -= got;
        } else {
            return 0; /* response complete */
        }
    }
}

static int serve(const char *dev, unsigned port, uint64_t seconds) {
    int fd = tun_open(dev);
    tcpkit_stack *s = tun_stack();
    tcpkit_endpoint any;
    memset(&any, 0, sizeof any);
    any.port = (uint16_t)port;
    tcpkit_listener l = 0;
    TK_CHECK(tcpkit_listen(s, &any, LISTEN_BACKLOG, &l));
    fprintf(stderr, "tun_http: serving on %s, 192.0.2.2:%u and [2001:db8::2]:%u\n", dev, port, port);
    uint64_t end = seconds ? tun_now_us() + seconds * 1000000u : UINT64_MAX;
    while (tun_step(fd, s, 100) && tun_now_us() < end) {
        tcpkit_event ev;
        while (tcpkit_stack_poll_event(s, &ev) == TCPKIT_OK) {
            if (ev.kind == TCPKIT_EVENT_ACCEPTABLE) {
                tcpkit_conn c;
                while (tcpkit_accept(s, l, &c) == TCPKIT_OK) {
                    http_conn *h = find(0);
                    uint8_t *buf = h ? malloc(BUF_SIZE) : NULL;
                    if (!buf) {
                        tcpkit_abort(s, c);
                        continue;
                    }
                    h->conn = c;
                    h->buf = buf;
                    if (!serve_pump(s, h)) release(s, h, 1);
                }
                continue;
            }
            http_conn *h = find(ev.handle);
            if (!h) continue;
            if (ev.kind == TCPKIT_EVENT_CLOSED) release(s, h, 0);
            else if (!serve_pump(s, h)) release(s, h, 1);
        }
        tun_flush(fd, s);
    }
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (conns[i].conn) release(s, &conns[i], 0);
    tcpkit_listener_close(s, l);
    tun_flush(fd, s);
    if (tun_dropped) fprintf(stderr, "tun_http: %" PRIu64 " packets dropped on purpose\n", tun_dropped);
    tcpkit_stack_free(s);
    close(fd);
    return 0;
}

/* ---------------- client ---------------- */

static int get(const char *dev, const char *url, const char *outfile) {
    /* http://HOST:PORT/PATH with HOST an IPv4 address or [IPv6]. */
    if (strncmp(url, "http://", 7)) {
        fprintf(stderr, "tun_http: only http:// URLs\n");
        return 2;
    }
    const char *hostport = url + 7;
    const char *path = strchr(hostport, '/');
    if (!path) path = "/";
    char hp[128];
    size_t hl = (size_t)(path - hostport);
    if (*path != '/' || hl == 0 || hl >= sizeof hp) {
        fprintf(stderr, "tun_http: bad URL %s\n", url);
        return 2;
    }
    memcpy(hp, hostport, hl);
    hp[hl] = 0;
    tcpkit_endpoint remote;
    if (tcpkit_endpoint_parse(hp, &remote) != TCPKIT_OK) {
        fprintf(stderr, "tun_http: URL host must be IP:PORT or [IPv6]:PORT, got %s\n", hp);
        return 2;
    }
    FILE *out = outfile ? fopen(outfile, "wb") : stdout;
    if (!out) {
        perror(outfile);
        return 2;
    }
    int fd = tun_open(dev);
    tcpkit_stack *s = tun_stack();
    tcpkit_conn c = 0;
    TK_CHECK(tcpkit_connect(s, tun_now_us(), &remote, 0, &c));
    char req[512];
    int req_len = snprintf(req, sizeof req,
                           "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tcpkit-tun_http\r\n"
                           "Connection: close\r\n\r\n",
                           path, hp);
    size_t w = 0;
    /* Queued until the handshake completes. */
    TK_CHECK(tcpkit_send(s, c, (const uint8_t *)req, (size_t)req_len, &w));
    if (w != (size_t)req_len) tun_die("short send of the request", TCPKIT_OK);

    static char head[REQ_MAX + 1];
    size_t head_len = 0;
    int have_head = 0, status = 0, done = 0, failed = 0;
    uint64_t body = 0, content_length = UINT64_MAX;
    uint64_t end = tun_now_us() + 120u * 1000000u;
    while (!done && tun_step(fd, s, 100)) {
        if (tun_now_us() > end) {
            fprintf(stderr, "tun_http: timed out\n");
            failed = 1;
            break;
        }
        tcpkit_event ev;
        int readable = 0;
        while (tcpkit_stack_poll_event(s, &ev) == TCPKIT_OK) {
            if (ev.handle != c) continue;
            if (ev.kind == TCPKIT_EVENT_READABLE || ev.kind == TCPKIT_EVENT_PEER_CLOSED) readable = 1;
            if (ev.kind == TCPKIT_EVENT_CLOSED && ev.reason != TCPKIT_OK) {
                fprintf(stderr, "tun_http: connection closed: %s\n", tcpkit_result_str(ev.reason));
                readable = 1;
            }
        }
        while (readable && !done) {
            size_t got = 0;
            tcpkit_result r;
            if (!have_head) {
                r = tcpkit_recv(s, c, (uint8_t *)head + head_len, REQ_MAX - head_len, &got);
            } else {
                r = tcpkit_recv(s, c, chunk, sizeof chunk, &got);
            }
            if (r == TCPKIT_WOULD_BLOCK) break;
            if (r != TCPKIT_OK) {
                fprintf(stderr, "tun_http: recv: %s\n", tcpkit_result_str(r));
                failed = done = 1;
                break;
            }
            if (got == 0) { /* end of stream */
                done = 1;
                break;
            }
            if (have_head) {
                fwrite(chunk, 1, got, out);
                body += got;
            } else {
                head_len += got;
                head[head_len] = 0;
                char *e = strstr(head, "\r\n\r\n");
                if (!e) {
                    if (head_len == REQ_MAX) failed = done = 1;
                    continue;
                }
                size_t hlen = (size_t)(e - head) + 4;
                e[2] = 0;
                have_head = 1;
                if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) failed = done = 1;
                const char *cl = header_value(head, "Content-Length");
                if (cl) content_length = strtoull(cl, NULL, 10);
                fwrite(head + hlen, 1, head_len - hlen, out);
                body += head_len - hlen;
            }
            if (content_length != UINT64_MAX && body >= content_length) done = 1;
        }
        tun_flush(fd, s);
    }
    tcpkit_close(s, c);
    tun_flush(fd, s);
    tcpkit_stack_free(s);
    close(fd);
    if (out != stdout) fclose(out);
    else fflush(stdout);
    if (status != 200) failed = 1;
    if (content_length != UINT64_MAX && body != content_length) failed = 1;
    fprintf(stderr, "tun_http: status %d, %" PRIu64 " body bytes, %" PRIu64 " packets dropped on purpose%s\n",
            status, body, tun_dropped, failed ? " (FAILED)" : "");
    return failed ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "serve"))
        return serve(argv[2], argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 80,
                     argc > 4 ? strtoull(argv[4], NULL, 10) : 0);
    if (argc >= 4 && !strcmp(argv[1], "get")) return get(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
    fprintf(stderr, "usage: tun_http serve DEVICE [PORT] [SECONDS]\n"
                    "       tun_http get DEVICE URL [OUTFILE]\n");
    return 2;
}
