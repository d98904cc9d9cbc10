// Builds the LD_PRELOAD shim with node-gyp at `npm install`.
// node-gyp cannot download Node's headers here (no internet), so point it at a local copy:
// the headers the nodejs package installs next to the node binary, or Debian's libnode-dev.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function findNodeDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    resolve(dirname(process.execPath), '..'),
    '/usr',
    '/usr/local',
  ].filter(Boolean);
  for (const dir of candidates) {
    if (existsSync(join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  return undefined;
}

const nodedir = findNodeDir();
if (!nodedir) {
  console.error('[koala] cannot find Node.js headers (include/node/node_api.h) next to node, in /usr or /usr/local;');
  console.error('[koala] install the nodejs package with headers or Debian\'s libnode-dev, or set npm_config_nodedir.');
  process.exit(1);
}
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], { stdio: 'inherit' });
process.exit(r.status ?? 1);
