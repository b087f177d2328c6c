// Timing: measuring loops of a body for samples of a set length.


// ---- Timing -----------------------------------------------------------------

export const nowNs = () => process.hrtime.bigint();
const elapsedNs = (t0) => Number(process.hrtime.bigint() - t0);

/**
 * Measures `body(n)`, which performs n operations, and returns ns per
 * operation for each sample. A warm-up phase (JIT, caches, the partner
 * process's spin budget) also sizes n so that one sample lasts ~sampleMs;
 * every sample then does the same amount of work. `body` may be async.
 *
 * A body may return { excludedNs, excludedOps }: operations it recognized as
 * broken (a lost wake-up rescued by a guard timeout) are then left out of
 * `samples`; `rawSamples` keeps the figures with them, `excludedOps` counts them.
 *
 * beforeSample (optional, async): runs before every sample, untimed -- for
 * measuring a peer interleaved with this benchmark. The body is then warmed
 * up again briefly before the sample (the peer ran meanwhile).
 */
export async function measureLoop(body, { samples, sampleMs, warmupMs, beforeSample }) {
  let batch = 1;
  let done = 0;
  const t0 = nowNs();
  let spent = 0;
  // Double the batch until the warm-up time is used up, so a slow body
  // (a 50 us sleep hand-off) and a fast one (a 20 ns call) both calibrate.
  while ((spent = elapsedNs(t0)) < warmupMs * 1e6) {
    await body(batch);
    done += batch;
    if (batch < 1 << 24) batch *= 2;
  }
  const perOp = spent / Math.max(done, 1);
  const n = Math.max(16, Math.round((sampleMs * 1e6) / perOp));
  const out = [];
  const raw = [];
  let excludedOps = 0;
  const rewarm = Math.max(1, Math.round((Math.min(warmupMs, 50) * 1e6) / perOp));
  for (let k = 0; k < samples; k++) {
    if (beforeSample) {
      await beforeSample(k);
      await body(rewarm);
    }
    const t = nowNs();
    const r = await body(n);
    const ns = elapsedNs(t);
    const exNs = r?.excludedNs ?? 0;
    const exOps = r?.excludedOps ?? 0;
    excludedOps += exOps;
    raw.push(ns / n);
    out.push(exOps < n ? (ns - exNs) / (n - exOps) : ns / n);
  }
  return { samples: out, rawSamples: raw, excludedOps, opsPerSample: n };
}

/**
 * One sample of `body(n)` (may be async) lasting about ms: batches grow until
 * the time is used. For a peer measured between another benchmark's samples.
 * Returns ns per operation.
 */
export async function timedSample(body, ms) {
  let batch = 1;
  let done = 0;
  const t = nowNs();
  let spent = 0;
  while ((spent = elapsedNs(t)) < ms * 1e6) {
    await body(batch);
    done += batch;
    if (batch < 1 << 20) batch *= 2;
  }
  return spent / done;
}
