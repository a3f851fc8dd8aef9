// Grouped bar charts on a log scale, one SVG per question, with no dependencies.

/** A bar that does not exist in a panel (no "n/a" mark). */
export const NOT_APPLICABLE = -1;

/** One panel of a chart: a bar per series in each group. */
export interface Panel {
  title: string;
  yLabel: string;
  /** values[group][series] (NaN = missing, drawn as "n/a"; NOT_APPLICABLE = no bar at all). */
  values: number[][];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const decade = (d: number) => (d >= 6 ? `${10 ** (d - 6)}M` : d >= 3 ? `${10 ** (d - 3)}k` : d >= 0 ? String(10 ** d) : (10 ** d).toFixed(-d));
const short = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(x >= 1e7 ? 0 : 1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(x >= 1e4 ? 0 : 1)}k` : x >= 10 ? x.toFixed(0) : x.toFixed(1));

/** An SVG document: a title, a legend of `series`, and the `panels` stacked, `groups` (value sizes) along x. */
export function chart(title: string, subtitle: string, groups: string[], series: Array<{ name: string; color: string }>, panels: Panel[]): string {
  const W = 900;
  const panelH = 250;
  const top = 78;
  const left = 78;
  const right = 20;
  const gap = 64;
  const H = top + panels.length * (panelH + gap) + 10;
  const s: string[] = [];
  s.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`);
  s.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  s.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">${esc(title)}</text>`);
  s.push(`<text x="${W / 2}" y="43" text-anchor="middle" font-size="12" fill="#444">${esc(subtitle)}</text>`);
  // Legend
  let lx = left;
  for (const se of series) {
    s.push(`<rect x="${lx}" y="54" width="12" height="12" fill="${se.color}"/>`);
    s.push(`<text x="${lx + 16}" y="64" font-size="12">${esc(se.name)}</text>`);
    lx += 28 + se.name.length * 5.9;
  }
  panels.forEach((p, pi) => {
    const y0 = top + pi * (panelH + gap) + 22;
    const plotH = panelH - 22;
    const x0 = left;
    const plotW = W - left - right;
    const all = p.values.flat().filter((v) => Number.isFinite(v) && v > 0);
    const lo = Math.floor(Math.log10(Math.max(1e-3, Math.min(...all, 1e9))));
    const hi = Math.ceil(Math.log10(Math.max(...all, 1)) + 0.15);
    const y = (v: number) => y0 + plotH - ((Math.log10(v) - lo) / (hi - lo)) * plotH;
    s.push(`<text x="${x0}" y="${y0 - 8}" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
    for (let d = lo; d <= hi; d++) {
      const yy = y(10 ** d);
      s.push(`<line x1="${x0}" x2="${x0 + plotW}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="#ddd"/>`);
      s.push(`<text x="${x0 - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#333">${decade(d)}</text>`);
    }
    s.push(`<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y0 + plotH}" stroke="#333"/>`);
    s.push(`<line x1="${x0}" x2="${x0 + plotW}" y1="${y0 + plotH}" y2="${y0 + plotH}" stroke="#333"/>`);
    s.push(`<text transform="translate(${x0 - 52},${y0 + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel)}</text>`);
    const gw = plotW / groups.length;
    const bw = Math.min(44, (gw * 0.8) / series.length);
    groups.forEach((g, gi) => {
      const gx = x0 + gi * gw + (gw - bw * series.length) / 2;
      series.forEach((se, si) => {
        const v = p.values[gi]?.[si] ?? NaN;
        const bx = gx + si * bw;
        if (v === NOT_APPLICABLE) return;
        if (!Number.isFinite(v) || v <= 0) {
          s.push(`<text x="${(bx + bw / 2).toFixed(1)}" y="${y0 + plotH - 4}" text-anchor="middle" font-size="10" fill="#999">n/a</text>`);
          return;
        }
        const by = y(v);
        s.push(`<rect x="${(bx + 1).toFixed(1)}" y="${by.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(y0 + plotH - by).toFixed(1)}" fill="${se.color}"><title>${esc(`${se.name}, ${g}: ${short(v)}`)}</title></rect>`);
        s.push(`<text x="${(bx + bw / 2).toFixed(1)}" y="${(by - 3).toFixed(1)}" text-anchor="middle" font-size="10" fill="#222">${short(v)}</text>`);
      });
      s.push(`<text x="${(x0 + gi * gw + gw / 2).toFixed(1)}" y="${y0 + plotH + 16}" text-anchor="middle" font-size="12">${esc(g)}</text>`);
    });
    s.push(`<text x="${x0 + plotW / 2}" y="${y0 + plotH + 34}" text-anchor="middle" font-size="12" fill="#444">value size</text>`);
  });
  s.push('</svg>');
  return s.join('\n') + '\n';
}
