#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "event.h"
#include "log.h"

struct koala_config koala_cfg;

static void copy_str(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

int koala_parse_hostport(const char *s, struct koala_bypass *out, int allow_any) {
  char host[64];
  const char *colon;
  memset(out, 0, sizeof *out);
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host) return -1;
    memcpy(host, s + 1, (size_t)(end - s - 1));
    host[end - s - 1] = 0;
    colon = end + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
  }
  char *endp;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &endp, 10);
  if (errno || *endp || endp == colon + 1 || port > 65535) return -1;
  out->port = (uint16_t)port;
  if (!host[0]) {
    if (!allow_any) return -1;
    return 0;
  }
  if (strcmp(host, "localhost") == 0) copy_str(host, sizeof host, "127.0.0.1");
  if (inet_pton(AF_INET, host, out->ip) == 1) {
    out->family = AF_INET;
  } else if (inet_pton(AF_INET6, host, out->ip) == 1) {
    out->family = AF_INET6;
  } else {
    return -1;
  }
  return 0;
}

static int parse_size(const char *name, const char *v, size_t def, size_t min, size_t *out) {
  if (!v || !*v) {
    *out = def;
    return 0;
  }
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno || *end || n < min) {
    KOALA_LOG(KOALA_LOG_ERROR, "%s=%s: expected an integer >= %zu; the shim is disabled", name, v, min);
    return -1;
  }
  *out = (size_t)n;
  return 0;
}

static int parse_level(const char *v) {
  if (!v || !*v) return KOALA_LOG_WARN;
  for (int i = 0; i <= KOALA_LOG_OFF; i++) {
    if (strcasecmp(v, koala_log_level_names[i]) == 0) return i;
  }
  return -1;
}

static int parse_bypass(const char *v) {
  koala_cfg.nbypass = 0;
  if (!v || !*v) return 0;
  char buf[2048];
  copy_str(buf, sizeof buf, v);
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    if (!*tok) continue;
    if (koala_cfg.nbypass == KOALA_MAX_BYPASS) {
      KOALA_LOG(KOALA_LOG_ERROR, "KOALA_OUTBOUND_BYPASS_ADDR: more than %d entries", KOALA_MAX_BYPASS);
      return -1;
    }
    if (koala_parse_hostport(tok, &koala_cfg.bypass[koala_cfg.nbypass], 1) != 0) {
      KOALA_LOG(KOALA_LOG_ERROR, "KOALA_OUTBOUND_BYPASS_ADDR: '%s' is not ip:port or :port", tok);
      return -1;
    }
    koala_cfg.nbypass++;
  }
  return 0;
}

static int parse_outbound(const char *v) {
  struct koala_bypass hp;
  if (!v || !*v) v = "127.0.0.1:2516";
  if (koala_parse_hostport(v, &hp, 0) != 0) {
    KOALA_LOG(KOALA_LOG_ERROR, "KOALA_OUTBOUND_ADDR=%s: expected ip:port; the shim is disabled", v);
    return -1;
  }
  memset(&koala_cfg.outbound, 0, sizeof koala_cfg.outbound);
  if (hp.family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&koala_cfg.outbound;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(hp.port);
    memcpy(&sin->sin_addr, hp.ip, 4);
    koala_cfg.outbound_len = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&koala_cfg.outbound;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(hp.port);
    memcpy(&sin6->sin6_addr, hp.ip, 16);
    koala_cfg.outbound_len = sizeof *sin6;
  }
  return 0;
}

static void default_sut_name(void) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    copy_str(koala_cfg.sut_name, sizeof koala_cfg.sut_name, "unknown");
    return;
  }
  exe[n] = 0;
  const char *base = strrchr(exe, '/');
  copy_str(koala_cfg.sut_name, sizeof koala_cfg.sut_name, base ? base + 1 : exe);
}

