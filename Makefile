# Makefile for the funnel extension (PGXS)

EXTENSION = funnel
# the source tree: also right when built from another directory with VPATH,
# as Debian's pg_buildext builds one directory per PostgreSQL major
top := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(top)$(EXTENSION).control)

MODULE_big = funnel
# src/ holds the module's entry point and compatibility layer; each folder one
# concern, named as the parts of the install script in sql/install/
SRC_DIRS = type pipeline track citus import live aggregates analysis
PG_CPPFLAGS = -I$(top)src $(addprefix -I$(top)src/,$(SRC_DIRS))
OBJS = \
	src/funnel.o \
	src/pg_compat.o \
	src/type/bare_names.o \
	src/type/bare_names_resolve.o \
	src/type/deal_stage_io.o \
	src/type/deal_stage_ops.o \
	src/type/names.o \
	src/type/unresolved.o \
	src/pipeline/pipeline_api.o \
	src/pipeline/pipeline_cache.o \
	src/pipeline/pipeline_uses.o \
	src/pipeline/stage_dimension.o \
	src/track/track_api.o \
	src/track/track_batch.o \
	src/track/track_cache.o \
	src/track/track_cache_rules.o \
	src/track/track_errors.o \
	src/track/track_history.o \
	src/track/track_migrate.o \
	src/track/track_rules.o \
	src/track/track_trigger.o \
	src/track/track_validate.o \
	src/citus/citus_depend.o \
	src/citus/track_citus.o \
	src/import/import.o \
	src/import/import_write.o \
	src/live/live.o \
	src/live/live_write.o \
	src/live/live_write_cache.o \
	src/live/live_visits.o \
	src/live/live_summary_table.o \
	src/aggregates/agg_common.o \
	src/aggregates/agg_forecast.o \
	src/aggregates/agg_journey.o \
	src/aggregates/agg_journey_in.o \
	src/aggregates/journey_io.o \
	src/aggregates/agg_json.o \
	src/aggregates/agg_report.o \
	src/aggregates/agg_stage.o \
	src/aggregates/agg_summary.o \
	src/aggregates/agg_time.o \
	src/aggregates/agg_velocity.o \
	src/aggregates/agg_window_funnel.o \
	src/aggregates/agg_window_funnel_scan.o \
	src/aggregates/duration_sample.o \
	src/aggregates/funnel_summary_io.o \
	src/analysis/deal_amounts.o \
	src/analysis/history_query.o \
	src/analysis/history_read.o \
	src/analysis/pipeline_as_of.o \
	src/analysis/tracked_sources.o

# update scripts: built ones (below) and any kept as written
UPDATES_built = sql/funnel--0.1--0.2.sql
DATA = $(filter-out $(UPDATES_built),$(patsubst $(top)%,%,$(wildcard $(top)sql/funnel--*--*.sql)))
DATA_built = sql/funnel--$(EXTVERSION).sql $(UPDATES_built)

# pg_regress tests: sql/<name>.sql -> expected/<name>.out (listed, never globbed)
REGRESS = pipeline deal_stage cache track aggregates aggregates_parallel window_funnel search_path journey

EXTRA_CLEAN = results regression.diffs regression.out $(OBJS:.o=.d)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# a VPATH build writes objects and the built script into these
ifdef VPATH
$(shell mkdir -p sql $(addprefix src/,$(SRC_DIRS)))
endif

# The install script is built from one part per concern, named as the C
# files it declares (sql/install/README.md), in this order: a part may use
# only what the parts before it create.
INSTALL_PARTS = $(addprefix sql/install/,$(addsuffix .sql,funnel \
	type/deal_stage type/bare_names pipeline/pipeline citus/citus \
	track/track track/track_many track/track_migrate track/track_batch \
	import/import analysis/pipeline_as_of analysis/check_visits \
	aggregates/agg_stage aggregates/agg_journey aggregates/agg_summary \
	aggregates/agg_report aggregates/agg_forecast aggregates/agg_time \
	aggregates/agg_velocity aggregates/agg_window_funnel \
	analysis/funnel_svg analysis/bi_views live/live live/live_read live/live_ops live/live_write live/live_citus \
	grants))

