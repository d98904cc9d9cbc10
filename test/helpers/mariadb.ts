import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { freePort } from './ports.js';
import { spawnChild } from './process.js';
import { waitFor } from './wait.js';

export interface MariaDb {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The server's unix socket (root access without a password, for set-up). */
  socket: string;
  /** Runs SQL as root over the unix socket; returns stdout (tab-separated, no headers). */
  query(sql: string): string;
  stop(): Promise<void>;
}

/**
 * A private MariaDB server on a random loopback port in a temp datadir. The test user has a
 * password and mysql_native_password, so clients go through a real auth handshake.
 */
export async function startMariaDb(): Promise<MariaDb> {
  const dir = await mkdtemp(join(tmpdir(), 'koala-mariadb-'));
  const datadir = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  const install = spawnSync(
    'mariadb-install-db',
    ['--no-defaults', `--datadir=${datadir}`, '--user=root', '--auth-root-authentication-method=socket', '--skip-test-db'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (install.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${install.stderr}${install.stdout}`);
  }
  const port = await freePort();
  const server = spawnChild('mariadbd', [
    '--no-defaults',
    `--datadir=${datadir}`,
    `--socket=${socket}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    '--user=root',
    `--pid-file=${join(dir, 'mysqld.pid')}`,
    '--skip-log-bin',
    '--innodb-buffer-pool-size=16M',
    '--innodb-log-file-size=8M',
    '--performance-schema=OFF',
    '--skip-name-resolve',
  ]);
  const query = (sql: string): string => {
    const r = spawnSync('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-N', '-B', '-e', sql], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (r.status !== 0) throw new Error(`mariadb query failed (${sql}): ${r.stderr}`);
    return r.stdout;
  };
  const stop = async (): Promise<void> => {
    await server.stop('SIGTERM', 15_000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'mariadbd to accept queries',
      async () => {
        if (server.proc.exitCode !== null) throw new Error(`mariadbd exited: ${server.stderr()}`);
        query('SELECT 1');
        return true;
      },
      60_000,
      200,
    );
    const user = 'koala';
    const password = 'koala-pw-' + Math.random().toString(36).slice(2, 10);
    const database = 'koala_test';
    query(
      `CREATE DATABASE ${database};` +
        `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}');` +
        `GRANT ALL ON ${database}.* TO '${user}'@'127.0.0.1';` +
        `CREATE TABLE ${database}.items (token VARCHAR(64) PRIMARY KEY, val VARCHAR(64));`,
    );
    return { host: '127.0.0.1', port, user, password, database, socket, query, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
