import type { Logger } from '../logger';

/**
 * An outage ends only after this long without a failure. While one master of
 * three is down, commands for the other two keep succeeding between the
 * failures: without a quiet period each success would end the outage and the
 * next failure start another, a warning every few requests.
 */
export const OUTAGE_QUIET_MS = 10_000;

/**
 * Logs a dependency's outage once when it starts and once when it ends, not
 * once per request: under load a lost master would otherwise print thousands
 * of identical lines while the app carries on without it.
 */
export class OutageLog {
  private down = false;
  private lastFailureAt = 0;

  constructor(
    private readonly logger: Logger,
    /** What the app does meanwhile, for the warning: "serving from the origin". */
    private readonly fallback: string,
    private readonly what: string,
    private readonly now: () => number = Date.now,
  ) {}

  get unavailable(): boolean {
    return this.down;
  }

  failed(error: unknown): void {
    this.lastFailureAt = this.now();
    if (this.down) return;
    this.down = true;
    this.logger.warn(`${this.what} unavailable: ${this.fallback} until Redis answers again`, { error });
  }

  recovered(): void {
    if (!this.down || this.now() - this.lastFailureAt < OUTAGE_QUIET_MS) return;
    this.down = false;
    this.logger.info(`${this.what} available again`);
  }
}
