/* IPv6 listen/connect/accept/send on ::1. */
#include "util.h"

int main(void) {
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 la = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  CHECK(bind(l, (struct sockaddr *)&la, sizeof la) == 0);
  CHECK(listen(l, 4) == 0);
  socklen_t len = sizeof la;
  CHECK(getsockname(l, (struct sockaddr *)&la, &len) == 0);
  int c = socket(AF_INET6, SOCK_STREAM, 0);
  CHECK(connect(c, (struct sockaddr *)&la, sizeof la) == 0);
  int a = accept(l, NULL, NULL);
  CHECK(send(c, "v6", 2, 0) == 2);
  char buf[8];
  CHECK(recv(a, buf, sizeof buf, 0) == 2);
  printf("port=%d\nc_port=%d\na=%d\nc=%d\n", ntohs(la.sin6_port), port_of(c, 0), a, c);
  return 0;
}
