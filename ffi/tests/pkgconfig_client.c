/*
 * pkgconfig_client.c: built outside the tree against an installed tcpkit
 * (pkg-config --cflags --libs tcpkit). Two stacks in one process open a
 * connection, exchange a message each way and close in order.
 */
#include <stdio.h>
#include <string.h>

#include <tcpkit.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        tcpkit_result r_ = (call);                                                                 \
        if (r_ != TCPKIT_OK) {                                                                     \
            fprintf(stderr, "%s: %s\n", #call, tcpkit_result_str(r_));                             \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static void exchange(tcpkit_stack *a, tcpkit_stack *b, uint64_t *now) {
    uint8_t buf[1500];
    for (int round = 0; round < 500; round++) {
        size_t len = 0, moved = 0;
        while (tcpkit_stack_poll_transmit(a, *now, buf, sizeof buf, &len) == TCPKIT_OK)
            tcpkit_stack_feed(b, *now, buf, len), moved++;
        while (tcpkit_stack_poll_transmit(b, *now, buf, sizeof buf, &len) == TCPKIT_OK)
            tcpkit_stack_feed(a, *now, buf, len), moved++;
        if (!moved && round > 50) return;
        *now += 1000;
        tcpkit_stack_handle_timeout(a, *now);
        tcpkit_stack_handle_timeout(b, *now);
    }
}

int main(void) {
    tcpkit_stack *a = NULL, *b = NULL;
    tcpkit_listener l = 0;
    tcpkit_conn ca = 0, cb = 0;
    tcpkit_endpoint any, srv;
    uint64_t now = 0;
    char got[64];
    size_t n = 0;
    printf("tcpkit %s\n", tcpkit_version());
    CHECK(tcpkit_stack_new(NULL, &a));
    CHECK(tcpkit_stack_new(NULL, &b));
    CHECK(tcpkit_stack_add_address(a, "2001:db8::1"));
    CHECK(tcpkit_stack_add_address(b, "2001:db8::2"));
    CHECK(tcpkit_endpoint_parse("*:7", &any));
    CHECK(tcpkit_endpoint_parse("[2001:db8::2]:7", &srv));
    CHECK(tcpkit_listen(b, &any, 4, &l));
    CHECK(tcpkit_connect(a, now, &srv, 0, &ca));
    CHECK(tcpkit_send(a, ca, (const uint8_t *)"ping", 4, &n));
    exchange(a, b, &now);
    CHECK(tcpkit_accept(b, l, &cb));
    CHECK(tcpkit_recv(b, cb, (uint8_t *)got, sizeof got, &n));
    if (n != 4 || memcmp(got, "ping", 4)) return fprintf(stderr, "bad ping\n"), 1;
    CHECK(tcpkit_send(b, cb, (const uint8_t *)"pong", 4, &n));
    CHECK(tcpkit_shutdown(b, cb));
    exchange(a, b, &now);
    CHECK(tcpkit_recv(a, ca, (uint8_t *)got, sizeof got, &n));
    if (n != 4 || memcmp(got, "pong", 4)) return fprintf(stderr, "bad pong\n"), 1;
    CHECK(tcpkit_recv(a, ca, (uint8_t *)got, sizeof got, &n));
    if (n != 0) return fprintf(stderr, "expected end of stream\n"), 1;
    CHECK(tcpkit_close(a, ca));
    CHECK(tcpkit_close(b, cb));
    CHECK(tcpkit_listener_close(b, l));
    tcpkit_stack_free(a);
    tcpkit_stack_free(b);
    printf("pkgconfig client: ping/pong over IPv6 OK\n");
    return 0;
}
