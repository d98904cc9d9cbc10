/* The helper protocol: the application talks to koala with UDP sendto() to 127.127.127.127:127,
 * which never reaches the kernel (docs/helper-protocol.md). */
#ifndef KOALA_HELPER_H
#define KOALA_HELPER_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* recvfrom() flags value that asks for a helper reply (kept from the original koala). */
#define KOALA_HELPER_RECV_FLAGS 127127

int koala_is_helper_addr(const struct sockaddr *addr, socklen_t len);
/* Handles one helper datagram; returns what sendto returns (len). */
ssize_t koala_helper_send(int fd, const void *buf, size_t len, int flags);

#endif
