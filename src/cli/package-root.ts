/** The koala package's root directory, whether running from src/ (tsx) or dist/src/ (built). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'koala') return (cached = dir);
      } catch {
        // Not ours; keep climbing.
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the koala package root');
    dir = up;
  }
}

/** The LD_PRELOAD shim built by `npm install` (node-gyp). */
export function shimPath(): string {
  return join(packageRoot(), 'build', 'Release', 'koala_shim.so');
}
