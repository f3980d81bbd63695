-- test/pgtap/funnel_svg.sql: funnel.funnel_svg() draws report() faithfully.
-- The SVG is parsed back (xmltable) and its labels compared with counts,
-- amounts and conversions computed here in plain SQL from the deals, not
-- through funnel functions; stage and pipeline names with XML specials and
-- CJK names come back unchanged; an empty summary draws "no deals"; every
-- option works and every bad option is refused with 22023. Runs as a role
-- without superuser (pipelines are made first, by the superuser).
BEGIN;
CREATE EXTENSION funnel;
SELECT plan(49);

SELECT funnel.create_pipeline('b2b', ARRAY['lead', 'qualified', 'proposal'],
                              won => ARRAY['won'], lost => ARRAY['lost']);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户', '合格线索', '报价与合同谈判阶段的重点大客户商务机会评审'],
                              won => ARRAY['成交'], lost => ARRAY['流失', '无预算']);
SELECT funnel.create_pipeline('R&D <"q"> it''s', ARRAY['a & b', '<script>', 'say "hi"', 'it''s', ']]>'],
                              won => ARRAY['won & done'], lost => ARRAY['lost <x>']);

CREATE ROLE svg_analyst NOSUPERUSER;
GRANT CREATE ON SCHEMA public TO svg_analyst;
SET ROLE svg_analyst;

-- the stages of b2b with their order and kind, written out (not read from funnel)
CREATE TEMP TABLE b2b_stage (name text, pos int, kind text);
INSERT INTO b2b_stage VALUES ('lead', 1, 'open'), ('qualified', 2, 'open'), ('proposal', 3, 'open'),
                             ('won', 4, 'won'), ('lost', 5, 'lost');
-- 1000 deals: 300 ended in lead, 200 in qualified, 100 in proposal, 200 won,
-- 200 lost; whole amounts (numeric(12,2), so ".00" must be dropped), some NULL
CREATE TEMP TABLE deals AS
SELECT g AS id,
       CASE WHEN g % 10 < 3 THEN 'lead' WHEN g % 10 < 5 THEN 'qualified' WHEN g % 10 < 6 THEN 'proposal'
            WHEN g % 10 < 8 THEN 'won' ELSE 'lost' END AS reached,
       CASE WHEN g % 97 = 0 THEN NULL ELSE (g * 37 % 5000 + 1000)::numeric(12,2) END AS amount
  FROM generate_series(1, 1000) g;
-- per stage: deals that reached it (implied passage for open stages) and their amount
CREATE TEMP TABLE expected AS
SELECT s.pos, s.name, s.kind, count(d.id) AS n, sum(d.amount) AS amount
  FROM b2b_stage s
  LEFT JOIN deals d ON d.reached = s.name
                    OR (s.kind = 'open' AND d.reached IN (SELECT name FROM b2b_stage x
                                                           WHERE (x.kind = 'open' AND x.pos > s.pos) OR x.kind = 'won'))
 GROUP BY s.pos, s.name, s.kind;

CREATE TEMP TABLE pics AS
SELECT funnel.funnel_svg(funnel.funnel(('b2b:' || reached)::funnel.deal_stage, amount)) AS svg,
       funnel.funnel_svg(funnel.funnel(('b2b:' || reached)::funnel.deal_stage, amount),
                         '{"width": 1000, "title": "Q3 <&> \u0001 \uffff", "show_amount": false,
                           "colors": {"open": "#112233", "won": "#2a2", "lost": "#ABCDEF"}}') AS svg_opt,
       funnel.funnel_svg(funnel.funnel(('b2b:' || reached)::funnel.deal_stage, amount), NULL) AS svg_null_opt,
       funnel.funnel_svg(funnel.funnel(('b2b:' || reached)::funnel.deal_stage, amount), '{"title": ""}') AS svg_untitled
  FROM deals;

-- the texts of one class, in document order, as the XML parser reads them
CREATE FUNCTION pg_temp.texts(svg text, cls text) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(t.v ORDER BY t.n)
      FROM xmltable(xmlnamespaces('http://www.w3.org/2000/svg' AS s),
                    '//s:text' PASSING xmlparse(document svg)
                    COLUMNS n FOR ORDINALITY, c text PATH '@class', v text PATH '.') t
     WHERE t.c = cls $$;
CREATE FUNCTION pg_temp.attr(svg text, path text) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(t.v ORDER BY t.n)
      FROM xmltable(xmlnamespaces('http://www.w3.org/2000/svg' AS s),
                    path PASSING xmlparse(document svg)
                    COLUMNS n FOR ORDINALITY, v text PATH '.') t $$;

