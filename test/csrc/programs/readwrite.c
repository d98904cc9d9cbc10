/* read/write on a TCP connection are recorded; on a pipe and a file they are not. */
#include <fcntl.h>

#include "util.h"

int main(int argc, char **argv) {
  CHECK(argc == 2);
  int pf[2];
  CHECK(pipe(pf) == 0);
  CHECK(write(pf[1], "pipe-bytes", 10) == 10);
  char buf[64];
  CHECK(read(pf[0], buf, sizeof buf) == 10);
  int f = open(argv[1], O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(f >= 0);
  CHECK(write(f, "file-bytes", 10) == 10);
  struct sockaddr_in la;
  int l = listen_tcp(&la);
  int c = connect_tcp(&la);
  int a = accept(l, NULL, NULL);
  CHECK(write(c, "GET /x", 6) == 6);
  read_full(a, buf, 6);
  CHECK(write(a, "200 OK", 6) == 6);
  read_full(c, buf, 6);
  printf("a=%d\nc=%d\n", a, c);
  return 0;
}
