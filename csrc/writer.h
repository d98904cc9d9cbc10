/* The background writer thread: drains the ring, encodes AgentMessage frames and writes them to
 * the gateway's unix socket, reconnecting with backoff. Its I/O bypasses the hooks (busy flag). */
#ifndef KOALA_WRITER_H
#define KOALA_WRITER_H

int koala_writer_start(void);
/* Fork child: drop the parent's connection (closing only the child's copy) and counters. */
void koala_writer_forget(void);
/* Waits at most timeout_ms for what is buffered to be sent; returns at once when the gateway is
 * known to be absent. */
void koala_writer_flush(int timeout_ms);
/* The agent socket, or -1. The application may not close it. */
int koala_writer_fd(void);
/* The application is about to dup2 onto fd: if it is the agent socket, move that elsewhere. */
void koala_writer_evacuate(int fd);

#endif
