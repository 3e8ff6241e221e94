/**
 * Plots: contour levels and lines, and every chart rendered to SVG and PNG without a browser
 * (valid SVG with the title, axis titles and legends; PNG signature and size).
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HIMMELBLAU, batchLossChart, compare, contourLevels, contourLines, epochLossChart, landscapeChart, lineChart, loadMnist, race, raceChart, raceLossChart, regress, regressionLossChart,
  renderSvg, sampleGrid, savePlot, svgToPng, type ChartSpec,
} from './helpers/api.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-plot-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Renders a chart to files; checks the SVG, the PNG signature and size; returns the SVG text. */
async function check(t: import('ava').ExecutionContext, spec: ChartSpec, name: string, texts: string[]): Promise<string> {
  const saved = await savePlot(spec, join(tmp, name));
  const svg = readFileSync(saved.svg, 'utf8');
  t.regex(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*width="\d+" height="\d+"/);
  t.true(svg.trimEnd().endsWith('</svg>'));
  for (const s of texts) t.true(svg.includes(`>${s}<`), `the SVG shows ${JSON.stringify(s)}`);
  const png = readFileSync(saved.png);
  t.deepEqual(png.subarray(0, 8), PNG);
  t.true(saved.width >= 1000 && saved.height >= 700, `${saved.width}×${saved.height}`);
  t.is(saved.width, png.readUInt32BE(16));
  t.true(statSync(saved.png).size > 30_000, 'the PNG has content');
  return svg;
}

