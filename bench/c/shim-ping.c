/* Ping loop for the shim's per-call cost: one thread, no scheduling in the measurement.
 *   shim-ping MODE ITERS [idle-thread]
 *   sendrecv   socketpair(AF_UNIX, SOCK_STREAM): send a, recv b, send b, recv a   (4 calls/iter)
 *   readwrite  the same socketpair with write/read                                (4 calls/iter)
 *   pipe       write/read on a pipe (a non-socket fd)                             (2 calls/iter)
 *   devnull    write to /dev/null (a non-socket fd)                               (1 call/iter)
 * idle-thread: start one thread that only sleeps first. A multi-threaded process pays more in the
 * kernel per fd call (fdget takes a reference once the fd table is shared), and the shim always
 * adds its writer thread: this separates that cost from the hooks' own.
 * Prints one line: "mode=... iters=N calls=C ns_per_call=X thread_cpu_ns_per_call=Y proc_cpu_ns_per_call=Z":
 * wall time, CPU time of the calling thread, and CPU time of the whole process (which includes
 * the shim's writer thread), each divided by the number of calls. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long cpu_ns(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
         ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static long long c0_thread, c0_proc;

static void mark(long long *t0) {
  c0_thread = cpu_ns(RUSAGE_THREAD);
  c0_proc = cpu_ns(RUSAGE_SELF);
  *t0 = now_ns();
}

static void *idle(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void must(ssize_t got, const char *what) {
  if (got != MSG) die(what);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: shim-ping sendrecv|readwrite|pipe|devnull ITERS [idle-thread]\n");
    return 2;
  }
  const char *mode = argv[1];
  if (argc > 3 && strcmp(argv[3], "idle-thread") == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle, NULL) != 0) die("pthread_create");
  }
  long iters = atol(argv[2]);
  char buf[MSG];
  memset(buf, 'x', sizeof buf);
  int fds[2];
  int per_iter;
  long warm = iters / 20 + 100;
  long long t0 = 0;
  if (strcmp(mode, "sendrecv") == 0 || strcmp(mode, "readwrite") == 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) die("socketpair");
    int rw = mode[0] == 'r';
    per_iter = 4;
    for (long i = -warm; i < iters; i++) {
      if (i == 0) mark(&t0);
      if (rw) {
        must(write(fds[0], buf, MSG), "write a");
        must(read(fds[1], buf, MSG), "read b");
        must(write(fds[1], buf, MSG), "write b");
        must(read(fds[0], buf, MSG), "read a");
      } else {
        must(send(fds[0], buf, MSG, 0), "send a");
        must(recv(fds[1], buf, MSG, 0), "recv b");
        must(send(fds[1], buf, MSG, 0), "send b");
        must(recv(fds[0], buf, MSG, 0), "recv a");
      }
    }
  } else if (strcmp(mode, "pipe") == 0) {
    if (pipe(fds) != 0) die("pipe");
    per_iter = 2;
    for (long i = -warm; i < iters; i++) {
      if (i == 0) mark(&t0);
      must(write(fds[1], buf, MSG), "write pipe");
      must(read(fds[0], buf, MSG), "read pipe");
    }
  } else if (strcmp(mode, "devnull") == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0) die("open /dev/null");
    per_iter = 1;
    for (long i = -warm; i < iters; i++) {
      if (i == 0) mark(&t0);
      must(write(fd, buf, MSG), "write /dev/null");
    }
  } else {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
  }
  long long dt = now_ns() - t0;
  long long ct = cpu_ns(RUSAGE_THREAD) - c0_thread, cp = cpu_ns(RUSAGE_SELF) - c0_proc;
  double calls = (double)iters * per_iter;
  printf("mode=%s iters=%ld calls=%.0f ns_per_call=%.1f thread_cpu_ns_per_call=%.1f proc_cpu_ns_per_call=%.1f\n",
         mode, iters, calls, (double)dt / calls, (double)ct / calls, (double)cp / calls);
  return 0;
}
