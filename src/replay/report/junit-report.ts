import type { RunReport } from './run-report.js';

function esc(s: string): string {
  // XML 1.0 cannot carry most control characters even escaped; recorded bytes may contain them.
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** JUnit XML: one testcase per session; a failure's message is its reasons. */
export function toJunitReport(report: RunReport, suiteName = 'koala replay'): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${esc(suiteName)}" tests="${report.total}" failures="${report.failed}" time="${(report.durationMs / 1000).toFixed(3)}">`,
    `  <testsuite name="${esc(suiteName)}" tests="${report.total}" failures="${report.failed}" errors="0" timestamp="${esc(report.startedAt)}" time="${(report.durationMs / 1000).toFixed(3)}">`,
  ];
  for (const s of report.sessions) {
    const open = `    <testcase classname="${esc(s.sut)}" name="${esc(s.sessionId)}" time="${(s.durationMs / 1000).toFixed(3)}"`;
    if (s.verdict.pass) {
      lines.push(`${open}/>`);
      continue;
    }
    const message = s.verdict.reasons.join('; ');
    lines.push(`${open}>`);
    lines.push(`      <failure message="${esc(message)}" type="replay-diff">${esc(s.verdict.reasons.join('\n'))}</failure>`);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}