/** XML-escaped, as in SVG text. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Escaped for a RegExp. */
const reEsc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The tick labels Vega shows (not hidden for overlap) on the axis titled `title`. */
function axisLabels(svg: string, title: string): string[] {
  const at = svg.indexOf(`-axis titled '${title}'`);
  if (at < 0) throw new Error(`no axis titled ${title}`);
  const group = /<g class="mark-text role-axis-label"[^>]*>(.*?)<\/g>/.exec(svg.slice(at))!;
  return [...group[1]!.matchAll(/<text [^>]*opacity="1"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
}

/** The vertices of an SVG path's `d` (M and L commands only), as [x, y] pairs. */
function vertices(d: string): Array<[number, number]> {
  return [...d.matchAll(/[ML]([^,MLZ]+),([^MLZ]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** The ✕ that marks divergence: two diagonals of a square centred on the point. */
const CROSS = /^M-([\d.]+),-\1L\1,\1M-\1,\1L\1,-\1$/;

/** The race of the article's README: SGD, SGD with momentum and Adam on Rosenbrock from (-1, 1). */
const ARTICLE_RACE = ['sgd:lr=0.001', 'sgd:lr=0.001,momentum=0.9', 'adam:lr=0.01'];

test('contourLevels: 50 evenly spaced levels strictly inside the range, or log-spaced', (t) => {
  const lin = contourLevels(0, 51, 50);
  t.is(lin.length, 50);
  t.deepEqual(lin.slice(0, 3), [1, 2, 3]);
  t.is(lin.at(-1), 50);
  const log = contourLevels(1, 1e6, 5, 'log');
  t.deepEqual(log.map((v) => Math.round(Math.log10(v) * 1e9) / 1e9), [1, 2, 3, 4, 5]);
  t.throws(() => contourLevels(0, 1, 0), { instanceOf: RangeError });
  t.throws(() => contourLevels(0, 1, 5, 'log'), { instanceOf: RangeError, message: /lo > 0/ });
});

test('contourLines: every vertex lies on its level, inside the window, with the border segments dropped', async (t) => {
  const grid = sampleGrid(HIMMELBLAU, undefined, 100);
  const levels = contourLevels(grid.min, grid.max, 50);
  const rows = await contourLines(grid, levels);
  t.true(rows.length > 5000, `${rows.length} vertices`);
  t.deepEqual([...new Set(rows.map((r) => r.level))].sort((a, b) => a - b), levels);
  for (const r of rows) {
    t.true(r.x >= -5 && r.x <= 5 && r.y >= -5 && r.y <= 5, `(${r.x}, ${r.y})`);
  }
  // Linear interpolation between samples 0.1 apart: the function's value at a vertex is close to
  // the level (relative to the range of the landscape).
  const worst = Math.max(...rows.map((r) => Math.abs(HIMMELBLAU.f(r.x, r.y) - r.level)));
  t.true(worst < 0.01 * (grid.max - grid.min), `worst ${worst}`);
  // Lines are ordered chains: consecutive vertices of a line are neighbours on the grid.
  const byLine = new Map<number, typeof rows>();
  for (const r of rows) byLine.set(r.line, [...(byLine.get(r.line) ?? []), r]);
  for (const line of [...byLine.values()].slice(0, 200)) {
    for (let i = 1; i < line.length; i++) t.true(Math.hypot(line[i]!.x - line[i - 1]!.x, line[i]!.y - line[i - 1]!.y) < 0.15);
  }
});

test("landscape: the article's contour plot — title, axis labels, a colour bar titled Loss, 50 levels", async (t) => {
  const svg = await check(t, await landscapeChart('himmelblau'), 'landscape', ['Complex Loss Landscape with Multiple Minima', 'Weight 1', 'Weight 2', 'Loss']);
  t.true(svg.includes('<linearGradient'), 'a gradient legend (colour bar)');
  const levels = new Set([...svg.matchAll(/aria-label="[^"]*; Loss: ([^;]+); order: 0;/g)].map((m) => m[1]));
  t.is(levels.size, 50);
});

test('landscape: log-spaced levels for Rosenbrock, a custom window and level count', async (t) => {
  const svg = await check(t, await landscapeChart('rosenbrock', { range: { x: [-1.5, 1.5], y: [-0.5, 2] }, levels: 20 }), 'rosenbrock', ['Rosenbrock Function: a Narrow Curved Valley', 'Loss']);
  const levels = new Set([...svg.matchAll(/aria-label="[^"]*; Loss: ([^;]+); order: 0;/g)].map((m) => m[1]));
  t.true(levels.size <= 20 && levels.size >= 15, `${levels.size} levels drawn`);
  await t.throwsAsync(landscapeChart('rosenbrock', { scale: 'cubic' as never }), { instanceOf: RangeError });
});

test('race: paths over the contours with a legend of optimizers; loss per step', async (t) => {
  const r = race('rosenbrock', { steps: 300, optimizers: ['sgd:lr=0.001', 'sgd:lr=0.001,momentum=0.9', 'adam:lr=0.01'] });
  const svg = await check(t, await raceChart(r, { resolution: 120 }), 'race', ['Optimizer Race on the Rosenbrock Function', 'Weight 1', 'Weight 2', 'Loss', 'Optimizer', 'sgd:lr=0.001', 'sgd:lr=0.001,momentum=0.9', 'adam:lr=0.01']);
  // One path per optimizer, drawn with 301 vertices.
  const paths = [...svg.matchAll(/<path aria-label="[^"]*optimizer: ([^;"]+); step: 0"[^>]* d="([^"]+)"/g)];
  t.deepEqual(paths.map((m) => m[1]), ['sgd:lr=0.001', 'sgd:lr=0.001,momentum=0.9', 'adam:lr=0.01']);
  for (const m of paths) t.is(m[2]!.split('L').length, 301);
  await check(t, raceLossChart(r), 'race-loss', ['Loss per Step on the Rosenbrock Function', 'Step', 'Loss', 'adam:lr=0.01']);
});

test('race: a diverged run is drawn to where it leaves the window, ends in an ✕, and the legend and subtitle say at which step', async (t) => {
  const r = race('rosenbrock', { steps: 100, optimizers: ['sgd:lr=0.001', 'sgd:lr=10'] });
  t.like(r.runs[1], { diverged: true, steps: 4 });
  const label = 'sgd:lr=10 (diverged at step 4)';
  const svg = await check(t, await raceChart(r, { resolution: 120 }), 'race-diverged', [label, 'from (-1, 1), 100 steps; Rosenbrock: f(x, y) = (1 − x)² + 100 (y − x²)²', 'sgd:lr=10 diverged at step 4']);
  // From the start (-1, 1) the first step lands at (39, 1), far right of the window: the path is
  // drawn to the frame (x = 520 px) and its far points, up to 1e28, are cut away.
  const path = new RegExp(`<path aria-label="x: −1; y: 1; [^"]*optimizer: ${reEsc(label)}; step: 0"[^>]* d="([^"]+)"`).exec(svg);
  t.truthy(path, 'the diverged run has a path');
  const pts = vertices(path![1]!);
  t.true(pts.length >= 2, path![1]);
  t.deepEqual(pts[1], [520, pts[0]![1]], 'the first step runs straight right to the frame');
  for (const [x, y] of pts) t.true(x >= 0 && x <= 520 && y >= 0 && y <= 440, `vertex (${x}, ${y}) inside the plot`);
  const cross = /<path aria-label="sgd:lr=10 diverged at step 4: [^"]*"[^>]* transform="translate\(([^,]+),([^)]+)\)" d="([^"]+)"/.exec(svg);
  t.truthy(cross, 'an ✕ says where the run diverged');
  t.regex(cross![3]!, CROSS);
  t.true([cross![1], cross![2]].map(Number).every((v) => v >= 0 && v <= 520), 'the ✕ is on the plot');
  // The run that finished has its end marker; the diverged one has none but the ✕.
  t.regex(svg, /aria-label="sgd:lr=0\.001: end after 100 steps, loss [\d.]+"/);
  t.notRegex(svg, /aria-label="sgd:lr=10: end after/);
});

test('race: when every run diverged the subtitle does not claim the steps, it says where each stopped', async (t) => {
  const r = race('rosenbrock', { steps: 100, optimizers: ['sgd:lr=10'] });
  const svg = await renderSvg(await raceChart(r, { resolution: 60 }));
  t.true(svg.includes('>from (-1, 1); Rosenbrock: f(x, y) = (1 − x)² + 100 (y − x²)²<'));
  t.true(svg.includes('>sgd:lr=10 diverged at step 4 of 100<'));
  t.false(svg.includes('100 steps'));
  t.true((await renderSvg(raceLossChart(r))).includes('>from (-1, 1); sgd:lr=10 diverged at step 4 of 100<'));
});

test('race: coinciding paths stay visible — each drawn after and narrower than the one under it, dashed from the third, end markers of different shapes, larger first', async (t) => {
  const r = race('rosenbrock', { steps: 1000, optimizers: ARTICLE_RACE });
  const svg = await renderSvg(await raceChart(r, { resolution: 60 }));
  const lines = [...svg.matchAll(/<path aria-label="[^"]*optimizer: ([^;"]+); step: 0"[^>]* stroke-width="([\d.]+)"[^>]* stroke-dasharray="([^"]+)"/g)];
  t.deepEqual(lines.map((m) => m[1]), ARTICLE_RACE, 'drawn in order');
  const widths = lines.map((m) => Number(m[2]));
  for (let i = 1; i < widths.length; i++) t.true(widths[i]! < widths[i - 1]!, `widths ${widths}`);
  const dashes = lines.map((m) => m[3]);
  t.is(dashes[0], '1,0');
  t.not(dashes[2], '1,0', 'the third path is dashed: the second shows through its gaps');
  // Momentum and Adam end within a pixel or two of each other, near (1, 1).
  const ends = [...svg.matchAll(/<path aria-label="([^"]+): end after 1000 steps, loss [^"]+"[^>]* transform="translate\(([^,]+),([^)]+)\)" d="([^"]+)"/g)];
  t.deepEqual(ends.map((m) => m[1]), ARTICLE_RACE, 'end markers drawn in order');
  t.true(Math.hypot(Number(ends[1]![2]) - Number(ends[2]![2]), Number(ends[1]![3]) - Number(ends[2]![3])) < 3, 'the two ends coincide');
  t.is(new Set(ends.map((m) => m[4])).size, 3, 'three shapes');
  // Vega's circle, square and diamond paths all start at a point of their outline, sqrt(size)/2 out.
  const extent = (d: string) => Math.max(...d.match(/^M(-?[\d.]+),(-?[\d.]+)/)!.slice(1).map((v) => Math.abs(Number(v))));
  const sizes = ends.map((m) => extent(m[4]!));
  for (let i = 1; i < sizes.length; i++) t.true(sizes[i]! < sizes[i - 1]!, `marker sizes ${sizes}`);
});

/** Charts that plot loss per step, batch or epoch, and what their axes must show. */
const LOSS_AXES: Array<{ name: string; chart: () => ChartSpec; x: [string, RegExp]; y: [string, RegExp]; texts?: string[]; crosses?: string[] }> = [
  {
    name: 'race loss, sgd:lr=10 diverging to 1e116 in 4 steps',
    chart: () => raceLossChart(race('rosenbrock', { steps: 100, optimizers: ['sgd:lr=10'] })),
    x: ['Step', /^\d+$/],
    y: ['Loss', /^1e[+-]\d+$/],
    texts: ['sgd:lr=10 (diverged at step 4)'],
    crosses: ['sgd:lr=10 diverged at step 4'],
  },
  {
    name: "race loss, the article's race, 1000 steps, loss from 4 down to 1e-6",
    chart: () => raceLossChart(race('rosenbrock', { steps: 1000, optimizers: ARTICLE_RACE })),
    x: ['Step', /^\d+$/],
    y: ['Loss', /^1e[+-]\d+$/],
    texts: ['from (-1, 1), 1000 steps'],
  },
  {
    name: 'regression loss, 5 epochs of SGD lr 0.01',
    chart: () => regressionLossChart(regress({ epochs: 5 })),
    x: ['Epoch', /^\d+$/],
    y: ['Loss (MSE)', /^\d+(\.\d+)?$/],
  },
  {
    name: 'regression loss, SGD lr 3, diverging in epoch 2',
    chart: () => regressionLossChart(regress({ epochs: 5, optimizer: 'sgd:lr=3' })),
    x: ['Epoch', /^\d+$/],
    y: ['Loss (MSE)', /^1e[+-]\d+$/],
    texts: ['mini-batch loss (diverged in epoch 2, batch 20)', '1000×10 data, batch 32, 5 epochs, sgd:lr=3; diverged in epoch 2, batch 20'],
    crosses: ['mini-batch loss diverged in epoch 2, batch 20'],
  },
];
for (const c of LOSS_AXES) {
  test(`loss axes: ${c.name} — integer ${c.x[0].toLowerCase()} ticks, one number notation on the loss axis`, async (t) => {
    const svg = await renderSvg(c.chart());
    const xs = axisLabels(svg, c.x[0]);
    const ys = axisLabels(svg, c.y[0]);
    t.true(xs.length >= 2 && ys.length >= 3, `${xs} | ${ys}`);
    for (const l of xs) t.regex(l, c.x[1]);
    for (const l of ys) t.regex(l, c.y[1]);
    for (const s of c.texts ?? []) t.true(svg.includes(`>${esc(s)}<`), `the SVG shows ${JSON.stringify(s)}`);
    for (const s of c.crosses ?? []) {
      const m = new RegExp(`<path aria-label="${reEsc(s)}: its last finite value"[^>]* d="([^"]+)"`).exec(svg);
      t.truthy(m, `an ✕ for ${s}`);
      t.regex(m![1]!, CROSS);
    }
  });
}

test('regress: the loss curve, batch by batch and per epoch', async (t) => {
  await check(t, regressionLossChart(regress({ epochs: 20 })), 'regress', ['Mini-batch Linear Regression: Training Loss', 'Epoch', 'Loss (MSE)', 'mini-batch loss', 'mean per epoch']);
});

test('compare: average loss per epoch, one line per optimizer; and per batch', async (t) => {
  const r = compare({ optimizers: ['adam', 'radam'], model: 'mlp', epochs: 2, batchSize: 50, trainData: loadMnist({ split: 'train', limit: 200 }), testData: loadMnist({ split: 'test', limit: 100 }), perBatch: true });
  await check(t, epochLossChart(r), 'epochs', ['Optimizer Comparison on MNIST', 'Epoch', 'Average Loss', 'Optimizer', 'Adam', 'RAdam']);
  await check(t, batchLossChart(r), 'batches', [esc('Adam vs RAdam: Batch by Batch'), 'Batch', 'Loss']);
  t.throws(() => batchLossChart({ ...r, runs: r.runs.map(({ batchLosses: _, ...rest }) => rest) }), { instanceOf: RangeError, message: /perBatch/ });
});

test('compare: a run that diverged in its first epoch — batch chart on a log axis up to its last finite loss, with an ✕; the epoch chart names it', async (t) => {
  const r = compare({ optimizers: ['adam', 'sgd:lr=1e9'], model: 'mlp', epochs: 2, batchSize: 50, trainData: loadMnist({ split: 'train', limit: 200 }), testData: loadMnist({ split: 'test', limit: 100 }), perBatch: true });
  const d = r.runs[1]!.diverged!;
  t.like(d, { epoch: 1 });
  const label = `sgd:lr=1e9 (diverged at batch ${d.batch})`;
  const batches = await check(t, batchLossChart(r), 'batches-diverged', ['Batch', 'Loss', label]);
  for (const l of axisLabels(batches, 'Batch')) t.regex(l, /^\d+$/);
  for (const l of axisLabels(batches, 'Loss')) t.regex(l, /^1e[+-]\d+$/);
  const cross = new RegExp(`<path aria-label="sgd:lr=1e9 diverged at batch ${d.batch}: its last finite value"[^>]* d="([^"]+)"`).exec(batches);
  t.truthy(cross);
  t.regex(cross![1]!, CROSS);
  const epochs = await check(t, epochLossChart(r), 'epochs-diverged', ['Epoch', 'Average Loss', `sgd:lr=1e9 (diverged in epoch 1, batch ${d.batch})`]);
  for (const l of axisLabels(epochs, 'Epoch')) t.regex(l, /^\d+$/);
});

test('renderSvg and svgToPng work on any chart; bad input is an error', async (t) => {
  const svg = await renderSvg(lineChart([{ name: 'a', x: [1, 2, 3], y: [3, 1, 2] }], { title: 'T', xTitle: 'X', yTitle: 'Y' }));
  t.true(svg.startsWith('<svg'));
  const png = await svgToPng(svg, { scale: 1 });
  t.deepEqual(png.subarray(0, 8), PNG);
  t.throws(() => lineChart([], { title: 'T', xTitle: 'X', yTitle: 'Y' }), { instanceOf: RangeError });
  await t.throwsAsync(svgToPng(svg, { scale: 0 }), { instanceOf: RangeError });
});
