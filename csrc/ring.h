/* A bounded multi-producer, single-consumer byte ring. Producers (hooks, possibly in signal
 * handlers) reserve space with one CAS, fill it, and publish it with a release store: no lock, no
 * malloc, no syscall. When there is no room the event is dropped and counted. The one consumer
 * (the writer thread) reads records in reservation order, which is the process's event order. */
#ifndef KOALA_RING_H
#define KOALA_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Every record starts with this header; sizes are multiples of 8. */
struct koala_rec_hdr {
  uint32_t size;
  _Atomic uint32_t state; /* KOALA_REC_* */
};

enum { KOALA_REC_EMPTY = 0, KOALA_REC_READY = 1, KOALA_REC_PAD = 2 };

struct koala_ring {
  uint8_t *base;
  uint64_t cap; /* power of two */
  _Atomic uint64_t head; /* next byte to reserve */
  _Atomic uint64_t tail; /* first byte the consumer has not released */
  _Atomic uint64_t dropped_events;
  _Atomic uint64_t dropped_bytes;
  _Atomic uint32_t consumer_sleeping; /* futex word */
};

extern struct koala_ring koala_ring;

/* Maps a ring of at least size bytes (rounded up to a power of two). Returns 0 or -1. */
int koala_ring_init(struct koala_ring *r, size_t size);
void koala_ring_free(struct koala_ring *r);

/* Reserves a record of size bytes (header included). NULL means no room: the caller counts the
 * drop with koala_ring_drop. */
struct koala_rec_hdr *koala_ring_reserve(struct koala_ring *r, size_t size);
/* Makes a reserved record visible to the consumer and wakes it if it sleeps. */
void koala_ring_publish(struct koala_ring *r, struct koala_rec_hdr *h);
void koala_ring_drop(struct koala_ring *r, uint64_t bytes);

/* Consumer side. Returns the record at pos (a ring position, normally the tail) if it is ready,
 * skipping padding; *next is set to the position after it. NULL if none is ready yet. */
struct koala_rec_hdr *koala_ring_peek(struct koala_ring *r, uint64_t pos, uint64_t *next);
/* Clears [tail, upto) for reuse and moves the tail there. */
void koala_ring_release(struct koala_ring *r, uint64_t upto);
/* Sleeps until a record is published or timeout_ms passes. */
void koala_ring_wait(struct koala_ring *r, int timeout_ms);
void koala_ring_wake(struct koala_ring *r);

#endif
