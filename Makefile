# Makefile for the funnel extension (PGXS)

EXTENSION = funnel
# the source tree: also right when built from another directory with VPATH,
# as Debian's pg_buildext builds one directory per PostgreSQL major
top := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(top)$(EXTENSION).control)

MODULE_big = funnel
OBJS = \
	src/funnel.o \
	src/pg_compat.o \
	src/pipeline_cache.o \
	src/names.o \
	src/pipeline_uses.o \
	src/deal_stage_io.o \
	src/deal_stage_ops.o \
	src/track_api.o \
	src/pipeline_api.o \
	src/unresolved.o \
	src/bare_names.o \
	src/bare_names_resolve.o \
	src/track_cache.o \
	src/track_history.o \
	src/track_trigger.o \
	src/track_rules.o \
	src/track_errors.o \
	src/track_batch.o \
	src/track_validate.o \
	src/track_citus.o \
	src/track_migrate.o \
	src/citus_depend.o \
	src/import.o \
	src/import_write.o \
	src/agg_common.o \
	src/agg_stage.o \
	src/agg_json.o \
	src/agg_summary.o \
	src/agg_report.o \
	src/funnel_summary_io.o \
	src/agg_journey.o \
	src/agg_time.o \
	src/duration_sample.o \
	src/agg_forecast.o \
	src/agg_velocity.o \
	src/agg_window_funnel.o \
	src/agg_window_funnel_scan.o \
	src/history_read.o \
	src/history_query.o \
	src/tracked_sources.o \
	src/pipeline_as_of.o \
	src/stage_dimension.o \
	src/live.o

DATA = $(patsubst $(top)%,%,$(wildcard $(top)sql/funnel--*--*.sql))
DATA_built = sql/funnel--$(EXTVERSION).sql

# pg_regress tests: sql/<name>.sql -> expected/<name>.out (listed, never globbed)
REGRESS = pipeline deal_stage cache track aggregates aggregates_parallel window_funnel search_path journey

EXTRA_CLEAN = results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# a VPATH build writes objects and the built script into these
ifdef VPATH
$(shell mkdir -p src sql)
endif

# The install script is built from one part per concern, named as the C
# files it declares (sql/install/README.md), in this order: a part may use
# only what the parts before it create.
INSTALL_PARTS = $(addprefix sql/install/,$(addsuffix .sql,funnel deal_stage \
	bare_names pipeline citus track track_many track_migrate track_batch import pipeline_as_of agg_stage agg_journey agg_summary \
	agg_report agg_forecast agg_time agg_velocity agg_window_funnel funnel_svg bi_views live live_ops \
	grants))

