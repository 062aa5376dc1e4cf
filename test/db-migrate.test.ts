// Migrations on both dialects: concurrent start-ups agree, a second start is a no-op, and on
// PostgreSQL other schemas coming and going in the same database do not disturb them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openDatabase } from '../src/db/connect.ts';
import { appliedMigrations, migrateTo } from '../src/db/migrate.ts';
import { makeTestDatabase, NEEDS_PG, PG_URL } from './helpers/db.ts';

test('concurrent start-ups apply each migration once, and a restart applies nothing', async (t) => {
  const tdb = await makeTestDatabase();
  t.after(() => tdb.cleanup());
  const dbs = await Promise.all(Array.from({ length: 4 }, () => openDatabase(tdb.target)));
  t.after(() => Promise.all(dbs.map((d) => d.close())));
  assert.deepEqual(await appliedMigrations(dbs[0]), ['0001_library', '0002_purge_log']);
  await migrateTo(dbs[1]);
  assert.deepEqual(await appliedMigrations(dbs[1]), ['0001_library', '0002_purge_log']);
  const tables = await dbs[2].kysely.selectFrom('media').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow();
  assert.equal(Number(tables.n), 0);
  await assert.rejects(migrateTo(dbs[3], '9999_future'), { code: 'migration_failed' });
});

test('on PostgreSQL, schemas created and dropped alongside do not disturb a migration', { skip: NEEDS_PG }, async (t) => {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  t.after(() => admin.end());
  let stop = false;
  const churn = (async () => {
    for (let i = 0; !stop && i < 200; i++) {
      const name = `t_churn_${process.pid}_${i}`;
      await admin.query(`CREATE SCHEMA ${name}; CREATE TABLE ${name}.media (id int); CREATE TABLE ${name}.backgrounds (id int)`);
      await admin.query(`DROP SCHEMA ${name} CASCADE`);
    }
  })();
  try {
    for (let i = 0; i < 10; i++) {
      const tdb = await makeTestDatabase();
      const db = await openDatabase(tdb.target);
      assert.deepEqual(await appliedMigrations(db), ['0001_library', '0002_purge_log']);
      await db.close();
      await tdb.cleanup();
    }
  } finally {
    stop = true;
    await churn;
  }
});