-- the function
SELECT has_function('funnel', 'funnel_svg', ARRAY['funnel.funnel_summary', 'jsonb'], 'funnel_svg(summary, options) exists');
SELECT function_returns('funnel', 'funnel_svg', ARRAY['funnel.funnel_summary', 'jsonb'], 'text', 'it returns text');
SELECT volatility_is('funnel', 'funnel_svg', ARRAY['funnel.funnel_summary', 'jsonb'], 'stable',
                     'STABLE: it reads the pipeline through report()');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'funnel.funnel_svg(funnel.funnel_summary, jsonb)'::regprocedure),
          's', 'PARALLEL SAFE');

-- a Latin pipeline: every label equals plain SQL over the deals
SELECT ok(xml_is_well_formed_document(svg), 'Latin funnel: well-formed XML') FROM pics;
SELECT ok(svg LIKE '<svg xmlns="http://www.w3.org/2000/svg" width="720" height="344" viewBox="0 0 720 344" %',
          'default width 720; height from the 5 rows') FROM pics;
SELECT is(pg_temp.texts(svg, 'stage'), (SELECT array_agg(name ORDER BY pos) FROM b2b_stage),
          'one stage label per stage, in funnel order') FROM pics;
SELECT is(pg_temp.texts(svg, 'count'),
          (SELECT array_agg(to_char(n, 'FM999,999') || ' deals · ' || to_char(amount, 'FM999,999,999') ORDER BY pos) FROM expected),
          'counts (deals that reached each open stage, then won and lost) and whole amounts') FROM pics;
SELECT is(pg_temp.texts(svg, 'count'),
          (SELECT array_agg(format('%s deals · %s', to_char(r.deals, 'FM999,999'), to_char(r.amount, 'FM999,999,999')))
             FROM funnel.report((SELECT funnel.funnel(('b2b:' || reached)::funnel.deal_stage, amount) FROM deals)) r),
          'counts and amounts equal report()''s') FROM pics;
SELECT is(pg_temp.texts(svg, 'conversion'),
          (SELECT array_agg(format('%s%% of previous · %s%% of first',
                                   to_char(round(100.0 * e.n / p.n, 1), 'FM990.0'),
                                   to_char(round(100.0 * e.n / f.n, 1), 'FM990.0')) ORDER BY e.pos)
             FROM expected e
             JOIN expected p ON p.pos = e.pos - 1
             JOIN expected f ON f.pos = 1
            WHERE e.kind <> 'lost'),
          'conversion from previous and from first for every open stage but the first, and won') FROM pics;
SELECT is(pg_temp.texts(svg, 'conversion'),
          ARRAY['62.5% of previous · 62.5% of first', '60.0% of previous · 37.5% of first',
                '66.7% of previous · 25.0% of first'],
          'conversions, written out') FROM pics;
SELECT is(pg_temp.texts(svg, 'title'), ARRAY['b2b'], 'title defaults to the pipeline name') FROM pics;
SELECT is(pg_temp.texts(svg, 'caption'), ARRAY['1,000 deals'], 'caption: all deals (reached the first stage + lost)') FROM pics;

-- captions of summaries built from journeys (outcomes known): a lost deal
-- that passed the first stage is counted once, not again in its lost row;
-- a deal lost before any open stage still counts; open deals count.
-- 400 deals: 100 open in lead, 100 lost after lead and qualified, 100 won
-- after every open stage, 60 lost after proposal, 40 lost straight away
CREATE TEMP TABLE visits AS
SELECT d AS deal, ('b2b:' || st)::funnel.deal_stage AS stage, timestamptz '2026-01-01' + n * interval '1 day' AS at
  FROM generate_series(1, 400) d,
       LATERAL unnest(CASE WHEN d <= 100 THEN ARRAY['lead']
                           WHEN d <= 200 THEN ARRAY['lead', 'qualified', 'lost']
                           WHEN d <= 300 THEN ARRAY['lead', 'qualified', 'proposal', 'won']
                           WHEN d <= 360 THEN ARRAY['lead', 'qualified', 'proposal', 'lost']
                           ELSE ARRAY['lost'] END) WITH ORDINALITY AS u(st, n);
CREATE TEMP TABLE journeys AS
SELECT deal, funnel.journey(stage, at) AS j FROM visits GROUP BY deal;
SELECT is(pg_temp.texts(funnel.funnel_svg(funnel.funnel(j)), 'caption'),
          ARRAY[to_char((SELECT count(DISTINCT deal) FROM visits), 'FM9,999') || ' deals'],
          'caption of a journeys summary: every deal once (lost deals not counted twice)') FROM journeys;
SELECT is(pg_temp.texts(funnel.funnel_svg(funnel.funnel(j)), 'caption'), ARRAY['100 deals'],
          'caption of open deals only') FROM journeys WHERE deal <= 100;
