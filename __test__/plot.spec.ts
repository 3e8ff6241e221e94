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
} from '../ts/index.js';

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

test('regress: the loss curve, batch by batch and per epoch', async (t) => {
  await check(t, regressionLossChart(regress({ epochs: 20 })), 'regress', ['Mini-batch Linear Regression: Training Loss', 'Epoch', 'Loss (MSE)', 'mini-batch loss', 'mean per epoch']);
});

test('compare: average loss per epoch, one line per optimizer; and per batch', async (t) => {
  const r = compare({ optimizers: ['adam', 'radam'], model: 'mlp', epochs: 2, batchSize: 50, trainData: loadMnist({ split: 'train', limit: 200 }), testData: loadMnist({ split: 'test', limit: 100 }), perBatch: true });
  await check(t, epochLossChart(r), 'epochs', ['Optimizer Comparison on MNIST', 'Epoch', 'Average Loss', 'Optimizer', 'Adam', 'RAdam']);
  await check(t, batchLossChart(r), 'batches', [esc('Adam vs RAdam: Batch by Batch'), 'Batch', 'Loss']);
  t.throws(() => batchLossChart({ ...r, runs: r.runs.map(({ batchLosses: _, ...rest }) => rest) }), { instanceOf: RangeError, message: /perBatch/ });
});

test('renderSvg and svgToPng work on any chart; bad input is an error', async (t) => {
  const svg = await renderSvg(lineChart([{ name: 'a', x: [1, 2, 3], y: [3, 1, 2] }], { title: 'T', xTitle: 'X', yTitle: 'Y' }));
  t.true(svg.startsWith('<svg'));
  const png = await svgToPng(svg, { scale: 1 });
  t.deepEqual(png.subarray(0, 8), PNG);
  t.throws(() => lineChart([], { title: 'T', xTitle: 'X', yTitle: 'Y' }), { instanceOf: RangeError });
  await t.throwsAsync(svgToPng(svg, { scale: 0 }), { instanceOf: RangeError });
});
