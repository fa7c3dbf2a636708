# Makefile: builds crumb and crumb-init, runs the tests (make check) and the demo (make demo).
include config.mk

LIB_SRC  := $(sort $(wildcard src/lib/*.c))
CMD_SRC  := src/main.c $(sort $(wildcard src/cmd/*.c))
GEN_SRC  := build/gen/fragment.c build/gen/patches.c
KPATCHES := $(sort $(wildcard kernel/patches/*.patch))
INIT_SRC := $(sort $(wildcard src/init/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))

OBJ      := $(patsubst %.c,build/obj/%.o,$(LIB_SRC) $(CMD_SRC) $(GEN_SRC))
SAN_OBJ  := $(patsubst %.c,build/san/%.o,$(LIB_SRC) $(CMD_SRC) $(GEN_SRC))
SAN_LIB  := $(patsubst %.c,build/san/%.o,$(LIB_SRC) $(GEN_SRC))
UNIT_BIN := $(patsubst tests/unit/%.c,build/san/unit/%,$(UNIT_SRC))
# fuzz/NAME_fuzz.c: a libFuzzer target; build/san/fuzz/NAME replays fuzz/corpus/NAME/ (make check),
# build/fuzz/NAME is the libFuzzer binary (make fuzz, clang).
FUZZ_SRC := $(sort $(wildcard fuzz/*_fuzz.c))
FUZZ_REPLAY := $(patsubst fuzz/%_fuzz.c,build/san/fuzz/%,$(FUZZ_SRC))
FUZZ_BIN := $(patsubst fuzz/%_fuzz.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_LIB := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC) $(GEN_SRC))
FUZZ_CC  ?= clang
FUZZFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined

DEFS = -DCRUMB_VERSION='"$(VERSION)"' -DCRUMB_LIBEXECDIR='"$(LIBEXECDIR)"'
ALL_CFLAGS = $(STD) $(WARN) $(DEFS) $(DEPCFLAGS) -Isrc

.PHONY: all deps check check-run demo install clean fmt fmt-check unit e2e golden fuzz pkgcheck
all: crumb crumb-init

deps:
	@$(DEPS_CMD)

# Every object that includes a library header depends on this (order-only): it fails with the
# reason when pkg-config could not answer for $(PKGS) as make read config.mk.
pkgcheck:
ifneq ($(DEPS_STATUS),00)
	@echo "crumb: pkg-config ($(PKG_CONFIG)) cannot find the libraries $(PKGS):" \
	  "install them with 'sh scripts/deps.sh' (or 'make deps'), then run make again" >&2
	@exit 1
endif

crumb: $(OBJ)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $(OBJ) $(DEPLIBS) $(LDFLAGS)

build/obj/%.o: %.c $(wildcard src/lib/*.h src/cmd/*.h src/init/*.h) | pkgcheck
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) $(CFLAGS) -MMD -c -o $@ $<

build/san/%.o: %.c $(wildcard src/lib/*.h src/cmd/*.h src/init/*.h) | pkgcheck
	@mkdir -p $(dir $@)
	@echo "  CC-SAN  $<"
	@$(CC) $(ALL_CFLAGS) $(SANFLAGS) -c -o $@ $<

build/san/crumb: $(SAN_OBJ)
	@echo "  LD-SAN  $@"
	@$(CC) $(SANFLAGS) -o $@ $(SAN_OBJ) $(DEPLIBS)

build/san/unit/%: tests/unit/%.c $(SAN_LIB) $(wildcard src/init/*.h src/init/*.c) build/gen/sysnames.h
	@mkdir -p $(dir $@)
	@echo "  TEST    $<"
	@$(CC) $(ALL_CFLAGS) $(SANFLAGS) -Itests/unit -Ibuild/gen -o $@ $< $(SAN_LIB) $(DEPLIBS)

build/san/fuzz/%: fuzz/%_fuzz.c fuzz/replay.c $(SAN_LIB) $(wildcard src/init/*.[ch])
	@mkdir -p $(dir $@)
	@echo "  REPLAY  $<"
	@$(CC) $(ALL_CFLAGS) $(SANFLAGS) -o $@ fuzz/replay.c $< $(SAN_LIB) $(DEPLIBS)

build/fuzz/obj/%.o: %.c $(wildcard src/lib/*.h) | pkgcheck
	@mkdir -p $(dir $@)
	@echo "  CC-FUZZ $<"
	@$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/%: fuzz/%_fuzz.c $(FUZZ_LIB)
	@echo "  FUZZER  $@"
	@$(FUZZ_CC) $(ALL_CFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(DEPLIBS)

# Run one by hand: build/fuzz/import -max_total_time=300 fuzz/corpus/import
fuzz: $(FUZZ_BIN)

# the libFuzzer objects are intermediate to make; keep them between builds
.SECONDARY: $(FUZZ_LIB)

# The kernel config fragment is compiled in, so an installed crumb needs no data files.
build/gen/fragment.c: kernel/crumb.config
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@{ echo '/* generated from kernel/crumb.config */'; \
	  echo 'const char kernel_fragment[] ='; \
	  sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&\\n"/' $<; echo ';'; } > $@

# So are the patches crumb applies to the kernel source (kernel/patches/*.patch, in name order).
build/gen/patches.c: $(KPATCHES) Makefile
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@{ echo '/* generated from kernel/patches/ */'; echo '#include "lib/kernel.h"'; \
	  echo 'const struct kernel_patch kernel_patches[] = {'; \
	  for p in $(KPATCHES); do echo "{\"$${p##*/}\","; \
	    sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&\\n"/' $$p; echo '},'; done; \
	  echo '{0, 0}};'; } > $@

# The system calls' names for crumb-init's seccomp lines and trace (src/init/seccomp.c):
# sysnames[N] = "NAME" for each __NR_NAME N of musl's <sys/syscall.h>, the guest's numbers.
build/gen/sysnames.h: Makefile
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@echo '#include <sys/syscall.h>' | $(MUSLCC) -E -dM - > $@.defs
	@{ echo "/* generated from musl's <sys/syscall.h> */"; \
	  echo 'static const char *const sysnames[] = {'; \
	  sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9][0-9]*\)$$/\2 \1/p' $@.defs | sort -n | \
	    awk '!seen[$$1]++ { printf "[%s] = \"%s\",\n", $$1, $$2 }'; \
	  echo '};'; } > $@.tmp
	@grep -q '"openat"' $@.tmp || { echo "$@: no system call names from $(MUSLCC)" >&2; exit 1; }
	@mv $@.tmp $@ && rm -f $@.defs

