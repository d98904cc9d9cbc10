/* The helper protocol: delegation stamps vtid, one-way emits a BOUNDARY, thread-shutdown. */
#include <pthread.h>

#include "util.h"

static struct sockaddr_in helper = {.sin_family = AF_INET};
static int hfd;

static void say(const char *msg, int flags) {
  CHECK(sendto(hfd, msg, strlen(msg), flags, (struct sockaddr *)&helper, sizeof helper) == (ssize_t)strlen(msg));
}

static struct sockaddr_in la;

static void *worker(void *arg) {
  (void)arg;
  say("to-koala!set-delegated-from-thread-id", 4242);
  int c = connect_tcp(&la);
  CHECK(write(c, "delegated", 9) == 9);
  say("to-koala!set-delegated-from-thread-id", 0);
  CHECK(write(c, "own", 3) == 3);
  close(c);
  return NULL;
}

int main(void) {
  helper.sin_addr.s_addr = htonl(0x7f7f7f7f);
  helper.sin_port = htons(127);
  hfd = socket(AF_INET, SOCK_DGRAM, 0);
  int l = listen_tcp(&la);
  int c = connect_tcp(&la);
  CHECK(write(c, "fire-and-forget", 15) == 15);
  say("to-koala!one-way", c);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  say("to-koala!thread-shutdown\nbody", 4242);
  printf("c=%d\nl=%d\n", c, l);
  return 0;
}
