/*
 * Streams over a buffer forever, a read and a write per 64-byte line, to see whether a process
 * that only churns memory slows the SUT on another core through the caches and the memory bus
 * they share (bench/RESULTS-overhead.md, Session 4). Run it where the gateway would run, at the
 * lowest priority, so it takes no CPU time the others want:
 *
 *   cc -O2 -o /tmp/cache-thrash bench/c/cache-thrash.c
 *   chrt --idle 0 taskset -c 0 /tmp/cache-thrash 64      # MiB
 *   chrt --idle 0 taskset -c 0 /tmp/cache-thrash 64k     # KiB: stays in the core's own cache
 *
 * bench/overhead-cpu.ts runs it so in its plain-thrash and plain-hog variants.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    char *unit = NULL;
    size_t count = argc > 1 ? (size_t)strtoul(argv[1], &unit, 10) : 64;
    size_t n = unit != NULL && (*unit == 'k' || *unit == 'K') ? count << 10 : count << 20;
    volatile uint8_t *p = malloc(n);
    if (p == NULL || n == 0) {
        fprintf(stderr, "cache-thrash: cannot allocate %s\n", argc > 1 ? argv[1] : "64 MiB");
        return 1;
    }
    for (;;) {
        for (size_t i = 0; i < n; i += 64) p[i] = (uint8_t)(p[i] + 1);
    }
}
