/* Small helpers shared by the shim's test programs. Each program prints key=value lines the
 * mocha test compares with the events the fake gateway decoded. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(x)                                                              \
  do {                                                                        \
    if (!(x)) {                                                               \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #x, strerror(errno)); \
      exit(1);                                                                \
    }                                                                         \
  } while (0)

static inline int port_of(int fd, int peer) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  CHECK((peer ? getpeername(fd, (struct sockaddr *)&ss, &l) : getsockname(fd, (struct sockaddr *)&ss, &l)) == 0);
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A listening TCP socket on 127.0.0.1, port chosen by the kernel. */
static inline int listen_tcp(struct sockaddr_in *addr) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(l >= 0);
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(l, (struct sockaddr *)addr, sizeof *addr) == 0);
  CHECK(listen(l, 16) == 0);
  socklen_t len = sizeof *addr;
  CHECK(getsockname(l, (struct sockaddr *)addr, &len) == 0);
  return l;
}

static inline int connect_tcp(const struct sockaddr_in *addr) {
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(c >= 0);
  CHECK(connect(c, (const struct sockaddr *)addr, sizeof *addr) == 0);
  return c;
}

/* Reads exactly n bytes with read(). */
static inline void read_full(int fd, char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    CHECK(r > 0);
    got += (size_t)r;
  }
}
