/* After fork() the child is its own agent: a new hello with parent_pid, its own conn_ids. */
#include <sys/wait.h>

#include "util.h"

int main(void) {
  struct sockaddr_in la;
  int l = listen_tcp(&la);
  int c = connect_tcp(&la);
  CHECK(write(c, "parent", 6) == 6);
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    int cc = connect_tcp(&la);
    CHECK(write(cc, "child", 5) == 5);
    close(cc);
    exit(0);
  }
  int st;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK(write(c, "parent-again", 12) == 12);
  printf("child=%d\nparent=%d\nl=%d\n", pid, getpid(), l);
  return 0;
}
