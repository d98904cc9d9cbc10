/* Blocking connect, non-blocking connect (asked again after EINPROGRESS), refused connect. */
#include <fcntl.h>
#include <poll.h>

#include "util.h"

int main(void) {
  struct sockaddr_in la;
  int l = listen_tcp(&la);
  int b = connect_tcp(&la);

  int nb = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(nb >= 0);
  CHECK(fcntl(nb, F_SETFL, O_NONBLOCK) == 0);
  int rc = connect(nb, (struct sockaddr *)&la, sizeof la);
  CHECK(rc == 0 || errno == EINPROGRESS);
  struct pollfd p = {nb, POLLOUT, 0};
  CHECK(poll(&p, 1, 2000) == 1);
  rc = connect(nb, (struct sockaddr *)&la, sizeof la);
  CHECK(rc == 0 || errno == EISCONN);

  /* A port nobody listens on: close the listener we just had on another socket. */
  struct sockaddr_in dead;
  int l2 = listen_tcp(&dead);
  close(l2);
  int r = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(r, (struct sockaddr *)&dead, sizeof dead) != 0 && errno == ECONNREFUSED);

  printf("port=%d\ndead_port=%d\nb=%d\nnb=%d\nr=%d\nb_port=%d\n", ntohs(la.sin_port), ntohs(dead.sin_port), b, nb, r,
         port_of(b, 0));
  close(r);
  close(nb);
  close(b);
  close(l);
  return 0;
}