# crumb-init is the guest's PID 1: static, musl, no dependency beyond libc.
crumb-init: $(INIT_SRC) $(wildcard src/init/*.h) build/gen/sysnames.h
	@echo "  MUSLCC  $@"
	@$(MUSLCC) -std=c11 -D_GNU_SOURCE $(WARN) $(DEFS) -Ibuild/gen -Os -static -s -o $@ $(INIT_SRC)

# check and demo install the packages, then build in a second make: its config.mk runs
# pkg-config after the install (prerequisites of this make would be built with flags looked up
# before it, and in parallel with it under -j).
check:
	@$(DEPS_CMD)
	@$(MAKE) --no-print-directory check-run

check-run: crumb-init build/san/crumb $(UNIT_BIN) $(FUZZ_REPLAY)
	@CRUMB=$(CURDIR)/build/san/crumb CRUMB_INIT=$(CURDIR)/crumb-init sh tests/run.sh tests/fmt.sh $(UNIT_BIN) $(FUZZ_REPLAY)

# The C unit tests and the fuzz corpus replays alone (no kernel, no VM), or the end-to-end
# tests alone; make check runs both, the unit tests first.
unit: crumb-init build/san/crumb $(UNIT_BIN) $(FUZZ_REPLAY)
	@CRUMB=$(CURDIR)/build/san/crumb CRUMB_INIT=$(CURDIR)/crumb-init sh tests/run.sh --no-e2e tests/fmt.sh $(UNIT_BIN) $(FUZZ_REPLAY)

e2e: crumb-init build/san/crumb
	@CRUMB=$(CURDIR)/build/san/crumb CRUMB_INIT=$(CURDIR)/crumb-init sh tests/run.sh

# Rewrites the golden files (tests/golden, tests/spec) from what the code does now: review the
# diff before committing it.
golden:
	@GOLDEN=1 $(MAKE) --no-print-directory check

demo:
	@$(DEPS_CMD)
	@$(MAKE) --no-print-directory all
	@$(DEMO_CMD)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)
	install -m 755 crumb $(DESTDIR)$(BINDIR)/crumb
	install -m 755 crumb-init $(DESTDIR)$(LIBEXECDIR)/crumb-init

# The C sources as clang-format 14 (Debian 12's) writes them; make check runs fmt-check's test.
FMT_SRC = $(wildcard src/*.c src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c)
fmt:
	clang-format -i $(FMT_SRC)

fmt-check:
	@sh tests/fmt.sh | grep -v '^ok\|^1\.\.' | grep . && exit 1 || echo "fmt-check: all formatted"

clean:
	rm -rf build crumb crumb-init

-include $(OBJ:.o=.d)
