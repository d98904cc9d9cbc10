/* A closed-loop HTTP/1.1 load generator: CONNS keep-alive connections, one thread each, each
 * sending "GET PATH?token=..." and reading the Content-Length response before the next request.
 *   loadgen PORT CONNS WARMUP_MS DURATION_MS PATH
 * Requests finished during the warm-up are not counted. Prints one line:
 *   requests=N errors=E seconds=S rps=R p50_us=.. p90_us=.. p99_us=.. max_us=.. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1 << 21)

static int port, conns;
static long long t_start, t_measure, t_end;
static const char *path;

struct worker {
  int id;
  long long *lat;
  long n, errors;
  pthread_t thread;
};

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int dial(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* One request and its response; 0 on success. */
static int exchange(int fd, const char *req, size_t rn, char *buf, size_t cap) {
  for (size_t off = 0; off < rn;) {
    ssize_t w = write(fd, req + off, rn - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    off += (size_t)w;
  }
  size_t len = 0;
  char *end = NULL;
  while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
    if (len == cap) return -1;
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    len += (size_t)n;
  }
  size_t head = (size_t)(end - buf) + 4;
  size_t cl = 0;
  for (char *line = memmem(buf, head, "\r\n", 2); line && line < end; line = memmem(line + 2, (size_t)(end - line), "\r\n", 2))
    if (strncasecmp(line + 2, "content-length:", 15) == 0) cl = strtoul(line + 17, NULL, 10);
  if (head + cl > cap) return -1;
  while (len < head + cl) {
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    len += (size_t)n;
  }
  if (strncmp(buf, "HTTP/1.1 200", 12) != 0) return -1;
  return len == head + cl ? 0 : -1;
}

static void *run(void *arg) {
  struct worker *w = arg;
  char req[512], buf[65536];
  int fd = dial();
  for (long i = 0;; i++) {
    long long t0 = now_ns();
    if (t0 >= t_end) break;
    if (fd < 0) {
      w->errors += t0 >= t_measure;
      fd = dial();
      if (fd < 0) usleep(1000);
      continue;
    }
    int rn = snprintf(req, sizeof req, "GET %s?token=c%dr%ld HTTP/1.1\r\nHost: sut\r\n\r\n", path, w->id, i);
    int rc = exchange(fd, req, (size_t)rn, buf, sizeof buf);
    long long t1 = now_ns();
    if (rc != 0) {
      close(fd);
      fd = -1;
      if (t0 >= t_measure) w->errors++;
      continue;
    }
    if (t0 >= t_measure && t1 <= t_end && w->n < MAX_SAMPLES / conns) w->lat[w->n++] = t1 - t0;
  }
  if (fd >= 0) close(fd);
  return NULL;
}

static int cmp(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: loadgen PORT CONNS WARMUP_MS DURATION_MS PATH\n");
    return 2;
  }
  port = atoi(argv[1]);
  conns = atoi(argv[2]);
  long warm_ms = atol(argv[3]), dur_ms = atol(argv[4]);
  path = argv[5];
  t_start = now_ns();
  t_measure = t_start + warm_ms * 1000000LL;
  t_end = t_measure + dur_ms * 1000000LL;
  struct worker *ws = calloc((size_t)conns, sizeof *ws);
  for (int i = 0; i < conns; i++) {
    ws[i].id = i;
    ws[i].lat = malloc(sizeof(long long) * (size_t)(MAX_SAMPLES / conns));
    pthread_create(&ws[i].thread, NULL, run, &ws[i]);
  }
  long total = 0, errors = 0;
  for (int i = 0; i < conns; i++) {
    pthread_join(ws[i].thread, NULL);
    total += ws[i].n;
    errors += ws[i].errors;
  }
  long long *all = malloc(sizeof(long long) * (size_t)(total ? total : 1));
  long k = 0;
  for (int i = 0; i < conns; i++)
    for (long j = 0; j < ws[i].n; j++) all[k++] = ws[i].lat[j];
  qsort(all, (size_t)total, sizeof *all, cmp);
  double secs = (double)dur_ms / 1000.0;
#define PCT(p) (total ? (double)all[(long)((double)(total - 1) * (p))] / 1000.0 : 0.0)
  printf("requests=%ld errors=%ld seconds=%.3f rps=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f\n", total,
         errors, secs, (double)total / secs, PCT(0.50), PCT(0.90), PCT(0.99), PCT(1.0));
  return 0;
}
