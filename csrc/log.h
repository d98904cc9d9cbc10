/* Leveled "[koala]" log lines, written with the real write() so logging never records itself. */
#ifndef KOALA_LOG_H
#define KOALA_LOG_H

enum koala_log_level {
  KOALA_LOG_TRACE = 0,
  KOALA_LOG_DEBUG,
  KOALA_LOG_INFO,
  KOALA_LOG_WARN,
  KOALA_LOG_ERROR,
  KOALA_LOG_FATAL,
  KOALA_LOG_OFF,
};

extern int koala_log_level;
/* Names of the levels, indexed by level (KOALA_LOG_FILE / KOALA_LOG_LEVEL spelling). */
extern const char *const koala_log_level_names[KOALA_LOG_OFF + 1];
/* The descriptor logs go to (protected from the application's close like the agent socket). */
extern int koala_log_fd;

/* Opens KOALA_LOG_FILE; spec is STDOUT, STDERR or a path. Returns 0, or -1 if it cannot. */
int koala_log_open(const char *spec);
void koala_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formatting happens only when the level is enabled. */
#define KOALA_LOG(level, ...) \
  do { \
    if ((level) >= koala_log_level) koala_log_write((level), __VA_ARGS__); \
  } while (0)

#endif
