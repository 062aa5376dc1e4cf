import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import { GrowingBody } from './growing-body.ts';

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('GrowingBody', () => {
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
});
