/* Declarations of the exported hooks that system headers do not declare unconditionally. */
#ifndef KOALA_HOOKS_H
#define KOALA_HOOKS_H

#include <sys/socket.h>
#include <sys/types.h>

#define KOALA_HOOK __attribute__((visibility("default")))

/* A hook whose libc function could not be found fails the call as unsupported. */
#define NO_REAL()    \
  do {               \
    errno = ENOSYS;  \
    return -1;       \
  } while (0)

/* glibc declares socket-address parameters as transparent unions under _GNU_SOURCE. */
#if defined(__USE_GNU) && !defined(__cplusplus)
#define KOALA_SA(a) ((a).__sockaddr__)
#else
#define KOALA_SA(a) (a)
#endif

ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       __SOCKADDR_ARG addr, socklen_t *__restrict alen);

#endif
