import type { ScoredCandidate } from '../match/match-types.js';
import type { RunReport } from './run-report.js';

/** A readable summary: one line per session, its reasons and match explanations under it. */
export function toTextReport(report: RunReport, opts: { explain?: boolean } = {}): string {
  const out: string[] = [];
  out.push(`koala replay: ${report.passed}/${report.total} sessions passed, ${report.failed} failed (${report.durationMs} ms)`);
  for (const s of report.sessions) {
    out.push(`${s.verdict.pass ? 'PASS' : 'FAIL'} ${s.sessionId} (${s.sut}, ${s.durationMs} ms, ${s.outboundCalls} outbound calls)`);
    for (const r of s.verdict.reasons) out.push(`  - ${r}`);
    for (const w of s.verdict.warnings) out.push(`  ! ${w}`);
    if (opts.explain === true || !s.verdict.pass) {
      for (const o of s.verdict.outbound) {
        const top = o.decision.top.map((t: ScoredCandidate) => `#${t.talkIndex}=${t.score.toFixed(3)}`).join(' ');
        out.push(`  · ${o.destination} ${o.request}: ${o.decision.explanation}${top === '' ? '' : ` [top: ${top}]`}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}
