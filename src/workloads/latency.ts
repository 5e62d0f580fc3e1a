export interface LatencySummary {
  /** Samples recorded since the process started. */
  count: number;
  /** Over the most recent samples (at most WINDOW); undefined before the first. */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

const WINDOW = 1024;

/** The last WINDOW durations, for percentiles on demand: recording one is a store into an array. */
export class LatencyWindow {
  private readonly samples = new Float64Array(WINDOW);
  private count = 0;

  record(ms: number): void {
    this.samples[this.count % WINDOW] = ms;
    this.count += 1;
  }

  summary(): LatencySummary {
    const recent = this.samples.slice(0, Math.min(this.count, WINDOW)).sort();
    const at = (quantile: number) => {
      if (recent.length === 0) return undefined;
      const ms = recent[Math.max(0, Math.ceil(quantile * recent.length) - 1)]!;
      return Math.round(ms * 100) / 100;
    };
    return { count: this.count, p50Ms: at(0.5), p99Ms: at(0.99) };
  }
}
