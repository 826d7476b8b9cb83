/*
 * tun.h: the host side shared by the TUN examples: open a Linux TUN device,
 * and drive one tcpkit stack from it with poll(2) and a monotonic clock.
 * Header-only (static functions) to keep each example a single build step.
 */
#ifndef TCPKIT_EXAMPLE_TUN_H
#define TCPKIT_EXAMPLE_TUN_H

#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tcpkit.h"

#define TUN_MTU 1500

static volatile sig_atomic_t tun_stop;

/* Lossy mode for tests: TCPKIT_TUN_LOSS=PERCENT drops that share of packets
   in each direction (seeded by TCPKIT_TUN_SEED, default 1), so the kernel and
   tcpkit both have to recover. 0 or unset: no loss. */
static double tun_loss_pct = -1.0;
static uint64_t tun_rng = 1;
static uint64_t tun_dropped;

static int tun_drop(void) {
    if (tun_loss_pct < 0) {
        const char *l = getenv("TCPKIT_TUN_LOSS"), *seed = getenv("TCPKIT_TUN_SEED");
        tun_loss_pct = l ? strtod(l, NULL) : 0.0;
        if (seed) tun_rng = strtoull(seed, NULL, 10) | 1;
    }
    if (tun_loss_pct <= 0) return 0;
    /* xorshift64 */
    tun_rng ^= tun_rng << 13;
    tun_rng ^= tun_rng >> 7;
    tun_rng ^= tun_rng << 17;
    if ((double)(tun_rng % 1000000) < tun_loss_pct * 10000.0) {
        tun_dropped++;
        return 1;
    }
    return 0;
}
static void tun_on_signal(int sig) {
    (void)sig;
    tun_stop = 1;
}

static void tun_die(const char *what, tcpkit_result r) {
    fprintf(stderr, "%s: %s (%u)\n", what, tcpkit_result_str(r), (unsigned)r);
    exit(2);
}

#define TK_CHECK(call)                                                                             \
    do {                                                                                           \
        tcpkit_result r_ = (call);                                                                 \
        if (r_ != TCPKIT_OK) tun_die(#call, r_);                                                   \
    } while (0)

/* Opens /dev/net/tun as `name` with IFF_TUN | IFF_NO_PI (raw IP packets). */
static int tun_open(const char *name) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror("open /dev/net/tun");
        exit(2);
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (strlen(name) >= IFNAMSIZ) {
        fprintf(stderr, "device name too long: %s\n", name);
        exit(2);
    }
    memcpy(ifr.ifr_name, name, strlen(name) + 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        perror("ioctl TUNSETIFF");
        exit(2);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        perror("fcntl O_NONBLOCK");
        exit(2);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tun_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return fd;
}

static uint64_t tun_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A stack with the example addresses 192.0.2.2 and 2001:db8::2. */
static tcpkit_stack *tun_stack(void) {
    tcpkit_stack *s = NULL;
    TK_CHECK(tcpkit_stack_new(NULL, &s));
    TK_CHECK(tcpkit_stack_add_address(s, "192.0.2.2"));
    TK_CHECK(tcpkit_stack_add_address(s, "2001:db8::2"));
    return s;
}

/* Writes every packet the stack has to the TUN device. */
static void tun_flush(int fd, tcpkit_stack *s) {
    uint8_t buf[TUN_MTU];
    size_t len = 0;
    for (;;) {
        tcpkit_result r = tcpkit_stack_poll_transmit(s, tun_now_us(), buf, sizeof buf, &len);
        if (r == TCPKIT_WOULD_BLOCK) return;
        if (r != TCPKIT_OK) tun_die("tcpkit_stack_poll_transmit", r);
        if (tun_drop()) continue;
        if (write(fd, buf, len) < 0 && errno != EAGAIN && errno != ENOBUFS) {
            perror("write tun");
            exit(2);
        }
    }
}

/* Waits for packets or the stack's next deadline (at most `max_wait_ms`),
   feeds what arrived and runs due timers. Returns 0 when asked to stop. */
static int tun_step(int fd, tcpkit_stack *s, int max_wait_ms) {
    if (tun_stop) return 0;
    uint64_t deadline = 0;
    int timeout = max_wait_ms;
    if (tcpkit_stack_next_timeout(s, &deadline) == TCPKIT_OK) {
        uint64_t now = tun_now_us();
        uint64_t wait_ms = deadline > now ? (deadline - now + 999) / 1000 : 0;
        if (wait_ms < (uint64_t)timeout) timeout = (int)wait_ms;
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    int n = poll(&pfd, 1, timeout);
    if (n < 0 && errno != EINTR) {
        perror("poll");
        exit(2);
    }
    uint8_t buf[65536];
    for (int i = 0; i < 256; i++) {
        ssize_t len = read(fd, buf, sizeof buf);
        if (len <= 0) break;
        if (tun_drop()) continue;
        /* NOT_FOR_US / MALFORMED (router solicitations, multicast...) are normal here. */
        (void)tcpkit_stack_feed(s, tun_now_us(), buf, (size_t)len);
    }
    if (tcpkit_stack_next_timeout(s, &deadline) == TCPKIT_OK && deadline <= tun_now_us())
        TK_CHECK(tcpkit_stack_handle_timeout(s, tun_now_us()));
    tun_flush(fd, s);
    return !tun_stop;
}

#endif
