#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "agent.h"
#include "config.h"
#include "event.h"
#include "fdtable.h"
#include "log.h"
#include "real.h"
#include "record.h"
#include "ring.h"

#define KOALA_AGENT_VERSION "0.1.0"
#define SCRATCH_SIZE (1u << 20)
#define MAX_BATCH_EVENTS 2048
#define AGENT_FD_MIN 1000

enum { W_CONNECTING = 0, W_CONNECTED = 1, W_BACKOFF = 2 };

static _Atomic int agent_fd = -1;
static _Atomic int wstate = W_CONNECTING;
static _Atomic uint64_t sent_pos;
/* Writer-thread state (reset by the fork child before the new thread starts). */
static uint64_t next_seq;
static uint64_t reported_events, reported_bytes;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int koala_writer_fd(void) { return atomic_load(&agent_fd); }

void koala_writer_evacuate(int fd) {
  if (fd < 0 || fd != atomic_load(&agent_fd)) return;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, fd + 1);
  if (moved < 0) return;
  koala_fd_set(moved, KOALA_FD_MAKE(KOALA_FD_IGNORED, 0, 0));
  atomic_store(&agent_fd, moved);
}

/* Reads and discards GatewayMessage frames (nothing in them changes the shim's behaviour yet).
 * Returns -1 when the gateway closed the connection. */
static int drain_input(int fd) {
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = koala_real.recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return -1;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  }
}

static uint64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Returns -1 when the connection failed, or when the gateway read nothing for send_stall_ms: a
 * gateway that accepts and never reads (hung, stopped under a debugger) would otherwise hold this
 * thread, and every drop count with it, for as long as it lives. Reconnecting lets a gateway that
 * was restarted meanwhile get the counts. */
static int write_all(int fd, const uint8_t *p, size_t len) {
  uint64_t progress_ms = monotonic_ms();
  while (len) {
    ssize_t n = koala_real.send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      progress_ms = monotonic_ms();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      uint64_t stalled_ms = monotonic_ms() - progress_ms;
      if (stalled_ms >= koala_cfg.send_stall_ms) {
        KOALA_LOG(KOALA_LOG_WARN, "the gateway has read nothing for %llu ms; reconnecting (KOALA_SEND_STALL_MS)",
                  (unsigned long long)stalled_ms);
        return -1;
      }
      /* A slow gateway blocks only this thread; the hooks drop and count meanwhile. */
      uint64_t left_ms = koala_cfg.send_stall_ms - stalled_ms;
      struct pollfd pfd = {fd, POLLOUT | POLLIN, 0};
      if (poll(&pfd, 1, left_ms < 1000 ? (int)left_ms : 1000) < 0 && errno != EINTR) return -1;
      if ((pfd.revents & POLLIN) && drain_input(fd) != 0) return -1;
      if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) return -1;
      continue;
    }
    return -1;
  }
  return 0;
}

static void disconnect(void) {
  int fd = atomic_exchange(&agent_fd, -1);
  if (fd >= 0) {
    koala_fd_set(fd, 0);
    koala_real.close(fd);
  }
}

static int send_hello(int fd) {
  uint8_t buf[1024];
  struct koala_hello h = {
      .protocol_version = 1,
      .kind = 1, /* AGENT_KIND_C_SHIM */
      .sut_name = koala_cfg.sut_name,
      .pid = koala_agent.pid,
      .hostname = koala_agent.hostname,
      .start_ns = koala_agent.start_ns,
      .mode = (uint32_t)koala_cfg.mode,
      .agent_version = KOALA_AGENT_VERSION,
      .parent_pid = koala_agent.parent_pid,
  };
  size_t n = koala_encode_hello_frame(buf, sizeof buf, &h);
  return n ? write_all(fd, buf, n) : -1;
}

static int connect_gateway(void) {
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, koala_cfg.agent_socket, strlen(koala_cfg.agent_socket));
  int s = koala_real.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return -1;
  if (koala_real.connect(s, (struct sockaddr *)&sun, sizeof sun) != 0) {
    koala_real.close(s);
    return -1;
  }
  /* High and close-on-exec, out of the way of programs that close or dup2 onto low fds. */
  int high = fcntl(s, F_DUPFD_CLOEXEC, AGENT_FD_MIN);
  if (high >= 0) {
    koala_real.close(s);
    s = high;
  }
  koala_fd_set(s, KOALA_FD_MAKE(KOALA_FD_IGNORED, 0, 0));
  atomic_store(&agent_fd, s);
  if (send_hello(s) != 0) {
    disconnect();
    return -1;
  }
  KOALA_LOG(KOALA_LOG_DEBUG, "connected to %s", koala_cfg.agent_socket);
  return 0;
}

static void to_event(const struct koala_rec *r, struct koala_event *ev) {
  memset(ev, 0, sizeof *ev);
  ev->ts_ns = r->ts_ns;
  ev->tid = r->tid;
  ev->vtid = r->vtid;
  ev->kind = r->kind;
  ev->conn_id = r->conn_id;
  ev->fd = r->fd;
  ev->socket_type = r->socket_type;
  const uint8_t *p = (const uint8_t *)(r + 1);
  if (r->local_len) koala_addr_from_sockaddr((const struct sockaddr *)p, r->local_len, &ev->local);
  p += r->local_len;
  if (r->peer_len) koala_addr_from_sockaddr((const struct sockaddr *)p, r->peer_len, &ev->peer);
  p += r->peer_len;
  if (r->orig_len) koala_addr_from_sockaddr((const struct sockaddr *)p, r->orig_len, &ev->original_dst);
  p += r->orig_len;
  ev->payload = p;
  ev->payload_n = r->payload_n;
  ev->payload_len = r->payload_len;
  ev->flags = r->flags;
  ev->listen_conn_id = r->listen_conn_id;
  ev->err = r->err;
}

