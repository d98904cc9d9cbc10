/* sendto with an address, send on a connected UDP socket, recvfrom (not recorded), the helper
 * receive flag 127127, and sendto/recvfrom on a TCP connection. */
#include "util.h"

int main(void) {
  int r = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in ra = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(bind(r, (struct sockaddr *)&ra, sizeof ra) == 0);
  socklen_t len = sizeof ra;
  CHECK(getsockname(r, (struct sockaddr *)&ra, &len) == 0);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(sendto(s, "dgram-1", 7, 0, (struct sockaddr *)&ra, sizeof ra) == 7);
  char buf[64];
  CHECK(recvfrom(r, buf, sizeof buf, 0, NULL, NULL) == 7);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(connect(u, (struct sockaddr *)&ra, sizeof ra) == 0);
  CHECK(send(u, "dgram-2", 7, 0) == 7);
  CHECK(recv(r, buf, sizeof buf, 0) == 7 && memcmp(buf, "dgram-2", 7) == 0);
  CHECK(recvfrom(r, buf, sizeof buf, 127127, NULL, NULL) == 0);

  struct sockaddr_in la;
  int l = listen_tcp(&la);
  int c = connect_tcp(&la);
  int a = accept(l, NULL, NULL);
  CHECK(sendto(c, "tcp-sendto", 10, 0, NULL, 0) == 10);
  struct sockaddr_storage from;
  socklen_t flen = sizeof from;
  CHECK(recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen) == 10);
  printf("udp_port=%d\ns=%d\nu=%d\nc=%d\na=%d\n", ntohs(ra.sin_port), s, u, c, a);
  return 0;
}
