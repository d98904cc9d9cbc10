#include "agent.h"

#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "event.h"
#include "fdtable.h"
#include "log.h"
#include "real.h"
#include "record.h"
#include "ring.h"
#include "writer.h"

KOALA_TLS int koala_busy;
KOALA_TLS int64_t koala_vtid;
static KOALA_TLS int64_t cached_tid;
static KOALA_TLS int thread_seen;

struct koala_agent koala_agent;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int32_t pid_before_fork;

uint64_t koala_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t koala_tid(void) {
  if (!cached_tid) cached_tid = (int64_t)syscall(SYS_gettid);
  return cached_tid;
}

static void on_thread_exit(void *arg) {
  (void)arg;
  if (atomic_load(&koala_agent.state) != KOALA_AGENT_ACTIVE) return;
  int busy = koala_busy;
  koala_busy = 1;
  struct koala_emit e = {.kind = KOALA_EV_THREAD_EXIT};
  koala_emit_buf(&e, NULL, 0);
  koala_busy = busy;
}

void koala_thread_seen(void) {
  if (thread_seen) return;
  thread_seen = 1;
  /* The main thread never runs key destructors; the process exit stands for it. */
  if (koala_tid() != getpid()) pthread_setspecific(exit_key, (void *)1);
}

static void describe_self(void) {
  koala_agent.pid = getpid();
  koala_agent.start_ns = koala_now_ns();
  if (gethostname(koala_agent.hostname, sizeof koala_agent.hostname - 1) != 0) koala_agent.hostname[0] = 0;
}

static void before_fork(void) { pid_before_fork = getpid(); }

/* The child is a new agent: its own ring, writer, connection and ids, and never the parent's
 * socket. Only the forking thread survives, so nothing else touches this state meanwhile. */
static void in_child(void) {
  if (atomic_load(&koala_agent.state) != KOALA_AGENT_ACTIVE) return;
  int busy = koala_busy;
  koala_busy = 1;
  cached_tid = 0;
  thread_seen = 0;
  koala_writer_forget();
  koala_ring_free(&koala_ring);
  koala_fdtable_reset();
  describe_self();
  koala_agent.parent_pid = pid_before_fork;
  if (koala_ring_init(&koala_ring, koala_cfg.buffer_size) != 0 || koala_writer_start() != 0) {
    KOALA_LOG(KOALA_LOG_ERROR, "cannot start the agent in the forked child; recording is off there");
    atomic_store(&koala_agent.state, KOALA_AGENT_DISABLED);
  }
  koala_busy = busy;
}

static void init(void) {
  koala_busy = 1;
  koala_resolve();
  int state = KOALA_AGENT_DISABLED;
  if (koala_config_load() == 0) {
    describe_self();
    if (koala_fdtable_init() != 0 || koala_ring_init(&koala_ring, koala_cfg.buffer_size) != 0) {
      KOALA_LOG(KOALA_LOG_ERROR, "cannot map the agent buffer (%zu bytes); the shim is disabled", koala_cfg.buffer_size);
    } else if (pthread_key_create(&exit_key, on_thread_exit) != 0 || koala_writer_start() != 0) {
      KOALA_LOG(KOALA_LOG_ERROR, "cannot start the writer thread; the shim is disabled");
    } else {
      pthread_atfork(before_fork, NULL, in_child);
      state = KOALA_AGENT_ACTIVE;
      KOALA_LOG(KOALA_LOG_INFO, "recording %s to %s (mode %d)", koala_cfg.sut_name, koala_cfg.agent_socket,
                koala_cfg.mode);
    }
  }
  atomic_store_explicit(&koala_agent.state, state, memory_order_release);
  koala_busy = 0;
}

void koala_ensure_init(void) {
  /* Re-entering pthread_once from inside init would deadlock; busy means we are inside. */
  if (koala_busy) return;
  pthread_once(&once, init);
}

__attribute__((constructor)) static void koala_ctor(void) { koala_ensure_init(); }

__attribute__((destructor)) static void koala_dtor(void) {
  if (atomic_load(&koala_agent.state) != KOALA_AGENT_ACTIVE) return;
  int busy = koala_busy;
  koala_busy = 1;
  koala_writer_flush((int)koala_cfg.exit_flush_ms);
  koala_busy = busy;
}
