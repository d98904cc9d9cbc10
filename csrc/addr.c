#include "addr.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

void koala_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct koala_addr *out) {
  memset(out, 0, sizeof *out);
  if (!sa || len < (socklen_t)sizeof(sa_family_t)) return;
  switch (sa->sa_family) {
    case AF_INET: {
      if (len < (socklen_t)sizeof(struct sockaddr_in)) return;
      const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
      out->family = KOALA_AF_INET;
      out->ip_len = 4;
      memcpy(out->ip, &s->sin_addr, 4);
      out->port = ntohs(s->sin_port);
      return;
    }
    case AF_INET6: {
      if (len < (socklen_t)sizeof(struct sockaddr_in6)) return;
      const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
      out->family = KOALA_AF_INET6;
      out->ip_len = 16;
      memcpy(out->ip, &s->sin6_addr, 16);
      out->port = ntohs(s->sin6_port);
      return;
    }
    case AF_UNIX: {
      const struct sockaddr_un *s = (const struct sockaddr_un *)sa;
      size_t n = (size_t)len - offsetof(struct sockaddr_un, sun_path);
      if (n > sizeof s->sun_path) n = sizeof s->sun_path;
      out->family = KOALA_AF_UNIX;
      if (n == 0) return; /* unnamed */
      if (s->sun_path[0] == 0) {
        /* Abstract namespace: "@name", the name being every byte after the NUL. */
        size_t k = n - 1 < sizeof out->path - 1 ? n - 1 : sizeof out->path - 1;
        out->path[0] = '@';
        memcpy(out->path + 1, s->sun_path + 1, k);
        out->path_len = (uint16_t)(k + 1);
      } else {
        size_t k = strnlen(s->sun_path, n);
        memcpy(out->path, s->sun_path, k);
        out->path_len = (uint16_t)k;
      }
      return;
    }
    default:
      return;
  }
}
