/* The environment, read once inside the one-time init (never inside a hook). */
#ifndef KOALA_CONFIG_H
#define KOALA_CONFIG_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define KOALA_MAX_BYPASS 32

struct koala_bypass {
  int family; /* 0: any address (":port") */
  uint8_t ip[16];
  uint16_t port; /* host order */
};

struct koala_config {
  int mode; /* enum koala_mode */
  char agent_socket[108];
  char sut_name[256];
  struct sockaddr_storage outbound;
  socklen_t outbound_len;
  struct koala_bypass bypass[KOALA_MAX_BYPASS];
  int nbypass;
  size_t buffer_size;
  size_t max_payload;
  size_t exit_flush_ms; /* KOALA_EXIT_FLUSH_MS: the destructor's bound on sending buffered events */
  size_t send_stall_ms; /* KOALA_SEND_STALL_MS: how long a gateway may read nothing before the writer reconnects */
};

extern struct koala_config koala_cfg;

/* Fills koala_cfg from the environment. Returns 0, or -1 after logging what was wrong. */
int koala_config_load(void);

/* Parses "ip:port", "[ip6]:port" or ":port" (ip optional only if allow_any). */
int koala_parse_hostport(const char *s, struct koala_bypass *out, int allow_any);

/* Whether addr (AF_INET/AF_INET6) matches a KOALA_OUTBOUND_BYPASS_ADDR entry. */
int koala_is_bypassed(const struct sockaddr *addr, socklen_t len);

/* Whether addr is the replay outbound address or the agent socket: never recorded/redirected. */
int koala_is_gateway(const struct sockaddr *addr, socklen_t len);

#endif
