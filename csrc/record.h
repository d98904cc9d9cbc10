/* Builds event records in the ring from a hook. Only copies: the writer thread converts
 * addresses and encodes protobuf later. */
#ifndef KOALA_RECORD_H
#define KOALA_RECORD_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ring.h"

/* Largest payload in one event; bigger transfers are split. */
#define KOALA_CHUNK (64u * 1024u)

struct koala_rec {
  struct koala_rec_hdr h;
  uint8_t kind, socket_type, local_len, peer_len;
  uint8_t orig_len, pad[3];
  int32_t fd, err;
  uint32_t payload_n, pad2;
  uint64_t ts_ns;
  int64_t tid, vtid, flags;
  uint64_t conn_id, listen_conn_id, payload_len;
  /* then local, peer and original_dst sockaddr bytes, then the payload */
};

struct koala_emit {
  uint32_t kind;
  uint32_t socket_type;
  int fd;
  int err;
  uint64_t conn_id;
  uint64_t listen_conn_id;
  int64_t flags;
  const struct sockaddr *local, *peer, *orig;
  socklen_t local_len, peer_len, orig_len;
};

/* Emits the n bytes held by iov (n <= their total) as one or more events of at most KOALA_CHUNK,
 * copying no more than KOALA_MAX_PAYLOAD bytes; n == 0 emits one event with no payload. The
 * addresses go on the first event only. */
void koala_emit_iov(const struct koala_emit *e, const struct iovec *iov, int iovcnt, size_t n);
void koala_emit_buf(const struct koala_emit *e, const void *buf, size_t n);
/* Emits n bytes of file in_fd from offset off (what sendfile sent), read with pread. */
void koala_emit_file(const struct koala_emit *e, int in_fd, off_t off, size_t n);

/* For the first event on a connection the shim never saw open: fills local/peer from the
 * socket if slot is not announced yet. The storage must outlive the emit call. */
void koala_fill_first_sight(struct koala_emit *e, int fd, uint64_t slot, struct sockaddr_storage *local,
                            struct sockaddr_storage *peer);

#endif
