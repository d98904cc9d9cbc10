/* Process-wide agent state and the one-time init. */
#ifndef KOALA_AGENT_H
#define KOALA_AGENT_H

#include <stdatomic.h>
#include <stdint.h>

#define KOALA_TLS __thread __attribute__((tls_model("initial-exec")))

/* Set while the shim does its own work on this thread (init, bookkeeping, the writer thread):
 * hooks called then pass straight through. */
extern KOALA_TLS int koala_busy;
/* The thread's delegated virtual thread id (helper protocol); 0 = none. */
extern KOALA_TLS int64_t koala_vtid;

struct koala_agent {
  _Atomic int state; /* KOALA_AGENT_* */
  int32_t pid;
  int32_t parent_pid;
  uint64_t start_ns;
  char hostname[256];
};

enum { KOALA_AGENT_UNINIT = 0, KOALA_AGENT_ACTIVE = 1, KOALA_AGENT_DISABLED = 2 };

extern struct koala_agent koala_agent;

/* Runs the one-time init unless this thread is inside the shim already. */
void koala_ensure_init(void);

/* Whether a hook should record: initialised, enabled, and not re-entered. */
static inline int koala_recording(void) {
  if (koala_busy) return 0;
  if (atomic_load_explicit(&koala_agent.state, memory_order_acquire) == KOALA_AGENT_UNINIT) koala_ensure_init();
  return atomic_load_explicit(&koala_agent.state, memory_order_relaxed) == KOALA_AGENT_ACTIVE;
}

/* This thread's OS id, cached (reset in a fork child). */
int64_t koala_tid(void);
/* Marks this thread as one that produced events, so its exit is reported. */
void koala_thread_seen(void);
uint64_t koala_now_ns(void);

#endif
