/*
 * Streams over a buffer forever, a read and a write per 64-byte line, to see whether a process
 * that only churns memory slows the SUT on another core through the caches and the memory bus
 * they share (bench/RESULTS-overhead.md, Session 4). Run it where the gateway would run, at the
 * lowest priority, so it takes no CPU time the others want:
 *
 *   cc -O2 -o /tmp/cache-thrash bench/c/cache-thrash.c
 *   chrt --idle 0 taskset -c 0 /tmp/cache-thrash 64      # MiB
 *   chrt --idle 0 taskset -c 0 /tmp/cache-thrash 64k     # KiB: stays in the core's own cache
 *   chrt --idle 0 taskset -c 0 /tmp/cache-thrash 64k 30  # busy 30 ms of every 100, as the
 *                                                        # gateway is with a batch every 100 ms
 *
 * bench/overhead-cpu.ts runs it so in its plain-thrash and plain-hog variants.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(int argc, char **argv) {
    char *unit = NULL;
    size_t count = argc > 1 ? (size_t)strtoul(argv[1], &unit, 10) : 64;
    size_t n = unit != NULL && (*unit == 'k' || *unit == 'K') ? count << 10 : count << 20;
    volatile uint8_t *p = malloc(n);
    if (p == NULL || n == 0) {
        fprintf(stderr, "cache-thrash: cannot allocate %s\n", argc > 1 ? argv[1] : "64 MiB");
        return 1;
    }
    long duty = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    if (duty <= 0 || duty > 100) {
        fprintf(stderr, "cache-thrash: busy share %s is not a percentage in 1..100\n", argv[2]);
        return 1;
    }
    const int64_t period = 100000000; /* ns */
    for (;;) {
        int64_t start = now_ns();
        do {
            for (size_t i = 0; i < n; i += 64) p[i] = (uint8_t)(p[i] + 1);
        } while (duty < 100 && now_ns() - start < period / 100 * duty);
        if (duty < 100) {
            int64_t rest = period - (now_ns() - start);
            if (rest > 0) {
                struct timespec t = {(time_t)(rest / 1000000000), (long)(rest % 1000000000)};
                nanosleep(&t, NULL);
            }
        }
    }
}
