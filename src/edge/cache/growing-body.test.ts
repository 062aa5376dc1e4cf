import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import fc from 'fast-check';
import { checkAsyncProperty } from '../../../test/helpers/property.ts';
import { hasRoom } from '../../server/http1/message.ts';
import { GrowingBody } from './growing-body.ts';

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('GrowingBody', () => {
  it('gives a preallocated body larger than 16 KiB with head room, once it is complete', async () => {
    const b = new GrowingBody(20_000, 1 << 20);
    b.push(Buffer.alloc(12_000, 1));
    assert.equal(b.room(), undefined);
    b.push(Buffer.alloc(8_000, 2));
    b.end();
    const [whole, ...rest] = b.parts();
    assert.equal(rest.length, 0);
    const room = b.room();
    assert.ok(room !== undefined && hasRoom(whole!, room) && room.bytes > 0);
    assert.equal(whole!.length, 20_000);
    // A small one, or one not preallocated, has none.
    const small = new GrowingBody(3000, 1 << 20);
    small.push(Buffer.alloc(3000));
    small.end();
    assert.equal(small.room(), undefined);
    const unknown = new GrowingBody(undefined, 1 << 20);
    unknown.push(Buffer.alloc(20_000));
    unknown.end();
    assert.equal(unknown.room(), undefined);
  });

  it('streams a range to a reader attached before the bytes arrive', async () => {
    const b = new GrowingBody(10);
    const reader = collect(b.reader(3, 7));
    b.push(Buffer.from('0123'));
    b.push(Buffer.from('45'));
    b.push(Buffer.from('6789'));
    b.end();
    assert.equal((await reader).toString(), '34567');
  });

  it('serves late readers from what is already there', async () => {
    const b = new GrowingBody();
    b.push(Buffer.from('hello '));
    b.push(Buffer.from('world'));
    b.end();
    assert.equal((await collect(b.reader())).toString(), 'hello world');
    assert.equal((await collect(b.reader(6, 10))).toString(), 'world');
    assert.equal(b.concat().toString(), 'hello world');
  });

  it('errors every reader when the fill fails', async () => {
    const b = new GrowingBody(100);
    const r1 = collect(b.reader());
    const r2 = collect(b.reader(50, 99));
    b.push(Buffer.alloc(10));
    b.fail(new Error('origin went away'));
    await assert.rejects(r1, /origin went away/);
    await assert.rejects(r2, /origin went away/);
    await assert.rejects(b.whenComplete(), /origin went away/);
  });

  it('errors a reader whose range the completed body does not reach', async () => {
    const b = new GrowingBody();
    const r = collect(b.reader(0, 99));
    b.push(Buffer.alloc(10));
    b.end();
    await assert.rejects(r);
  });

  it('a destroyed reader detaches without affecting the body or the other readers', async () => {
    const b = new GrowingBody(6);
    const gone = b.reader();
    const stays = collect(b.reader());
    gone.destroy();
    b.push(Buffer.from('abc'));
    b.push(Buffer.from('def'));
    b.end();
    assert.equal((await stays).toString(), 'abcdef');
  });

  it('a body of its announced length within the preallocation bound is stored as one buffer', () => {
    const b = new GrowingBody(6, 6);
    const first = Buffer.from('abc');
    b.push(first);
    first.fill(0); // the chunk is copied: the upstream's buffer may be reused
    b.push(Buffer.from('def'));
    b.end();
    assert.equal(b.parts().length, 1);
    assert.equal(b.parts()[0].toString(), 'abcdef');
    assert.equal(b.concat().toString(), 'abcdef');
  });

  it('keeps the chunks as they came above the bound, without a length, or when more than announced arrives', () => {
    const above = new GrowingBody(6, 5);
    const none = new GrowingBody(undefined, 100);
    const more = new GrowingBody(4, 100);
    for (const b of [above, none, more]) {
      b.push(Buffer.from('abc'));
      b.push(Buffer.from('def'));
      b.end();
      assert.equal(b.parts().length, 2);
      assert.equal(Buffer.concat(b.parts()).toString(), 'abcdef');
    }
  });

  it('property: readers and stored parts give the bytes pushed, however they are cut, with or without preallocation', async () => {
    const chunks = fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 0, maxLength: 12 });
    await checkAsyncProperty(
      fc.asyncProperty(chunks, fc.integer({ min: -3, max: 3 }), fc.nat(100), fc.nat(100), fc.boolean(), async (parts, lengthOffset, a, z, bound) => {
        const all = Buffer.concat(parts.map((p) => Buffer.from(p)));
        const announced = Math.max(0, all.length + lengthOffset);
        const b = new GrowingBody(announced, bound ? announced : 0);
        const start = Math.min(a, Math.max(0, all.length - 1));
        const end = Math.max(start, Math.min(start + z, all.length - 1));
        const ranged = all.length > 0 ? collect(b.reader(start, end)) : Promise.resolve(Buffer.alloc(0));
        const whole = collect(b.reader());
        for (const p of parts) b.push(Buffer.from(p));
        b.end();
        assert.ok((await whole).equals(all));
        assert.ok((await ranged).equals(all.subarray(start, all.length > 0 ? end + 1 : 0)));
        assert.ok(Buffer.concat(b.parts()).equals(all));
        assert.ok(b.concat().equals(all));
      }),
      { numRuns: 300, timeLimitMs: 5000 },
    );
  });
});