sql/funnel--$(EXTVERSION).sql: $(INSTALL_PARTS) funnel.control
	{ echo '-- sql/funnel--$(EXTVERSION).sql: built by make from sql/install/; edit those'; \
	  echo; \
	  echo '-- complain if script is sourced in psql, rather than via CREATE EXTENSION'; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION funnel" to load this file. \quit'; \
	  for f in $(filter %.sql,$^); do echo; cat $$f; done; } > $@

# The update from 0.1 (sql/updates/0.1--0.2.sql says how it is built): the
# hand-written changes around every function, aggregate and view of the
# install parts, replaced, then their comments and privileges.
sql/funnel--0.1--0.2.sql: sql/updates/0.1--0.2.sql sql/updates/0.1--0.2-after.sql sql/updates/statements.pl $(INSTALL_PARTS)
	{ echo '-- sql/funnel--0.1--0.2.sql: built by make from sql/updates/0.1--0.2*.sql and sql/install/*.sql; edit those'; \
	  echo; \
	  echo '-- complain if script is sourced in psql, rather than via ALTER EXTENSION'; \
	  printf '%s\n' '\echo Use "ALTER EXTENSION funnel UPDATE TO '"'0.2'"'" to load this file. \quit'; \
	  echo; cat $(top)sql/updates/0.1--0.2.sql; \
	  echo; perl $(top)sql/updates/statements.pl definitions $(addprefix $(top),$(INSTALL_PARTS)); \
	  echo; cat $(top)sql/updates/0.1--0.2-after.sql; \
	  echo; perl $(top)sql/updates/statements.pl privileges $(addprefix $(top),$(INSTALL_PARTS)); } > $@

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
# make dist   : funnel-<version>.zip for PGXN (funnel.control's version, as
#               META.json's), a git archive of tag v<version>, or of HEAD when
#               there is no tag, with the update scripts built from it
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

# the version of the release: funnel.control's (META.json must agree,
# test/shell/meta_version.sh); its tag is v<version> as v0.1
DISTVERSION = $(EXTVERSION)

# the archive holds the update scripts built from the same commit, so a PGXN
# user has them as written files
dist:
	@if git rev-parse -q --verify "refs/tags/v$(DISTVERSION)" >/dev/null; then \
		ref=v$(DISTVERSION); \
	else \
		ref=HEAD; \
		echo "make dist: no tag v$(DISTVERSION); archiving HEAD ($$(git rev-parse --short HEAD)), not a release."; \
		echo "make dist: to release, commit, then: git tag v$(DISTVERSION) && make dist"; \
	fi; \
	git diff --quiet HEAD -- || echo "make dist: uncommitted changes are not in the archive"; \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	git archive $$ref | tar -C "$$tmp" -xf - && \
	$(MAKE) -s -C "$$tmp" PG_CONFIG=$(PG_CONFIG) $(UPDATES_built) && \
	git archive --format=zip --prefix=$(EXTENSION)-$(DISTVERSION)/sql/ \
		$(addprefix --add-file="$$tmp"/,$(UPDATES_built)) \
		--prefix=$(EXTENSION)-$(DISTVERSION)/ \
		-o $(EXTENSION)-$(DISTVERSION).zip $$ref && \
	echo "make dist: wrote $(EXTENSION)-$(DISTVERSION).zip from $$ref"

deb: deps
	$(SUDO) test/deb/build.sh

results:
	for f in results/*.out; do cp "$$f" expected/; done

# PGXS tracks no header dependencies: the compiler writes them (src/**/*.d)
$(OBJS): override CPPFLAGS += -MMD -MP
-include $(OBJS:.o=.d)
