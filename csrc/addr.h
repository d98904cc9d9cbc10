#ifndef KOALA_ADDR_H
#define KOALA_ADDR_H

#include <sys/socket.h>

#include "event.h"

/* Converts a socket address to koala.v1.Address; unsupported families give KOALA_AF_NONE. */
void koala_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct koala_addr *out);

#endif
