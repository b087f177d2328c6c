// The report: the table of medians and ratios, the SVG chart, the JSON and chart files.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR } from './paths.mjs';

/** 12.3 ns, 4.56 us, 7.89 ms: three significant digits. */
export function formatNs(ns) {
  if (ns == null || Number.isNaN(ns)) return '-';
  const [v, u] = ns < 1e3 ? [ns, 'ns'] : ns < 1e6 ? [ns / 1e3, 'us'] : [ns / 1e6, 'ms'];
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${u}`;
}

/**
 * A figure in its benchmark's unit: times ('ns/...') scale to us/ms; any
 * other unit (e.g. 'KiB') is printed as is, three significant digits.
 */
export function formatValue(v, unit = 'ns') {
  if (unit.startsWith('ns')) return formatNs(v);
  if (v == null || Number.isNaN(v)) return '-';
  const u = unit.split('/')[0];
  return `${Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)} ${u}`;
}

export const formatRatio = (r) => (r == null ? '-' : `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`);

/** A benchmark during which others used this much of the machine is flagged. */
export const NOISY_PCT = 5;

const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

export function renderTable(results, comparisons) {
  const lines = [];
  const w = Math.max(9, ...results.map((r) => r.name.length)) + 2;
  lines.push(`${pad('benchmark', w)}${lpad('median', 10)}${lpad('min', 10)}${lpad('max', 10)}  unit / note`);
  lines.push('-'.repeat(w + 30 + 24));
  for (const r of results) {
    if (r.skipped) {
      lines.push(`${pad(r.name, w)}${lpad('skipped', 10)}${' '.repeat(20)}  ${r.skipped}`);
    } else {
      const notes = [r.unit];
      if (r.cpu && r.cpu.othersPct >= NOISY_PCT) notes.push(`! other programs used ${r.cpu.othersPct}% CPU`);
      if (r.cpu && r.cpu.stealPct >= NOISY_PCT) notes.push(`! steal ${r.cpu.stealPct}%`);
      if (r.extra?.lostWakeups) notes.push(`! ${r.extra.lostWakeups} lost wake-ups (see extra)`);
      lines.push(
        `${pad(r.name, w)}${lpad(formatValue(r.median, r.unit), 10)}${lpad(formatValue(r.min, r.unit), 10)}${lpad(formatValue(r.max, r.unit), 10)}  ${notes.join('  ')}`,
      );
    }
  }
  if (comparisons.length) {
    lines.push('');
    const cw = Math.max(10, ...comparisons.map((c) => c.name.length)) + 2;
    lines.push(`${pad('comparison', cw)}${lpad('ratio', 9)}  ${pad('target', 10)}verdict`);
    lines.push('-'.repeat(cw + 9 + 24));
    for (const c of comparisons) {
      const target = c.target != null ? `<= ${c.target}x` : '';
      const verdict = c.ratio == null ? 'n/a' : c.target == null ? '' : c.met ? 'met' : 'NOT met';
      lines.push(`${pad(c.name, cw)}${lpad(formatRatio(c.ratio), 9)}  ${pad(target, 10)}${verdict}`);
      lines.push(`${pad('', cw)}  = ${c.of} / ${c.against}${c.basis === 'interleaved samples' ? ' (interleaved samples)' : ''}`);
    }
  }
  return lines.join('\n');
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A static SVG: one panel per group, one horizontal bar per benchmark (the
 * median), a whisker from min to max. Each panel has its own linear scale,
 * since the groups span 1 ns to 100 us; comparisons are listed underneath.
 */
export function renderSvg(report) {
  const W = 1100;
  const labelW = 250;
  const valueW = 300;
  const plotW = W - labelW - valueW - 20;
  const barH = 18;
  const gap = 6;
  let y = 40;
  const parts = [];
  parts.push(
    `<text x="10" y="22" font-size="15" font-weight="bold">multiproc bench - ${esc(report.startedAt)} - ${esc(report.machine.cpu)}, ${report.machine.nproc} CPUs, node ${esc(report.machine.node)}</text>`,
  );
  const groups = [...new Set(report.benchmarks.map((b) => b.group))];
  for (const g of groups) {
    const rows = report.benchmarks.filter((b) => b.group === g);
    const scaleMax = Math.max(1e-9, ...rows.filter((r) => !r.skipped).map((r) => r.max));
    y += 8;
    parts.push(`<text x="10" y="${y + 12}" font-size="13" font-weight="bold">${esc(g)} (${esc(rows[0].unit)})</text>`);
    y += 20;
    // A panel's yardstick (grey: the C floor, or the peer of a target) is
    // often too short to see at this scale, so every other bar's label also
    // says how many yardsticks it is.
    const floor = rows.find((r) => r.yardstick && !r.skipped);
    for (const r of rows) {
      parts.push(`<text x="10" y="${y + barH - 5}" font-size="12">${esc(r.name)}</text>`);
      if (r.skipped) {
        parts.push(`<text x="${labelW}" y="${y + barH - 5}" font-size="12" fill="#888">skipped: ${esc(r.skipped)}</text>`);
      } else {
        const x = (v) => labelW + (v / scaleMax) * plotW;
        parts.push(
          `<rect x="${labelW}" y="${y}" width="${(x(r.median) - labelW).toFixed(1)}" height="${barH}" fill="${r.yardstick ? '#7a7a7a' : '#3b7dd8'}"/>`,
        );
        const mid = y + barH / 2;
        parts.push(
          `<line x1="${x(r.min).toFixed(1)}" x2="${x(r.max).toFixed(1)}" y1="${mid}" y2="${mid}" stroke="#111" stroke-width="1.2"/>`,
          `<line x1="${x(r.min).toFixed(1)}" x2="${x(r.min).toFixed(1)}" y1="${mid - 4}" y2="${mid + 4}" stroke="#111"/>`,
          `<line x1="${x(r.max).toFixed(1)}" x2="${x(r.max).toFixed(1)}" y1="${mid - 4}" y2="${mid + 4}" stroke="#111"/>`,
          `<text x="${labelW + plotW + 8}" y="${y + barH - 5}" font-size="12">${esc(formatValue(r.median, r.unit))}${
            floor && floor !== r ? ` (${esc(formatRatio(r.median / floor.median))} ${esc(floor.name)})` : ''
          }</text>`,
        );
      }
      y += barH + gap;
    }
  }
  if (report.comparisons.length) {
    y += 12;
    parts.push(
      `<text x="10" y="${y + 12}" font-size="13" font-weight="bold">ratios (same run; bar labels above are ratios of medians, [interleaved samples] = median of side-by-side sample ratios)</text>`,
    );
    y += 20;
    for (const c of report.comparisons) {
      const verdict = c.ratio == null ? 'n/a' : c.target == null ? '' : c.met ? 'met' : 'NOT met';
      const color = c.target == null || c.ratio == null ? '#111' : c.met ? '#1a7f37' : '#c62828';
      parts.push(
        `<text x="10" y="${y + 12}" font-size="12" fill="${color}">${esc(c.name)}: ${esc(formatRatio(c.ratio))}${c.target != null ? ` (target &lt;= ${c.target}x: ${verdict})` : ''}${c.basis === 'interleaved samples' ? ' [interleaved samples]' : ''}</text>`,
      );
      y += 18;
    }
  }
  y += 10;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`
  );
}

/** Writes <stamp>.json and <stamp>.svg (and latest.*) under bench/results/. */
export function writeResults(report) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const json = path.join(RESULTS_DIR, `${stamp}.json`);
  const svg = path.join(RESULTS_DIR, `${stamp}.svg`);
  const text = JSON.stringify(report, null, 2) + '\n';
  const chart = renderSvg(report);
  writeFileSync(json, text);
  writeFileSync(svg, chart);
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), text);
  writeFileSync(path.join(RESULTS_DIR, 'latest.svg'), chart);
  return { json, svg };
}
