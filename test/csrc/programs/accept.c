/* accept(fd, NULL, NULL) and accept4 with an address buffer. */
#define _GNU_SOURCE
#include "util.h"

int main(void) {
  struct sockaddr_in la;
  int l = listen_tcp(&la);
  int c1 = connect_tcp(&la);
  int a1 = accept(l, NULL, NULL);
  CHECK(a1 >= 0);
  int c2 = connect_tcp(&la);
  struct sockaddr_in peer;
  socklen_t plen = sizeof peer;
  int a2 = accept4(l, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
  CHECK(a2 >= 0);
  CHECK(plen == sizeof peer && ntohs(peer.sin_port) == port_of(c2, 0));
  printf("listen_port=%d\na1=%d\na2=%d\nc1=%d\nc2=%d\nc1_port=%d\nc2_port=%d\n", ntohs(la.sin_port), a1, a2, c1, c2,
         port_of(c1, 0), port_of(c2, 0));
  close(a1);
  close(a2);
  close(c1);
  close(c2);
  close(l);
  return 0;
}
