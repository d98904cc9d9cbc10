/* Replay mode: a TCP connect to argv[1]:argv[2] lands on KOALA_OUTBOUND_ADDR instead; a UDP
 * datagram is reported but never sent. */
#include "util.h"

int main(int argc, char **argv) {
  CHECK(argc == 3);
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  CHECK(inet_pton(AF_INET, argv[1], &dst.sin_addr) == 1);
  struct sockaddr_in copy = dst;
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(c, (struct sockaddr *)&dst, sizeof dst) == 0);
  CHECK(memcmp(&copy, &dst, sizeof dst) == 0);
  CHECK(write(c, "ping", 4) == 4);
  char buf[8];
  read_full(c, buf, 4);
  CHECK(memcmp(buf, "pong", 4) == 0);

  int r = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in ra = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(bind(r, (struct sockaddr *)&ra, sizeof ra) == 0);
  socklen_t len = sizeof ra;
  CHECK(getsockname(r, (struct sockaddr *)&ra, &len) == 0);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(sendto(s, "udp", 3, 0, (struct sockaddr *)&ra, sizeof ra) == 3);
  /* Nothing arrives: the datagram was swallowed. */
  CHECK(recv(r, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == EAGAIN);
  printf("c=%d\nlocal_port=%d\nudp_port=%d\n", c, port_of(c, 0), ntohs(ra.sin_port));
  return 0;
}
