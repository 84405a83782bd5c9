# Entry points; see README.md. Every target installs missing Debian packages first.
BUILD ?= build
JOBS ?= 2
BUILD_TYPE ?= RelWithDebInfo
# Warnings are errors in CI (CI=true), and wherever WERROR=ON is given.
WERROR ?= $(if $(filter true,$(CI)),ON,OFF)
LANEWAY_HOME ?= $(HOME)/.laneway
PREFIX ?= /usr/local

# Sanitizer and fuzzing builds (docs/security.md), each in its own directory.
# The ASan+UBSan build uses clang with libFuzzer's coverage instrumentation, so
# that the same build runs the whole suite and the fuzz targets.
SAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= $(JOBS)
# The parts that run threads, in the real binaries: the HTTP and Telegram channel
# threads and the launcher thread (in the supervisor: gateway, Telegram, bounds and
# rate-limit tests), the journal's job thread (durability tests: sync, compaction,
# rewrite), the worker's runner thread (openai conversations, operator streams).
TSAN_TESTS ?= Durability|OpenAiConversation|Telegram|GatewayWs|GatewayHttp|GatewayOpenAi|Bounds|RateLimit|OperatorStream
ASAN_OPTS = halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1
UBSAN_OPTS = halt_on_error=1:print_stacktrace=1
TSAN_OPTS = halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/scripts/tsan.supp
SAN_ENV = ASAN_OPTIONS=$(ASAN_OPTS) UBSAN_OPTIONS=$(UBSAN_OPTS) \
	LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp
# The suites write every process's reports to files (log_path): a report in a
# supervisor or worker that a test started fails the stage even where the test
# itself never reads that process's stderr (scripts/sanitizer-reports.sh).
SAN_REPORTS = $(CURDIR)/$(SAN_BUILD)/sanitizer-reports
TSAN_REPORTS = $(CURDIR)/$(TSAN_BUILD)/sanitizer-reports
SAN_TEST_ENV = ASAN_OPTIONS=$(ASAN_OPTS):log_path=$(SAN_REPORTS)/asan \
	UBSAN_OPTIONS=$(UBSAN_OPTS):log_path=$(SAN_REPORTS)/ubsan \
	LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp
TSAN_TEST_ENV = TSAN_OPTIONS=$(TSAN_OPTS):log_path=$(TSAN_REPORTS)/tsan

.PHONY: deps build run install uninstall test bench clean format deb sanitize sanitize-build \
	sanitize-test tsan tsan-build tsan-test fuzz fuzz-build soak

deps:
	bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DLANEWAY_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

run: build
	LANEWAY_HOME=$(LANEWAY_HOME) $(BUILD)/bin/laneway up

# Installs laneway, laneway-supervisor and laneway-worker into $(PREFIX)/bin and the
# systemd unit and example config into $(PREFIX)/share/laneway.
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

uninstall:
	rm -f $(PREFIX)/bin/laneway $(PREFIX)/bin/laneway-supervisor $(PREFIX)/bin/laneway-worker
	rm -rf $(PREFIX)/share/laneway $(PREFIX)/share/doc/laneway
	rm -f $(PREFIX)/share/man/man1/laneway.1.gz $(PREFIX)/share/man/man1/laneway-supervisor.1.gz
	rm -f $(PREFIX)/share/bash-completion/completions/laneway

