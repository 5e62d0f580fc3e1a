import type { Cluster } from 'ioredis';
import { followRedirections, withDeadline } from '../store';

export interface CommandTiming {
  /** How long one command may take, retries included, before it counts as unavailable. */
  deadlineMs: number;
  /** The pause before sending again a command that ioredis handed back redirected. */
  redirectionDelayMs: number;
}

/** Runs one command for one key within a deadline; failures become RedisUnavailableError. */
export type RunCommand = <T>(key: string, work: () => Promise<T>) => Promise<T>;

export function commandRunner(client: Pick<Cluster, 'refreshSlotsCache'>, { deadlineMs, redirectionDelayMs }: CommandTiming): RunCommand {
  // The same rule as the key-value store's: a command ioredis hands back
  // redirected from an auto-pipelined batch did not run, so it is sent again.
  return (key, work) => withDeadline(deadlineMs, (expired) => followRedirections(work, client, redirectionDelayMs, expired), key);
}
