import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

const SERVER = path.join(__dirname, '..', '..', 'src', 'server.ts');

export interface AppProcess {
  port: number;
  /** Every line the server logged so far. */
  lines: string[];
  /** SIGTERM, then SIGKILL if it has not exited within the deadline. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Runs `src/server.ts` as its own process, as a deployment would, on a port the
 * system picks; resolves once it is listening and its cluster client is ready.
 */
export async function startAppProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stop = async () => {
    child.kill('SIGTERM');
    if (!(await exited(child, 10_000))) {
      child.kill('SIGKILL');
      await exited(child, 5_000);
    }
  };
  createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let listening: number | undefined;
      let ready = false;
      const timer = setTimeout(() => reject(new Error(`the app did not start within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        const event = JSON.parse(line) as { msg?: string; port?: number };
        if (event.msg === 'listening') listening = event.port;
        if (event.msg === 'redis cluster ready') ready = true;
        if (listening !== undefined && ready) {
          clearTimeout(timer);
          resolve(listening);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the app exited with ${code} before it was ready:\n${lines.join('\n')}`));
      });
    });
    return { port, lines, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
