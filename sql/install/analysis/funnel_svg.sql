-- sql/install/analysis/funnel_svg.sql: the SVG funnel chart
-- C: (SQL only).  Part of the install script (see sql/install/README.md).

-- ---------------------------------------------------------------------------
-- Pictures (issue 10): funnel_svg, an SVG funnel chart composed over report()
-- ---------------------------------------------------------------------------

-- Text for SVG character data and attribute values: the five XML specials
-- escaped, and the characters XML 1.0 forbids (C0 controls but tab, newline
-- and carriage return; U+FFFE, U+FFFF) replaced by "?"
CREATE FUNCTION funnel_internal.svg_escape(s text) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad text := chr(1) || chr(2) || chr(3) || chr(4) || chr(5) || chr(6) || chr(7) || chr(8)
                || chr(11) || chr(12) || chr(14) || chr(15) || chr(16) || chr(17) || chr(18)
                || chr(19) || chr(20) || chr(21) || chr(22) || chr(23) || chr(24) || chr(25)
                || chr(26) || chr(27) || chr(28) || chr(29) || chr(30) || chr(31);
BEGIN
    IF getdatabaseencoding() = 'UTF8' THEN
        bad := bad || chr(65534) || chr(65535);
    END IF;
    s := translate(s, bad, repeat('?', length(bad)));
    RETURN replace(replace(replace(replace(replace(s,
               '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;');
END
$$;
COMMENT ON FUNCTION funnel_internal.svg_escape(text) IS
  'funnel internal: escapes text for SVG (& < > " '' as entities, characters XML 1.0 forbids as ?)';

-- Width in pixels a text needs at a font size, estimated on the wide side
-- (DejaVu Sans metrics, the usual fallback): CJK and other characters of three
-- or more UTF-8 bytes (two in other server encodings) count one full em
CREATE FUNCTION funnel_internal.svg_text_width(s text, size numeric) RETURNS numeric
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(sum(CASE
               WHEN octet_length(c) >= CASE getdatabaseencoding() WHEN 'UTF8' THEN 3 ELSE 2 END THEN 1.0
               WHEN octet_length(c) > 1 THEN 0.72
               WHEN c ~ '[ijlI.,:;!''|]' THEN 0.3
               WHEN c ~ '[ ftr()\[\]{}/\\`-]' THEN 0.42
               WHEN c ~ '[mwMW%&@#<>+=~]' THEN 1.0
               WHEN c ~ '[A-Z]' THEN 0.72
               ELSE 0.64 END), 0) * size
      FROM regexp_split_to_table(s, '') AS c
$$;
COMMENT ON FUNCTION funnel_internal.svg_text_width(text, numeric) IS
  'funnel internal: estimated width in pixels of a text at a font size (full width for CJK), for the layout of funnel_svg';

-- The options of funnel_svg(), checked: 22023 naming the bad key or value
CREATE FUNCTION funnel_internal.svg_options(options jsonb,
    OUT width integer, OUT title text, OUT show_amount boolean,
    OUT col_open text, OUT col_won text, OUT col_lost text)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    opts jsonb := coalesce(options, '{}'::jsonb);
    opt text;
    val jsonb;
    ckey text;
    cval jsonb;
BEGIN
    width := 720;
    show_amount := true;
    col_open := '#4e79a7';
    col_won := '#59a14f';
    col_lost := '#c9665f';
    IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION 'funnel_svg options must be a JSON object, not %', jsonb_typeof(opts)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Valid keys: width, title, show_amount, colors; e.g. ''{"width": 800, "title": "Q3"}''.';
    END IF;
    FOR opt, val IN SELECT e.key, e.value FROM jsonb_each(opts) AS e LOOP
        IF opt = 'width' THEN
            IF jsonb_typeof(val) <> 'number' THEN
                width := NULL;
            ELSIF val::numeric <> trunc(val::numeric) OR val::numeric < 320 OR val::numeric > 4096 THEN
                width := NULL;
            ELSE
                width := val::numeric::integer;
            END IF;
            IF width IS NULL THEN
                RAISE EXCEPTION 'invalid funnel_svg option "width": %', val
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'width is the width of the picture in pixels, a whole number from 320 to 4096.',
                          HINT = 'The picture grows wider than width when the stage names need it.';
            END IF;
        ELSIF opt = 'title' THEN
            IF jsonb_typeof(val) <> 'string' OR length(val #>> '{}') > 200 THEN
                RAISE EXCEPTION 'invalid funnel_svg option "title": %', left(val::text, 60)
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'title is a JSON string of at most 200 characters; "" leaves the title out.';
            END IF;
            title := val #>> '{}';
        ELSIF opt = 'show_amount' THEN
            IF jsonb_typeof(val) <> 'boolean' THEN
                RAISE EXCEPTION 'invalid funnel_svg option "show_amount": %', left(val::text, 60)
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'show_amount is true (the default) or false.';
            END IF;
            show_amount := val::boolean;
        ELSIF opt = 'colors' THEN
            IF jsonb_typeof(val) <> 'object' THEN
                RAISE EXCEPTION 'invalid funnel_svg option "colors": %', left(val::text, 60)
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'colors is an object such as {"open": "#4e79a7", "won": "#59a14f", "lost": "#c9665f"}.';
            END IF;
            FOR ckey, cval IN SELECT e.key, e.value FROM jsonb_each(val) AS e LOOP
                IF ckey NOT IN ('open', 'won', 'lost') THEN
                    RAISE EXCEPTION 'unknown funnel_svg color "%"', ckey
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'The keys of colors are open, won and lost.';
                END IF;
                IF jsonb_typeof(cval) <> 'string'
                   OR (cval #>> '{}') !~ '^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$' THEN
                    RAISE EXCEPTION 'invalid funnel_svg color "%": %', ckey, left(cval::text, 60)
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'A color is "#rgb" or "#rrggbb", such as "#4e79a7".';
                END IF;
                CASE ckey
                    WHEN 'open' THEN col_open := cval #>> '{}';
                    WHEN 'won' THEN col_won := cval #>> '{}';
                    ELSE col_lost := cval #>> '{}';
                END CASE;
            END LOOP;
        ELSE
            RAISE EXCEPTION 'unknown funnel_svg option "%"', opt
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Valid keys: width, title, show_amount, colors.';
        END IF;
    END LOOP;

END
$$;
COMMENT ON FUNCTION funnel_internal.svg_options(jsonb) IS
  'funnel internal: the options of funnel_svg() (width, title, show_amount, colors) with their defaults, each checked (22023 naming the bad key or value)';

-- A whole number with thousands separators: 1234567 -> 1,234,567
CREATE FUNCTION funnel_internal.svg_grouped(n text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.regexp_replace(n, '(\d)(?=(\d{3})+$)', '\1,', 'g');
COMMENT ON FUNCTION funnel_internal.svg_grouped(text) IS
  'funnel internal: the digits of a whole number grouped by thousands with commas, for funnel_svg() labels';

-- The count label of a report row: "1,234 deals" and, with show_amount, the
-- amount grouped by thousands without a zero fraction
CREATE FUNCTION funnel_internal.svg_count_label(deals bigint, amount numeric, show_amount boolean)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN funnel_internal.svg_grouped(deals::text)
       || CASE WHEN deals = 1 THEN ' deal' ELSE ' deals' END
       || CASE WHEN show_amount AND amount IS NOT NULL THEN
              ' · ' || funnel_internal.svg_grouped(split_part(amount::text, '.', 1))
              || CASE WHEN split_part(amount::text, '.', 2) ~ '^0*$' THEN ''
                      ELSE '.' || split_part(amount::text, '.', 2) END
          ELSE '' END;
COMMENT ON FUNCTION funnel_internal.svg_count_label(bigint, numeric, boolean) IS
  'funnel internal: the count label of a funnel_svg() row: deals grouped by thousands, then the amount when show_amount';

-- All deals of a report, given per row its kind, deals and (journeys) lost
-- deals among them: those that reached the first open stage, or a won stage
-- if none is open, plus those whose reached stage is a lost one; a summary
-- of journeys also counts a lost deal in the open stages it passed (its
-- "lost" column says how many), so those are not counted again
CREATE FUNCTION funnel_internal.svg_total_deals(kinds text[], deals bigint[], lost_among bigint[])
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN coalesce((SELECT sum(d) FROM unnest(kinds, deals) AS r(k, d)
                  WHERE k = 'lost' OR (array_position(kinds, 'open') IS NULL AND k = 'won')), 0)
       + coalesce(deals[array_position(kinds, 'open')]
                  - coalesce(lost_among[array_position(kinds, 'open')], 0), 0);
COMMENT ON FUNCTION funnel_internal.svg_total_deals(text[], bigint[], bigint[]) IS
  'funnel internal: the number of deals a report counts (the caption of funnel_svg()), each deal once whether the summary came from reached stages or from journeys';

CREATE FUNCTION funnel.funnel_svg(summary funnel.funnel_summary, options jsonb DEFAULT '{}')
    RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o record;
    req_width integer;
    title text;
    show_amount boolean;
    col_open text;
    col_won text;
    col_lost text;
    -- the report, in its order
    names text[];
    kinds text[];
    deals bigint[];
    lost_among bigint[];
    amounts numeric[];
    from_prev double precision[];
    from_first double precision[];
    pipeline text;
    nrows integer := 0;
    nopen integer;
    first_open integer;
    total bigint := 0;
    max_deals bigint := 0;
    line1 text[] := '{}';
    line2 text[] := '{}';
    -- layout (pixels)
    pad constant numeric := 24;
    gutter constant numeric := 16;
    min_funnel constant numeric := 200;
    bar_h constant numeric := 36;
    gap constant numeric := 12;
    name_w numeric := 0;
    num_w numeric := 0;
    head_w numeric := 0;
    w numeric;
    h numeric;
    fw numeric;
    cx numeric;
    x_num numeric;
    top numeric;
    y numeric;
    bw numeric;
    last_bw numeric;
    last_bottom numeric;
    fill text;
    opacity numeric;
    caption text;
    body text := '';
    i integer;
    k integer := 0;
BEGIN
    SELECT * INTO o FROM funnel_internal.svg_options(options);
    req_width := o.width;
    title := o.title;
    show_amount := o.show_amount;
    col_open := o.col_open;
    col_won := o.col_won;
    col_lost := o.col_lost;
    -- report() by column name, so columns added to it change nothing here
    IF summary IS NOT NULL THEN
        SELECT array_agg(funnel.stage_name(r.stage) ORDER BY r.ordinality),
               array_agg(funnel.kind(r.stage) ORDER BY r.ordinality),
               array_agg(r.deals ORDER BY r.ordinality),
               array_agg(r.lost ORDER BY r.ordinality),
               array_agg(r.amount ORDER BY r.ordinality),
               array_agg(r.conversion_from_previous ORDER BY r.ordinality),
               array_agg(r.conversion_from_first ORDER BY r.ordinality),
               min(funnel.pipeline_of(r.stage)),
               count(*)
          INTO names, kinds, deals, lost_among, amounts, from_prev, from_first, pipeline, nrows
          FROM funnel.report(summary) WITH ORDINALITY AS r;
    END IF;
    nopen := coalesce(array_length(array_positions(kinds, 'open'), 1), 0);
    first_open := array_position(kinds, 'open');
    FOR i IN 1 .. nrows LOOP
        max_deals := greatest(max_deals, deals[i]);
    END LOOP;
    total := funnel_internal.svg_total_deals(kinds, deals, lost_among);
    title := coalesce(title, pipeline, '');

    -- labels: count (and amount), then the conversions report() gives
    FOR i IN 1 .. nrows LOOP
        line1[i] := funnel_internal.svg_count_label(deals[i], amounts[i], show_amount);
        line2[i] := NULL;
        IF i <> first_open AND kinds[i] <> 'lost' THEN
            line2[i] := nullif(concat_ws(' · ',
                to_char(from_prev[i] * 100, 'FM990.0') || '% of previous',
                to_char(from_first[i] * 100, 'FM990.0') || '% of first'), '');
        END IF;
        name_w := greatest(name_w, funnel_internal.svg_text_width(names[i], 14));
        num_w := greatest(num_w, funnel_internal.svg_text_width(line1[i], 14) * 1.1,
                          coalesce(funnel_internal.svg_text_width(line2[i], 12), 0));
    END LOOP;
    caption := CASE WHEN total = 0 THEN 'no deals'
                    ELSE funnel_internal.svg_count_label(total, NULL, false) END;
    head_w := greatest(funnel_internal.svg_text_width(title, 18) * 1.1, funnel_internal.svg_text_width(caption, 12));

    w := ceil(greatest(req_width, 2 * pad + head_w,
                       2 * pad + name_w + gutter + min_funnel + gutter + num_w));
    top := CASE WHEN title = '' THEN pad ELSE pad + 56 END;

    IF total = 0 THEN
        -- nothing to draw: the title and a centred "no deals"
        h := top + 72;
        body := format('<text x="%s" y="%s" text-anchor="middle" font-size="16" fill="#6b7280" class="empty">no deals</text>',
                       round(w / 2, 1), top + 36);
        caption := NULL;
    ELSE
        fw := w - 2 * pad - name_w - num_w - 2 * gutter;
        cx := pad + name_w + gutter + fw / 2;
        x_num := pad + name_w + gutter + fw + gutter;
        y := top;
        FOR i IN 1 .. nrows LOOP
            IF kinds[i] = 'lost' AND (i = 1 OR kinds[i - 1] <> 'lost') THEN
                y := y + gap;          -- lost stages stand apart from the funnel
            END IF;
            bw := greatest(2, fw * deals[i] / max_deals);
            IF kinds[i] = 'open' THEN
                k := k + 1;
                fill := col_open;
                opacity := 1 - 0.35 * (k - 1) / greatest(nopen - 1, 1);
            ELSIF kinds[i] = 'won' THEN
                fill := col_won;
                opacity := 1;
            ELSE
                fill := col_lost;
                opacity := 0.85;
            END IF;
            -- a band joins each open stage to the next open or won stage
            IF i > 1 AND kinds[i - 1] = 'open' AND kinds[i] <> 'lost' THEN
                body := body || format('<polygon points="%s,%s %s,%s %s,%s %s,%s" fill="%s" fill-opacity="0.18"/>',
                    round(cx - last_bw / 2, 1), last_bottom, round(cx + last_bw / 2, 1), last_bottom,
                    round(cx + bw / 2, 1), y, round(cx - bw / 2, 1), y, col_open) || E'\n';
            END IF;
            body := body
                || format('<rect x="%s" y="%s" width="%s" height="%s" rx="3" fill="%s" fill-opacity="%s" class="bar %s"/>',
                          round(cx - bw / 2, 1), y, round(bw, 1), bar_h, fill, round(opacity, 2), kinds[i]) || E'\n'
                || format('<text x="%s" y="%s" text-anchor="end" font-size="14" fill="#1f2937" class="stage">%s</text>',
                          round(pad + name_w, 1), y + 23, funnel_internal.svg_escape(names[i])) || E'\n';
            IF line2[i] IS NULL THEN
                body := body || format('<text x="%s" y="%s" font-size="14" font-weight="bold" fill="#1f2937" class="count">%s</text>',
                                       round(x_num, 1), y + 23, funnel_internal.svg_escape(line1[i])) || E'\n';
            ELSE
                body := body
                    || format('<text x="%s" y="%s" font-size="14" font-weight="bold" fill="#1f2937" class="count">%s</text>',
                              round(x_num, 1), y + 15, funnel_internal.svg_escape(line1[i])) || E'\n'
                    || format('<text x="%s" y="%s" font-size="12" fill="#6b7280" class="conversion">%s</text>',
                              round(x_num, 1), y + 31, funnel_internal.svg_escape(line2[i])) || E'\n';
            END IF;
            last_bw := bw;
            last_bottom := y + bar_h;
            y := y + bar_h + gap;
        END LOOP;
        h := y - gap + pad;
    END IF;

    RETURN format('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" role="img" font-family="%s">',
                  w, h, w, h, '''Noto Sans'', ''Noto Sans CJK SC'', ''Source Han Sans SC'', ''PingFang SC'', ''Microsoft YaHei'', ''DejaVu Sans'', Arial, sans-serif')
        || E'\n' || format('<title>%s</title>', funnel_internal.svg_escape(coalesce(nullif(title, ''), 'funnel')))
        || E'\n' || format('<rect width="%s" height="%s" fill="#ffffff"/>', w, h)
        || E'\n' || CASE WHEN title = '' THEN '' ELSE
               format('<text x="%s" y="%s" font-size="18" font-weight="bold" fill="#1f2937" class="title">%s</text>',
                      pad, pad + 20, funnel_internal.svg_escape(title)) || E'\n' END
        || CASE WHEN title = '' OR caption IS NULL THEN '' ELSE
               format('<text x="%s" y="%s" font-size="12" fill="#6b7280" class="caption">%s</text>',
                      pad, pad + 40, funnel_internal.svg_escape(caption)) || E'\n' END
        || body
        || '</svg>';
END
$$;
COMMENT ON FUNCTION funnel.funnel_svg(funnel.funnel_summary, jsonb) IS
  'self-contained SVG funnel chart of a summary (text): per stage of report() a centred bar as wide as its deals, the count (and amount), conversion from the previous and the first stage; won and lost rows below; options {"width", "title", "show_amount", "colors": {"open", "won", "lost"}}; a NULL or empty summary draws "no deals"';
