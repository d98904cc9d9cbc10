/* A connection to a bypassed port is neither reported nor recorded; another one is. */
#include "util.h"

int main(void) {
  struct sockaddr_in la;
  int l = listen_tcp(&la);
  printf("port=%d\n", ntohs(la.sin_port));
  fflush(stdout);
  int c = connect_tcp(&la);
  int a = accept(l, NULL, NULL);
  CHECK(write(c, "secret", 6) == 6);
  char buf[8];
  read_full(a, buf, 6);
  printf("c=%d\na=%d\n", c, a);
  return 0;
}
