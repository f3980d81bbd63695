// test/drivers/node/drizzle_test.js: funnel through the Drizzle ORM (npm
// drizzle-orm over node-postgres, installed from package-lock.json by
// test/drivers/run.sh), mapping the stage column with the customType that
// README's "Drivers" section gives.  Drizzle sends every value as an
// untyped node-postgres parameter.  Starts from test/drivers/setup.sql.
// Prints TAP.
'use strict';
const { Client } = require('pg');
const { drizzle } = require('drizzle-orm/node-postgres');
const { pgSchema, bigint, text, numeric, customType, timestamp } = require('drizzle-orm/pg-core');
const { eq, inArray, asc, sql } = require('drizzle-orm');

// README "Drivers": funnel.deal_stage as a Drizzle column type; the value is
// the text form 'pipeline:stage' both ways
const dealStage = (pipeline) => customType({
  dataType() { return pipeline ? `funnel.deal_stage(${pipeline})` : 'funnel.deal_stage'; },
});

const crm = pgSchema('crm');
const deals = crm.table('deals', {
  id: bigint('id', { mode: 'number' }).primaryKey(),
  owner: text('owner'),
  amount: numeric('amount'),
  stage: dealStage('b2b')('stage').notNull(),
});
const history = crm.table('deals_stage_history', {
  dealId: bigint('deal_id', { mode: 'number' }).notNull(),
  stage: dealStage('b2b')('stage').notNull(),
  enteredAt: timestamp('entered_at', { withTimezone: true }).notNull(),
  leftAt: timestamp('left_at', { withTimezone: true }),
});

let n = 0;
let failed = 0;

function ok(cond, desc, diag) {
  n++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - drizzle: ${desc}`);
  if (!cond) {
    failed++;
    console.log(('# ' + diag).replace(/\n/g, '\n# '));
  }
}

// run a check; an exception fails this check only
async function check(desc, want, fn) {
  try {
    const have = await fn();
    ok(JSON.stringify(have) === JSON.stringify(want), desc,
       `have: ${JSON.stringify(have)}\nwant: ${JSON.stringify(want)}`);
  } catch (e) {
    ok(false, desc, `raised ${e.message}${e.cause ? ' / ' + e.cause.message : ''}`);
  }
}

// the PostgreSQL error behind a Drizzle error (DrizzleQueryError wraps it)
async function pgError(fn) {
  try {
    await fn();
  } catch (e) {
    const pg = e.cause && e.cause.code ? e.cause : e;
    return { code: pg.code, detail: pg.detail };
  }
  return null;
}

(async () => {
  const client = new Client();
  await client.connect();
  const db = drizzle(client);

  await check('select ordered by stage: funnel order, not alphabetical',
    [[1, 'b2b:lead'], [2, 'b2b:qualified'], [3, 'b2b:proposal'], [6, 'b2b:proposal'],
     [4, 'b2b:won'], [5, 'b2b:lost']],
    async () => (await db.select({ id: deals.id, stage: deals.stage }).from(deals)
      .orderBy(asc(deals.stage), asc(deals.id))).map((r) => [r.id, r.stage]));

  await check('eq() with a qualified stage (untyped parameter)', [3, 6],
    async () => (await db.select({ id: deals.id }).from(deals)
      .where(eq(deals.stage, 'b2b:proposal')).orderBy(asc(deals.id))).map((r) => r.id));

  await check('eq() with a bare name only b2b has', [2],
    async () => (await db.select({ id: deals.id }).from(deals)
      .where(eq(deals.stage, 'qualified'))).map((r) => r.id));

  await check('inArray() with qualified stages', [4, 5],
    async () => (await db.select({ id: deals.id }).from(deals)
      .where(inArray(deals.stage, ['b2b:won', 'b2b:lost'])).orderBy(asc(deals.id))).map((r) => r.id));

  await check('insert a deal; the tracking trigger opens its first visit', [['b2b:lead', true]],
    async () => {
      await db.insert(deals).values({ id: 7, owner: 'cy', amount: '70.00', stage: 'b2b:lead' });
      return (await db.select({ stage: history.stage, leftAt: history.leftAt }).from(history)
        .where(eq(history.dealId, 7))).map((r) => [r.stage, r.leftAt === null]);
    });

  await check('update moves the deal forward and the history follows',
    [['b2b:lead', false], ['b2b:proposal', true]],
    async () => {
      await db.update(deals).set({ stage: 'b2b:proposal' }).where(eq(deals.id, 7));
      return (await db.select({ stage: history.stage, leftAt: history.leftAt }).from(history)
        .where(eq(history.dealId, 7)).orderBy(asc(history.enteredAt), asc(history.stage)))
        .map((r) => [r.stage, r.leftAt === null]);
    });

  const refused = await pgError(() =>
    db.update(deals).set({ stage: 'b2b:lead' }).where(eq(deals.id, 7)));
  ok(refused !== null && refused.code === '23514', 'a backward move is refused with SQLSTATE 23514',
     `error: ${JSON.stringify(refused)}`);
  ok(refused !== null && /Allowed targets from "proposal"/.test(refused.detail || ''),
     'the refusal carries its DETAIL through Drizzle', `detail: ${refused && refused.detail}`);

  await check('the refused move changed nothing', [['b2b:proposal']],
    async () => (await db.select({ stage: deals.stage }).from(deals).where(eq(deals.id, 7)))
      .map((r) => [r.stage]));

  await check('a report through db.execute(sql``)', [['b2b:lead', '6'], ['b2b:qualified', '5']],
    async () => (await db.execute(sql`SELECT r.stage, r.deals FROM funnel.report(
        (SELECT funnel.funnel(${deals.stage}, ${deals.amount}) FROM ${deals})) AS r LIMIT 2`))
      .rows.map((r) => [r.stage, r.deals]));

  await client.end();
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log(`not ok ${n + 1} - drizzle: stopped early: ${e.stack}`);
  process.exit(1);
});
