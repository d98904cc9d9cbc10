#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "real.h"

int koala_log_level = KOALA_LOG_WARN;
int koala_log_fd = 2;

const char *const koala_log_level_names[KOALA_LOG_OFF + 1] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"};

int koala_log_open(const char *spec) {
  if (!spec || !*spec || strcmp(spec, "STDERR") == 0) {
    koala_log_fd = 2;
    return 0;
  }
  if (strcmp(spec, "STDOUT") == 0) {
    koala_log_fd = 1;
    return 0;
  }
  int fd = open(spec, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  /* High and close-on-exec, out of the way of programs that dup2 onto low descriptors. */
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 1000);
  if (high >= 0) {
    KOALA_REAL(close)(fd);
    fd = high;
  }
  koala_log_fd = fd;
  return 0;
}

void koala_log_write(int level, const char *fmt, ...) {
  char line[1024];
  int lv = level < 0 ? 0 : level > KOALA_LOG_OFF ? KOALA_LOG_OFF : level;
  int n = snprintf(line, sizeof line, "[koala] %s pid=%d ", koala_log_level_names[lv], (int)getpid());
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t (*w)(int, const void *, size_t) = KOALA_REAL(write);
  if (w) (void)!w(koala_log_fd, line, len);
}
