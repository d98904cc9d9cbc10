/* Hooks that create, connect, duplicate and close descriptors: they keep the fd table right and
 * report ACCEPT, CONNECT and CLOSE. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "event.h"
#include "fdtable.h"
#include "hooks.h"
#include "log.h"
#include "real.h"
#include "record.h"
#include "replay.h"
#include "writer.h"

static void emit_close(int fd, uint64_t v, int err) {
  if (KOALA_FD_STATE(v) != KOALA_FD_STREAM || !(v & KOALA_FD_ANNOUNCED)) return;
  struct koala_emit e = {.kind = KOALA_EV_CLOSE, .socket_type = KOALA_SOCK_STREAM, .fd = fd,
                         .conn_id = KOALA_FD_CONN(v), .err = err};
  koala_emit_buf(&e, NULL, 0);
}

/* The descriptor number is being reused or dropped: report the end of what it held. */
static void forget_fd(int fd) {
  uint64_t v = koala_fd_get(fd);
  if (!v) return;
  koala_fd_set(fd, 0);
  emit_close(fd, v, 0);
}

static int is_protected(int fd) {
  return fd >= 0 && (fd == koala_writer_fd() || (fd > 2 && fd == koala_log_fd));
}

KOALA_HOOK int socket(int domain, int type, int protocol) {
  int (*real)(int, int, int) = KOALA_REAL(socket);
  if (!real) NO_REAL();
  int fd = real(domain, type, protocol);
  /* A new generation: whatever the number held before (maybe closed inside libc) is stale. */
  if (fd >= 0 && !koala_busy) koala_fd_set(fd, 0);
  return fd;
}

KOALA_HOOK int socketpair(int domain, int type, int protocol, int sv[2]) {
  int (*real)(int, int, int, int[2]) = KOALA_REAL(socketpair);
  if (!real) NO_REAL();
  int rc = real(domain, type, protocol, sv);
  if (rc == 0 && !koala_busy) {
    koala_fd_set(sv[0], 0);
    koala_fd_set(sv[1], 0);
  }
  return rc;
}

static void after_accept(int lfd, int cfd, const struct sockaddr_storage *peer, socklen_t plen) {
  uint64_t lv = koala_fd_classify(lfd);
  if (KOALA_FD_STATE(lv) != KOALA_FD_LISTEN) {
    koala_fd_set(cfd, 0);
    return;
  }
  uint64_t conn = koala_next_conn_id();
  koala_fd_set(cfd, KOALA_FD_MAKE(KOALA_FD_STREAM, KOALA_FD_ANNOUNCED, conn));
  struct sockaddr_storage local;
  socklen_t llen = sizeof local;
  struct koala_emit e = {.kind = KOALA_EV_ACCEPT, .socket_type = KOALA_SOCK_STREAM, .fd = cfd, .conn_id = conn,
                         .listen_conn_id = KOALA_FD_CONN(lv)};
  if (getsockname(cfd, (struct sockaddr *)&local, &llen) == 0) {
    e.local = (struct sockaddr *)&local;
    e.local_len = llen;
  }
  if (plen >= sizeof(sa_family_t)) {
    e.peer = (const struct sockaddr *)peer;
    e.peer_len = plen;
  }
  koala_emit_buf(&e, NULL, 0);
}

/* The application's address buffer may be NULL or short: the shim always asks for the whole
 * peer address, then copies what the caller has room for, as the kernel would. */
static void give_addr(struct sockaddr *addr, socklen_t *alen, const struct sockaddr_storage *ss, socklen_t sl) {
  if (!addr || !alen) return;
  socklen_t cap = *alen;
  memcpy(addr, ss, cap < sl ? cap : sl);
  *alen = sl;
}

/* The part accept and accept4 share once the real call returned c: hand the caller its address,
 * then report the new connection without disturbing errno. */
static int accepted(int lfd, int c, struct sockaddr *addr, socklen_t *alen, const struct sockaddr_storage *ss,
                    socklen_t sl) {
  if (c < 0) return c;
  give_addr(addr, alen, ss, sl);
  int err = errno;
  koala_busy = 1;
  after_accept(lfd, c, ss, sl);
  koala_busy = 0;
  errno = err;
  return c;
}

