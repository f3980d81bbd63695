# Makefile for the funnel extension (PGXS)

EXTENSION = funnel
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = funnel
OBJS = \
	src/funnel.o \
	src/pipeline_cache.o \
	src/names.o \
	src/pipeline_uses.o \
	src/deal_stage_io.o \
	src/deal_stage_ops.o \
	src/unresolved.o \
	src/track_cache.o \
	src/track_history.o \
	src/track_trigger.o \
	src/agg_common.o \
	src/agg_stage.o \
	src/agg_summary.o \
	src/funnel_summary_io.o \
	src/agg_time.o \
	src/agg_forecast.o

DATA = $(wildcard sql/funnel--*--*.sql)
DATA_built = sql/funnel--$(EXTVERSION).sql

# pg_regress tests: sql/<name>.sql -> expected/<name>.out (listed, never globbed)
REGRESS = pipeline deal_stage cache track aggregates aggregates_parallel

EXTRA_CLEAN = results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/funnel--$(EXTVERSION).sql: sql/funnel.sql
	cp $< $@

# ---- project targets -------------------------------------------------------
# make test   : install Debian packages if missing, build, install, run every
#               pg_regress, pgTAP and shell test in a throw-away cluster
# make demo   : the same set-up, then load sample data and print a report
# make bench  : benchmarks (not tests), ratios measured side by side
# make results: copy results/*.out over expected/ after a reviewed change

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_MAJOR ?= 15

.PHONY: deps test demo bench results

deps:
	$(SUDO) test/install-deps.sh $(PG_MAJOR)

test: deps
	$(MAKE) all
	$(SUDO) $(MAKE) install
	test/run-tests.sh $(PG_MAJOR)

demo: deps
	$(MAKE) all
	$(SUDO) $(MAKE) install
	demo/run-demo.sh $(PG_MAJOR)

bench: deps
	$(MAKE) all
	$(SUDO) $(MAKE) install
	bench/run-bench.sh $(PG_MAJOR)

results:
	for f in results/*.out; do cp "$$f" expected/; done

# PGXS tracks no header dependencies
$(OBJS): src/funnel.h
src/agg_common.o src/agg_stage.o src/agg_summary.o src/funnel_summary_io.o src/agg_time.o src/agg_forecast.o: src/agg.h
src/agg_summary.o src/funnel_summary_io.o: src/funnel_summary.h
src/track_cache.o src/track_history.o src/track_trigger.o: src/track.h
