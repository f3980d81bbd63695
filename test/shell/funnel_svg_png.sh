#!/bin/sh
# test/shell/funnel_svg_png.sh: funnel.funnel_svg() output is a picture.
#   Each SVG (a Latin pipeline, a Chinese one with a 21-character stage name,
#   names with & < > " ', a NULL and a zero-deal summary, options, and the
#   committed doc/funnel.svg of make demo) must be well-formed XML (xmllint)
#   and render with rsvg-convert (librsvg2-bin) to a PNG whose IHDR width and
#   height equal the SVG's width and height and the size the layout gives:
#   80 px of title, 48 px per row less the last gap, 12 px before lost
#   stages, 24 px margin.
set -eu
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*"; exit 1; }
for tool in rsvg-convert xmllint od; do
    command -v "$tool" >/dev/null || fail "$tool not found (make deps installs librsvg2-bin and libxml2-utils)"
done
DB=funnel_svg_png
WORK=$(mktemp -d /tmp/funnel-svg.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
P="psql -X -q -At -v ON_ERROR_STOP=1 -d $DB"
$P >/dev/null <<'SQL'
CREATE EXTENSION funnel;
SELECT funnel.create_pipeline('b2b', ARRAY['lead', 'qualified', 'proposal'],
                              won => ARRAY['won'], lost => ARRAY['lost']);
SELECT funnel.create_pipeline('零售', ARRAY['潜在客户', '合格线索', '报价与合同谈判阶段的重点大客户商务机会评审'],
                              won => ARRAY['成交'], lost => ARRAY['流失', '无预算']);
SELECT funnel.create_pipeline('R&D <"q"> it''s', ARRAY['a & b', '<script>', 'say "hi"', 'it''s', ']]>'],
                              won => ARRAY['won & done'], lost => ARRAY['lost <x>']);
CREATE TABLE deals AS
SELECT g AS id, ('b2b:' || CASE WHEN g % 10 < 3 THEN 'lead' WHEN g % 10 < 5 THEN 'qualified'
                                WHEN g % 10 < 6 THEN 'proposal' WHEN g % 10 < 8 THEN 'won' ELSE 'lost' END
                )::funnel.deal_stage AS reached,
       (g * 37 % 5000 + 1000)::numeric(12,2) AS amount
  FROM generate_series(1, 1000) g;
CREATE TABLE retail AS
SELECT g AS id, ('零售:' || (ARRAY['潜在客户', '潜在客户', '潜在客户', '合格线索', '合格线索',
                                  '报价与合同谈判阶段的重点大客户商务机会评审', '成交', '流失', '无预算'])[1 + g % 9]
                )::funnel.deal_stage AS reached,
       (g % 900 + 50)::numeric AS amount
  FROM generate_series(1, 500) g;
SQL

# svg NAME QUERY: the query's one value into $WORK/NAME.svg
svg() { $P -c "$2" >"$WORK/$1.svg" || fail "$1: query failed"; }
svg latin "SELECT funnel.funnel_svg(funnel.funnel(reached, amount)) FROM deals"
svg chinese "SELECT funnel.funnel_svg(funnel.funnel(reached, amount)) FROM retail"
svg specials "SELECT funnel.funnel_svg(funnel.funnel(('R&D <\"q\"> it''s:' || s)::funnel.deal_stage))
                FROM (VALUES ('a & b'), ('it''s'), (']]>'), ('won & done'), ('lost <x>')) v(s)"
svg null "SELECT funnel.funnel_svg(NULL)"
svg zero "SELECT funnel.funnel_svg('{\"pipeline\": \"零售\", \"stages\": []}')"
svg options "SELECT funnel.funnel_svg(funnel.funnel(reached, amount),
                '{\"width\": 1000, \"title\": \"\", \"show_amount\": false, \"colors\": {\"open\": \"#335577\"}}')
               FROM deals"
cp doc/funnel.svg "$WORK/demo.svg"

# check NAME WIDTH HEIGHT: well-formed, renders, PNG size = SVG size = expected
# (WIDTH ">720" accepts any width above 720)
check() {
    f=$WORK/$1
    xmllint --noout "$f.svg" || fail "$1: not well-formed XML"
    rsvg-convert -o "$f.png" "$f.svg" || fail "$1: rsvg-convert failed"
    set -- "$1" "$2" "$3" $(od -An -tu1 -N24 "$f.png")
    [ $# -eq 27 ] || fail "$1: PNG shorter than 24 bytes"
    name=$1 want_w=$2 want_h=$3
    shift 3
    # signature 137 P N G \r \n 26 \n, then the IHDR chunk: length 13, "IHDR"
    case "$*" in
        "137 80 78 71 13 10 26 10 0 0 0 13 73 72 68 82 "*) ;;
        *) fail "$name: no PNG signature and IHDR" ;;
    esac
    shift 16
    png_w=$(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 ))
    png_h=$(( ($5 << 24) | ($6 << 16) | ($7 << 8) | $8 ))
    svg_w=$(sed -n '1s/^<svg [^>]* width="\([0-9]*\)" height="\([0-9]*\)".*/\1/p' "$f.svg")
    svg_h=$(sed -n '1s/^<svg [^>]* width="\([0-9]*\)" height="\([0-9]*\)".*/\2/p' "$f.svg")
    [ "$png_w" = "$svg_w" ] && [ "$png_h" = "$svg_h" ] ||
        fail "$name: PNG is ${png_w}x$png_h, SVG says ${svg_w}x$svg_h"
    case $want_w in
        ">"*) [ "$png_w" -gt "${want_w#>}" ] || fail "$name: width $png_w, want $want_w" ;;
        *) [ "$png_w" -eq "$want_w" ] || fail "$name: width $png_w, want $want_w" ;;
    esac
    [ "$png_h" -eq "$want_h" ] || fail "$name: height $png_h, want $want_h"
    echo "funnel_svg_png: $name: well-formed, PNG ${png_w}x$png_h"
}
check latin 720 $((80 + 5 * 48 - 12 + 12 + 24))
check chinese ">720" $((80 + 6 * 48 - 12 + 12 + 24))
check specials 720 $((80 + 7 * 48 - 12 + 12 + 24))
check null 720 $((24 + 72))
check zero 720 $((80 + 72))
check options 1000 $((24 + 5 * 48 - 12 + 12 + 24))
check demo 760 $((80 + 11 * 48 - 12 + 12 + 24))

# the names came through as text, not markup
grep -q '&lt;script&gt;' "$WORK/specials.svg" || fail "specials: escaped stage name missing"
if grep -q '<script>' "$WORK/specials.svg"; then fail "specials: raw <script> in the SVG"; fi
grep -q '报价与合同谈判阶段的重点大客户商务机会评审' "$WORK/chinese.svg" || fail "chinese: stage name missing"
psql -X -q -d postgres -c "DROP DATABASE $DB"