/* Sends one batch. Returns the number of events sent, 0 if there was nothing, -1 if the
 * connection failed (what was in the batch is counted as dropped). */
static int drain_once(int fd, uint8_t *scratch) {
  uint8_t *body = scratch + KOALA_BATCH_PREFIX_MAX;
  uint8_t *p = body, *limit = scratch + SCRATCH_SIZE;
  uint64_t start = atomic_load_explicit(&koala_ring.tail, memory_order_acquire), end = start;
  uint64_t seq0 = next_seq, lost_bytes = 0;
  int count = 0;
  struct koala_event ev;

  uint64_t de = atomic_load(&koala_ring.dropped_events), db = atomic_load(&koala_ring.dropped_bytes);
  uint64_t rep_e = reported_events, rep_b = reported_bytes;
  if (de != reported_events || db != reported_bytes) {
    memset(&ev, 0, sizeof ev);
    ev.seq = ++next_seq;
    ev.ts_ns = koala_now_ns();
    ev.tid = koala_tid();
    ev.kind = KOALA_EV_DROP_REPORT;
    ev.dropped_events = de - reported_events;
    ev.dropped_bytes = db - reported_bytes;
    p = koala_encode_event_field(p, &ev, koala_event_size(&ev));
    reported_events = de;
    reported_bytes = db;
    count++;
  }
  while (count < MAX_BATCH_EVENTS) {
    uint64_t next;
    const struct koala_rec *r = (const struct koala_rec *)koala_ring_peek(&koala_ring, end, &next);
    if (!r) break;
    to_event(r, &ev);
    ev.seq = next_seq + 1;
    size_t size = koala_event_size(&ev);
    if (p + koala_event_field_size(size) > limit) break;
    p = koala_encode_event_field(p, &ev, size);
    next_seq++;
    lost_bytes += r->payload_len;
    end = next;
    count++;
  }
  if (!count) return 0;
  /* The payloads are copied into the batch: free the ring space before the (maybe slow) write. */
  if (end != start) koala_ring_release(&koala_ring, end);
  uint8_t prefix[KOALA_BATCH_PREFIX_MAX];
  size_t plen = koala_batch_prefix(prefix, (size_t)(p - body));
  memcpy(body - plen, prefix, plen);
  if (write_all(fd, body - plen, plen + (size_t)(p - body)) != 0) {
    uint64_t lost = next_seq - seq0 - (reported_events != rep_e || reported_bytes != rep_b ? 1 : 0);
    reported_events = rep_e;
    reported_bytes = rep_b;
    atomic_fetch_add(&koala_ring.dropped_events, lost);
    atomic_fetch_add(&koala_ring.dropped_bytes, lost_bytes);
    return -1;
  }
  atomic_store(&sent_pos, end);
  return count;
}

static void *run(void *arg) {
  (void)arg;
  koala_busy = 1;
  uint8_t *scratch = malloc(SCRATCH_SIZE);
  if (!scratch) {
    KOALA_LOG(KOALA_LOG_ERROR, "writer: out of memory; nothing will be sent");
    atomic_store(&wstate, W_BACKOFF);
    return NULL;
  }
  int backoff = 100, warned = 0;
  for (;;) {
    int fd = atomic_load(&agent_fd);
    if (fd < 0) {
      if (connect_gateway() != 0) {
        if (!warned++) KOALA_LOG(KOALA_LOG_WARN, "no gateway at %s; retrying", koala_cfg.agent_socket);
        atomic_store(&wstate, W_BACKOFF);
        sleep_ms(backoff);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
        continue;
      }
      backoff = 100;
      warned = 0;
      atomic_store(&wstate, W_CONNECTED);
      continue;
    }
    int n = drain_once(fd, scratch);
    if (n < 0) {
      KOALA_LOG(KOALA_LOG_WARN, "lost the gateway connection; reconnecting");
      disconnect();
      atomic_store(&wstate, W_CONNECTING);
      continue;
    }
    if (n == 0) {
      if (drain_input(fd) != 0) {
        disconnect();
        atomic_store(&wstate, W_CONNECTING);
        continue;
      }
      uint64_t t = atomic_load(&koala_ring.tail);
      if (t != atomic_load(&koala_ring.head)) {
        /* Reserved but not yet published: the producer is mid-copy; look again very soon. */
        sleep_ms(1);
      } else {
        koala_ring_wait(&koala_ring, 50);
      }
    }
  }
  return NULL;
}

int koala_writer_start(void) {
  next_seq = 0;
  reported_events = reported_bytes = 0;
  atomic_store(&sent_pos, 0);
  atomic_store(&wstate, W_CONNECTING);
  /* The writer must never run the application's signal handlers: block everything in it. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int rc = pthread_create(&t, &attr, run, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc == 0 ? 0 : -1;
}

void koala_writer_forget(void) {
  int fd = atomic_exchange(&agent_fd, -1);
  if (fd >= 0) koala_real.close(fd);
}

void koala_writer_flush(int timeout_ms) {
  uint64_t target = atomic_load(&koala_ring.head);
  uint64_t deadline = koala_now_ns() + (uint64_t)timeout_ms * 1000000u;
  while (atomic_load(&sent_pos) < target) {
    if (atomic_load(&wstate) == W_BACKOFF || koala_now_ns() >= deadline) return;
    koala_ring_wake(&koala_ring);
    sleep_ms(1);
  }
}