# laneway_<version>_amd64.deb in $(BUILD)/deb/ (CPack; packaging/deb.cmake).
deb: build
	cd $(BUILD) && cpack --config CPackConfig.cmake -G DEB
	@ls -l $(BUILD)/deb/*.deb

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 300

# The chaos soak with a ledger (docs/soak.md): SOAK_TURNS turns through every door
# at once under chaos; one summary line, non-zero exit on any violation.
SOAK_TURNS ?= 2000
soak: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DLANEWAY_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD) -j$(JOBS) --target laneway-soak
	SOAK_TURNS=$(SOAK_TURNS) $(BUILD)/bin/laneway-soak

bench: deps
	cmake -S . -B $(BUILD)-bench -DCMAKE_BUILD_TYPE=Release -DLANEWAY_BUILD_TESTS=OFF -DLANEWAY_BUILD_BENCH=ON >/dev/null
	cmake --build $(BUILD)-bench -j$(JOBS)
	bash bench/run.sh $(BUILD)-bench

# The whole suite built with AddressSanitizer + UBSan (clang); any report fails.
# SAN_OPT / TSAN_OPT are those builds' optimisation and debug flags (line tables
# are enough for a report's stack). The ASan build is -O0: it compiles in 60 % of
# -O1's time, and its suite mostly waits on processes (docs/security.md,
# "Sanitizers, and what CI runs").
# Each build has a -build target, so that CI can build one while the previous suite
# runs (.ci/run).
SAN_OPT ?= -O0 -gline-tables-only
TSAN_OPT ?= -O1 -gline-tables-only
sanitize-build: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$(SAN_OPT)" -DLANEWAY_SANITIZE=ON -DLANEWAY_FUZZ=ON \
	  -DLANEWAY_BUILD_SOAK=OFF >/dev/null
	cmake --build $(SAN_BUILD) -j$(JOBS)

# The chaos soak (label soak) and the .deb check (label package) run in the normal
# suite only; so do the volume tests in SAN_SKIP (scripts/sanitize-suite.sh).
SAN_SKIP ?= CoreTest.FinishedTurnsAreRememberedWithinAByteBudget|CronTest.ListAnswersWhileAHundredSessionsAreBusy|CoreTest.FiftySessionsAtOnceEachGetTheirOwnWorker|CoreTest.SessionsBeyondMaxWorkersWaitFairlyAndAreAllAnswered
sanitize-test:
	$(SAN_TEST_ENV) bash scripts/sanitizer-reports.sh $(SAN_REPORTS) \
	  bash scripts/sanitize-suite.sh $(SAN_BUILD) $(JOBS) '$(SAN_SKIP)'

sanitize: sanitize-build
	$(MAKE) sanitize-test

# The multi-threaded parts built with ThreadSanitizer (clang); any report fails.
# The threads run in the binaries, not in the tests: the TSan build builds only the
# binaries the integration tests start, and the tests of the normal build ($(BUILD))
# run against them (LANEWAY_TEST_BIN_DIR).
# The CLI has no threads: the test bin dir links the normal build's.
TSAN_BINARIES = laneway-supervisor laneway-worker fake_worker gateway_host
TSAN_BIN = $(CURDIR)/$(TSAN_BUILD)/test-bin
tsan-build: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$(TSAN_OPT)" -DLANEWAY_TSAN=ON -DLANEWAY_BUILD_SOAK=OFF \
	  >/dev/null
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_BINARIES)
	rm -rf $(TSAN_BIN) && mkdir -p $(TSAN_BIN)
	for b in $(TSAN_BINARIES); do ln -s ../bin/$$b $(TSAN_BIN)/$$b; done
	ln -s $(CURDIR)/$(BUILD)/bin/laneway $(TSAN_BIN)/laneway

tsan-test:
	cd $(BUILD) && LANEWAY_TEST_BIN_DIR=$(TSAN_BIN) $(TSAN_TEST_ENV) \
	  bash $(CURDIR)/scripts/sanitizer-reports.sh $(TSAN_REPORTS) \
	  ctest --output-on-failure -j$(JOBS) --timeout 600 -L integration -R '$(TSAN_TESTS)'

tsan: tsan-build build
	$(MAKE) tsan-test

# libFuzzer targets (fuzz/), each run for FUZZ_SECONDS from its seed corpus.
fuzz-build: sanitize-build

fuzz: fuzz-build
	$(SAN_ENV) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) bash fuzz/run.sh $(SAN_BUILD)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD)-bench $(SAN_BUILD) $(TSAN_BUILD)
