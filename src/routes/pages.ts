import { Router, type Response } from 'express';
import type { ClusterOverview, ClusterView, NodeStats } from '../cluster-view';
import { describeError } from '../errors';
import { echo, readKey, readTtl, readValue, requireForm, type Limits } from '../input';
import type { Logger } from '../logger';
import { shardPalette, slotPicture, type ColourPicker, type SlotPicture } from '../slot-picture';
import type { KeyValueStore } from '../store';
import { formatSlotRange, groupShards, SLOT_COUNT } from '../topology';
import { readKeyReport, writeKeyReport, type KeyReport } from './report';

interface HomeView {
  save?: Record<string, string>;
  search?: Record<string, string>;
  result?: { kind: 'saved' | 'found' | 'missing'; report: KeyReport; picture: SlotPicture | undefined };
  error?: string;
}

/**
 * How often /cluster fetches its live part again: often enough to watch a
 * rebalance move slots. A tick costs CLUSTER NODES and CLUSTER INFO once, and
 * per node a key count and a memory figure (a master also its own open slots).
 */
const LIVE_REFRESH_MS = 1000;
/** Enough of a node id to tell nodes apart on screen; the whole id is in the tooltip and /api/cluster. */
const SHORT_ID_LENGTH = 8;

/** The slot map with the key's slot marked; none when the topology cannot be read, as the key's own result still can be shown. */
async function keyPicture(view: ClusterView, colourOf: ColourPicker, slot: number): Promise<SlotPicture | undefined> {
  try {
    const shards = await view.shards();
    return slotPicture(shards, { colours: colourOf(shards.map(({ master }) => master.id)), keySlot: slot });
  } catch {
    return undefined;
  }
}

const nodeRow = (node: NodeStats) => ({ ...node, shortId: node.id.slice(0, SHORT_ID_LENGTH) });

/** The /cluster page: the slot map, then one group of table rows per shard, in the map's colours. */
function clusterPageModel(overview: ClusterOverview, colourOf: ColourPicker) {
  const { shards, unattached } = groupShards(overview.nodes);
  const colours = colourOf(shards.map(({ master }) => master.id));
  const picture = slotPicture(shards, { colours, migrations: overview.migrations });
  const addressOf = new Map(overview.nodes.map((node) => [node.id, node.address]));
  return {
    state: overview.state,
    slotsAssigned: overview.slotsAssigned,
    knownNodes: overview.knownNodes,
    picture,
    moves: picture.moves,
    shards: shards.map((shard) => ({
      masterId: shard.master.id,
      fill: colours.get(shard.master.id),
      slotCount: shard.slotCount,
      share: ((shard.slotCount * 100) / SLOT_COUNT).toFixed(1),
      ranges: shard.ranges.map(formatSlotRange),
      nodes: [shard.master, ...shard.replicas].map(nodeRow),
    })),
    unattached: unattached.map((node) => ({
      ...nodeRow(node),
      masterAddress: addressOf.get(node.masterId ?? '') ?? node.masterId?.slice(0, SHORT_ID_LENGTH) ?? 'none',
    })),
  };
}

function renderHome(res: Response, view: HomeView, status = 200): void {
  res.status(status).render('home', { title: 'Redis Cluster Starter', ...view });
}

/**
 * Shows a problem the user can act on inside the page they were using, with
 * their input still in the form; anything else goes on to the error handler.
 */
function renderProblem(res: Response, logger: Logger, error: unknown, view: HomeView): void {
  const problem = describeError(error);
  if (!problem) throw error;
  if (problem.status >= 500) logger.warn('redis unavailable', { path: res.req.path, error, cause: (error as Error).cause });
  if (problem.retryAfter) res.set('Retry-After', String(problem.retryAfter));
  renderHome(res, { ...view, error: problem.message }, problem.status);
}

export function pageRoutes(store: KeyValueStore, view: ClusterView, limits: Limits, logger: Logger): Router {
  const router = Router();
  // One memory of who has which colour for every page, so a key's map matches /cluster.
  const colourOf = shardPalette();

  router.get('/', (_req, res) => renderHome(res, {}));

  router.post('/save-data', async (req, res) => {
    try {
      const fields = requireForm(req.body);
      const key = readKey(fields, limits);
      const report = await writeKeyReport(store, view, key, readValue(fields, limits), readTtl(fields));
      renderHome(res, { result: { kind: 'saved', report, picture: await keyPicture(view, colourOf, report.slot) }, search: { key } });
    } catch (error) {
      renderProblem(res, logger, error, { save: echo(req.body, 'key', 'value', 'ttl') });
    }
  });

  router.post('/search', async (req, res) => {
    try {
      const key = readKey(requireForm(req.body), limits);
      const report = await readKeyReport(store, view, key);
      const picture = await keyPicture(view, colourOf, report.slot);
      renderHome(res, { result: { kind: report.value === null ? 'missing' : 'found', report, picture }, search: { key } });
    } catch (error) {
      renderProblem(res, logger, error, { search: echo(req.body, 'key') });
    }
  });

  /**
   * The page, and its live part alone for /static/cluster-live.js to swap in.
   * While the cluster cannot be read, both say so with the status the error
   * calls for, and the page keeps trying: it is most watched exactly then.
   */
  const renderCluster = async (res: Response, template: string, options: Record<string, unknown>) => {
    const page = { title: 'Cluster state', liveMs: LIVE_REFRESH_MS, ...options };
    try {
      res.render(template, { ...page, ...clusterPageModel(await view.overview(), colourOf) });
    } catch (error) {
      const problem = describeError(error);
      if (!problem) throw error;
      if (problem.status >= 500) logger.warn('redis unavailable', { path: res.req.path, error, cause: (error as Error).cause });
      if (problem.retryAfter) res.set('Retry-After', String(problem.retryAfter));
      res.status(problem.status).render(template, { ...page, error: problem.message });
    }
  };

  router.get('/cluster', (_req, res) => renderCluster(res, 'cluster', {}));
  router.get('/cluster/live', (_req, res) => renderCluster(res, 'partials/cluster-live', { layout: false }));

  return router;
}
