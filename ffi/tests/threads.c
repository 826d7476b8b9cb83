/*
 * threads.c: "different stacks on different threads are independent".
 * Four threads each run their own pair of stacks and move 512 KB through a
 * connection at the same time; each checks its bytes. Run plain and with
 * ASan by ffi/tests/run.sh (the library has no global state to race on).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tcpkit.h"

#define THREADS 4
#define BYTES (512u * 1024u)

typedef struct {
    int id;
    int ok;
    char why[128];
} job;

static uint8_t pattern(int id, size_t i) { return (uint8_t)(i * 31u + (size_t)id * 7u + (i >> 9)); }

static void move(tcpkit_stack *from, tcpkit_stack *to, uint64_t now) {
    uint8_t buf[1500];
    size_t len = 0;
    while (tcpkit_stack_poll_transmit(from, now, buf, sizeof buf, &len) == TCPKIT_OK)
        tcpkit_stack_feed(to, now, buf, len);
}

static void *run(void *arg) {
    job *j = arg;
    tcpkit_stack *a = NULL, *b = NULL;
    tcpkit_listener l = 0;
    tcpkit_conn ca = 0, cb = 0;
    tcpkit_endpoint any, srv;
    uint64_t now = 0;
    size_t sent = 0, got = 0;
    static _Thread_local uint8_t chunk[16384];
    j->ok = 0;
    if (tcpkit_stack_new(NULL, &a) || tcpkit_stack_new(NULL, &b) ||
        tcpkit_stack_add_address(a, "192.0.2.1") || tcpkit_stack_add_address(b, "192.0.2.2") ||
        tcpkit_endpoint_parse("*:9000", &any) || tcpkit_endpoint_parse("192.0.2.2:9000", &srv) ||
        tcpkit_listen(b, &any, 4, &l) || tcpkit_connect(a, now, &srv, 0, &ca)) {
        snprintf(j->why, sizeof j->why, "setup failed");
        goto out;
    }
    for (int round = 0; round < 200000 && got < BYTES; round++) {
        while (sent < BYTES) {
            size_t n = BYTES - sent < sizeof chunk ? BYTES - sent : sizeof chunk, w = 0;
            for (size_t i = 0; i < n; i++) chunk[i] = pattern(j->id, sent + i);
            if (tcpkit_send(a, ca, chunk, n, &w) != TCPKIT_OK) break;
            sent += w;
        }
        move(a, b, now);
        if (!cb) tcpkit_accept(b, l, &cb);
        for (;;) {
            size_t n = 0;
            if (!cb || tcpkit_recv(b, cb, chunk, sizeof chunk, &n) != TCPKIT_OK || n == 0) break;
            for (size_t i = 0; i < n; i++)
                if (chunk[i] != pattern(j->id, got + i)) {
                    snprintf(j->why, sizeof j->why, "byte %zu differs", got + i);
                    goto out;
                }
            got += n;
        }
        move(b, a, now);
        tcpkit_event ev;
        while (tcpkit_stack_poll_event(a, &ev) == TCPKIT_OK) {
        }
        while (tcpkit_stack_poll_event(b, &ev) == TCPKIT_OK) {
        }
        now += 1000;
        tcpkit_stack_handle_timeout(a, now);
        tcpkit_stack_handle_timeout(b, now);
    }
    if (got == BYTES) j->ok = 1;
    else snprintf(j->why, sizeof j->why, "only %zu of %u bytes", got, BYTES);
out:
    tcpkit_stack_free(a);
    tcpkit_stack_free(b);
    return NULL;
}

int main(void) {
    pthread_t t[THREADS];
    job jobs[THREADS];
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].id = i;
        if (pthread_create(&t[i], NULL, run, &jobs[i])) return 2;
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (!jobs[i].ok) {
            failed++;
            fprintf(stderr, "thread %d: %s\n", i, jobs[i].why);
        }
    }
    printf("threads: %d of %d stacks pairs transferred %u bytes intact\n", THREADS - failed, THREADS, BYTES);
    return failed ? 1 : 0;
}
