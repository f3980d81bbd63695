// test/drivers/node/test.js: funnel through node-postgres (npm package pg,
// installed from package-lock.json by test/drivers/run.sh).  node-postgres
// sends every parameter as unknown (OID 0); text and varchar parameters are
// written as $1::text and $1::varchar.  Prints TAP.
'use strict';
const { Client } = require('pg');

const SUMMARY = 'SELECT funnel.funnel(stage, amount) AS f FROM crm.deals WHERE id <= 6';
const STAGES = [['1', 'b2b:lead'], ['2', 'b2b:qualified'], ['3', 'b2b:proposal'],
                ['6', 'b2b:proposal'], ['4', 'b2b:won'], ['5', 'b2b:lost']];
// report() of the fixture, worked out by hand (see test/drivers/python/common.py);
// node-postgres returns bigint and numeric as strings
// (its first six columns; the conversions are numeric, so strings too)
const REPORT = [['b2b:lead', '5', '1600.75', null, '1', '1'],
                ['b2b:qualified', '4', '1500.75', '0.8', '0.8', '1'],
                ['b2b:proposal', '3', '1300.25', '0.75', '0.6', '2'],
                ['b2b:negotiation', '1', '400.25', '0.333333', '0.2', '0'],
                ['b2b:won', '1', '400.25', '1', '0.2', null],
                ['b2b:lost', '1', '500.00', null, null, null]];
const REPORT_COLUMNS = 'stage, deals, amount, conversion_from_previous, conversion_from_first, drop_off';
const PARAM = { unknown: '$', text: '$::text', varchar: '$::varchar' };
let n = 0;
let failed = 0;

