/* Hooks that move bytes: SEND / RECV on stream connections, DATAGRAM for UDP sends. Non-socket
 * descriptors cost one fd-table load after their first call. */
/* sendfile and sendfile64 are both hooked: keep the header from renaming one into the other. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "event.h"
#include "fdtable.h"
#include "helper.h"
#include "hooks.h"
#include "real.h"
#include "record.h"

/* What a send-like call does, decided before the real call. */
struct out_plan {
  uint64_t slot;
  int record;
  int suppress; /* replay: a UDP datagram is reported, not sent */
  const struct sockaddr *dst;
  socklen_t dst_len;
  struct sockaddr_storage peer;
};

static void plan_out(int fd, const struct sockaddr *dst, socklen_t dlen, struct out_plan *pl) {
  int err = errno;
  koala_busy = 1;
  pl->record = pl->suppress = 0;
  pl->dst = NULL;
  pl->slot = koala_fd_classify(fd);
  switch (KOALA_FD_STATE(pl->slot)) {
    case KOALA_FD_STREAM:
      pl->record = 1;
      break;
    case KOALA_FD_DGRAM:
      if (dst) {
        pl->dst = dst;
        pl->dst_len = dlen;
      } else {
        socklen_t pl_len = sizeof pl->peer;
        if (getpeername(fd, (struct sockaddr *)&pl->peer, &pl_len) != 0) break;
        pl->dst = (struct sockaddr *)&pl->peer;
        pl->dst_len = pl_len;
      }
      if (koala_is_bypassed(pl->dst, pl->dst_len) || koala_is_gateway(pl->dst, pl->dst_len)) break;
      pl->record = 1;
      pl->suppress = (koala_cfg.mode & KOALA_MODE_REPLAY) != 0;
      break;
    default:
      break;
  }
  koala_busy = 0;
  errno = err;
}

static void record_out(int fd, const struct out_plan *pl, const struct iovec *iov, int iovcnt, size_t n) {
  int err = errno;
  koala_busy = 1;
  struct sockaddr_storage local, peer;
  struct koala_emit e = {.fd = fd, .conn_id = KOALA_FD_CONN(pl->slot)};
  if (KOALA_FD_STATE(pl->slot) == KOALA_FD_STREAM) {
    e.kind = KOALA_EV_SEND;
    e.socket_type = KOALA_SOCK_STREAM;
    koala_fill_first_sight(&e, fd, pl->slot, &local, &peer);
  } else {
    e.kind = KOALA_EV_DATAGRAM;
    e.socket_type = KOALA_SOCK_DGRAM;
    e.peer = e.orig = pl->dst;
    e.peer_len = e.orig_len = pl->dst_len;
  }
  koala_emit_iov(&e, iov, iovcnt, n);
  koala_busy = 0;
  errno = err;
}

static size_t iov_total(const struct iovec *iov, int iovcnt) {
  size_t t = 0;
  for (int i = 0; i < iovcnt; i++) t += iov[i].iov_len;
  return t;
}

/* Returns the slot if a receive on fd should be recorded (connected stream, not a peek). */
static uint64_t plan_in(int fd, int flags) {
  if (flags & MSG_PEEK) return 0;
  int err = errno;
  koala_busy = 1;
  uint64_t v = koala_fd_classify(fd);
  koala_busy = 0;
  errno = err;
  return KOALA_FD_STATE(v) == KOALA_FD_STREAM ? v : 0;
}

static void record_in(int fd, uint64_t slot, const struct iovec *iov, int iovcnt, ssize_t n, size_t asked) {
  /* A zero-byte read is EOF only when bytes were asked for. */
  if (n < 0 || (n == 0 && asked == 0)) return;
  int err = errno;
  koala_busy = 1;
  struct sockaddr_storage local, peer;
  struct koala_emit e = {.kind = KOALA_EV_RECV, .socket_type = KOALA_SOCK_STREAM, .fd = fd,
                         .conn_id = KOALA_FD_CONN(slot)};
  koala_fill_first_sight(&e, fd, slot, &local, &peer);
  koala_emit_iov(&e, iov, iovcnt, (size_t)n);
  koala_busy = 0;
  errno = err;
}

static void record_in_buf(int fd, uint64_t slot, const void *buf, ssize_t n, size_t asked) {
  struct iovec iov = {(void *)buf, n > 0 ? (size_t)n : 0};
  record_in(fd, slot, &iov, 1, n, asked);
}

/* Records what a send-like call sent, when its plan says so (a datagram even when empty). */
static void finish_out(int fd, const struct out_plan *pl, const struct iovec *iov, int iovcnt, ssize_t n) {
  if (pl->record && n >= 0 && (n > 0 || pl->dst)) record_out(fd, pl, iov, iovcnt, (size_t)n);
}

