import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitPgUrl, withDatabase } from './pg-target.ts';

test('the schema is split off the URL; the rest of the URL is kept', () => {
  const rows: Array<[string, string, string]> = [
    ['postgres://u:p@h:5432/db', 'postgres://u:p@h:5432/db', 'public'],
    ['postgres://h/db?options=-c%20search_path%3Dt_ab12', 'postgres://h/db', 't_ab12'],
    ['postgres://h/db?options=-c+search_path%3Dlib%2Cpublic&sslmode=disable', 'postgres://h/db?sslmode=disable', 'lib'],
    ['postgresql://h/db?options=-csearch_path%3D%22lib%22', 'postgresql://h/db', 'lib'],
  ];
  for (const [input, url, schema] of rows) assert.deepEqual(splitPgUrl(input), { url, schema }, input);
  assert.throws(() => splitPgUrl('postgres://h/db?options=-c%20search_path%3DBad-Name'), { code: 'dump_failed' });
});

test('withDatabase swaps only the database name', () => {
  assert.equal(withDatabase('postgres://u:p@h:5432/db?sslmode=disable', 'scratch'), 'postgres://u:p@h:5432/scratch?sslmode=disable');
});
