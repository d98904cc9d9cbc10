#include "ring.h"

#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct koala_ring koala_ring;

int koala_ring_init(struct koala_ring *r, size_t size) {
  uint64_t cap = 1;
  while (cap < size) cap <<= 1;
  /* MAP_NORESERVE: an idle 32 MiB ring costs no memory until events touch it. */
  void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return -1;
  r->base = p;
  r->cap = cap;
  atomic_store(&r->head, 0);
  atomic_store(&r->tail, 0);
  atomic_store(&r->dropped_events, 0);
  atomic_store(&r->dropped_bytes, 0);
  atomic_store(&r->consumer_sleeping, 0);
  return 0;
}

void koala_ring_free(struct koala_ring *r) {
  if (r->base) munmap(r->base, r->cap);
  r->base = NULL;
}

struct koala_rec_hdr *koala_ring_reserve(struct koala_ring *r, size_t size) {
  uint64_t need = (size + 7) & ~(uint64_t)7;
  if (!r->base || need > r->cap / 2) return NULL;
  uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  uint64_t pad;
  for (;;) {
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint64_t off = h & (r->cap - 1);
    /* A record never wraps: the rest of the ring becomes a padding record instead. */
    pad = off + need > r->cap ? r->cap - off : 0;
    if (h + pad + need - t > r->cap) return NULL;
    if (atomic_compare_exchange_weak_explicit(&r->head, &h, h + pad + need, memory_order_acq_rel,
                                              memory_order_relaxed))
      break;
  }
  if (pad) {
    struct koala_rec_hdr *ph = (struct koala_rec_hdr *)(r->base + (h & (r->cap - 1)));
    ph->size = (uint32_t)pad;
    atomic_store_explicit(&ph->state, KOALA_REC_PAD, memory_order_release);
  }
  struct koala_rec_hdr *rh = (struct koala_rec_hdr *)(r->base + ((h + pad) & (r->cap - 1)));
  rh->size = (uint32_t)need;
  return rh;
}

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts) {
  return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

void koala_ring_wake(struct koala_ring *r) {
  if (atomic_exchange_explicit(&r->consumer_sleeping, 0, memory_order_acq_rel))
    futex(&r->consumer_sleeping, FUTEX_WAKE_PRIVATE, 1, NULL);
}

void koala_ring_publish(struct koala_ring *r, struct koala_rec_hdr *h) {
  atomic_store_explicit(&h->state, KOALA_REC_READY, memory_order_release);
  /* seq_cst pairs with the consumer's store of consumer_sleeping before it rechecks the ring. */
  if (atomic_load_explicit(&r->consumer_sleeping, memory_order_seq_cst)) koala_ring_wake(r);
}

void koala_ring_drop(struct koala_ring *r, uint64_t bytes) {
  atomic_fetch_add_explicit(&r->dropped_events, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&r->dropped_bytes, bytes, memory_order_relaxed);
}

struct koala_rec_hdr *koala_ring_peek(struct koala_ring *r, uint64_t pos, uint64_t *next) {
  for (;;) {
    if (pos >= atomic_load_explicit(&r->head, memory_order_acquire)) return NULL;
    struct koala_rec_hdr *h = (struct koala_rec_hdr *)(r->base + (pos & (r->cap - 1)));
    uint32_t st = atomic_load_explicit(&h->state, memory_order_acquire);
    if (st == KOALA_REC_EMPTY) return NULL;
    pos += h->size;
    *next = pos;
    if (st == KOALA_REC_READY) return h;
  }
}

void koala_ring_release(struct koala_ring *r, uint64_t upto) {
  uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  /* Zero everything: a later record header may land anywhere in these bytes, and a stale
   * non-zero state word would look published. */
  while (t < upto) {
    uint64_t off = t & (r->cap - 1);
    uint64_t n = upto - t;
    if (off + n > r->cap) n = r->cap - off;
    memset(r->base + off, 0, n);
    t += n;
  }
  atomic_store_explicit(&r->tail, upto, memory_order_release);
}

void koala_ring_wait(struct koala_ring *r, int timeout_ms) {
  atomic_store_explicit(&r->consumer_sleeping, 1, memory_order_seq_cst);
  uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
  struct koala_rec_hdr *h = (struct koala_rec_hdr *)(r->base + (t & (r->cap - 1)));
  if (atomic_load_explicit(&r->head, memory_order_seq_cst) != t &&
      atomic_load_explicit(&h->state, memory_order_acquire) != KOALA_REC_EMPTY) {
    atomic_store(&r->consumer_sleeping, 0);
    return;
  }
  struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
  futex(&r->consumer_sleeping, FUTEX_WAIT_PRIVATE, 1, &ts);
  atomic_store(&r->consumer_sleeping, 0);
}
