# Entry points; see README.md. Every target installs missing Debian packages first.
BUILD ?= build
JOBS ?= 2
BUILD_TYPE ?= RelWithDebInfo
# Warnings are errors in CI (CI=true), and wherever WERROR=ON is given.
WERROR ?= $(if $(filter true,$(CI)),ON,OFF)
LANEWAY_HOME ?= $(HOME)/.laneway
PREFIX ?= /usr/local

.PHONY: deps build run install uninstall test bench clean format deb

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

bench: deps
	cmake -S . -B $(BUILD)-bench -DCMAKE_BUILD_TYPE=Release -DLANEWAY_BUILD_TESTS=OFF -DLANEWAY_BUILD_BENCH=ON >/dev/null
	cmake --build $(BUILD)-bench -j$(JOBS)
	bash bench/run.sh $(BUILD)-bench

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD)-bench
