/* sendmsg/recvmsg with several iovecs, and writev/readv. */
#include <sys/uio.h>

#include "util.h"

int main(void) {
  struct sockaddr_in la;
  int l = listen_tcp(&la);
  int c = connect_tcp(&la);
  int a = accept(l, NULL, NULL);
  struct iovec out[3] = {{"ab", 2}, {"cde", 3}, {"f", 1}};
  struct msghdr m = {.msg_iov = out, .msg_iovlen = 3};
  CHECK(sendmsg(c, &m, 0) == 6);
  char x[4], y[8];
  struct iovec in[2] = {{x, sizeof x}, {y, sizeof y}};
  struct msghdr n = {.msg_iov = in, .msg_iovlen = 2};
  CHECK(recvmsg(a, &n, 0) == 6);
  struct iovec w[2] = {{"writev-", 7}, {"data", 4}};
  CHECK(writev(a, w, 2) == 11);
  char p[5], q[6];
  struct iovec r[2] = {{p, sizeof p}, {q, sizeof q}};
  CHECK(readv(c, r, 2) == 11);
  printf("a=%d\nc=%d\n", a, c);
  return 0;
}