static void finish_out_buf(int fd, const struct out_plan *pl, const void *buf, ssize_t n) {
  struct iovec iov = {(void *)buf, n > 0 ? (size_t)n : 0};
  finish_out(fd, pl, &iov, 1, n);
}

/* Descriptors passed with SCM_RIGHTS are new generations of their numbers. */
static void forget_passed_fds(const struct msghdr *msg) {
  if (!msg->msg_control || !msg->msg_controllen) return;
  for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const int *fds = (const int *)CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) koala_fd_set(fds[i], 0);
  }
}

KOALA_HOOK ssize_t send(int fd, const void *buf, size_t len, int flags) {
  ssize_t (*real)(int, const void *, size_t, int) = KOALA_REAL(send);
  if (!real) NO_REAL();
  if (!koala_recording()) return real(fd, buf, len, flags);
  struct out_plan pl;
  plan_out(fd, NULL, 0, &pl);
  ssize_t n = pl.suppress ? (ssize_t)len : real(fd, buf, len, flags);
  finish_out_buf(fd, &pl, buf, n);
  return n;
}

KOALA_HOOK ssize_t sendto(int fd, const void *buf, size_t len, int flags, __CONST_SOCKADDR_ARG addr_arg,
                          socklen_t alen) {
  const struct sockaddr *addr = KOALA_SA(addr_arg);
  if (koala_is_helper_addr(addr, alen)) return koala_helper_send(fd, buf, len, flags);
  ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t) = KOALA_REAL(sendto);
  if (!real) NO_REAL();
  if (!koala_recording()) return real(fd, buf, len, flags, addr, alen);
  struct out_plan pl;
  plan_out(fd, addr, alen, &pl);
  ssize_t n = pl.suppress ? (ssize_t)len : real(fd, buf, len, flags, addr, alen);
  finish_out_buf(fd, &pl, buf, n);
  return n;
}

KOALA_HOOK ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  ssize_t (*real)(int, const struct msghdr *, int) = KOALA_REAL(sendmsg);
  if (!real) NO_REAL();
  if (!koala_recording() || !msg) return real(fd, msg, flags);
  struct out_plan pl;
  plan_out(fd, msg->msg_name, msg->msg_namelen, &pl);
  ssize_t n = pl.suppress ? (ssize_t)iov_total(msg->msg_iov, (int)msg->msg_iovlen) : real(fd, msg, flags);
  finish_out(fd, &pl, msg->msg_iov, (int)msg->msg_iovlen, n);
  return n;
}

KOALA_HOOK ssize_t write(int fd, const void *buf, size_t len) {
  ssize_t (*real)(int, const void *, size_t) = KOALA_REAL(write);
  if (!real) return syscall(SYS_write, fd, buf, len);
  if (!koala_recording()) return real(fd, buf, len);
  struct out_plan pl;
  plan_out(fd, NULL, 0, &pl);
  ssize_t n = pl.suppress ? (ssize_t)len : real(fd, buf, len);
  finish_out_buf(fd, &pl, buf, n);
  return n;
}

KOALA_HOOK ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  ssize_t (*real)(int, const struct iovec *, int) = KOALA_REAL(writev);
  if (!real) NO_REAL();
  if (!koala_recording()) return real(fd, iov, iovcnt);
  struct out_plan pl;
  plan_out(fd, NULL, 0, &pl);
  ssize_t n = pl.suppress ? (ssize_t)iov_total(iov, iovcnt) : real(fd, iov, iovcnt);
  finish_out(fd, &pl, iov, iovcnt, n);
  return n;
}

static ssize_t do_sendfile(ssize_t (*real)(int, int, off_t *, size_t), int out, int in, off_t *off, size_t count) {
  if (!koala_recording()) return real(out, in, off, count);
  struct out_plan pl;
  plan_out(out, NULL, 0, &pl);
  if (!pl.record || KOALA_FD_STATE(pl.slot) != KOALA_FD_STREAM) return real(out, in, off, count);
  off_t start = off ? *off : lseek(in, 0, SEEK_CUR);
  ssize_t n = real(out, in, off, count);
  if (n > 0 && start >= 0) {
    int err = errno;
    koala_busy = 1;
    struct sockaddr_storage local, peer;
    struct koala_emit e = {.kind = KOALA_EV_SEND, .socket_type = KOALA_SOCK_STREAM, .fd = out,
                           .conn_id = KOALA_FD_CONN(pl.slot)};
    koala_fill_first_sight(&e, out, pl.slot, &local, &peer);
    koala_emit_file(&e, in, start, (size_t)n);
    koala_busy = 0;
    errno = err;
  }
  return n;
}

KOALA_HOOK ssize_t sendfile(int out, int in, off_t *off, size_t count) {
  ssize_t (*real)(int, int, off_t *, size_t) = KOALA_REAL(sendfile);
  if (!real) NO_REAL();
  return do_sendfile(real, out, in, off, count);
}

