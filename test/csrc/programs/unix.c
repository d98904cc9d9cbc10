/* Unix stream sockets: a path and an abstract name. */
#include <stddef.h>
#include <sys/un.h>

#include "util.h"

static void pair(const struct sockaddr_un *addr, socklen_t len, const char *msg) {
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(bind(l, (const struct sockaddr *)addr, len) == 0);
  CHECK(listen(l, 4) == 0);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(connect(c, (const struct sockaddr *)addr, len) == 0);
  int a = accept(l, NULL, NULL);
  CHECK(a >= 0);
  CHECK(write(c, msg, strlen(msg)) == (ssize_t)strlen(msg));
  char buf[64];
  read_full(a, buf, strlen(msg));
  close(c);
  close(a);
  close(l);
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  struct sockaddr_un p = {.sun_family = AF_UNIX};
  strcpy(p.sun_path, argv[1]);
  pair(&p, sizeof p, "over-path");
  struct sockaddr_un abs = {.sun_family = AF_UNIX};
  size_t n = strlen(argv[2]);
  memcpy(abs.sun_path + 1, argv[2], n);
  pair(&abs, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n), "over-abstract");
  return 0;
}
