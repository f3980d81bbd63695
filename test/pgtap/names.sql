-- test/pgtap/names.sql: pipeline and stage names that would print alike are refused
BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
RESET client_min_messages;
CREATE EXTENSION funnel;
SET search_path = public, funnel;
SELECT plan(25);

SELECT lives_ok($$SELECT funnel.create_pipeline('b2b', ARRAY['lead','qualified'])$$, 'create b2b');
CREATE TEMP TABLE before_errors AS SELECT * FROM funnel.stages;
CREATE TEMP TABLE before_pipelines AS SELECT name FROM funnel.pipeline;

-- white space at either end, Unicode white space included
SELECT throws_ok(format($$SELECT funnel.create_pipeline(%L, ARRAY['a'])$$, U&'\00A0b2c'),
                 '22023', 'pipeline name "<U+00A0>b2c" has leading or trailing white space',
                 'leading NBSP refused, shown as <U+00A0>');
SELECT throws_ok(format($$SELECT funnel.create_pipeline('b2c', ARRAY[%L])$$, U&'lead\3000'),
                 '22023', 'stage name "lead<U+3000>" has leading or trailing white space',
                 'trailing ideographic space refused');
SELECT throws_ok(format($$SELECT funnel.create_pipeline('b2c', ARRAY[%L])$$, U&'\2003lead'),
                 '22023', 'stage name "<U+2003>lead" has leading or trailing white space',
                 'leading em space refused');
SELECT throws_ok(format($$SELECT funnel.add_stage('b2b', %L)$$, U&'demo\202F'),
                 '22023', 'stage name "demo<U+202F>" has leading or trailing white space',
                 'add_stage: trailing narrow NBSP refused');

-- zero-width and bidi control characters anywhere
SELECT throws_ok(format($$SELECT funnel.create_pipeline(%L, ARRAY['a'])$$, U&'b2\200Bb'),
                 '22023', 'pipeline name "b2<U+200B>b" contains the invisible character U+200B',
                 'zero-width space inside a pipeline name refused');
SELECT throws_ok(format($$SELECT funnel.add_stage('b2b', %L)$$, U&'lead\200D'),
                 '22023', 'stage name "lead<U+200D>" contains the invisible character U+200D',
                 'add_stage: zero-width joiner refused');
SELECT throws_ok(format($$SELECT funnel.add_stage('b2b', %L)$$, U&'\FEFFlead'),
                 '22023', 'stage name "<U+FEFF>lead" contains the invisible character U+FEFF',
                 'add_stage: byte order mark refused');
SELECT throws_ok(format($$SELECT funnel.add_stage('b2b', %L)$$, U&'wo\2060n'),
                 '22023', 'stage name "wo<U+2060>n" contains the invisible character U+2060',
                 'add_stage: word joiner refused');
SELECT throws_ok(format($$SELECT funnel.create_pipeline(%L, ARRAY['a'])$$, U&'\202Eb2b'),
                 '22023', 'pipeline name "<U+202E>b2b" contains the invisible character U+202E',
                 'right-to-left override refused');
SELECT throws_ok(format($$SELECT funnel.create_pipeline('b2c', ARRAY[%L])$$, U&'a\2067b'),
                 '22023', 'stage name "a<U+2067>b" contains the invisible character U+2067',
                 'right-to-left isolate refused');
SELECT throws_ok(format($$SELECT funnel.rename_stage('b2b', 'lead', %L)$$, U&'le\200Ead'),
                 '22023', 'stage name "le<U+200E>ad" contains the invisible character U+200E',
                 'rename_stage: left-to-right mark refused');

-- C0 and C1 controls
SELECT throws_ok(format($$SELECT funnel.create_pipeline('b2c', ARRAY[%L])$$, E'a\x01b'),
                 '22023', 'stage name "a<U+0001>b" contains a control character',
                 'C0 control refused');
SELECT throws_ok(format($$SELECT funnel.rename_stage('b2b', 'lead', %L)$$, U&'a\0085b'),
                 '22023', 'stage name "a<U+0085>b" contains a control character',
                 'rename_stage: C1 control (NEL) refused');

-- NFC: canonically equivalent spellings cannot become two names
SELECT throws_ok(format($$SELECT funnel.add_stage('b2b', %L)$$, U&'cafe\0301'),
                 '22023', U&'stage name "cafe\0301" is not in Unicode normalization form NFC',
                 'add_stage: decomposed é refused');
SELECT throws_ok(format($$SELECT funnel.create_pipeline(%L, ARRAY['a'])$$, U&'A\030A'),
                 '22023', U&'pipeline name "A\030A" is not in Unicode normalization form NFC',
                 'create_pipeline: decomposed Å refused');
SELECT lives_ok(format($$SELECT funnel.add_stage('b2b', %L)$$, U&'caf\00E9'),
                'the NFC spelling is accepted');

-- nothing was written by the refused calls
SELECT is((SELECT count(*)::int FROM funnel.pipeline), (SELECT count(*)::int FROM before_pipelines),
          'no pipeline was created by a refused call');
SELECT set_eq($$SELECT pipeline, stage FROM funnel.stages WHERE stage <> U&'caf\00E9'$$,
              $$SELECT pipeline, stage FROM before_errors$$,
              'no stage was added or renamed by a refused call');

-- names that stay valid: inner spaces, Chinese, an inner ideographic space
SELECT lives_ok($$SELECT funnel.create_pipeline('零售', ARRAY['潜在客户','合格线索','商机'],
                      won => ARRAY['成交'], lost => ARRAY['流失','无预算'])$$,
                'Chinese names are accepted');
SELECT lives_ok(format($$SELECT funnel.add_stage('零售', %L, after => '商机')$$, U&'大\3000客户'),
                'an ideographic space inside a name is accepted');
SELECT lives_ok($$SELECT funnel.add_stage('b2b', 'no budget', kind => 'lost')$$,
                'an inner ASCII space is accepted');
SELECT is(funnel.stage_name('零售:潜在客户'::funnel.deal_stage), '潜在客户', 'Chinese literal reads back');

-- a literal that differs from a name only by an invisible character says so
SELECT throws_ok(format($$SELECT %L::funnel.deal_stage$$, U&'b2b:lead\200B'),
                 '22P02', NULL, 'literal with a zero-width space is refused');
CREATE FUNCTION pg_temp.hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE h text;
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN h;
END $f$;
SELECT matches(pg_temp.hint_of(format($$SELECT %L::funnel.deal_stage$$, U&'b2b:lead\200B')),
               'U\+200B', 'the hint names the invisible character');

SELECT * FROM finish();
ROLLBACK;
