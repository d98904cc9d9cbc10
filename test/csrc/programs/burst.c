/* Many events quickly, then stays alive: with no gateway yet they fill the buffer and drop. */
#include <stdlib.h>
#include <time.h>

#include "util.h"

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 1000;
  int linger_ms = argc > 2 ? atoi(argv[2]) : 0;
  struct sockaddr_in la;
  int l = listen_tcp(&la);
  int c = connect_tcp(&la);
  int a = accept(l, NULL, NULL);
  char buf[512];
  memset(buf, 'z', sizeof buf);
  for (int i = 0; i < rounds; i++) {
    CHECK(write(c, buf, sizeof buf) == (ssize_t)sizeof buf);
    read_full(a, buf, sizeof buf);
  }
  if (linger_ms) {
    struct timespec ts = {linger_ms / 1000, (linger_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  CHECK(write(c, "last", 4) == 4);
  printf("c=%d\n", c);
  return 0;
}
