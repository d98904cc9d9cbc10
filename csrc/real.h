/* The libc functions the hooks wrap, resolved once with dlsym(RTLD_NEXT). The shim's own I/O
 * (writer thread, logging) calls these directly, so it never records itself. */
#ifndef KOALA_REAL_H
#define KOALA_REAL_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct koala_real_fns {
  int (*accept)(int, struct sockaddr *, socklen_t *);
  int (*accept4)(int, struct sockaddr *, socklen_t *, int);
  int (*connect)(int, const struct sockaddr *, socklen_t);
  int (*socket)(int, int, int);
  int (*socketpair)(int, int, int, int[2]);
  ssize_t (*send)(int, const void *, size_t, int);
  ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
  ssize_t (*sendmsg)(int, const struct msghdr *, int);
  ssize_t (*recv)(int, void *, size_t, int);
  ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
  ssize_t (*recvmsg)(int, struct msghdr *, int);
  ssize_t (*read)(int, void *, size_t);
  ssize_t (*write)(int, const void *, size_t);
  ssize_t (*readv)(int, const struct iovec *, int);
  ssize_t (*writev)(int, const struct iovec *, int);
  ssize_t (*sendfile)(int, int, off_t *, size_t);
  ssize_t (*sendfile64)(int, int, off_t *, size_t);
  ssize_t (*read_chk)(int, void *, size_t, size_t);
  ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
  ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
  int (*close)(int);
  int (*close_range)(unsigned, unsigned, int);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
};

extern struct koala_real_fns koala_real;

/* Resolves every pointer (idempotent; safe to call from a hook that runs before init). */
void koala_resolve(void);

/* The pointer for one function, resolving on first use (a hook can run before the constructor,
 * from another library's constructor). */
#define KOALA_REAL(name) (koala_real.name ? koala_real.name : (koala_resolve(), koala_real.name))

#endif
