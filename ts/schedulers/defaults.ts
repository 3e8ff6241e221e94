/**
 * The default options of every scheduler: PyTorch 2.x's, in one place.
 * @module
 */

/** PyTorch 2.x defaults of each scheduler's optional options (camelCase). */
export const SCHEDULER_DEFAULTS = Object.freeze({
  StepLR: Object.freeze({ gamma: 0.1 }),
  MultiStepLR: Object.freeze({ gamma: 0.1 }),
  ConstantLR: Object.freeze({ factor: 1 / 3, totalIters: 5 }),
  LinearLR: Object.freeze({ startFactor: 1 / 3, endFactor: 1, totalIters: 5 }),
  PolynomialLR: Object.freeze({ totalIters: 5, power: 1 }),
  CosineAnnealingLR: Object.freeze({ etaMin: 0 }),
  CosineAnnealingWarmRestarts: Object.freeze({ tMult: 1, etaMin: 0 }),
  CyclicLR: Object.freeze({
    stepSizeUp: 2000,
    mode: 'triangular' as const,
    gamma: 1,
    scaleMode: 'cycle' as const,
    cycleMomentum: true,
    baseMomentum: 0.8,
    maxMomentum: 0.9,
  }),
  OneCycleLR: Object.freeze({
    pctStart: 0.3,
    annealStrategy: 'cos' as const,
    cycleMomentum: true,
    baseMomentum: 0.85,
    maxMomentum: 0.95,
    divFactor: 25,
    finalDivFactor: 1e4,
    threePhase: false,
  }),
  ReduceLROnPlateau: Object.freeze({
    mode: 'min' as const,
    factor: 0.1,
    patience: 10,
    threshold: 1e-4,
    thresholdMode: 'rel' as const,
    cooldown: 0,
    minLr: 0,
    eps: 1e-8,
  }),
  /** `lastEpoch` of every step-based scheduler: -1 starts the schedule from the beginning. */
  lastEpoch: -1,
});