SELECT is(pg_temp.texts(funnel.funnel_svg(funnel.funnel(j)), 'caption'), ARRAY['140 deals'],
          'caption of lost deals, 100 of them after the first stage and 40 before it') FROM journeys WHERE deal > 100 AND deal <= 200 OR deal > 360;
SELECT ok((SELECT bool_and(abs(w.w::numeric - e.n * 1.0 / m.n * (pg_temp.attr(svg, '//s:rect[@class="bar open"]/@width'))[1]::numeric) <= 0.1)
              AND count(*) = 5
              FROM unnest(pg_temp.attr(svg, '//s:rect[contains(@class, "bar")]/@width')) WITH ORDINALITY AS w(w, pos)
              JOIN expected e USING (pos), (SELECT max(n) AS n FROM expected) m),
          'bar widths are proportional to the counts (to 0.1 px)') FROM pics;
SELECT is(pg_temp.attr(svg, '//s:rect[contains(@class, "bar")]/@fill'),
          ARRAY['#4e79a7', '#4e79a7', '#4e79a7', '#59a14f', '#c9665f'], 'default colors: open, won, lost') FROM pics;

-- options
SELECT ok(xml_is_well_formed_document(svg_opt), 'with options: well-formed XML') FROM pics;
SELECT ok(svg_opt LIKE '<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="344" %', 'width 1000') FROM pics;
SELECT is(pg_temp.texts(svg_opt, 'title'), ARRAY['Q3 <&> ? ?'],
          'title: XML specials round-trip, characters XML forbids (U+0001, U+FFFF) become ?') FROM pics;
SELECT is(pg_temp.texts(svg_opt, 'count'), (SELECT array_agg(to_char(n, 'FM999,999') || ' deals' ORDER BY pos) FROM expected),
          'show_amount false: counts only') FROM pics;
SELECT is(pg_temp.attr(svg_opt, '//s:rect[contains(@class, "bar")]/@fill'),
          ARRAY['#112233', '#112233', '#112233', '#2a2', '#ABCDEF'], 'colors for open, won and lost') FROM pics;
SELECT is(svg_null_opt, svg, 'NULL options = no options') FROM pics;
SELECT ok(xml_is_well_formed_document(svg_untitled)
          AND pg_temp.texts(svg_untitled, 'title') IS NULL AND pg_temp.texts(svg_untitled, 'caption') IS NULL
          AND svg_untitled LIKE '%height="288"%',
          'title "" leaves out title and caption (56 px shorter)') FROM pics;

-- amounts: fractions kept, negative totals grouped, one deal singular
SELECT is(pg_temp.texts(funnel.funnel_svg(funnel.funnel(s::funnel.deal_stage, a)), 'count'),
          ARRAY['2 deals · -1,233,333', '1 deal · -1,234,567.5', '1 deal · -1,234,567.5', '0 deals', '0 deals'],
          'amounts: whole totals without decimals, fractions kept, thousands grouped, "1 deal"')
  FROM (VALUES ('b2b:lead', 1234.5), ('b2b:proposal', -1234567.5)) v(s, a);

-- Chinese names: unchanged, and the picture grows so that they fit
CREATE TEMP TABLE cn AS
SELECT funnel.funnel_svg(funnel.funnel(s::funnel.deal_stage, 100)) AS svg
  FROM (VALUES ('零售:潜在客户'), ('零售:潜在客户'), ('零售:合格线索'), ('零售:报价与合同谈判阶段的重点大客户商务机会评审'),
               ('零售:成交'), ('零售:流失'), ('零售:无预算')) v(s);
SELECT ok(xml_is_well_formed_document(svg), 'Chinese funnel: well-formed XML') FROM cn;
SELECT is(pg_temp.texts(svg, 'stage'),
          ARRAY['潜在客户', '合格线索', '报价与合同谈判阶段的重点大客户商务机会评审', '成交', '流失', '无预算'],
          'Chinese stage names unchanged') FROM cn;
SELECT is(pg_temp.texts(svg, 'title'), ARRAY['零售'], 'Chinese pipeline name as title') FROM cn;
SELECT cmp_ok((pg_temp.attr(svg, '//s:text[@class="stage"]/@x'))[1]::numeric, '>=', (24 + 21 * 14)::numeric,
              'the name column holds 21 full-width characters at 14 px after the 24 px margin') FROM cn;
SELECT cmp_ok((pg_temp.attr(svg, '/s:svg/@width'))[1]::numeric, '>', 720::numeric,
              'the picture is wider than the default 720 px to fit them') FROM cn;
