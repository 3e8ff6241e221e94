/**
 * Rendering of Vega-Lite charts without a browser: Vega's headless SVG renderer, then resvg for
 * PNG. Both load on first use, so importing ferroptim does not load them.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { checkKnownKeys, checkNumber, checkOptions, checkPath, checkString, describeValue, isPlainObject, option } from 'ferroptim/internal';

/**
 * A Vega-Lite chart specification (the JSON that `vl.compile` takes).
 * @group Charts
 */
export type ChartSpec = TopLevelSpec;

/** Fonts for text in charts, in order of preference; the PNG renderer uses the first one installed. */
export const CHART_FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/** The keys of which a Vega-Lite chart has at least one: its view. */
const VIEW_KEYS = ['mark', 'layer', 'facet', 'hconcat', 'vconcat', 'concat', 'repeat'];

/** The largest PNG side {@link svgToPng} renders, in pixels (as browsers bound a canvas). */
export const MAX_PNG_SIDE = 16384;

/**
 * @internal Checks the outline of a Vega-Lite spec (an object with a view, a mark that is a type
 * or an object with one, arrays of views where Vega-Lite wants them); Vega-Lite checks the rest.
 */
export function checkChartSpec(ctx: string, v: unknown): ChartSpec {
  if (!isPlainObject(v)) throw new TypeError(`${ctx}: expected spec to be a Vega-Lite chart spec (an object), received ${describeValue(v)}`);
  if (!VIEW_KEYS.some((k) => Object.hasOwn(v, k))) {
    throw new RangeError(`${ctx}: expected spec to have one of ${VIEW_KEYS.join(', ')}, received an object with keys ${describeValue(Object.keys(v))}`);
  }
  if (Object.hasOwn(v, 'mark')) {
    const m = v.mark;
    if (!(typeof m === 'string' || (isPlainObject(m) && typeof m.type === 'string'))) {
      throw new TypeError(`${ctx}: expected spec.mark to be a mark type (a string) or an object { type }, received ${describeValue(m)}`);
    }
  }
  for (const k of ['layer', 'hconcat', 'vconcat', 'concat']) {
    if (Object.hasOwn(v, k) && !Array.isArray(v[k])) throw new TypeError(`${ctx}: expected spec.${k} to be an array of charts, received ${describeValue(v[k])}`);
  }
  return v as unknown as ChartSpec;
}

/** Checks the options of {@link svgToPng}; returns the scale. */
function pngScale(ctx: string, options: unknown): number {
  const o = checkOptions(ctx, options);
  checkKnownKeys(ctx, o, ['scale']);
  return checkNumber(ctx, 'scale', option(o.scale, 2), { above: 0 });
}

/**
 * Renders a Vega-Lite chart to an SVG document (Vega's `view.toSVG()`, no browser, no canvas).
 * @example
 * ```ts
 * const svg = await renderSvg(lineChart([{ name: 'loss', x: [1, 2, 3], y: [3, 2, 1] }], { title: 'Loss', xTitle: 'Step', yTitle: 'Loss' }));
 * ```
 * @throws TypeError or RangeError (as a rejected promise) for a spec that is not an object with a
 * view (`mark`, `layer`, ...), and for one that Vega-Lite or Vega cannot compile (their message
 * is kept, the error as `cause`).
 * @group Charts
 */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  return renderSvgAs('renderSvg', checkChartSpec('renderSvg', spec));
}

async function renderSvgAs(ctx: string, spec: ChartSpec): Promise<string> {
  // Vega and Vega-Lite are ES modules only: import() them (this file compiles to CommonJS).
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  // Vega-Lite and Vega log warnings to the console; a library does not print, so they are muted.
  const quiet = vega.logger(vega.None);
  let view: InstanceType<typeof vega.View>;
  try {
    const compiled = vl.compile(spec, { logger: quiet }).spec;
    view = new vega.View(vega.parse(compiled), { renderer: 'none', logger: quiet });
  } catch (e) {
    throw new RangeError(`${ctx}: Vega-Lite cannot compile spec: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Options of {@link svgToPng}.
 * @group Charts
 */
export interface SvgToPngOptions {
  /** Pixels per SVG unit. @defaultValue 2 (sharp on high-density screens) */
  scale?: number;
}

/**
 * Rasterises an SVG document to PNG with resvg (system fonts, no browser).
 * @throws TypeError or RangeError (as a rejected promise) for `svg` that is not a string or not an
 * SVG document, bad options, or a scale that is not a finite number > 0 or that gives an image
 * below 1 pixel or above 16384 pixels on a side.
 * @group Charts
 */
export async function svgToPng(svg: string, options: SvgToPngOptions = {}): Promise<Buffer> {
  checkString('svgToPng', 'svg', svg);
  return svgToPngAs('svgToPng', svg, pngScale('svgToPng', options));
}

async function svgToPngAs(ctx: string, svg: string, scale: number): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  let resvg: InstanceType<typeof Resvg>;
  try {
    resvg = new Resvg(svg, {
      fitTo: { mode: 'zoom', value: scale },
      background: 'white',
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    });
  } catch (e) {
    throw new RangeError(`${ctx}: expected svg to be an SVG document (resvg: ${(e as Error)?.message ?? String(e)}), received ${describeValue(svg.length > 40 ? `${svg.slice(0, 40)}…` : svg)}`, { cause: e });
  }
  // The pixmap is allocated at the target size: bound it before rendering.
  const [w, h] = [Math.ceil(resvg.width * scale), Math.ceil(resvg.height * scale)];
  if (!(w >= 1 && h >= 1 && w <= MAX_PNG_SIDE && h <= MAX_PNG_SIDE)) {
    throw new RangeError(`${ctx}: expected scale to give an image of 1 to ${MAX_PNG_SIDE} pixels on a side, received ${describeValue(scale)} (a ${resvg.width} × ${resvg.height} SVG → ${w} × ${h} pixels)`);
  }
  return resvg.render().asPng();
}

/**
 * Files written by {@link savePlot}.
 * @group Charts
 */
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
 * @throws TypeError or RangeError (as a rejected promise) for a bad spec, `base` or options
 * (checked before anything is rendered or written) or a spec Vega-Lite cannot compile; Error
 * (Node's file system errors) if a file cannot be written.
 * @group Charts
 */
export async function savePlot(spec: ChartSpec, base: string, options: SvgToPngOptions = {}): Promise<SavedPlot> {
  checkChartSpec('savePlot', spec);
  checkPath('savePlot', 'base', base);
  const scale = pngScale('savePlot', options);
  const svg = await renderSvgAs('savePlot', spec);
  const png = await svgToPngAs('savePlot', svg, scale);
  mkdirSync(dirname(base) || '.', { recursive: true });
  const paths = { svg: `${base}.svg`, png: `${base}.png` };
  writeFileSync(paths.svg, svg);
  writeFileSync(paths.png, png);
  // The PNG's IHDR chunk: width and height, big-endian, at bytes 16 and 20.
  return { ...paths, width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
