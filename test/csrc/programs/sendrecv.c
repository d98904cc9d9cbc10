/* send/recv on TCP, a 200 KiB send split into 64 KiB events, EOF, MSG_PEEK not recorded. */
#include "util.h"

#define BIG (200 * 1024)

int main(void) {
  struct sockaddr_in la;
  int l = listen_tcp(&la);
  int c = connect_tcp(&la);
  int a = accept(l, NULL, NULL);
  CHECK(send(c, "hello", 5, 0) == 5);
  char buf[64];
  CHECK(recv(a, buf, 5, MSG_PEEK) == 5);
  CHECK(recv(a, buf, sizeof buf, 0) == 5);
  static char big[BIG], got[BIG];
  for (int i = 0; i < BIG; i++) big[i] = (char)('a' + i % 26);
  /* Small enough pieces to never block on a full socket buffer in this single thread. */
  size_t sent = 0, recvd = 0;
  while (recvd < BIG) {
    if (sent < BIG) {
      ssize_t n = send(a, big + sent, BIG - sent, MSG_DONTWAIT);
      if (n > 0) sent += (size_t)n;
    }
    ssize_t m = recv(c, got + recvd, BIG - recvd, MSG_DONTWAIT);
    if (m > 0) recvd += (size_t)m;
  }
  CHECK(memcmp(big, got, BIG) == 0);
  close(c);
  CHECK(recv(a, buf, sizeof buf, 0) == 0);
  printf("a=%d\nc=%d\n", a, c);
  close(a);
  close(l);
  return 0;
}
