/* argv[1] = port to listen on (the test picked a free one and put it in the bypass list). A
 * connection to it is neither reported nor recorded on the client side. */
#include "util.h"

int main(int argc, char **argv) {
  CHECK(argc == 2);
  struct sockaddr_in la = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                           .sin_port = htons((uint16_t)atoi(argv[1]))};
  int l = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  CHECK(bind(l, (struct sockaddr *)&la, sizeof la) == 0);
  CHECK(listen(l, 4) == 0);
  int c = connect_tcp(&la);
  int a = accept(l, NULL, NULL);
  CHECK(write(c, "secret", 6) == 6);
  char buf[8];
  read_full(a, buf, 6);
  printf("c=%d\na=%d\n", c, a);
  return 0;
}
