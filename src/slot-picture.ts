import { formatSlotRange, SLOT_COUNT, type NodeRef, type Shard, type SlotMigration, type SlotRange } from './topology';

/**
 * Tableau 10's categorical colours without its grey, which the map keeps for
 * slots no master serves: nine masters is more than this template ever runs.
 */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f'] as const;
export const UNASSIGNED_FILL = '#e4e4e4';
const MARK_FILL = '#1d1d1f';

/** FNV-1a: tiny and stable, so a master's colour comes from its id, not from its place on the page. */
function hash(text: string): number {
  let value = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) value = Math.imul(value ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return value;
}

/** The first free palette index from the id's own, so clashing ids still get colours of their own. */
function freeIndex(id: string, taken: ReadonlySet<number>): number {
  let index = hash(id) % PALETTE.length;
  for (let tries = 0; taken.has(index) && tries < PALETTE.length; tries += 1) index = (index + 1) % PALETTE.length;
  return index;
}

export type ColourPicker = (masterIds: readonly string[]) => Map<string, string>;

/**
 * Colours masters by their ids' hashes (the next free colour on a clash), and
 * remembers them: a master keeps its colour while slots move and while shards
 * join and leave, and a newcomer takes a colour nobody uses. Ids are taken in
 * sorted order, so app instances that saw the same masters agree. Colours
 * repeat only past nine masters.
 */
export function shardPalette(): ColourPicker {
  let kept = new Map<string, number>();
  return (masterIds) => {
    const ids = [...new Set(masterIds)].sort();
    const next = new Map<string, number>();
    for (const id of ids) {
      const index = kept.get(id);
      if (index !== undefined) next.set(id, index);
    }
    const taken = new Set(next.values());
    for (const id of ids.filter((id) => !next.has(id))) {
      const index = freeIndex(id, taken);
      taken.add(index);
      next.set(id, index);
    }
    // Only masters present now are remembered, so the memory stays as small as the cluster.
    kept = next;
    return new Map([...next].map(([id, index]) => [id, PALETTE[index] ?? MARK_FILL]));
  };
}

/** Colours for one set of masters with no memory of earlier ones. */
export const shardColours: ColourPicker = (masterIds) => shardPalette()(masterIds);

/*
 * The geometry, in viewBox units: the SVG scales to its box's width, so it fits
 * any screen without a scrollbar and prints as drawn. One rect per slot range,
 * never one per slot: a few dozen elements however the slots are spread.
 */
const PAD = 8;
const BAR_WIDTH = 1000;
const BAR_Y = 20;
const BAR_HEIGHT = 40;
const HEIGHT = 84;
/** A single slot is 0.06 units wide: drawn at least this wide so a stray one still shows. */
const MIN_WIDTH = 1.5;

const round = (value: number): number => Math.round(value * 100) / 100;
const xOf = (slot: number): number => round(PAD + (slot * BAR_WIDTH) / SLOT_COUNT);
const widthOf = ({ start, end }: SlotRange): number => Math.max(MIN_WIDTH, round(((end - start + 1) * BAR_WIDTH) / SLOT_COUNT));
/** A downward triangle whose tip touches the top of the bar at x. */
const pointer = (x: number): string => `${round(x - 5)},${BAR_Y - 15} ${round(x + 5)},${BAR_Y - 15} ${x},${BAR_Y - 1}`;

export interface SlotSegment {
  x: number;
  width: number;
  /** "0-5460": as CLUSTER NODES prints it, for tests and the tooltip. */
  slots: string;
  count: number;
  masterId: string;
  masterAddress: string;
  fill: string;
}

export interface MoveMark {
  x: number;
  width: number;
  points: string;
  slots: string;
  from: NodeRef;
  to: NodeRef;
  /** The colour of the master taking the slots. */
  fill: string;
}

export interface KeyMark {
  slot: number;
  x: number;
  /** A thin line across the bar, on top of the segment's colour. */
  line: { x: number; width: number };
  points: string;
  label: { x: number; y: number; anchor: 'start' | 'end' };
}

