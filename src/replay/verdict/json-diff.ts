export interface JsonChange {
  path: string;
  before: string;
  after: string;
}

const ABSENT = '(absent)';

function show(v: unknown): string {
  return v === undefined ? ABSENT : JSON.stringify(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Structural differences between two JSON values, each named by its path (`$.items[2].price`).
 * Object key order never matters; array order does.
 */
export function jsonDiff(before: unknown, after: unknown, ignored: (path: string) => boolean = () => false, path = '$'): JsonChange[] {
  if (ignored(path)) return [];
  if (Array.isArray(before) && Array.isArray(after)) {
    const out: JsonChange[] = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++) out.push(...jsonDiff(before[i], after[i], ignored, `${path}[${i}]`));
    return out;
  }
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) => jsonDiff(before[k], after[k], ignored, childPath(path, k)));
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path, before: show(before), after: show(after) }];
}

export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}
