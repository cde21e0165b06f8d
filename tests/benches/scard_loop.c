/*
 * A plain C SCardTransmit loop: the floor the Rust drivers are compared with
 * (tests/benches/pcsc_roundtrip.rs compiles and runs it, and computes the percentiles).
 *
 *   scard_loop READER ITERATIONS short|long
 *
 * Selects the JPKI-AP and an EF once, warms up, then times ITERATIONS READ BINARY calls
 * one by one with clock_gettime(CLOCK_MONOTONIC) and prints each time in ns, one per line:
 *   short: EF 0006, READ BINARY 4 bytes   (00 B0 00 00 04)
 *   long:  EF 000A, READ BINARY 255 bytes (00 B0 00 00 FF)
 * Exit status 0 on success, 1 on a usage error, 2 on a PC/SC or card error.
 *
 * Build: cc -O2 scard_loop.c $(pkg-config --cflags --libs libpcsclite)
 */
#include <winscard.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Warm-up: at least this many calls and this long. A fresh process (and pcscd's fresh
 * thread for its context) answers slower for its first ~0.1-0.3 s on a small VM; the
 * long-lived Rust channels it is compared with are past that. */
#define WARM_UP_CALLS 200
#define WARM_UP_NS 150000000u

static const BYTE SELECT_JPKI[] = {0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0,
                                   0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01};
static const BYTE SELECT_0006[] = {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06};
static const BYTE SELECT_000A[] = {0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A};
static const BYTE READ_4[] = {0x00, 0xB0, 0x00, 0x00, 0x04};
static const BYTE READ_255[] = {0x00, 0xB0, 0x00, 0x00, 0xFF};

static SCARDHANDLE card;
static const SCARD_IO_REQUEST *pci;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sends one APDU; checks the response length and 9000. */
static int exchange(const BYTE *apdu, DWORD len, DWORD expect_len, const char *what) {
    BYTE response[258 + 2];
    DWORD response_len = sizeof response;
    LONG rv = SCardTransmit(card, pci, apdu, len, NULL, response, &response_len);
    if (rv != SCARD_S_SUCCESS) {
        fprintf(stderr, "scard_loop: %s: SCardTransmit: %s\n", what, pcsc_stringify_error(rv));
        return -1;
    }
    if (response_len != expect_len || response[response_len - 2] != 0x90 ||
        response[response_len - 1] != 0x00) {
        fprintf(stderr, "scard_loop: %s: unexpected response of %lu byte(s)\n", what,
                (unsigned long)response_len);
        return -1;
    }
    return 0;
}

/* Selects, warms up and fills samples[0..n); 0 on success. */
static int measure(int is_long, uint64_t *samples, size_t n) {
    const BYTE *read = is_long ? READ_255 : READ_4;
    DWORD read_len = is_long ? sizeof READ_255 : sizeof READ_4;
    DWORD answer_len = is_long ? 255 + 2 : 4 + 2;
    if (exchange(SELECT_JPKI, sizeof SELECT_JPKI, 2, "SELECT JPKI-AP") != 0 ||
        exchange(is_long ? SELECT_000A : SELECT_0006, sizeof SELECT_0006, 2, "SELECT EF") != 0)
        return -1;
    uint64_t warm_start = now_ns();
    for (long calls = 0; calls < WARM_UP_CALLS || now_ns() - warm_start < WARM_UP_NS; calls++)
        if (exchange(read, read_len, answer_len, "READ BINARY (warm-up)") != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        if (exchange(read, read_len, answer_len, "READ BINARY") != 0) return -1;
        samples[i] = now_ns() - t0;
    }
    return 0;
}

int main(int argc, char **argv) {
    long iterations = argc == 4 ? strtol(argv[2], NULL, 10) : 0;
    int is_long = argc == 4 && strcmp(argv[3], "long") == 0;
    if (argc != 4 || iterations < 1 || iterations > 10000000 ||
        (!is_long && strcmp(argv[3], "short") != 0)) {
        fprintf(stderr, "usage: %s READER ITERATIONS(1..10000000) short|long\n", argv[0]);
        return 1;
    }
    const char *reader = argv[1];
    size_t n = (size_t)iterations;

    SCARDCONTEXT ctx;
    LONG rv = SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &ctx);
    if (rv != SCARD_S_SUCCESS) {
        fprintf(stderr, "scard_loop: SCardEstablishContext: %s\n", pcsc_stringify_error(rv));
        return 2;
    }
    DWORD protocol;
    rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                      &card, &protocol);
    if (rv != SCARD_S_SUCCESS) {
        fprintf(stderr, "scard_loop: SCardConnect %s: %s\n", reader, pcsc_stringify_error(rv));
        SCardReleaseContext(ctx);
        return 2;
    }
    pci = protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;

    /* Printed only after the loop, so writing stdout never lands inside a timed call. */
    uint64_t *samples = malloc(n * sizeof *samples);
    int status = 2;
    if (samples == NULL) {
        fprintf(stderr, "scard_loop: out of memory\n");
    } else if (measure(is_long, samples, n) == 0) {
        for (size_t i = 0; i < n; i++) printf("%llu\n", (unsigned long long)samples[i]);
        status = 0;
    }
    free(samples);
    SCardDisconnect(card, SCARD_LEAVE_CARD);
    SCardReleaseContext(ctx);
    return status;
}
