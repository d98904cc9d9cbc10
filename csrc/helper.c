#include "helper.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "agent.h"
#include "event.h"
#include "fdtable.h"
#include "record.h"

#define HELPER_IP 0x7f7f7f7fu
#define HELPER_PORT 127

int koala_is_helper_addr(const struct sockaddr *addr, socklen_t len) {
  if (!addr || len < (socklen_t)sizeof(struct sockaddr_in) || addr->sa_family != AF_INET) return 0;
  const struct sockaddr_in *s = (const struct sockaddr_in *)addr;
  /* Network byte order on both sides, so the check holds on any host (the original compared the
   * raw port with a little-endian constant). */
  return s->sin_addr.s_addr == htonl(HELPER_IP) && s->sin_port == htons(HELPER_PORT);
}

static int is_command(const char *buf, size_t n, const char *cmd) {
  return n == strlen(cmd) && memcmp(buf, cmd, n) == 0;
}

ssize_t koala_helper_send(int fd, const void *buf, size_t len, int flags) {
  if (!koala_recording()) return (ssize_t)len;
  koala_busy = 1;
  const char *p = buf ? buf : "";
  const char *nl = len ? memchr(p, '\n', len) : NULL;
  size_t cmd_len = nl ? (size_t)(nl - p) : len;

  struct koala_emit e = {.kind = KOALA_EV_HELPER, .fd = fd, .flags = flags};
  koala_emit_buf(&e, p, len < KOALA_CHUNK ? len : KOALA_CHUNK);

  if (is_command(p, cmd_len, "to-koala!set-delegated-from-thread-id")) {
    koala_vtid = flags;
  } else if (is_command(p, cmd_len, "to-koala!one-way")) {
    uint64_t v = koala_fd_get(flags);
    if (KOALA_FD_STATE(v) == KOALA_FD_STREAM) {
      struct koala_emit b = {.kind = KOALA_EV_BOUNDARY, .socket_type = KOALA_SOCK_STREAM, .fd = flags,
                             .conn_id = KOALA_FD_CONN(v)};
      koala_emit_buf(&b, NULL, 0);
    }
  }
  /* to-koala!thread-shutdown and unknown commands: the HELPER event is all the gateway needs. */
  koala_busy = 0;
  return (ssize_t)len;
}
