# relfs - the release state of a CD pipeline, as a filesystem.
#
#   make            build relfs and relctl into build/
#   make check      install deps, run unit and integration tests, then the
#                   same suite built with ASan/UBSan
#   make demo       install deps, build, create a demo store and mount it
#   make bench      scripts/bench (ratios against native and passthrough_ll)
#   make fuzz       libFuzzer harnesses (clang) for every parser, in
#                   build/fuzz/; make fuzz-run runs each FUZZ_SECONDS on
#                   its seed corpus (make check does, with 3 seconds)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
SAN     ?=

PKGS    := fuse3 lmdb libgit2 jansson libcurl libcrypto expat zlib
CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror \
           $(shell pkg-config --cflags $(PKGS)) -Istore -Ifs -Ihooks
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread
ifneq ($(SAN),)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -O1
LDFLAGS += -fsanitize=address,undefined
endif
# the store built for libFuzzer: any sanitizer report stops the run
ifneq ($(FUZZ),)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined \
           -fno-sanitize-recover=all -fno-omit-frame-pointer -O1
endif

FUZZ_TARGETS := result criteria waiver pins artifact_json release_json \
                scenario_json webhooks_json manifest duration name
FUZZ_SECONDS ?= 3
# staged files in t012-many-staged.sh (fewer under the sanitizers: slower)
MANY_FILES ?= 100000

STORE_SRC := $(wildcard store/*.c) $(wildcard hooks/*.c)
FS_SRC    := $(wildcard fs/*.c)
STORE_OBJ := $(STORE_SRC:%.c=$(BUILD)/%.o)
FS_OBJ    := $(FS_SRC:%.c=$(BUILD)/%.o)
RELCTL_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/*.c))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check symbols man unit integration asan demo demo-stop bench install \
        clean fuzz fuzz-run
all: $(BUILD)/relfs $(BUILD)/relctl

deps:
	@scripts/install-deps

# each object (and test) is rebuilt when a header it includes changes
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# (a program's own list is in $(BUILD)/dep/, where no rule would remake it)
-include $(STORE_OBJ:.o=.d) $(FS_OBJ:.o=.d) $(RELCTL_OBJ:.o=.d) \
    $(wildcard $(BUILD)/dep/*.d)

$(BUILD)/librelstore.a: $(STORE_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/relfs: $(FS_OBJ) $(BUILD)/librelstore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/relctl: $(RELCTL_OBJ) $(BUILD)/librelstore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/librelstore.a
	@mkdir -p $(dir $@) $(BUILD)/dep
	$(CC) $(CFLAGS) -MMD -MP -MF $(BUILD)/dep/$*.d -MT $@ $(LDFLAGS) -o $@ $< \
	    $(BUILD)/librelstore.a $(LDLIBS) -lcmocka

# every symbol the library exports carries its module's prefix, and no
# two modules call each other (scripts/check-cycles)
symbols: all
	@scripts/check-symbols $(BUILD)/librelstore.a
	@scripts/check-cycles $(BUILD)

# the sample records beside the project (or beside the checkout a clone
# was made from)
DATA := $(firstword $(wildcard $(abspath ../shared/data/opnfv-results.jsonl) \
    $(shell git config --get remote.origin.url 2>/dev/null)/../shared/data/opnfv-results.jsonl) \
    ../shared/data/opnfv-results.jsonl)

unit: $(UNIT_BIN) $(BUILD)/tests/receiver
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; \
	    RELFS_RECEIVER=$(abspath $(BUILD)/tests/receiver) \
	    RELFS_FIXTURES=$(abspath tests/fixtures) \
	    RELFS_DATA=$(DATA) $$t; done

$(BUILD)/tests/probe: tests/probe.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/race: tests/race.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/receiver: tests/receiver.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lcrypto

integration: all $(BUILD)/tests/probe $(BUILD)/tests/receiver $(BUILD)/tests/race
	@BUILD=$(abspath $(BUILD)) MANY_FILES=$(MANY_FILES) tests/integration/run

$(BUILD)/fuzz_%: tests/fuzz/fuzz.c $(BUILD)/librelstore.a
	@mkdir -p $(BUILD)/dep
	$(CC) $(CFLAGS) -MMD -MP -MF $(BUILD)/dep/fuzz_$*.d -MT $@ \
	    -DFUZZ_TARGET='"$*"' \
	    -fsanitize=fuzzer -o $@ $< $(BUILD)/librelstore.a $(LDLIBS)

# clang's libFuzzer, with ASan and UBSan, in a build of its own
fuzz: deps
	$(MAKE) BUILD=build/fuzz CC=clang FUZZ=1 \
	    $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

# each harness for FUZZ_SECONDS on its committed seeds (new finds go to a
# scratch directory, never into the corpus)
fuzz-run: fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	    echo "== fuzz $$t ($(FUZZ_SECONDS)s)"; \
	    scratch=$$(mktemp -d); \
	    build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -max_len=65536 -print_final_stats=0 \
	        -artifact_prefix=build/fuzz/crash-$$t- \
	        $$scratch tests/fuzz/corpus/$$t 2>build/fuzz/$$t.log || \
	        { tail -40 build/fuzz/$$t.log; rm -rf $$scratch; exit 1; }; \
	    grep -h "^#.*DONE\|INITED" build/fuzz/$$t.log | tail -1; \
	    rm -rf $$scratch; \
	done

# The whole suite, then again under AddressSanitizer and UBSan, then each
# parser under libFuzzer.
check: deps
	$(MAKE) all symbols man unit integration
	$(MAKE) BUILD=build/asan SAN=1 MANY_FILES=20000 all unit integration
	$(MAKE) fuzz-run

demo: deps all
	@scripts/demo

demo-stop:
	@scripts/demo stop

bench: deps all
	@scripts/bench

# the manual pages, as mandoc reads them (warnings are errors)
man:
	mandoc -Tlint -Wwarning tools/relctl.1 tools/relfs.8

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(BUILD)/relfs $(BUILD)/relctl $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 tools/relctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 tools/relfs.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 tools/relctl.bash-completion \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/relctl
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|@BINDIR@|$(PREFIX)/bin|g' tools/relfs@.service \
	    >$(DESTDIR)$(PREFIX)/lib/systemd/system/relfs@.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/relfs@.service

clean:
	rm -rf build