function ok(cond, desc, diag) {
  n++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - node-postgres: ${desc}`);
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
    ok(false, desc, `raised ${e.message}`);
  }
}

// binary deal_stage: version byte 1, then the text form
function decodeStage(s) {
  if (s.charCodeAt(0) !== 1) throw new Error('unknown deal_stage binary version');
  return s.slice(1);
}

// $n placeholders of one parameter kind
function p(kind, i) { return PARAM[kind].replace('$', '$' + i); }

(async () => {
  const c = new Client();
  await c.connect();
  // rows as arrays (object rows: node-postgres' rowMode 'array' breaks binary int8 parsing)
  const rows = async (q) => (await c.query(q)).rows.map((r) => Object.values(r));
  const one = async (text, values) => (await rows({ text, values }))[0][0];

  await check('stages, text protocol', STAGES,
              () => rows({ text: 'SELECT id, stage FROM crm.deals ORDER BY stage, id' }));
  // binary: true needs the extended protocol; node-postgres hands each binary
  // field to its parser as a UTF-8 string, which keeps a deal_stage intact
  await check('stages, binary protocol (version byte 1, then the text form)', STAGES,
              async () => (await rows({ text: 'SELECT id, stage FROM crm.deals ORDER BY stage, id',
                                        binary: true, queryMode: 'extended' }))
                .map(([id, s]) => [id, decodeStage(s)]));
  await check('report rows, text protocol', REPORT,
              () => rows({ text: `SELECT ${REPORT_COLUMNS} FROM funnel.report((${SUMMARY}))` }));
  // pg-types' binary numeric and float8 parsers mis-decode (README, Drivers):
  // in binary mode only the stage, deals and drop_off columns are checked
  await check('report rows, binary protocol (stage, deals, drop_off)',
              REPORT.map((r) => [r[0], r[1], r[5]]),
              async () => (await rows({ text: `SELECT stage, deals, drop_off FROM funnel.report((${SUMMARY}))`,
                                        binary: true, queryMode: 'extended' }))
                .map(([s, d, o]) => [decodeStage(s), d, o]));

  const kinds = ['text', 'varchar', 'unknown'];
  // text, varchar and untyped parameters: a bare name, even one other
  // pipelines share ('won'), is read in the pipeline of the bound column
  const insert = (kind) => `INSERT INTO crm.deals (id, owner, amount, stage) VALUES ($1, 'drv', 1, ${p(kind, 2)}) ` +
                           'RETURNING stage::text';
  for (const [i, kind] of kinds.entries()) {
    const name = kind === 'unknown' ? 'negotiation' : 'won';
    await check(`bare '${name}' bound as ${kind} into a funnel.deal_stage(b2b) column`, `b2b:${name}`,
                () => one(insert(kind), [101 + i, name]));
  }
  await check("bare shared 'won' bound as unknown (node-postgres' default) into a funnel.deal_stage(b2b) column",
              'b2b:won', () => one(insert('unknown'), [104, 'won']));
  for (const kind of kinds) {
    await check(`WHERE stage = $1 OR stage IN ($2, $3), ${kind} parameters`, ['1', '3', '5', '6'],
                () => one('SELECT array_agg(id ORDER BY id) FROM crm.deals ' +
                          `WHERE stage = ${p(kind, 1)} OR stage IN (${p(kind, 2)}, ${p(kind, 3)})`,
                          ['b2b:lead', 'b2b:lost', 'proposal']));
  }
  for (const kind of ['text', 'varchar']) {
    await check(`conversion_rate(stage, $1, $2), ${kind} parameters`, '0.6',
                () => one(`SELECT funnel.conversion_rate(stage, ${p(kind, 1)}, ${p(kind, 2)}) ` +
                          'FROM crm.deals WHERE id <= 6', ['b2b:lead', 'b2b:proposal']));
  }

  // a refused move: SQLSTATE 23514, message and detail; nothing written
  const history = await one('SELECT count(*) FROM crm.deals_stage_history');
  await check('refused move: SQLSTATE 23514, message, detail naming the deal, constraint, table, column',
              ['23514', 'invalid stage transition from "proposal" to "lead" in pipeline "b2b"',
               'Deal 3: Allowed targets from "proposal": negotiation, won, lost.',
               'funnel_transition_not_allowed', 'crm', 'deals', 'stage'],
              async () => {
                try {
                  await c.query('UPDATE crm.deals SET stage = $1::varchar WHERE id = 3', ['lead']);
                  return 'no error';
                } catch (e) {
                  return [e.code, e.message, e.detail, e.constraint, e.schema, e.table, e.column];
                }
              });
  await check('refused move wrote nothing', [[history, 'b2b:proposal']],
              () => rows({ text: 'SELECT count(*), (SELECT stage::text FROM crm.deals WHERE id = 3) ' +
                                 'FROM crm.deals_stage_history' }));

  // a funnel_summary read in text form goes back as a text, varchar or unknown parameter
  const summary = await one(SUMMARY);
  ok(typeof summary === 'string' && summary.startsWith('{"pipeline": "b2b"'), 'summary read in text form', summary);
  for (const kind of kinds) {
    await check(`report($1) of the summary sent back as ${kind}`, REPORT,
                () => rows({ text: `SELECT ${REPORT_COLUMNS} FROM funnel.report(${p(kind, 1)})`, values: [summary] }));
  }
  await check('summary text form round-trips unchanged', summary,
              () => one('SELECT $1::funnel.funnel_summary::text', [summary]));
  // saved queries with bare stage names (setup.sql, names.saved), untyped
  // parameters: the same answers after two more pipelines share every name
  const runSaved = async () => {
    const out = [];
    for (const [num, sql, params] of await rows('SELECT n, sql, params FROM names.saved ORDER BY n')) {
      try {
        out.push([num, await one(sql, params)]);
      } catch (e) {
        out.push([num, `ERROR ${e.code} ${e.message}`]);
      }
    }
    return out;
  };
  const before = await runSaved();
  await check('saved queries with bare names answer with one pipeline per name', [],
              async () => before.filter(([, r]) => String(r).startsWith('ERROR')));
  await rows('SELECT names.add_pipelines()');
  const after = await runSaved();
  for (const [i, [num, result]] of before.entries()) {
    await check(`saved query ${num}, untyped parameters: same answer after two more pipelines share its names`,
                result, async () => after[i][1]);
  }
  // a dashboard backend reading live summaries with untyped parameters
  // (table name, days and the JSON filter as strings): the same rows as the
  // scan-based report over the history
  await rows("SELECT funnel.enable_live('crm.deals', '{owner}', 'amount')::text");
  await rows({ text: 'UPDATE crm.deals SET stage = $1 WHERE id = $2', values: ['negotiation', 3] });
  const scan = await rows({ text: `SELECT ${REPORT_COLUMNS} FROM funnel.report((
      SELECT funnel.funnel(j.j, d.amount) FROM crm.deals d
        JOIN (SELECT deal_id, funnel.journey(stage, entered_at) AS j
                FROM crm.deals_stage_history GROUP BY deal_id) j ON j.deal_id = d.id
       WHERE d.owner = $1))`, values: ['ann'] });
  ok(scan.length === 6 && scan[0][1] === '2' && scan[5][1] === '1',
     'scan-based report of owner ann: 2 deals reached lead (1, 3), 1 lost (5, never open)', JSON.stringify(scan));
  await check('live_report($1, $2, $3, $4), untyped: the scan-based report of owner ann', scan,
              () => rows({ text: `SELECT ${REPORT_COLUMNS} FROM funnel.live_report($1, $2, $3, $4)`,
                           values: ['crm.deals', '2000-01-01', null, '{"owner": "ann"}'] }));
  await check('live_win_rate($1, filter => $2), untyped: ann won none of 1 closed', '0',
              async () => String(await one('SELECT funnel.live_win_rate($1, filter => $2)',
                                           ['crm.deals', '{"owner": "ann"}'])));
  await check('live_report with a filter key that is not a dimension: 22023 naming it',
              ['22023', 'column "region" is not a dimension of the live summaries of crm.deals'],
              async () => {
                try {
                  await rows({ text: 'SELECT * FROM funnel.live_report($1, filter => $2)',
                               values: ['crm.deals', '{"region": "emea"}'] });
                  return 'no error';
                } catch (e) {
                  return [e.code, e.message];
                }
              });
  await c.end();
  console.log(`1..${n}`);
  process.exit(failed === 0 ? 0 : 1);
})().catch((e) => {
  console.log(`not ok ${n + 1} - node-postgres: unexpected error ${e.message}`);
  process.exit(1);
});
