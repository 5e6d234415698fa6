# The two commands of the README, and the pieces they are made of.
#   make dev    build everything (plugins included) and start the embedded default
#   make test   build everything and run the whole test suite
SWIFT ?= swift
CONFIG ?= debug
BIN = $(shell $(SWIFT) build -c $(CONFIG) --show-bin-path)

.PHONY: all plugins dev test bench clean

all: plugins
	$(SWIFT) build -c $(CONFIG)

# C reducers (Plugins/Makefile) and the Swift one, into Plugins/*.so.
# The copy goes through a hidden temporary name and a rename, so a running
# host never sees a half-written library.
plugins:
	$(MAKE) -s -C Plugins
	$(SWIFT) build -c $(CONFIG) --product TeaBagStatsReducer
	cp "$(BIN)/libTeaBagStatsReducer.so" Plugins/.stats.so.tmp && mv Plugins/.stats.so.tmp Plugins/stats.so

dev: all
	$(BIN)/teabag dev

# The process tests run .build/debug/teabag, so every product is built first.
# Then the short form of bench/compare: each TeaBag measurement once, for a
# couple of seconds, failing only if a run errors (never on a speed).
#
# At most 8 tests at once (swift-testing starts every test together by
# default): on 2 cores, 80 suites spawning servers at once pushed the load
# past 20 and timing-bound tests failed now and then; with 8 the whole
# suite takes about 3.5 min, 30 s more, at a load of about 7.
TEST_WIDTH ?= 8
test: plugins
	$(SWIFT) build --build-tests
	SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) $(SWIFT) test --skip-build
	bench/compare --short

# Benchmarks print figures and write them under docs/benchmarks/.
bench: plugins
	$(SWIFT) build -c release --product teabag-bench
	$(MAKE) -s -C Plugins
	$(shell $(SWIFT) build -c release --show-bin-path)/teabag-bench fold
	$(shell $(SWIFT) build -c release --show-bin-path)/teabag-bench table
	$(shell $(SWIFT) build -c release --show-bin-path)/teabag-bench store
	$(shell $(SWIFT) build -c release --show-bin-path)/teabag-bench client
	$(SWIFT) build -c release --product teabag
	$(shell $(SWIFT) build -c release --show-bin-path)/teabag-bench agent

clean:
	$(MAKE) -s -C Plugins clean
	rm -rf .build
