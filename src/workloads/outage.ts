import type { Logger } from '../logger';

/**
 * Logs a dependency's outage once when it starts and once when it ends, not
 * once per request: under load a lost master would otherwise print thousands
 * of identical lines while the app carries on without it.
 */
export class OutageLog {
  private down = false;

  constructor(
    private readonly logger: Logger,
    /** What the app does meanwhile, for the warning: "serving from the origin". */
    private readonly fallback: string,
    private readonly what: string,
  ) {}

  get unavailable(): boolean {
    return this.down;
  }

  failed(error: unknown): void {
    if (this.down) return;
    this.down = true;
    this.logger.warn(`${this.what} unavailable: ${this.fallback} until Redis answers again`, { error });
  }

  recovered(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.info(`${this.what} available again`);
  }
}
