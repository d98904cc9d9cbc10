/* Replay mode: outbound TCP connects go to KOALA_OUTBOUND_ADDR (the replay gateway's mock)
 * instead of their destination. */
#ifndef KOALA_REPLAY_H
#define KOALA_REPLAY_H

#include <sys/socket.h>

/* Binds fd to loopback if it is not bound yet and fills target with where to connect instead.
 * Returns target's length, or 0 to connect to the original destination. */
socklen_t koala_replay_prepare(int fd, int family, struct sockaddr_storage *target);

/* Whether a getsockname() result names a bound address (a port, or a unix path). */
int koala_sockaddr_bound(const struct sockaddr *a, socklen_t len);

#endif
