/* A minimal HTTP/1.1 downstream for the http-sut benchmark: a thread per connection, answers
 * every GET with 200 and a short body, keep-alive unless the request says "Connection: close".
 *   downstream [PORT]   prints "listening <port>" once it accepts */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void *serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[8192];
  size_t len = 0;
  for (;;) {
    char *end;
    while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
      if (len == sizeof buf) goto out;
      ssize_t n = read(fd, buf + len, sizeof buf - len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) goto out;
      len += (size_t)n;
    }
    size_t head = (size_t)(end - buf) + 4;
    int close_after = memmem(buf, head, "Connection: close", 17) != NULL;
    static const char body[] = "{\"ok\":true,\"from\":\"downstream\"}\n";
    char resp[256];
    int rn = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n%s",
                      sizeof body - 1, close_after ? "Connection: close\r\n" : "", body);
    if (write_all(fd, resp, (size_t)rn) != 0 || close_after) break;
    memmove(buf, buf + head, len - head);
    len -= head;
  }
out:
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 0));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1024) != 0) {
    perror("bind/listen");
    return 2;
  }
  socklen_t alen = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &alen);
  printf("listening %d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd) != 0) close(fd);
    pthread_attr_destroy(&attr);
  }
}
