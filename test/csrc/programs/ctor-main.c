#include <stdio.h>

extern int ctor_client_fd;

int main(void) {
  printf("c=%d\n", ctor_client_fd);
  return ctor_client_fd >= 0 ? 0 : 1;
}