int koala_config_load(void) {
  int level = parse_level(getenv("KOALA_LOG_LEVEL"));
  const char *log_file = getenv("KOALA_LOG_FILE");
  if (koala_log_open(log_file) != 0) {
    koala_log_fd = 2;
    KOALA_LOG(KOALA_LOG_ERROR, "KOALA_LOG_FILE=%s: cannot open; logging to stderr", log_file);
  }
  if (level < 0) {
    KOALA_LOG(KOALA_LOG_ERROR, "KOALA_LOG_LEVEL=%s: expected TRACE..FATAL; the shim is disabled",
              getenv("KOALA_LOG_LEVEL"));
    return -1;
  }
  koala_log_level = level;

  const char *mode = getenv("KOALA_MODE");
  if (!mode || !*mode || strcmp(mode, "record") == 0) {
    koala_cfg.mode = KOALA_MODE_RECORD;
  } else if (strcmp(mode, "replay") == 0) {
    koala_cfg.mode = KOALA_MODE_REPLAY;
  } else if (strcmp(mode, "record+replay") == 0) {
    koala_cfg.mode = KOALA_MODE_RECORD_AND_REPLAY;
  } else {
    KOALA_LOG(KOALA_LOG_ERROR, "KOALA_MODE=%s: expected record, replay or record+replay; the shim is disabled", mode);
    return -1;
  }

  const char *sock = getenv("KOALA_AGENT_SOCKET");
  if (sock && *sock) {
    if (strlen(sock) >= sizeof koala_cfg.agent_socket) {
      KOALA_LOG(KOALA_LOG_ERROR, "KOALA_AGENT_SOCKET is longer than %zu bytes; the shim is disabled",
                sizeof koala_cfg.agent_socket - 1);
      return -1;
    }
    copy_str(koala_cfg.agent_socket, sizeof koala_cfg.agent_socket, sock);
  } else {
    snprintf(koala_cfg.agent_socket, sizeof koala_cfg.agent_socket, "/tmp/koala-%u/agent.sock", (unsigned)getuid());
  }

  const char *name = getenv("KOALA_SUT_NAME");
  if (name && *name) {
    copy_str(koala_cfg.sut_name, sizeof koala_cfg.sut_name, name);
  } else {
    default_sut_name();
  }

  if (parse_outbound(getenv("KOALA_OUTBOUND_ADDR")) != 0) return -1;
  if (parse_bypass(getenv("KOALA_OUTBOUND_BYPASS_ADDR")) != 0) return -1;
  if (parse_size("KOALA_BUFFER_SIZE", getenv("KOALA_BUFFER_SIZE"), 32u << 20, 64u << 10, &koala_cfg.buffer_size) != 0)
    return -1;
  if (parse_size("KOALA_MAX_PAYLOAD", getenv("KOALA_MAX_PAYLOAD"), 64u << 20, 0, &koala_cfg.max_payload) != 0)
    return -1;
  if (parse_size("KOALA_EXIT_FLUSH_MS", getenv("KOALA_EXIT_FLUSH_MS"), 200, 0, &koala_cfg.exit_flush_ms) != 0) return -1;
  if (koala_cfg.exit_flush_ms > 60000) koala_cfg.exit_flush_ms = 60000;
  if (parse_size("KOALA_SEND_STALL_MS", getenv("KOALA_SEND_STALL_MS"), 60000, 100, &koala_cfg.send_stall_ms) != 0) return -1;
  if (koala_cfg.send_stall_ms > 600000) koala_cfg.send_stall_ms = 600000;
  return 0;
}

/* IPv4-mapped IPv6 addresses compare as IPv4. */
static int split_addr(const struct sockaddr *a, socklen_t len, int *family, const uint8_t **ip, uint16_t *port) {
  if (a->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)a;
    *family = AF_INET;
    *ip = (const uint8_t *)&s->sin_addr;
    *port = ntohs(s->sin_port);
    return 0;
  }
  if (a->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a;
    *port = ntohs(s->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
      *family = AF_INET;
      *ip = (const uint8_t *)&s->sin6_addr + 12;
    } else {
      *family = AF_INET6;
      *ip = (const uint8_t *)&s->sin6_addr;
    }
    return 0;
  }
  return -1;
}

static int matches(const struct koala_bypass *b, int family, const uint8_t *ip, uint16_t port) {
  if (b->port != port) return 0;
  if (b->family == 0) return 1;
  return b->family == family && memcmp(b->ip, ip, family == AF_INET ? 4 : 16) == 0;
}

int koala_is_bypassed(const struct sockaddr *addr, socklen_t len) {
  int family;
  const uint8_t *ip;
  uint16_t port;
  if (!koala_cfg.nbypass || split_addr(addr, len, &family, &ip, &port) != 0) return 0;
  for (int i = 0; i < koala_cfg.nbypass; i++) {
    if (matches(&koala_cfg.bypass[i], family, ip, port)) return 1;
  }
  return 0;
}

int koala_is_gateway(const struct sockaddr *addr, socklen_t len) {
  if (addr->sa_family == AF_UNIX) {
    const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
    size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
    size_t plen = strnlen(un->sun_path, n);
    return plen && plen == strlen(koala_cfg.agent_socket) && memcmp(un->sun_path, koala_cfg.agent_socket, plen) == 0;
  }
  if (!(koala_cfg.mode & KOALA_MODE_REPLAY)) return 0;
  int fa, fb;
  const uint8_t *ipa, *ipb;
  uint16_t pa, pb;
  if (split_addr(addr, len, &fa, &ipa, &pa) != 0) return 0;
  if (split_addr((const struct sockaddr *)&koala_cfg.outbound, koala_cfg.outbound_len, &fb, &ipb, &pb) != 0) return 0;
  return fa == fb && pa == pb && memcmp(ipa, ipb, fa == AF_INET ? 4 : 16) == 0;
}
