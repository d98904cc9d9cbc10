#include "fdtable.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "config.h"

static _Atomic uint64_t *slots;
static size_t nslots;
static _Atomic uint64_t conn_seq;
static _Atomic int max_seen;

int koala_fdtable_init(void) {
  struct rlimit rl;
  size_t n = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > n) n = rl.rlim_cur;
  if (n > (1u << 20)) n = 1u << 20;
  void *p = mmap(NULL, n * sizeof *slots, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return -1;
  slots = p;
  nslots = n;
  atomic_store(&conn_seq, 0);
  return 0;
}

void koala_fdtable_reset(void) {
  /* Anonymous private pages read back as zero (= unknown) after MADV_DONTNEED. */
  if (slots) madvise((void *)slots, nslots * sizeof *slots, MADV_DONTNEED);
  atomic_store(&conn_seq, 0);
  atomic_store(&max_seen, 0);
}

uint64_t koala_fd_get(int fd) {
  if (fd < 0 || (size_t)fd >= nslots) return 0;
  return atomic_load_explicit(&slots[fd], memory_order_acquire);
}

void koala_fd_set(int fd, uint64_t v) {
  if (fd < 0 || (size_t)fd >= nslots) return;
  atomic_store_explicit(&slots[fd], v, memory_order_release);
  int m = atomic_load_explicit(&max_seen, memory_order_relaxed);
  while (fd > m && !atomic_compare_exchange_weak(&max_seen, &m, fd)) {
  }
}

int koala_fd_announce(int fd, uint64_t seen) {
  if (fd < 0 || (size_t)fd >= nslots || (seen & KOALA_FD_ANNOUNCED)) return 0;
  return atomic_compare_exchange_strong(&slots[fd], &seen, seen | KOALA_FD_ANNOUNCED);
}

uint64_t koala_next_conn_id(void) { return atomic_fetch_add_explicit(&conn_seq, 1, memory_order_relaxed) + 1; }

int koala_fd_max_seen(void) { return atomic_load(&max_seen); }

static uint64_t learn(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  if (!S_ISSOCK(st.st_mode)) return KOALA_FD_MAKE(KOALA_FD_NOT_SOCKET, 0, 0);
  /* stdin/out/err are often sockets (systemd's journal stream, a parent's socketpair): they are
   * logs, not traffic, unless the program itself accepted or connected them. */
  if (fd <= 2) return KOALA_FD_MAKE(KOALA_FD_IGNORED, 0, 0);
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return KOALA_FD_MAKE(KOALA_FD_IGNORED, 0, 0);
  len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) listening = 0;
  struct sockaddr_storage ss;
  len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return KOALA_FD_MAKE(KOALA_FD_IGNORED, 0, 0);
  int family = ss.ss_family;
  int inet = family == AF_INET || family == AF_INET6;
  if (type == SOCK_STREAM && (inet || family == AF_UNIX)) {
    if (listening) return KOALA_FD_MAKE(KOALA_FD_LISTEN, 0, koala_next_conn_id());
    len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
      /* Not connected yet: learn it again at the next call rather than remember a guess. */
      return errno == ENOTCONN ? 0 : KOALA_FD_MAKE(KOALA_FD_IGNORED, 0, 0);
    }
    if (inet && (koala_is_bypassed((struct sockaddr *)&ss, len) || koala_is_gateway((struct sockaddr *)&ss, len)))
      return KOALA_FD_MAKE(KOALA_FD_IGNORED, 0, 0);
    if (family == AF_UNIX && koala_is_gateway((struct sockaddr *)&ss, len)) return KOALA_FD_MAKE(KOALA_FD_IGNORED, 0, 0);
    return KOALA_FD_MAKE(KOALA_FD_STREAM, 0, koala_next_conn_id());
  }
  if (type == SOCK_DGRAM && inet) return KOALA_FD_MAKE(KOALA_FD_DGRAM, 0, koala_next_conn_id());
  return KOALA_FD_MAKE(KOALA_FD_IGNORED, 0, 0);
}

uint64_t koala_fd_classify(int fd) {
  if (fd < 0 || (size_t)fd >= nslots) return 0;
  uint64_t v = atomic_load_explicit(&slots[fd], memory_order_acquire);
  if (KOALA_FD_STATE(v) != KOALA_FD_UNKNOWN) return v;
  uint64_t learnt = learn(fd);
  if (!learnt) return 0;
  /* Another thread may have learnt it meanwhile; its answer wins. */
  if (!atomic_compare_exchange_strong(&slots[fd], &v, learnt)) return v;
  koala_fd_set(fd, learnt);
  return learnt;
}
