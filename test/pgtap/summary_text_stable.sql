-- test/pgtap/summary_text_stable.sql: a stored funnel_summary prints the
-- same text, and reads back to a value that prints (and sends) the same,
-- after the pipeline changes under it: add_stage between and before
-- stages, rename_stage of another stage, and merges of summaries made
-- before and after add_stage (issue 17, item 6).  The text lists every
-- stage of the pipeline in its current order, zeros where the summary
-- counted nothing; the expected texts are written out by hand.  The
-- summaries are made, stored and read by a NOSUPERUSER table owner.
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(12);

SELECT funnel.create_pipeline('st', ARRAY['lead', 'qualified', 'proposal'], ARRAY[0.1, 0.3, 0.6]);
CREATE ROLE funnel_st_owner NOSUPERUSER;
CREATE SCHEMA st AUTHORIZATION funnel_st_owner;
SET ROLE funnel_st_owner;

-- deal 1 won, deal 2 lost from lead, deal 3 open in qualified
CREATE TABLE st.visits (deal_id int, stage funnel.deal_stage, entered_at timestamptz, amount numeric);
INSERT INTO st.visits VALUES
    (1, 'st:lead', '2024-01-01', 100), (1, 'st:won', '2024-01-03', 100),
    (2, 'st:lead', '2024-01-01', 50), (2, 'st:lost', '2024-01-02', 50),
    (3, 'st:qualified', '2024-01-01', 20.5);
CREATE TABLE st.summaries AS
SELECT (SELECT funnel.funnel(stage, amount) FROM st.visits WHERE deal_id = 3) AS reached,
       (SELECT funnel.funnel(j, a) FROM (SELECT funnel.journey(stage, entered_at) AS j, max(amount) AS a
                                           FROM st.visits GROUP BY deal_id) x) AS outcomes;

SELECT is((SELECT reached::text FROM st.summaries),
          '{"pipeline": "st", "stages": [{"stage": "lead", "deals": 0, "amount_count": 0, "amount": 0.0}, '
          '{"stage": "qualified", "deals": 1, "amount_count": 1, "amount": 20.5}, '
          '{"stage": "proposal", "deals": 0, "amount_count": 0, "amount": 0.0}, '
          '{"stage": "won", "deals": 0, "amount_count": 0, "amount": 0.0}, '
          '{"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0.0}]}',
          'the text of a summary: every stage in funnel order');

RESET ROLE;
SELECT funnel.add_stage('st', 'demo', probability => 0.2, after => 'lead');
SELECT funnel.add_stage('st', 'intro', probability => 0.05, before => 'lead');
SELECT funnel.rename_stage('st', 'proposal', 'offer');
SET ROLE funnel_st_owner;

SELECT is((SELECT reached::text FROM st.summaries),
          '{"pipeline": "st", "stages": [{"stage": "intro", "deals": 0, "amount_count": 0, "amount": 0.0}, '
          '{"stage": "lead", "deals": 0, "amount_count": 0, "amount": 0.0}, '
          '{"stage": "demo", "deals": 0, "amount_count": 0, "amount": 0.0}, '
          '{"stage": "qualified", "deals": 1, "amount_count": 1, "amount": 20.5}, '
          '{"stage": "offer", "deals": 0, "amount_count": 0, "amount": 0.0}, '
          '{"stage": "won", "deals": 0, "amount_count": 0, "amount": 0.0}, '
          '{"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0.0}]}',
          'after add_stage (twice) and rename_stage: the stored summary prints every current stage in order');
SELECT is((SELECT reached::text::funnel.funnel_summary::text FROM st.summaries),
          (SELECT reached::text FROM st.summaries),
          'after add_stage: input(output(x)) prints as x (reached stages)');
SELECT is((SELECT outcomes::text::funnel.funnel_summary::text FROM st.summaries),
          (SELECT outcomes::text FROM st.summaries),
          'after add_stage: input(output(x)) prints as x (outcomes)');
RESET ROLE;  -- PUBLIC cannot call type I/O functions (sql/install/grants.sql)
SELECT is((SELECT funnel_internal.funnel_summary_send(reached::text::funnel.funnel_summary) FROM st.summaries),
          (SELECT funnel_internal.funnel_summary_send(reached) FROM st.summaries),
          'after add_stage: the binary form of x and of input(output(x)) are the same bytes (reached stages)');