export interface Tick {
  x: number;
  y1: number;
  y2: number;
  labelY: number;
  label: string;
  anchor: 'start' | 'middle' | 'end';
}

export interface SlotPicture {
  viewBox: string;
  bar: { x: number; y: number; width: number; height: number };
  unassignedFill: string;
  markFill: string;
  segments: SlotSegment[];
  moves: MoveMark[];
  ticks: Tick[];
  key: KeyMark | undefined;
}

/** Consecutive slots moving between the same two masters, as one range: a mass move stays a few marks. */
export function groupMoves(migrations: readonly SlotMigration[]): { range: SlotRange; from: string; to: string }[] {
  const sorted = [...migrations].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.slot - b.slot);
  const groups: { range: SlotRange; from: string; to: string }[] = [];
  for (const { slot, from, to } of sorted) {
    const last = groups.at(-1);
    if (last && last.from === from && last.to === to && slot <= last.range.end + 1) last.range.end = Math.max(last.range.end, slot);
    else groups.push({ range: { start: slot, end: slot }, from, to });
  }
  return groups.sort((a, b) => a.range.start - b.range.start);
}

const TICKS = [0, 4096, 8192, 12288, SLOT_COUNT];

export interface SlotPictureOptions {
  colours: ReadonlyMap<string, string>;
  migrations?: readonly SlotMigration[];
  /** A key's slot, marked with a pointer: the key result page. */
  keySlot?: number | undefined;
}

export function slotPicture(shards: readonly Shard[], { colours, migrations = [], keySlot }: SlotPictureOptions): SlotPicture {
  const addressOf = new Map(shards.map(({ master }) => [master.id, master.address]));
  const fillOf = (id: string): string => colours.get(id) ?? UNASSIGNED_FILL;
  const segments = shards
    .flatMap(({ master, ranges }) =>
      ranges.map((range) => ({
        x: xOf(range.start),
        width: widthOf(range),
        slots: formatSlotRange(range),
        count: range.end - range.start + 1,
        masterId: master.id,
        masterAddress: master.address,
        fill: fillOf(master.id),
        start: range.start,
      })),
    )
    .sort((a, b) => a.start - b.start)
    .map(({ start: _start, ...segment }) => segment);
  const moves = groupMoves(migrations).map(({ range, from, to }) => {
    const x = xOf((range.start + range.end + 1) / 2);
    return {
      x: xOf(range.start),
      width: widthOf(range),
      points: pointer(x),
      slots: formatSlotRange(range),
      // A master that left mid-move has no address here; its id still says who it was.
      from: { id: from, address: addressOf.get(from) ?? from },
      to: { id: to, address: addressOf.get(to) ?? to },
      fill: fillOf(to),
    };
  });
  return {
    viewBox: `0 0 ${BAR_WIDTH + 2 * PAD} ${HEIGHT}`,
    bar: { x: PAD, y: BAR_Y, width: BAR_WIDTH, height: BAR_HEIGHT },
    unassignedFill: UNASSIGNED_FILL,
    markFill: MARK_FILL,
    segments,
    moves,
    ticks: TICKS.map((slot, i) => ({
      x: xOf(slot),
      y1: BAR_Y + BAR_HEIGHT,
      y2: BAR_Y + BAR_HEIGHT + 5,
      labelY: HEIGHT - 6,
      label: String(Math.min(slot, SLOT_COUNT - 1)),
      anchor: i === 0 ? 'start' : i === TICKS.length - 1 ? 'end' : 'middle',
    })),
    key: keySlot === undefined ? undefined : keyMark(keySlot),
  };
}

/** A pointer at the slot's middle, labelled on whichever side has room. */
function keyMark(slot: number): KeyMark {
  const x = xOf(slot + 0.5);
  const labelRight = x < PAD + BAR_WIDTH / 2;
  return {
    slot,
    x,
    line: { x: round(x - 1), width: 2 },
    points: pointer(x),
    label: { x: round(labelRight ? x + 9 : x - 9), y: BAR_Y - 6, anchor: labelRight ? 'start' : 'end' },
  };
}
