#include "replay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "config.h"
#include "log.h"

int koala_sockaddr_bound(const struct sockaddr *a, socklen_t len) {
  if (a->sa_family == AF_INET) return ((const struct sockaddr_in *)a)->sin_port != 0;
  if (a->sa_family == AF_INET6) return ((const struct sockaddr_in6 *)a)->sin6_port != 0;
  if (a->sa_family == AF_UNIX) return len > offsetof(struct sockaddr_un, sun_path);
  return 0;
}

static void v4_mapped(struct sockaddr_in6 *out, const struct sockaddr_in *in) {
  memset(out, 0, sizeof *out);
  out->sin6_family = AF_INET6;
  out->sin6_port = in->sin_port;
  out->sin6_addr.s6_addr[10] = 0xff;
  out->sin6_addr.s6_addr[11] = 0xff;
  memcpy(&out->sin6_addr.s6_addr[12], &in->sin_addr, 4);
}

socklen_t koala_replay_prepare(int fd, int family, struct sockaddr_storage *target) {
  const struct sockaddr_storage *out = &koala_cfg.outbound;
  struct sockaddr_storage bind_to;
  socklen_t bind_len, target_len;
  memset(&bind_to, 0, sizeof bind_to);
  if (family == AF_INET) {
    if (out->ss_family != AF_INET) {
      static int warned;
      if (!warned++) KOALA_LOG(KOALA_LOG_WARN, "replay: an IPv4 socket cannot reach an IPv6 KOALA_OUTBOUND_ADDR");
      return 0;
    }
    struct sockaddr_in *b = (struct sockaddr_in *)&bind_to;
    b->sin_family = AF_INET;
    b->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind_len = sizeof *b;
    memcpy(target, out, sizeof(struct sockaddr_in));
    target_len = sizeof(struct sockaddr_in);
  } else {
    struct sockaddr_in6 *b = (struct sockaddr_in6 *)&bind_to;
    if (out->ss_family == AF_INET) {
      /* An IPv6 socket reaches an IPv4 mock through v4-mapped addresses, bound the same way. */
      struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
      v4_mapped(b, &lo);
      v4_mapped((struct sockaddr_in6 *)target, (const struct sockaddr_in *)out);
    } else {
      b->sin6_family = AF_INET6;
      b->sin6_addr = in6addr_loopback;
      memcpy(target, out, sizeof(struct sockaddr_in6));
    }
    bind_len = sizeof *b;
    target_len = sizeof(struct sockaddr_in6);
  }
  struct sockaddr_storage cur;
  socklen_t cl = sizeof cur;
  if (getsockname(fd, (struct sockaddr *)&cur, &cl) != 0 || !koala_sockaddr_bound((struct sockaddr *)&cur, cl)) {
    if (bind(fd, (struct sockaddr *)&bind_to, bind_len) != 0) {
      KOALA_LOG(KOALA_LOG_DEBUG, "replay: cannot bind fd %d to loopback", fd);
    }
  }
  return target_len;
}