KOALA_HOOK int accept(int fd, __SOCKADDR_ARG addr_arg, socklen_t *__restrict alen) {
  int (*real)(int, struct sockaddr *, socklen_t *) = KOALA_REAL(accept);
  if (!real) NO_REAL();
  struct sockaddr *addr = KOALA_SA(addr_arg);
  if (!koala_recording()) return real(fd, addr, alen);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  int c = real(fd, (struct sockaddr *)&ss, &sl);
  return accepted(fd, c, addr, alen, &ss, sl);
}

KOALA_HOOK int accept4(int fd, __SOCKADDR_ARG addr_arg, socklen_t *__restrict alen, int flags) {
  int (*real)(int, struct sockaddr *, socklen_t *, int) = KOALA_REAL(accept4);
  if (!real) NO_REAL();
  struct sockaddr *addr = KOALA_SA(addr_arg);
  if (!koala_recording()) return real(fd, addr, alen, flags);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  int c = real(fd, (struct sockaddr *)&ss, &sl, flags);
  return accepted(fd, c, addr, alen, &ss, sl);
}

/* A connect that ended in a real error: the connection never existed. */
static int connect_failed(int err) {
  return err != EINPROGRESS && err != EINTR && err != EALREADY && err != EISCONN;
}

static int do_connect(int (*real)(int, const struct sockaddr *, socklen_t), int fd, const struct sockaddr *addr,
                      socklen_t len) {
  int family = addr->sa_family;
  if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) return real(fd, addr, len);
  int type = 0;
  socklen_t tl = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0) return real(fd, addr, len);
  int inet = family != AF_UNIX;
  if ((type != SOCK_STREAM && !(type == SOCK_DGRAM && inet)) || koala_is_bypassed(addr, len) ||
      koala_is_gateway(addr, len)) {
    koala_fd_set(fd, KOALA_FD_MAKE(KOALA_FD_IGNORED, 0, 0));
    return real(fd, addr, len);
  }
  if (type == SOCK_DGRAM) {
    uint64_t v = koala_fd_get(fd);
    uint64_t conn = KOALA_FD_STATE(v) == KOALA_FD_DGRAM ? KOALA_FD_CONN(v) : koala_next_conn_id();
    koala_fd_set(fd, KOALA_FD_MAKE(KOALA_FD_DGRAM, 0, conn));
    return real(fd, addr, len);
  }
  uint64_t v = koala_fd_get(fd);
  if (KOALA_FD_STATE(v) == KOALA_FD_STREAM && (v & KOALA_FD_ANNOUNCED)) {
    /* A non-blocking connect asked again (EALREADY / EISCONN): already reported. */
    return real(fd, addr, len);
  }
  uint64_t conn = koala_next_conn_id();
  koala_fd_set(fd, KOALA_FD_MAKE(KOALA_FD_STREAM, KOALA_FD_ANNOUNCED, conn));
  struct koala_emit e = {.kind = KOALA_EV_CONNECT, .socket_type = KOALA_SOCK_STREAM, .fd = fd, .conn_id = conn,
                         .peer = addr, .peer_len = len, .orig = addr, .orig_len = len};
  struct sockaddr_storage local, target;
  socklen_t target_len = 0;
  if (inet && (koala_cfg.mode & KOALA_MODE_REPLAY)) {
    /* Bound first, so CONNECT carries the local address the replay gateway will see. */
    target_len = koala_replay_prepare(fd, family, &target);
  }
  socklen_t llen = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0 && koala_sockaddr_bound((struct sockaddr *)&local, llen)) {
    e.local = (struct sockaddr *)&local;
    e.local_len = llen;
  }
  koala_emit_buf(&e, NULL, 0);
  koala_busy = 0;
  int rc = target_len ? real(fd, (struct sockaddr *)&target, target_len) : real(fd, addr, len);
  int err = errno;
  koala_busy = 1;
  if (rc != 0 && connect_failed(err)) {
    koala_fd_set(fd, 0);
    emit_close(fd, KOALA_FD_MAKE(KOALA_FD_STREAM, KOALA_FD_ANNOUNCED, conn), err);
  }
  errno = err;
  return rc;
}