sql/funnel--$(EXTVERSION).sql: $(INSTALL_PARTS) funnel.control
	{ echo '-- sql/funnel--$(EXTVERSION).sql: built by make from sql/install/*.sql; edit those'; \
	  echo; \
	  echo '-- complain if script is sourced in psql, rather than via CREATE EXTENSION'; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION funnel" to load this file. \quit'; \
	  for f in $(filter %.sql,$^); do echo; cat $$f; done; } > $@

# ---- project targets -------------------------------------------------------
# make test   : install Debian packages if missing, build, install, run every
#               pg_regress, pgTAP and shell test in a throw-away cluster;
#               PG_MAJOR=17 or 18 runs all of it in a Debian chroot made or
#               reused under /var/lib/funnel/chroots (test/chroot/)
# make demo   : the same set-up, then load sample data and print a report
# make fuzz   : the same set-up, then sqlsmith against a database with
#               pipelines, tracked tables and state columns (test/fuzz/);
#               FUZZ_QUERIES=20000 FUZZ_SEED=1; fails on any backend crash
# make bench  : benchmarks (not tests), ratios measured side by side
# make dist   : funnel-<version>.zip for PGXN (version from META.json), a git
#               archive of tag v<version>, or of HEAD when there is no tag
# make deb    : Debian packages postgresql-NN-funnel (pg_buildext, one per
#               installed major) in build/deb/, checked by lintian
# make results: copy results/*.out over expected/ after a reviewed change

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_MAJOR ?= 15

.PHONY: deps test demo bench fuzz dist results deb

deps:
	$(SUDO) test/install-deps.sh $(PG_MAJOR)

# majors the host (Debian 12) lacks: tested in a Debian chroot
CHROOT_MAJORS = 17 18

ifneq ($(filter $(PG_MAJOR),$(CHROOT_MAJORS)),)
test:
	$(SUDO) env PG_CFLAGS='$(PG_CFLAGS)' test/chroot/run.sh $(PG_MAJOR)
else
test: deps
	$(MAKE) all
	$(SUDO) $(MAKE) install
	test/run-tests.sh $(PG_MAJOR)
endif

demo: deps
	$(MAKE) all
	$(SUDO) $(MAKE) install
	demo/run-demo.sh $(PG_MAJOR)

fuzz: deps
	command -v sqlsmith >/dev/null || $(SUDO) apt-get install -y -qq sqlsmith >/dev/null
	$(MAKE) all
	$(SUDO) $(MAKE) install
	test/fuzz/run-fuzz.sh $(PG_MAJOR)

bench: deps
	$(MAKE) all
	$(SUDO) $(MAKE) install
	bench/run-bench.sh $(PG_MAJOR)

DISTVERSION = $(shell sed -n '0,/^ *"version": *"\([^"]*\)".*/s//\1/p' META.json)

dist:
	@if git rev-parse -q --verify "refs/tags/v$(DISTVERSION)" >/dev/null; then \
		ref=v$(DISTVERSION); \
	else \
		ref=HEAD; \
		echo "make dist: no tag v$(DISTVERSION); archiving HEAD ($$(git rev-parse --short HEAD)), not a release."; \
		echo "make dist: to release, commit, then: git tag v$(DISTVERSION) && make dist"; \
	fi; \
	git diff --quiet HEAD -- || echo "make dist: uncommitted changes are not in the archive"; \
	git archive --format=zip --prefix=$(EXTENSION)-$(DISTVERSION)/ \
		-o $(EXTENSION)-$(DISTVERSION).zip $$ref && \
	echo "make dist: wrote $(EXTENSION)-$(DISTVERSION).zip from $$ref"

deb: deps
	$(SUDO) test/deb/build.sh

results:
	for f in results/*.out; do cp "$$f" expected/; done

# PGXS tracks no header dependencies
$(OBJS): src/funnel.h
src/agg_common.o src/agg_json.o src/agg_stage.o src/agg_summary.o src/agg_report.o src/funnel_summary_io.o src/agg_journey.o src/agg_time.o src/duration_sample.o src/agg_forecast.o src/agg_velocity.o src/agg_window_funnel.o src/pipeline_as_of.o: src/agg.h
src/agg_summary.o src/agg_report.o src/funnel_summary_io.o: src/funnel_summary.h
src/agg_summary.o src/agg_journey.o src/agg_forecast.o src/agg_velocity.o: src/journey.h
src/track_api.o src/track_cache.o src/track_citus.o src/track_history.o src/track_trigger.o src/track_rules.o src/track_errors.o src/track_validate.o src/import.o src/import_write.o: src/track.h
src/agg_window_funnel.o src/agg_window_funnel_scan.o: src/window_funnel.h
src/history_read.o src/history_query.o src/tracked_sources.o src/pipeline_as_of.o: src/history_read.h
src/track_api.o src/track_cache.o src/track_citus.o src/track_history.o src/track_trigger.o src/track_validate.o src/history_read.o src/history_query.o src/pipeline_as_of.o: src/history_layout.h
src/agg_time.o src/duration_sample.o: src/duration_sample.h
src/bare_names.o src/bare_names_resolve.o: src/bare_names.h
src/import.o src/import_write.o: src/import.h