SELECT ok(svg LIKE '%font-family="''Noto Sans'', ''Noto Sans CJK SC'', %sans-serif"%', 'font list names CJK fonts') FROM cn;

-- XML specials in pipeline and stage names
CREATE TEMP TABLE sp AS
SELECT funnel.funnel_svg(funnel.funnel(('R&D <"q"> it''s:' || s)::funnel.deal_stage)) AS svg
  FROM (VALUES ('a & b'), ('it''s'), (']]>'), ('won & done'), ('lost <x>')) v(s);
SELECT ok(xml_is_well_formed_document(svg), 'names with & < > " '': well-formed XML') FROM sp;
SELECT is(pg_temp.texts(svg, 'stage'), ARRAY['a & b', '<script>', 'say "hi"', 'it''s', ']]>', 'won & done', 'lost <x>'],
          'stage names round-trip through the XML parser') FROM sp;
SELECT is(pg_temp.texts(svg, 'title'), ARRAY['R&D <"q"> it''s'], 'pipeline name round-trips') FROM sp;
SELECT is(pg_temp.attr(svg, '/s:svg/s:title'), ARRAY['R&D <"q"> it''s'], 'the <title> element too') FROM sp;
SELECT ok(svg NOT LIKE '%<script>%' AND svg LIKE '%&lt;script&gt;%', 'no raw markup from names') FROM sp;

-- empty summaries
SELECT ok(xml_is_well_formed_document(funnel.funnel_svg(NULL))
          AND pg_temp.texts(funnel.funnel_svg(NULL), 'empty') = ARRAY['no deals']
          AND funnel.funnel_svg(NULL) NOT LIKE '%class="bar%',
          'NULL summary (funnel() over no rows): "no deals", no bars');
SELECT ok(xml_is_well_formed_document(svg) AND pg_temp.texts(svg, 'empty') = ARRAY['no deals']
          AND pg_temp.texts(svg, 'title') = ARRAY['b2b'] AND svg LIKE '%width="720" height="152"%',
          'summary with zero deals: title, "no deals", 720 x 152')
  FROM (SELECT funnel.funnel_svg('{"pipeline": "b2b", "stages": []}') AS svg) x;

-- bad options: 22023 naming the key or value
SELECT throws_ok($$ SELECT funnel.funnel_svg(NULL, '[800]') $$, '22023',
                 'funnel_svg options must be a JSON object, not array', 'options not an object');
SELECT throws_ok($$ SELECT funnel.funnel_svg(NULL, '{"widht": 800}') $$, '22023',
                 'unknown funnel_svg option "widht"', 'unknown key');
SELECT throws_ok($$ SELECT funnel.funnel_svg(NULL, '{"width": 100}') $$, '22023',
                 'invalid funnel_svg option "width": 100', 'width below 320');
SELECT throws_ok($$ SELECT funnel.funnel_svg(NULL, '{"width": 800.5}') $$, '22023',
                 'invalid funnel_svg option "width": 800.5', 'width not whole');
SELECT throws_ok($$ SELECT funnel.funnel_svg(NULL, '{"width": "800"}') $$, '22023',
                 'invalid funnel_svg option "width": "800"', 'width as a string');
SELECT throws_ok($$ SELECT funnel.funnel_svg(NULL, '{"title": 5}') $$, '22023',
                 'invalid funnel_svg option "title": 5', 'title not a string');
SELECT throws_ok($$ SELECT funnel.funnel_svg(NULL, '{"show_amount": "yes"}') $$, '22023',
                 'invalid funnel_svg option "show_amount": "yes"', 'show_amount not a boolean');
SELECT throws_ok($$ SELECT funnel.funnel_svg(NULL, '{"colors": {"open": "red\" onload=\"x"}}') $$, '22023',
                 'invalid funnel_svg color "open": "red\" onload=\"x"', 'a color that is not #rgb or #rrggbb');
SELECT throws_ok($$ SELECT funnel.funnel_svg(NULL, '{"colors": {"opne": "#123"}}') $$, '22023',
                 'unknown funnel_svg color "opne"', 'unknown color key');

-- search_path cannot change the picture: a look-alike replace() in public
-- (pgTAP itself calls replace(), so the assertion runs after RESET)
CREATE FUNCTION public.replace(text, text, text) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
SET search_path = public, pg_catalog;
CREATE TEMP TABLE hijack AS
SELECT funnel.funnel_svg(funnel.funnel(('b2b:' || reached)::funnel.deal_stage, amount)) AS svg FROM deals;
RESET search_path;
DROP FUNCTION public.replace(text, text, text);
SELECT is(h.svg, p.svg, 'a replace(text, text, text) earlier on search_path changes nothing')
  FROM hijack h, pics p;

SELECT * FROM finish();
ROLLBACK;