KOALA_HOOK int connect(int fd, __CONST_SOCKADDR_ARG addr_arg, socklen_t len) {
  int (*real)(int, const struct sockaddr *, socklen_t) = KOALA_REAL(connect);
  if (!real) NO_REAL();
  const struct sockaddr *addr = KOALA_SA(addr_arg);
  if (!addr || len < (socklen_t)sizeof(sa_family_t) || !koala_recording()) return real(fd, addr, len);
  koala_busy = 1;
  int rc = do_connect(real, fd, addr, len);
  int err = errno;
  koala_busy = 0;
  errno = err;
  return rc;
}

KOALA_HOOK int close(int fd) {
  int (*real)(int) = KOALA_REAL(close);
  if (!real) return (int)syscall(SYS_close, fd);
  if (koala_busy || atomic_load(&koala_agent.state) != KOALA_AGENT_ACTIVE) return real(fd);
  /* The shim's own descriptors survive the application's close (e.g. a daemon closing all fds). */
  if (is_protected(fd)) return 0;
  koala_busy = 1;
  forget_fd(fd);
  koala_busy = 0;
  return real(fd);
}

KOALA_HOOK int close_range(unsigned first, unsigned last, int flags) {
  int (*real)(unsigned, unsigned, int) = KOALA_REAL(close_range);
  if (!real) NO_REAL();
  if (koala_busy || atomic_load(&koala_agent.state) != KOALA_AGENT_ACTIVE || (flags & CLOSE_RANGE_CLOEXEC))
    return real(first, last, flags);
  koala_busy = 1;
  unsigned top = (unsigned)koala_fd_max_seen();
  for (unsigned fd = first; fd <= last && fd <= top; fd++) {
    if (!is_protected((int)fd)) forget_fd((int)fd);
  }
  /* Close around the protected descriptors (at most two). */
  int keep[2] = {koala_writer_fd(), koala_log_fd > 2 ? koala_log_fd : -1};
  if (keep[0] > keep[1]) {
    int t = keep[0];
    keep[0] = keep[1];
    keep[1] = t;
  }
  unsigned from = first;
  int rc = 0;
  for (int i = 0; i < 2; i++) {
    if (keep[i] < 0 || (unsigned)keep[i] < from || (unsigned)keep[i] > last) continue;
    if ((unsigned)keep[i] > from && real(from, (unsigned)keep[i] - 1, flags) != 0) rc = -1;
    from = (unsigned)keep[i] + 1;
  }
  if (from <= last && real(from, last, flags) != 0) rc = -1;
  koala_busy = 0;
  return rc;
}

KOALA_HOOK int dup(int old) {
  int (*real)(int) = KOALA_REAL(dup);
  if (!real) NO_REAL();
  int fd = real(old);
  if (fd >= 0 && !koala_busy) koala_fd_set(fd, 0);
  return fd;
}

/* dup2/dup3 silently close the target: report it, and move the shim's own fd out of the way. */
static void before_dup_onto(int newfd) {
  koala_writer_evacuate(newfd);
  if (newfd > 2 && newfd == koala_log_fd) {
    int moved = fcntl(newfd, F_DUPFD_CLOEXEC, newfd + 1);
    koala_log_fd = moved >= 0 ? moved : 2;
  }
  forget_fd(newfd);
}

KOALA_HOOK int dup2(int old, int newfd) {
  int (*real)(int, int) = KOALA_REAL(dup2);
  if (!real) NO_REAL();
  if (old == newfd || !koala_recording()) return real(old, newfd);
  koala_busy = 1;
  before_dup_onto(newfd);
  koala_busy = 0;
  return real(old, newfd);
}

KOALA_HOOK int dup3(int old, int newfd, int flags) {
  int (*real)(int, int, int) = KOALA_REAL(dup3);
  if (!real) NO_REAL();
  if (old == newfd || !koala_recording()) return real(old, newfd, flags);
  koala_busy = 1;
  before_dup_onto(newfd);
  koala_busy = 0;
  return real(old, newfd, flags);
}
