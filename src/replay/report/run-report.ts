import type { SessionResult } from '../replay-engine.js';

/** The outcome of replaying a set of sessions. */
export interface RunReport {
  startedAt: string;
  durationMs: number;
  total: number;
  passed: number;
  failed: number;
  sessions: SessionResult[];
}

export function buildRunReport(results: readonly SessionResult[], startedAtMs: number, endedAtMs = Date.now()): RunReport {
  const passed = results.filter((r) => r.verdict.pass).length;
  return {
    startedAt: new Date(startedAtMs).toISOString(),
    durationMs: endedAtMs - startedAtMs,
    total: results.length,
    passed,
    failed: results.length - passed,
    sessions: [...results],
  };
}

/**
 * The report as JSON: bytes as base64 under `*Base64` keys with a readable `*Text` twin, so the
 * file is both lossless and greppable.
 */
export function toJsonReport(report: RunReport): string {
  return JSON.stringify(report, reportJsonReplacer, 2);
}

/** One session's result as JSON, in the same encoding as the run report. */
export function toJsonResult(result: SessionResult): string {
  return JSON.stringify(result, reportJsonReplacer, 2);
}

/** JSON.stringify replacer of the reports: bigints as text, bytes as { base64, text }, no talk copies. */
export function reportJsonReplacer(key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString('base64'), text: Buffer.from(value).toString('latin1') };
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    const b = Buffer.from((value as { data: number[] }).data);
    return { base64: b.toString('base64'), text: b.toString('latin1') };
  }
  return key === 'talk' ? undefined : value;
}
