#include "record.h"

#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "fdtable.h"

static size_t addr_len(const struct sockaddr *a, socklen_t n) {
  if (!a) return 0;
  return n > sizeof(struct sockaddr_storage) ? sizeof(struct sockaddr_storage) : n;
}

/* Reserves and fills the header of one record; returns the payload area or NULL on drop. */
static uint8_t *begin(const struct koala_emit *e, int first, size_t payload_n, uint64_t payload_len,
                      struct koala_rec **out) {
  size_t ll = first ? addr_len(e->local, e->local_len) : 0;
  size_t pl = first ? addr_len(e->peer, e->peer_len) : 0;
  size_t ol = first ? addr_len(e->orig, e->orig_len) : 0;
  size_t size = sizeof(struct koala_rec) + ll + pl + ol + payload_n;
  struct koala_rec *r = (struct koala_rec *)koala_ring_reserve(&koala_ring, size);
  if (!r) {
    koala_ring_drop(&koala_ring, payload_len);
    return NULL;
  }
  koala_thread_seen();
  r->kind = (uint8_t)e->kind;
  r->socket_type = (uint8_t)e->socket_type;
  r->local_len = (uint8_t)ll;
  r->peer_len = (uint8_t)pl;
  r->orig_len = (uint8_t)ol;
  r->fd = e->fd;
  r->err = e->err;
  r->payload_n = (uint32_t)payload_n;
  r->ts_ns = koala_now_ns();
  r->tid = koala_tid();
  r->vtid = koala_vtid;
  r->flags = e->flags;
  r->conn_id = e->conn_id;
  r->listen_conn_id = e->listen_conn_id;
  r->payload_len = payload_len;
  uint8_t *p = (uint8_t *)(r + 1);
  if (ll) memcpy(p, e->local, ll);
  p += ll;
  if (pl) memcpy(p, e->peer, pl);
  p += pl;
  if (ol) memcpy(p, e->orig, ol);
  *out = r;
  return p + ol;
}

/* Copies n bytes starting at byte offset *skip of the iov sequence, advancing the cursor; with
 * dst NULL it only advances (the ring was full: nothing to copy into). */
static void copy_iov(uint8_t *dst, const struct iovec *iov, int iovcnt, int *idx, size_t *skip, size_t n) {
  while (n && *idx < iovcnt) {
    size_t avail = iov[*idx].iov_len - *skip;
    size_t c = avail < n ? avail : n;
    if (dst) {
      memcpy(dst, (const uint8_t *)iov[*idx].iov_base + *skip, c);
      dst += c;
    }
    n -= c;
    *skip += c;
    if (*skip == iov[*idx].iov_len) {
      (*idx)++;
      *skip = 0;
    }
  }
}

void koala_emit_iov(const struct koala_emit *e, const struct iovec *iov, int iovcnt, size_t n) {
  size_t copy_total = n < koala_cfg.max_payload ? n : koala_cfg.max_payload;
  struct koala_rec *r;
  if (copy_total == 0) {
    if (begin(e, 1, 0, n, &r)) koala_ring_publish(&koala_ring, &r->h);
    return;
  }
  int idx = 0;
  size_t skip = 0;
  for (size_t pos = 0; pos < copy_total;) {
    size_t c = copy_total - pos < KOALA_CHUNK ? copy_total - pos : KOALA_CHUNK;
    int last = pos + c == copy_total;
    uint8_t *dst = begin(e, pos == 0, c, c + (last ? n - copy_total : 0), &r);
    /* Dropped (ring full): the cursor still moves past the bytes not copied. */
    copy_iov(dst, iov, iovcnt, &idx, &skip, c);
    if (dst) koala_ring_publish(&koala_ring, &r->h);
    pos += c;
  }
}

void koala_emit_buf(const struct koala_emit *e, const void *buf, size_t n) {
  struct iovec iov = {(void *)buf, n};
  koala_emit_iov(e, &iov, 1, n);
}

void koala_emit_file(const struct koala_emit *e, int in_fd, off_t off, size_t n) {
  size_t copy_total = n < koala_cfg.max_payload ? n : koala_cfg.max_payload;
  struct koala_rec *r;
  for (size_t pos = 0; pos < copy_total || pos == 0;) {
    size_t c = copy_total - pos < KOALA_CHUNK ? copy_total - pos : KOALA_CHUNK;
    int last = pos + c >= copy_total;
    uint8_t *dst = begin(e, pos == 0, c, c + (last ? n - copy_total : 0), &r);
    if (dst) {
      ssize_t got = c ? pread(in_fd, dst, c, off + (off_t)pos) : 0;
      /* A file that shrank meanwhile: the event says how many bytes it stands for anyway. */
      if (got < (ssize_t)c) memset(dst + (got > 0 ? got : 0), 0, c - (size_t)(got > 0 ? got : 0));
      koala_ring_publish(&koala_ring, &r->h);
    }
    if (c == 0) break;
    pos += c;
  }
}

void koala_fill_first_sight(struct koala_emit *e, int fd, uint64_t slot, struct sockaddr_storage *local,
                            struct sockaddr_storage *peer) {
  if (slot & KOALA_FD_ANNOUNCED) return;
  if (!koala_fd_announce(fd, slot)) return;
  socklen_t ll = sizeof *local, pl = sizeof *peer;
  if (getsockname(fd, (struct sockaddr *)local, &ll) == 0) {
    e->local = (struct sockaddr *)local;
    e->local_len = ll;
  }
  if (getpeername(fd, (struct sockaddr *)peer, &pl) == 0) {
    e->peer = (struct sockaddr *)peer;
    e->peer_len = pl;
  }
}
