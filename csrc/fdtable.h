/* What the shim knows about each descriptor, one atomic word per fd: a state, whether the
 * connection's addresses were reported yet, and the connection id. A descriptor's state is learnt
 * once per "generation" (between the hooks that create or close it), so I/O on files and pipes
 * costs one load. */
#ifndef KOALA_FDTABLE_H
#define KOALA_FDTABLE_H

#include <stdint.h>

enum koala_fd_state {
  KOALA_FD_UNKNOWN = 0,
  KOALA_FD_NOT_SOCKET = 1,
  KOALA_FD_IGNORED = 2, /* the shim's own socket, bypassed destinations, unsupported sockets */
  KOALA_FD_LISTEN = 3,
  KOALA_FD_STREAM = 4,
  KOALA_FD_DGRAM = 5, /* UDP */
};

#define KOALA_FD_ANNOUNCED 0x10u /* local/peer already reported (accept, connect, first event) */
#define KOALA_FD_STATE(v) ((unsigned)((v) & 0x0f))
#define KOALA_FD_CONN(v) ((v) >> 8)
#define KOALA_FD_MAKE(state, flags, conn) (((uint64_t)(conn) << 8) | (flags) | (state))

/* Maps the table. Returns 0 or -1. */
int koala_fdtable_init(void);
/* Forgets every descriptor (fork child: fresh state, fresh connection ids). */
void koala_fdtable_reset(void);

/* Raw slot; 0 (unknown) for descriptors outside the table. */
uint64_t koala_fd_get(int fd);
void koala_fd_set(int fd, uint64_t v);
/* Sets ANNOUNCED; returns whether this call did it. */
int koala_fd_announce(int fd, uint64_t seen);
/* The slot, learning the descriptor's kind first if it is unknown. Returns 0 when the descriptor
 * is invalid, outside the table, or a stream socket that is not connected yet. */
uint64_t koala_fd_classify(int fd);
/* A fresh connection id (unique for the process's lifetime). */
uint64_t koala_next_conn_id(void);
/* Highest descriptor ever set, to bound scans (close_range). */
int koala_fd_max_seen(void);

#endif
