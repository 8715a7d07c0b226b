// Reports: a plain-text table and an SVG line plot, written by hand (no dependency).

/** Formats rows of [label, value] as a two-column table. */
export function table(rows: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${formatValue(value)}`).join('\n');
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(4);
  if (Array.isArray(value)) return value.map(formatValue).join(', ');
  return String(value);
}

export interface PlotSeries {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface PlotOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** y range; default [0, max of the data]. */
  readonly yMin?: number;
  readonly yMax?: number;
  /** Vertical markers, e.g. the moment of a crash. */
  readonly markers?: readonly { readonly x: number; readonly label: string }[];
  readonly width?: number;
  readonly height?: number;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A line plot of one or more series over a shared x axis, as a standalone SVG document. */
export function linePlot(series: readonly PlotSeries[], options: PlotOptions): string {
  const width = options.width ?? 800;
  const height = options.height ?? 400;
  const left = 60;
  const right = 160;
  const top = 40;
  const bottom = 50;
  const all = series.flatMap((s) => s.points);
  const xMin = Math.min(0, ...all.map(([x]) => x));
  const xMax = Math.max(1e-9, ...all.map(([x]) => x));
  const yMin = options.yMin ?? 0;
  const yMax = options.yMax ?? Math.max(1e-9, ...all.map(([, y]) => y));
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin || 1)) * (width - left - right);
  const py = (y: number) => height - bottom - ((y - yMin) / (yMax - yMin || 1)) * (height - top - bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const y = yMin + ((yMax - yMin) * i) / 5;
    const x = xMin + ((xMax - xMin) * i) / 5;
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${py(y)}" y2="${py(y)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${py(y) + 4}" text-anchor="end">${formatTick(y)}</text>`,
      `<text x="${px(x)}" y="${height - bottom + 16}" text-anchor="middle">${formatTick(x)}</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}" stroke="black"/>`,
    `<line x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}" stroke="black"/>`,
    `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text x="16" y="${(top + height - bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(top + height - bottom) / 2})">${escapeXml(options.yLabel)}</text>`,
  );
  for (const marker of options.markers ?? []) {
    parts.push(
      `<line x1="${px(marker.x)}" x2="${px(marker.x)}" y1="${top}" y2="${height - bottom}" stroke="#999" stroke-dasharray="4 3"/>`,
      `<text x="${px(marker.x) + 4}" y="${top + 12}" fill="#666">${escapeXml(marker.label)}</text>`,
    );
  }
  series.forEach((s, i) => {
    const d = s.points
      .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    const ly = top + 20 * i + 10;
    parts.push(
      `<line x1="${width - right + 10}" x2="${width - right + 30}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`,
      `<text x="${width - right + 36}" y="${ly + 4}">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function formatTick(value: number): string {
  if (Math.abs(value) >= 10 || Number.isInteger(value)) return String(Math.round(value));
  return String(Math.round(value * 100) / 100);
}
