/**
 * What a verdict ignores. Defaults cover the values that change on every run without meaning
 * anything (dates, request ids); users add header names, JSON paths and regex replacements.
 */
export interface Replacement {
  /** A regular expression (source text) applied to text before comparing. */
  pattern: string;
  replacement: string;
  flags?: string;
}

export interface NoiseRules {
  /** Header names (any case) never compared, in responses and in outbound HTTP requests. */
  ignoreHeaders: string[];
  /** JSON paths never compared: `$.a.b`, `$.items[2].price`, `$.items[*].id`. */
  ignoreJsonPaths: string[];
  /** Applied to both sides (bodies, header values, outbound requests) before comparing. */
  replacements: Replacement[];
}

export const DEFAULT_IGNORED_HEADERS = [
  'date', 'server', 'set-cookie', 'x-request-id', 'x-trace-id', 'traceparent', 'age', 'expires', 'last-modified',
];

export const DEFAULT_NOISE: NoiseRules = { ignoreHeaders: DEFAULT_IGNORED_HEADERS, ignoreJsonPaths: [], replacements: [] };

/** Adds user rules to the defaults (or to `base`). */
export function withNoise(extra: Partial<NoiseRules>, base: NoiseRules = DEFAULT_NOISE): NoiseRules {
  return {
    ignoreHeaders: [...base.ignoreHeaders, ...(extra.ignoreHeaders ?? [])].map((h) => h.toLowerCase()),
    ignoreJsonPaths: [...base.ignoreJsonPaths, ...(extra.ignoreJsonPaths ?? [])],
    replacements: [...base.replacements, ...(extra.replacements ?? [])],
  };
}

export function isIgnoredHeader(rules: NoiseRules, name: string): boolean {
  const lower = name.toLowerCase();
  return rules.ignoreHeaders.some((h) => h.toLowerCase() === lower);
}

/** Whether concrete `path` (`$.items[2].id`) is covered by an ignore pattern (`[*]` matches any index). */
export function isIgnoredPath(rules: NoiseRules, path: string): boolean {
  return rules.ignoreJsonPaths.some((p) => {
    if (p === path) return true;
    const re = new RegExp(`^${p.replace(/[.$^+?()|{}\\]/g, '\\$&').replace(/\[\*\]/g, '\\[\\d+\\]').replace(/\[(\d+)\]/g, '\\[$1\\]')}$`);
    return re.test(path);
  });
}

export function applyReplacements(rules: NoiseRules, text: string): string {
  let out = text;
  for (const r of rules.replacements) out = out.replace(new RegExp(r.pattern, r.flags ?? 'g'), r.replacement);
  return out;
}
