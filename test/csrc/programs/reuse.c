/* close + fd reuse gives a new conn_id; dup2 onto a connection's fd ends it too. */
#include "util.h"

int main(void) {
  struct sockaddr_in la;
  int l = listen_tcp(&la);
  int c1 = connect_tcp(&la);
  int a1 = accept(l, NULL, NULL);
  CHECK(write(c1, "one", 3) == 3);
  close(c1);
  int c2 = connect_tcp(&la);
  int a2 = accept(l, NULL, NULL);
  CHECK(c2 == c1);
  CHECK(write(c2, "two", 3) == 3);
  int pf[2];
  CHECK(pipe(pf) == 0);
  CHECK(dup2(pf[1], c2) == c2);
  CHECK(write(c2, "not-a-socket-now\n", 17) == 17);
  printf("c=%d\na1=%d\na2=%d\n", c1, a1, a2);
  return 0;
}
