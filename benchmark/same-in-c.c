/* The same updates in plain C: NAdam, Lion and LAMB, as ferroptim's benchmark configures them.
 *
 * A second yardstick beside ../shared/perf/probe.c (whose AdamW sets the bandwidth targets):
 * how fast a straightforward C/OpenMP loop runs each of these updates on this machine, so the
 * benchmark can say how far ferroptim's kernel is from the same work written plainly, not only
 * from AdamW. Built like the probe (gcc -O3 -march=native -fno-math-errno -fopenmp, IEEE sqrt and
 * divide) by benchmark/bench.ts; run as `same-in-c [n_params]` with OMP_NUM_THREADS set. Prints
 * one JSON line per kernel: ms per step (best of 10) and params/s. Speed only: it is not checked
 * against PyTorch (ferroptim's fixtures are), but follows the same formulas:
 *
 *   NAdam (torch.optim.NAdam, lr 2e-3, betas 0.9/0.999, eps 1e-8, momentum_decay 4e-3):
 *     m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g·g; d ← √(v / bc2) + ε;
 *     θ ← θ + (c1·g)/d; θ ← θ + (c2·m)/d
 *   Lion (lion-pytorch, lr 1e-4, betas 0.9/0.99, no weight decay):
 *     c ← m + (1−β1)(g − m); θ ← θ − lr·sign(c); m ← m + (1−β2)(g − m)
 *   LAMB (torch-optimizer, lr 1e-3, eps 1e-6, no weight decay, clamp 10, no debias), two passes:
 *     m, v as Adam; u ← m/(√v + ε); Σθ², Σu² in double; then θ ← θ − lr·r·u, u recomputed,
 *     r = min(‖θ‖, 10)/‖u‖.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *buffer(long n, float fill) {
  float *a = aligned_alloc(64, ((n * 4 + 63) / 64) * 64);
#pragma omp parallel for
  for (long i = 0; i < n; i++) a[i] = fill;
  return a;
}

static void report(const char *name, long n, double best) {
  printf("{\"kernel\":\"%s\",\"params\":%ld,\"threads\":%d,\"ms\":%.3f,\"gparams_per_s\":%.3f}\n", name, n,
         omp_get_max_threads(), best * 1e3, n / best / 1e9);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 16L << 20;
  float *p = buffer(n, 0.5f), *g = buffer(n, 0.0f), *m = buffer(n, 0.0f), *v = buffer(n, 0.0f);
#pragma omp parallel for
  for (long i = 0; i < n; i++) g[i] = 0.01f * (float)(i % 7) - 0.03f;
  double sink = 0;

  {
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    const double lr = 2e-3, md = 4e-3;
    double mu_product = 1, best = 1e9;
    for (int t = 1; t <= 10; t++) {
      const double mu = 0.9 * (1 - 0.5 * pow(0.96, t * md)), mu_next = 0.9 * (1 - 0.5 * pow(0.96, (t + 1) * md));
      mu_product *= mu;
      const float bc2 = (float)(1 - pow(0.999, t));
      const float c1 = (float)(-lr * (1 - mu) / (1 - mu_product));
      const float c2 = (float)(-lr * mu_next / (1 - mu_product * mu_next));
      double s = now();
#pragma omp parallel for simd
      for (long i = 0; i < n; i++) {
        float gi = g[i];
        float mi = m[i] + (1.0f - b1) * (gi - m[i]);
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float d = sqrtf(vi / bc2) + eps;
        float pi = p[i] + (c1 * gi) / d;
        p[i] = pi + (c2 * mi) / d;
      }
      s = now() - s;
      if (s < best) best = s;
    }
    report("nadam", n, best);
  }

  {
    const float b1 = 0.9f, b2 = 0.99f, lr = 1e-4f;
    double best = 1e9;
    for (int t = 1; t <= 10; t++) {
      double s = now();
#pragma omp parallel for simd
      for (long i = 0; i < n; i++) {
        float gi = g[i], mi = m[i];
        float c = mi + (1.0f - b1) * (gi - mi);
        float sign = c > 0 ? 1.0f : (c < 0 ? -1.0f : 0.0f);
        p[i] -= lr * sign;
        m[i] = mi + (1.0f - b2) * (gi - mi);
      }
      s = now() - s;
      if (s < best) best = s;
    }
    report("lion", n, best);
  }

  {
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-6f;
    const double lr = 1e-3, clamp = 10;
    double best = 1e9;
    for (int t = 1; t <= 10; t++) {
      double s = now();
      double wsq = 0, usq = 0;
#pragma omp parallel for simd reduction(+ : wsq, usq)
      for (long i = 0; i < n; i++) {
        float gi = g[i], pi = p[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float u = mi / (sqrtf(vi) + eps);
        wsq += (double)pi * pi;
        usq += (double)u * u;
      }
      double wn = fmin(sqrt(wsq), clamp), un = sqrt(usq);
      const float step = (float)(-lr * (wn == 0 || un == 0 ? 1 : wn / un));
#pragma omp parallel for simd
      for (long i = 0; i < n; i++) p[i] += step * (m[i] / (sqrtf(v[i]) + eps));
      s = now() - s;
      sink += wsq;
      if (s < best) best = s;
    }
    report("lamb", n, best);
  }
  if (sink < 0) puts("");
  return 0;
}
