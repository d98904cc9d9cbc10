/* sendfile and sendfile64 are both hooked: keep the header from renaming one into the other. */
#undef _FILE_OFFSET_BITS
#include "real.h"

#include <dlfcn.h>
#include <stddef.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "hooks.h"

struct koala_real_fns koala_real;

static __thread int resolving __attribute__((tls_model("initial-exec")));

/* A symbol that resolves to our own hook would recurse forever: refuse it (proxychains'
 * load_sym does the same, but aborts; we leave the pointer NULL and the hook fails with ENOSYS). */
static void *sym(const char *name, void *self) {
  void *p = dlsym(RTLD_NEXT, name);
  return p == self ? NULL : p;
}

#define RESOLVE(field, name, hook) \
  do { \
    if (!koala_real.field) *(void **)&koala_real.field = sym(name, (void *)&(hook)); \
  } while (0)

void koala_resolve(void) {
  /* dlsym may itself call a hooked function; that call sees NULL and takes the fallback. */
  if (resolving) return;
  resolving = 1;
  RESOLVE(accept, "accept", accept);
  RESOLVE(accept4, "accept4", accept4);
  RESOLVE(connect, "connect", connect);
  RESOLVE(socket, "socket", socket);
  RESOLVE(socketpair, "socketpair", socketpair);
  RESOLVE(send, "send", send);
  RESOLVE(sendto, "sendto", sendto);
  RESOLVE(sendmsg, "sendmsg", sendmsg);
  RESOLVE(recv, "recv", recv);
  RESOLVE(recvfrom, "recvfrom", recvfrom);
  RESOLVE(recvmsg, "recvmsg", recvmsg);
  RESOLVE(read, "read", read);
  RESOLVE(write, "write", write);
  RESOLVE(readv, "readv", readv);
  RESOLVE(writev, "writev", writev);
  RESOLVE(sendfile, "sendfile", sendfile);
  RESOLVE(sendfile64, "sendfile64", sendfile64);
  RESOLVE(read_chk, "__read_chk", __read_chk);
  RESOLVE(recv_chk, "__recv_chk", __recv_chk);
  RESOLVE(recvfrom_chk, "__recvfrom_chk", __recvfrom_chk);
  RESOLVE(close, "close", close);
  RESOLVE(close_range, "close_range", close_range);
  RESOLVE(dup, "dup", dup);
  RESOLVE(dup2, "dup2", dup2);
  RESOLVE(dup3, "dup3", dup3);
  resolving = 0;
}
