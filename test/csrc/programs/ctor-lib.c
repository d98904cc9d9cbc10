/* A library whose constructor does socket I/O before the shim's own constructor has run. */
#include "util.h"

int ctor_client_fd = -1;

__attribute__((constructor)) static void early(void) {
  struct sockaddr_in la;
  int l = listen_tcp(&la);
  int c = connect_tcp(&la);
  CHECK(write(c, "from-ctor", 9) == 9);
  ctor_client_fd = c;
  close(l);
}