KOALA_HOOK ssize_t sendfile64(int out, int in, off_t *off, size_t count) {
  ssize_t (*real)(int, int, off_t *, size_t) = KOALA_REAL(sendfile64);
  if (!real) NO_REAL();
  return do_sendfile(real, out, in, off, count);
}

KOALA_HOOK ssize_t recv(int fd, void *buf, size_t len, int flags) {
  ssize_t (*real)(int, void *, size_t, int) = KOALA_REAL(recv);
  if (!real) NO_REAL();
  if (!koala_recording()) return real(fd, buf, len, flags);
  uint64_t slot = plan_in(fd, flags);
  ssize_t n = real(fd, buf, len, flags);
  if (slot) record_in_buf(fd, slot, buf, n, len);
  return n;
}

KOALA_HOOK ssize_t recvfrom(int fd, void *buf, size_t len, int flags, __SOCKADDR_ARG addr_arg,
                            socklen_t *__restrict alen) {
  /* The original's helper reply channel: nothing to reply yet, and never a kernel call. */
  if (flags == KOALA_HELPER_RECV_FLAGS) return 0;
  struct sockaddr *addr = KOALA_SA(addr_arg);
  ssize_t (*real)(int, void *, size_t, int, struct sockaddr *, socklen_t *) = KOALA_REAL(recvfrom);
  if (!real) NO_REAL();
  if (!koala_recording()) return real(fd, buf, len, flags, addr, alen);
  uint64_t slot = plan_in(fd, flags);
  ssize_t n = real(fd, buf, len, flags, addr, alen);
  if (slot) record_in_buf(fd, slot, buf, n, len);
  return n;
}

KOALA_HOOK ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  ssize_t (*real)(int, struct msghdr *, int) = KOALA_REAL(recvmsg);
  if (!real) NO_REAL();
  if (!koala_recording() || !msg) return real(fd, msg, flags);
  uint64_t slot = plan_in(fd, flags);
  ssize_t n = real(fd, msg, flags);
  if (n >= 0) forget_passed_fds(msg);
  if (slot) record_in(fd, slot, msg->msg_iov, (int)msg->msg_iovlen, n, iov_total(msg->msg_iov, (int)msg->msg_iovlen));
  return n;
}

KOALA_HOOK ssize_t read(int fd, void *buf, size_t len) {
  ssize_t (*real)(int, void *, size_t) = KOALA_REAL(read);
  if (!real) return syscall(SYS_read, fd, buf, len);
  if (!koala_recording()) return real(fd, buf, len);
  uint64_t slot = plan_in(fd, 0);
  ssize_t n = real(fd, buf, len);
  if (slot) record_in_buf(fd, slot, buf, n, len);
  return n;
}

KOALA_HOOK ssize_t readv(int fd, const struct iovec *iov, int iovcnt) {
  ssize_t (*real)(int, const struct iovec *, int) = KOALA_REAL(readv);
  if (!real) NO_REAL();
  if (!koala_recording()) return real(fd, iov, iovcnt);
  uint64_t slot = plan_in(fd, 0);
  ssize_t n = real(fd, iov, iovcnt);
  if (slot) record_in(fd, slot, iov, iovcnt, n, iov_total(iov, iovcnt));
  return n;
}

/* _FORTIFY_SOURCE builds call these instead of read/recv/recvfrom. */
KOALA_HOOK ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen) {
  ssize_t (*real)(int, void *, size_t, size_t) = KOALA_REAL(read_chk);
  if (!real) NO_REAL();
  if (!koala_recording()) return real(fd, buf, len, buflen);
  uint64_t slot = plan_in(fd, 0);
  ssize_t n = real(fd, buf, len, buflen);
  if (slot) record_in_buf(fd, slot, buf, n, len);
  return n;
}

KOALA_HOOK ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags) {
  ssize_t (*real)(int, void *, size_t, size_t, int) = KOALA_REAL(recv_chk);
  if (!real) NO_REAL();
  if (!koala_recording()) return real(fd, buf, len, buflen, flags);
  uint64_t slot = plan_in(fd, flags);
  ssize_t n = real(fd, buf, len, buflen, flags);
  if (slot) record_in_buf(fd, slot, buf, n, len);
  return n;
}

KOALA_HOOK ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, __SOCKADDR_ARG addr_arg,
                                  socklen_t *__restrict alen) {
  if (flags == KOALA_HELPER_RECV_FLAGS) return 0;
  struct sockaddr *addr = KOALA_SA(addr_arg);
  ssize_t (*real)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *) = KOALA_REAL(recvfrom_chk);
  if (!real) NO_REAL();
  if (!koala_recording()) return real(fd, buf, len, buflen, flags, addr, alen);
  uint64_t slot = plan_in(fd, flags);
  ssize_t n = real(fd, buf, len, buflen, flags, addr, alen);
  if (slot) record_in_buf(fd, slot, buf, n, len);
  return n;
}
