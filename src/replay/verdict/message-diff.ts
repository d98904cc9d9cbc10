import { byteDiff } from './byte-diff.js';
import { isJsonContent, parseHttpMessage, type HttpMessage } from './http-message.js';
import { jsonDiff, parseJson } from './json-diff.js';
import { applyReplacements, isIgnoredHeader, isIgnoredPath, type NoiseRules } from './noise-rules.js';

/**
 * Differences between a recorded and an actual message, each a phrase naming the change
 * (`status: 200 → 500`, `body $.price: 10 → 12`). HTTP is compared field by field; other bytes
 * after the noise replacements.
 */
export function diffMessages(recorded: Buffer, actual: Buffer, noise: NoiseRules): string[] {
  const r = parseHttpMessage(recorded);
  const a = parseHttpMessage(actual);
  if (r !== undefined && a !== undefined) return diffHttp(r, a, noise);
  return diffText(recorded, actual, noise, '');
}

function diffHttp(r: HttpMessage, a: HttpMessage, noise: NoiseRules): string[] {
  const out: string[] = [];
  if (r.status !== a.status) out.push(`status: ${r.status ?? r.head.startLine} → ${a.status ?? a.head.startLine}`);
  else if (r.status === undefined && r.head.startLine !== a.head.startLine) {
    out.push(`request line: ${JSON.stringify(r.head.startLine)} → ${JSON.stringify(a.head.startLine)}`);
  }
  const json = jsonBodies(r, a, noise);
  // A structural body compare makes the length and framing headers moot.
  const skip = (name: string): boolean =>
    isIgnoredHeader(noise, name) || (json !== undefined && /^(content-length|transfer-encoding)$/i.test(name));
  const names = [...new Set([...r.head.headers, ...a.head.headers].map(([k]) => k.toLowerCase()))];
  for (const name of names) {
    if (skip(name)) continue;
    const before = headerValues(r, name);
    const after = headerValues(a, name);
    if (applyReplacements(noise, before ?? '') === applyReplacements(noise, after ?? '') && (before === undefined) === (after === undefined)) continue;
    const shown = r.head.headers.find(([k]) => k.toLowerCase() === name)?.[0] ?? a.head.headers.find(([k]) => k.toLowerCase() === name)?.[0] ?? name;
    out.push(`header ${shown}: ${before ?? '(absent)'} → ${after ?? '(absent)'}`);
  }
  if (json !== undefined) {
    for (const c of jsonDiff(json[0], json[1], (p) => isIgnoredPath(noise, p))) out.push(`body ${c.path}: ${c.before} → ${c.after}`);
  } else {
    out.push(...diffText(r.body, a.body, noise, 'body '));
  }
  return out;
}

function jsonBodies(r: HttpMessage, a: HttpMessage, noise: NoiseRules): [unknown, unknown] | undefined {
  if (!isJsonContent(r) && !isJsonContent(a)) return undefined;
  const pr = parseJson(applyReplacements(noise, r.body.toString('utf8')));
  const pa = parseJson(applyReplacements(noise, a.body.toString('utf8')));
  return pr.ok && pa.ok ? [pr.value, pa.value] : undefined;
}

function headerValues(m: HttpMessage, lower: string): string | undefined {
  const vs = m.head.headers.filter(([k]) => k.toLowerCase() === lower).map(([, v]) => v);
  return vs.length === 0 ? undefined : vs.join(', ');
}

function diffText(recorded: Buffer, actual: Buffer, noise: NoiseRules, prefix: string): string[] {
  const r = noise.replacements.length === 0 ? recorded : Buffer.from(applyReplacements(noise, recorded.toString('latin1')), 'latin1');
  const a = noise.replacements.length === 0 ? actual : Buffer.from(applyReplacements(noise, actual.toString('latin1')), 'latin1');
  const d = byteDiff(r, a);
  return d === undefined ? [] : [`${prefix}${d}`];
}
