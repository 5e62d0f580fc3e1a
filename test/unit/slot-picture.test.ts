import { groupMoves, shardColours, shardPalette, slotPicture, UNASSIGNED_FILL } from '../../src/slot-picture';
import { groupShards, parseClusterNodes, SLOT_COUNT } from '../../src/topology';

const NODES = `
a000 127.0.0.1:7000@17000 master - 0 0 1 connected 1365-5460
b000 127.0.0.1:7001@17001 master - 0 0 2 connected 6827-10922
c000 127.0.0.1:7002@17002 master - 0 0 3 connected 12288-16383
d000 127.0.0.1:7010@17010 master - 0 0 7 connected 10923-12287 0-1364 5461-6826
`;
const { shards } = groupShards(parseClusterNodes(NODES));
const colours = shardColours(shards.map(({ master }) => master.id));

describe('shardColours', () => {
  it('gives nine masters nine different colours', () => {
    const ids = Array.from({ length: 9 }, (_, i) => `${i}`.repeat(40));
    expect(new Set(shardColours(ids).values()).size).toBe(9);
  });

  it('gives a master the same colour whatever order the masters come in', () => {
    const ids = ['a000', 'b000', 'c000', 'd000'];
    expect([...shardColours([...ids].reverse())].sort()).toEqual([...shardColours(ids)].sort());
  });

  it('never uses the grey that means unassigned', () => {
    const ids = Array.from({ length: 12 }, (_, i) => `id-${i}`);
    expect([...shardColours(ids).values()]).not.toContain(UNASSIGNED_FILL);
  });
});

describe('shardPalette', () => {
  const incumbents = ['m1', 'm2', 'm3'];
  // A joining master whose colour, picked afresh, would push an incumbent to another colour.
  const clashing = Array.from({ length: 1000 }, (_, i) => `a${i}`).find((id) => {
    const fresh = shardColours([...incumbents, id]);
    const before = shardColours(incumbents);
    return incumbents.some((incumbent) => fresh.get(incumbent) !== before.get(incumbent));
  })!;

  it("keeps every master's colour when a master joins whose colour would clash", () => {
    expect(clashing).toBeDefined();
    const colourOf = shardPalette();
    const before = colourOf(incumbents);
    const after = colourOf([...incumbents, clashing]);
    for (const id of incumbents) expect(after.get(id)).toBe(before.get(id));
    expect([...before.values()]).not.toContain(after.get(clashing));
  });
});

describe('slotPicture', () => {
  const picture = slotPicture(shards, { colours });

  it("draws one segment per slot range, left to right, in its master's colour", () => {
    expect(picture.segments.map(({ slots, masterId }) => `${slots} ${masterId}`)).toEqual([
      '0-1364 d000',
      '1365-5460 a000',
      '5461-6826 d000',
      '6827-10922 b000',
      '10923-12287 d000',
      '12288-16383 c000',
    ]);
    for (const segment of picture.segments) expect(segment.fill).toBe(colours.get(segment.masterId));
  });

  it('sizes each segment by its share of the 16384 slots, edge to edge across the bar', () => {
    const { bar, segments } = picture;
    expect(segments.reduce((sum, { count }) => sum + count, 0)).toBe(SLOT_COUNT);
    for (const { width, count } of segments) expect(width).toBeCloseTo((count / SLOT_COUNT) * bar.width, 1);
    expect(segments[0]!.x).toBe(bar.x);
    const last = segments.at(-1)!;
    expect(last.x + last.width).toBeCloseTo(bar.x + bar.width, 1);
    for (let i = 1; i < segments.length; i += 1) {
      expect(segments[i]!.x).toBeCloseTo(segments[i - 1]!.x + segments[i - 1]!.width, 1);
    }
  });

  it('still draws a single slot wide enough to see', () => {
    const one = groupShards(
      parseClusterNodes(
        'a000 127.0.0.1:7000@17000 master - 0 0 1 connected 0-16382\nb000 127.0.0.1:7001@17001 master - 0 0 2 connected 16383',
      ),
    ).shards;
    const single = slotPicture(one, { colours }).segments.find(({ slots }) => slots === '16383');
    expect(single!.width).toBeGreaterThanOrEqual(1);
  });

  it('leaves unassigned slots to the grey bar underneath', () => {
    const gap = groupShards(parseClusterNodes('a000 127.0.0.1:7000@17000 master - 0 0 1 connected 0-99 200-16383')).shards;
    expect(slotPicture(gap, { colours }).segments.map(({ slots }) => slots)).toEqual(['0-99', '200-16383']);
    expect(picture.unassignedFill).toBe(UNASSIGNED_FILL);
  });

  it('marks slots being moved where they are, in the colour of the master taking them', () => {
    const moving = slotPicture(shards, {
      colours,
      migrations: [
        { slot: 1365, from: 'a000', to: 'd000' },
        { slot: 1366, from: 'a000', to: 'd000' },
      ],
    });
    expect(moving.moves).toHaveLength(1);
    const [move] = moving.moves;
    expect(move).toMatchObject({ slots: '1365-1366', fill: colours.get('d000') });
    expect(move!.from).toEqual({ id: 'a000', address: '127.0.0.1:7000' });
    expect(move!.to).toEqual({ id: 'd000', address: '127.0.0.1:7010' });
    const owner = picture.segments.find(({ slots }) => slots === '1365-5460')!;
    expect(move!.x).toBe(owner.x);
  });

  it("marks a key's slot inside the segment that owns it", () => {
    const slot = 9000;
    const { key, segments } = slotPicture(shards, { colours, keySlot: slot });
    const owner = segments.find(({ slots }) => slots === '6827-10922')!;
    expect(key!.slot).toBe(slot);
    expect(key!.x).toBeGreaterThan(owner.x);
    expect(key!.x).toBeLessThan(owner.x + owner.width);
    expect(picture.key).toBeUndefined();
  });
});

describe('groupMoves', () => {
  it('joins consecutive slots moving between the same masters and keeps other moves apart', () => {
    const moves = groupMoves([
      { slot: 11, from: 'a', to: 'b' },
      { slot: 10, from: 'a', to: 'b' },
      { slot: 12, from: 'a', to: 'c' },
      { slot: 14, from: 'a', to: 'b' },
    ]);
    expect(moves).toEqual([
      { range: { start: 10, end: 11 }, from: 'a', to: 'b' },
      { range: { start: 12, end: 12 }, from: 'a', to: 'c' },
      { range: { start: 14, end: 14 }, from: 'a', to: 'b' },
    ]);
  });
});
