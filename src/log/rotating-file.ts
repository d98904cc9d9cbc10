/**
 * Log destinations. A file destination rotates hourly: when a line belongs to a later UTC hour
 * than the file's content, the file is renamed to `<path>.<yyyymmddhh>` of that content's hour
 * and a new file begins. Writes are synchronous so nothing logged before a crash is lost.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface LogDestination {
  write(line: string): void;
  close(): void;
}

export function hourStamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}`;
}

export class StreamDestination implements LogDestination {
  constructor(private readonly fd: 1 | 2) {}
  write(line: string): void {
    try {
      writeSync(this.fd, line);
    } catch {
      // A closed stdout/stderr (EPIPE) must not take the gateway down.
    }
  }
  close(): void {}
}

export class RotatingFileDestination implements LogDestination {
  private fd = -1;
  private hour = '';

  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) {
      const contentHour = hourStamp(statSync(path).mtimeMs);
      this.hour = contentHour;
    }
  }

  write(line: string): void {
    const hour = hourStamp(this.now());
    try {
      if (this.hour !== '' && hour !== this.hour) this.rotate();
      if (this.fd < 0) this.fd = openSync(this.path, 'a', 0o644);
      this.hour = hour;
      writeSync(this.fd, line);
    } catch {
      // Disk full, EMFILE or the directory removed: logging must never crash the gateway. The
      // line is lost; fd stays -1 after a failed open so the next write tries again.
    }
  }

  private rotate(): void {
    this.closeFd();
    if (!existsSync(this.path)) return;
    let target = `${this.path}.${this.hour}`;
    for (let n = 1; existsSync(target); n++) target = `${this.path}.${this.hour}.${n}`;
    try {
      renameSync(this.path, target);
    } catch {
      // Keep appending to the same file rather than lose lines.
    }
  }

  close(): void {
    try {
      this.closeFd();
    } catch {
      // Nothing left to lose at close; the error must not reach the caller's shutdown path.
    }
  }

  private closeFd(): void {
    const fd = this.fd;
    // Forget the fd first: after a failed close a retry would hit a number the OS may reuse.
    this.fd = -1;
    if (fd >= 0) closeSync(fd);
  }
}

export function openDestination(spec: string, now?: () => number): LogDestination {
  if (spec === 'STDOUT') return new StreamDestination(1);
  if (spec === 'STDERR') return new StreamDestination(2);
  return new RotatingFileDestination(spec, now);
}
