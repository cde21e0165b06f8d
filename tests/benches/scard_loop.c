/*
 * A plain C SCardTransmit loop: the floor the Rust drivers are compared with
 * (tests/benches/pcsc_roundtrip.rs compiles and runs it).
 *
 *   scard_loop READER ITERATIONS [short|long] [SAMPLES_FILE]
 *
 * Selects the JPKI-AP and an EF once, then times ITERATIONS READ BINARY calls one by one
 * with clock_gettime(CLOCK_MONOTONIC):
 *   short: EF 0006, READ BINARY 4 bytes   (00 B0 00 00 04)
 *   long:  EF 000A, READ BINARY 255 bytes (00 B0 00 00 FF)
 * Untimed calls warm up first (at least 200 calls and 150 ms). Prints one line of
 * key=value pairs on stdout:
 *   scard_loop apdu=short n=2000 median_us=84.10 p95_us=97.20 p99_us=130.50 mean_us=86.00 \
 *     calls_per_s=11627.9 bytes_per_s=46511.6 cpu_us_per_call=30.12 warm_up_calls=1800
 * (percentiles by nearest rank; bytes_per_s counts response data without the status word;
 * cpu_us_per_call is this process's CPU time over the timed calls).
 * With SAMPLES_FILE, also writes every call's time in nanoseconds, one per line.
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

static uint64_t clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank, as the Rust side computes it. */
static double percentile_us(const uint64_t *sorted, size_t n, double p) {
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return (double)sorted[rank - 1] / 1000.0;
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

int main(int argc, char **argv) {
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s READER ITERATIONS [short|long] [SAMPLES_FILE]\n", argv[0]);
        return 1;
    }
    const char *reader = argv[1];
    long iterations = strtol(argv[2], NULL, 10);
    const char *kind = argc > 3 ? argv[3] : "short";
    const char *samples_path = argc > 4 ? argv[4] : NULL;
    int is_long;
    if (strcmp(kind, "short") == 0) {
        is_long = 0;
    } else if (strcmp(kind, "long") == 0) {
        is_long = 1;
    } else {
        fprintf(stderr, "scard_loop: APDU kind must be short or long, not %s\n", kind);
        return 1;
    }
    if (iterations < 1 || iterations > 10000000) {
        fprintf(stderr, "scard_loop: ITERATIONS must be 1..10000000\n");
        return 1;
    }
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

    const BYTE *select_ef = is_long ? SELECT_000A : SELECT_0006;
    const BYTE *read = is_long ? READ_255 : READ_4;
    DWORD read_len = is_long ? sizeof READ_255 : sizeof READ_4;
    DWORD answer_len = is_long ? 255 + 2 : 4 + 2;

    int status = 2;
    uint64_t *samples = malloc(n * sizeof *samples);
    if (samples == NULL) {
        fprintf(stderr, "scard_loop: out of memory\n");
        goto out;
    }
    if (exchange(SELECT_JPKI, sizeof SELECT_JPKI, 2, "SELECT JPKI-AP") != 0 ||
        exchange(select_ef, sizeof SELECT_0006, 2, "SELECT EF") != 0) {
        goto out;
    }
    uint64_t warm_start = now_ns();
    long warm_up_calls = 0;
    while (warm_up_calls < WARM_UP_CALLS || now_ns() - warm_start < WARM_UP_NS) {
        if (exchange(read, read_len, answer_len, "READ BINARY (warm-up)") != 0) goto out;
        warm_up_calls++;
    }

    uint64_t cpu_start = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t loop_start = now_ns();
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        if (exchange(read, read_len, answer_len, "READ BINARY") != 0) goto out;
        samples[i] = now_ns() - t0;
    }
    double total_s = (double)(now_ns() - loop_start) / 1e9;
    double cpu_us = (double)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) / 1e3;

    if (samples_path != NULL) {
        FILE *f = fopen(samples_path, "w");
        if (f == NULL) {
            perror("scard_loop: samples file");
            goto out;
        }
        for (size_t i = 0; i < n; i++) fprintf(f, "%llu\n", (unsigned long long)samples[i]);
        fclose(f);
    }

    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)samples[i];
    qsort(samples, n, sizeof *samples, cmp_u64);
    double calls_per_s = (double)n / total_s;
    printf("scard_loop apdu=%s n=%zu median_us=%.2f p95_us=%.2f p99_us=%.2f mean_us=%.2f "
           "calls_per_s=%.1f bytes_per_s=%.1f cpu_us_per_call=%.2f warm_up_calls=%ld\n",
           kind, n, percentile_us(samples, n, 50), percentile_us(samples, n, 95),
           percentile_us(samples, n, 99), sum / (double)n / 1000.0, calls_per_s,
           calls_per_s * (double)(answer_len - 2), cpu_us / (double)n, warm_up_calls);
    status = 0;

out:
    free(samples);
    SCardDisconnect(card, SCARD_LEAVE_CARD);
    SCardReleaseContext(ctx);
    return status;
}
