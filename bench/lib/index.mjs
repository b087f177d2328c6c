// Shared helpers for `npm run bench`: measuring loops, child processes and
// segments that are always cleaned up, statistics, and the report (table,
// JSON, SVG chart).
//
// A benchmark is a plain object (see run.mjs for how they are collected):
//   { name: 'sync.spin',            // unique; selectable on the command line
//     group: 'sync',                // bars of one group share a chart panel
//     unit: 'ns/round trip',        // every figure is nanoseconds per operation
//     description: '...',
//     yardstick?: true,             // the panel's reference: drawn grey, others labelled as multiples
//     run: async (ctx) => ({ samples: [ns, ...], extra?: {...} }) | { skipped: 'reason' } }
// A comparison is { name, of, against, target?, paired? } where `of` /
// `against` are benchmark names and `target` the largest acceptable ratio
// of/against. Ratios are only ever taken between figures measured in the
// same run; `paired` ones between samples taken side by side: the `of`
// benchmark then reports extra.paired = { name: against, samples } (run.mjs).
//
// The library: paths.mjs, measure.mjs, resources.mjs, stats.mjs, machine.mjs,
// report.mjs, python.mjs; the suites (bench/suites/) import it from here.
export * from './paths.mjs';
export * from './measure.mjs';
export * from './resources.mjs';
export * from './stats.mjs';
export * from './machine.mjs';
export * from './report.mjs';
