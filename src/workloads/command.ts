import type { Cluster } from 'ioredis';
import { withDeadline } from '../store';

/**
 * ioredis hands back a bare MOVED/ASK (or refuses to resend a batch) when
 * auto-pipelined commands for two slots of one master get different answers
 * during a failover or a slot move (ioredis issues #2075 and #1734). The
 * command did not run, so sending it again is safe. The same rule as the
 * key-value store's (src/store.ts), for the workloads' own commands.
 */
const UNFOLLOWED_REDIRECTION = /^(MOVED|ASK) \d+ |^All keys in the pipeline should belong to the same slots allocation group/;

export interface CommandTiming {
  /** How long one command may take, retries included, before it counts as unavailable. */
  deadlineMs: number;
  /** The pause before sending again a command that ioredis handed back redirected. */
  redirectionDelayMs: number;
}

/** Runs one command for one key within a deadline; failures become RedisUnavailableError. */
export type RunCommand = <T>(key: string, work: () => Promise<T>) => Promise<T>;

export function commandRunner(client: Pick<Cluster, 'refreshSlotsCache'>, { deadlineMs, redirectionDelayMs }: CommandTiming): RunCommand {
  return (key, work) =>
    withDeadline(
      deadlineMs,
      async (expired) => {
        for (;;) {
          try {
            return await work();
          } catch (error) {
            if (!(error instanceof Error && UNFOLLOWED_REDIRECTION.test(error.message))) throw error;
            client.refreshSlotsCache();
            await new Promise((resolve) => setTimeout(resolve, redirectionDelayMs));
            // Past the deadline the caller has its answer: a write sent now would land unannounced.
            if (expired()) throw error;
          }
        }
      },
      key,
    );
}
