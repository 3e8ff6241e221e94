/**
 * Rendering of Vega-Lite charts without a browser: Vega's headless SVG renderer, then resvg for
 * PNG. Both load on first use, so importing ferroptim does not load them.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';

/** A Vega-Lite chart specification (the JSON that `vl.compile` takes). */
export type ChartSpec = TopLevelSpec;

/** Fonts for text in charts, in order of preference; the PNG renderer uses the first one installed. */
export const CHART_FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/**
 * Renders a Vega-Lite chart to an SVG document (Vega's `view.toSVG()`, no browser, no canvas).
 * @example
 * ```ts
 * const svg = await renderSvg(await lossCurveChart(regress().losses));
 * ```
 * @throws Error from Vega-Lite or Vega for an invalid spec.
 */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  // Vega and Vega-Lite are ES modules only: import() them (this file compiles to CommonJS).
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  // Vega-Lite and Vega log warnings to the console; a library does not print, so they are muted.
  const quiet = vega.logger(vega.None);
  const compiled = vl.compile(spec, { logger: quiet }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger: quiet });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Options of {@link svgToPng}. */
export interface SvgToPngOptions {
  /** Pixels per SVG unit. @defaultValue 2 (sharp on high-density screens) */
  scale?: number;
}

/**
 * Rasterises an SVG document to PNG with resvg (system fonts, no browser).
 * @throws RangeError for a scale that is not a finite number > 0; Error from resvg for bad SVG.
 */
export async function svgToPng(svg: string, options: SvgToPngOptions = {}): Promise<Buffer> {
  const scale = options.scale ?? 2;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) throw new RangeError(`svgToPng: expected scale to be a finite number > 0, received ${String(scale)}`);
  const { Resvg } = await import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

/** Files written by {@link savePlot}. */
export interface SavedPlot {
  /** The path of the SVG file written. */
  svg: string;
  /** The path of the PNG file written. */
  png: string;
  /** Size of the PNG in pixels. */
  width: number;
  /** Height of the PNG in pixels. */
  height: number;
}

/**
 * Renders a chart and writes `<base>.svg` and `<base>.png` (creating the directory).
 * @example
 * ```ts
 * await savePlot(await landscapeChart('himmelblau'), 'runs/landscape/himmelblau');
 * ```
 */
export async function savePlot(spec: ChartSpec, base: string, options: SvgToPngOptions = {}): Promise<SavedPlot> {
  const svg = await renderSvg(spec);
  const png = await svgToPng(svg, options);
  mkdirSync(dirname(base) || '.', { recursive: true });
  const paths = { svg: `${base}.svg`, png: `${base}.png` };
  writeFileSync(paths.svg, svg);
  writeFileSync(paths.png, png);
  // The PNG's IHDR chunk: width and height, big-endian, at bytes 16 and 20.
  return { ...paths, width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
