import { createHash } from 'node:crypto';
import type { RunCommand } from '../../src/workloads/command';
import { sendCommandByKey } from '../../src/workloads/rate-limit';
import { sessionClient } from '../../src/workloads/sessions';

/** Runs the work as it is: these tests are about what is sent, not about deadlines. */
const direct: RunCommand = (_key, work) => work();

describe('rate-limit-redis on a Cluster (sendCommandByKey)', () => {
  const script = "return redis.call('INCR', KEYS[1])";
  const sha = createHash('sha1').update(script).digest('hex');

  it('answers SCRIPT LOAD itself with the SHA1 Redis would give, sending nothing', async () => {
    const sent: string[][] = [];
    const send = sendCommandByKey({ call: async (...args: string[]) => sent.push(args) } as never, direct);

    const reply = await send({ isReadOnly: false, command: ['SCRIPT', 'LOAD', script] });

    expect(reply).toBe(sha);
    expect(sent).toEqual([]);
  });

  it("sends an EVALSHA that meets NOSCRIPT again as EVAL, to the key's master", async () => {
    const sent: string[][] = [];
    const call = async (...args: string[]) => {
      sent.push(args);
      if (args[0] === 'EVALSHA') throw new Error('NOSCRIPT No matching script. Please use EVAL.');
      return 7;
    };
    const send = sendCommandByKey({ call } as never, direct);
    await send({ isReadOnly: false, command: ['SCRIPT', 'LOAD', script] });

    const reply = await send({ key: 'rl:1.2.3.4', isReadOnly: false, command: ['EVALSHA', sha, '1', 'rl:1.2.3.4', '60000'] });

    expect(reply).toBe(7);
    expect(sent).toEqual([
      ['EVALSHA', sha, '1', 'rl:1.2.3.4', '60000'],
      ['EVAL', script, '1', 'rl:1.2.3.4', '60000'],
    ]);
  });

  it('passes on any other error', async () => {
    const send = sendCommandByKey({ call: () => Promise.reject(new Error('ERR something else')) }, direct);
    await expect(send({ key: 'k', isReadOnly: false, command: ['DECR', 'k'] })).rejects.toThrow('ERR something else');
  });
});

describe('connect-redis on a Cluster (sessionClient)', () => {
  it('deletes several sessions one key at a time, since they live in different slots', async () => {
    const deleted: string[] = [];
    const client = sessionClient({ del: async (key: string) => (deleted.push(key), 1) } as never, direct);

    expect(await client.del(['sess:a', 'sess:b'])).toBe(2);
    expect(deleted).toEqual(['sess:a', 'sess:b']);
  });

  it('refuses to list sessions rather than scan one random node', async () => {
    const client = sessionClient({} as never, direct);
    await expect(client.scan()).rejects.toThrow('SCAN of every master');
  });

  it('stores a session with its expiry in seconds', async () => {
    const sent: unknown[][] = [];
    const client = sessionClient({ set: async (...args: unknown[]) => (sent.push(args), 'OK') } as never, direct);
    await client.set('sess:a', '{}', 'EX', 60);
    expect(sent).toEqual([['sess:a', '{}', 'EX', 60]]);
  });
});