SELECT is((SELECT funnel_internal.funnel_summary_send(outcomes::text::funnel.funnel_summary) FROM st.summaries),
          (SELECT funnel_internal.funnel_summary_send(outcomes) FROM st.summaries),
          'after add_stage: the binary form of x and of input(output(x)) are the same bytes (outcomes)');
SET ROLE funnel_st_owner;
SELECT is((SELECT outcomes::text FROM st.summaries),
          '{"pipeline": "st", "stages": ['
          '{"stage": "intro", "deals": 0, "amount_count": 0, "amount": 0.0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0.0}, '
          '{"stage": "lead", "deals": 1, "amount_count": 1, "amount": 50.0, "open": 0, "lost_here": 1, "current": 0, "current_amount_count": 0, "current_amount": 0.0}, '
          '{"stage": "demo", "deals": 0, "amount_count": 0, "amount": 0.0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0.0}, '
          '{"stage": "qualified", "deals": 1, "amount_count": 1, "amount": 20.5, "open": 1, "lost_here": 0, "current": 1, "current_amount_count": 1, "current_amount": 20.5}, '
          '{"stage": "offer", "deals": 0, "amount_count": 0, "amount": 0.0, "open": 0, "lost_here": 0, "current": 0, "current_amount_count": 0, "current_amount": 0.0}, '
          '{"stage": "won", "deals": 1, "amount_count": 1, "amount": 100.0, "open": 0, "lost_here": 0, "current": 1, "current_amount_count": 1, "current_amount": 100.0}, '
          '{"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0.0, "open": 0, "lost_here": 0, "current": 1, "current_amount_count": 1, "current_amount": 50.0}]}',
          'after add_stage: the outcome summary prints every current stage in order');

-- a summary made before add_stage merged with one made after it: the new
-- stages' entries are appended in memory, printed in funnel order.  (The
-- new stages are not committed in this transaction, so no value may count
-- deals in them (issue 17.4): the second summary counts them as zero.)
CREATE TABLE st.parts AS
SELECT 1 AS n, reached AS s FROM st.summaries
UNION ALL
SELECT 2, '{"pipeline": "st", "stages": [{"stage": "demo", "deals": 0, "amount_count": 0, "amount": 0}, {"stage": "qualified", "deals": 2, "amount_count": 1, "amount": 7.25}]}';
CREATE TABLE st.merged AS SELECT funnel.funnel(s ORDER BY n) AS m FROM st.parts;
SELECT is((SELECT m::text FROM st.merged),
          '{"pipeline": "st", "stages": [{"stage": "intro", "deals": 0, "amount_count": 0, "amount": 0.00}, '
          '{"stage": "lead", "deals": 0, "amount_count": 0, "amount": 0.00}, '
          '{"stage": "demo", "deals": 0, "amount_count": 0, "amount": 0.00}, '
          '{"stage": "qualified", "deals": 3, "amount_count": 2, "amount": 27.75}, '
          '{"stage": "offer", "deals": 0, "amount_count": 0, "amount": 0.00}, '
          '{"stage": "won", "deals": 0, "amount_count": 0, "amount": 0.00}, '
          '{"stage": "lost", "deals": 0, "amount_count": 0, "amount": 0.00}]}',
          'a merge of summaries made before and after add_stage prints in funnel order');
SELECT is((SELECT m::text::funnel.funnel_summary::text FROM st.merged),
          (SELECT m::text FROM st.merged),
          'the merged summary: input(output(x)) prints as x');
RESET ROLE;  -- PUBLIC cannot call type I/O functions (sql/install/grants.sql)
SELECT is((SELECT funnel_internal.funnel_summary_send(m::text::funnel.funnel_summary) FROM st.merged),
          (SELECT funnel_internal.funnel_summary_send(m) FROM st.merged),
          'the merged summary: the same bytes through text');
SET ROLE funnel_st_owner;
-- the merge in the other order is the same summary
SELECT is((SELECT funnel.funnel(s ORDER BY n DESC)::text FROM st.parts),
          (SELECT m::text FROM st.merged),
          'merging in the other order prints the same text');
-- report() reads the merged summary by stage: qualified's 3 deals passed lead
-- (report() leaves out intro and demo, stages this transaction added)
SELECT results_eq(
    $$SELECT funnel.stage_name(stage), deals FROM funnel.report((SELECT m FROM st.merged))$$,
    $$VALUES ('lead', 3::bigint), ('qualified', 3::bigint),
             ('offer', 0::bigint), ('won', 0::bigint), ('lost', 0::bigint)$$,
    'report() of the merged summary counts by the current stage order');

SELECT * FROM finish();
ROLLBACK;
