# relfs - the release state of a CD pipeline, as a filesystem.
#
#   make            build relfs and relctl into build/
#   make check      install deps, run unit and integration tests, then the
#                   same suite built with ASan/UBSan
#   make demo       install deps, build, create a demo store and mount it
#   make bench      scripts/bench (ratios against native and passthrough_ll)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
SAN     ?=

PKGS    := fuse3 lmdb libgit2 jansson libcurl libcrypto
CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror \
           $(shell pkg-config --cflags $(PKGS)) -Istore -Ifs -Ihooks
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread
ifneq ($(SAN),)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -O1
LDFLAGS += -fsanitize=address,undefined
endif

STORE_SRC := $(wildcard store/*.c) $(wildcard hooks/*.c)
FS_SRC    := $(wildcard fs/*.c)
STORE_OBJ := $(STORE_SRC:%.c=$(BUILD)/%.o)
FS_OBJ    := $(FS_SRC:%.c=$(BUILD)/%.o)
RELCTL_OBJ := $(BUILD)/tools/relctl.o
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check unit integration asan demo demo-stop bench install \
        clean
all: $(BUILD)/relfs $(BUILD)/relctl

deps:
	@scripts/install-deps

$(BUILD)/%.o: %.c $(wildcard store/*.h fs/*.h hooks/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/librelstore.a: $(STORE_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/relfs: $(FS_OBJ) $(BUILD)/librelstore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/relctl: $(RELCTL_OBJ) $(BUILD)/librelstore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/librelstore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

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
	@BUILD=$(abspath $(BUILD)) tests/integration/run

# The whole suite, then again under AddressSanitizer and UBSan.
check: deps
	$(MAKE) all unit integration
	$(MAKE) BUILD=build/asan SAN=1 all unit integration

demo: deps all
	@scripts/demo

demo-stop:
	@scripts/demo stop

bench: deps all
	@scripts/bench

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/relfs $(BUILD)/relctl $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build
