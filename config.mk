# config.mk: compilers, flags and library flags for the Makefile; override on the command line.
VERSION     = 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/lib/crumb

CC         ?= cc
MUSLCC     ?= musl-gcc
PKG_CONFIG ?= pkg-config

PKGS        = libarchive libelf libcrypto ext2fs com_err jansson libzstd libseccomp libcurl
CFLAGS     ?= -O2 -g
WARN        = -Wall -Wextra -Werror -Wno-unused-parameter
STD         = -std=c11 -D_GNU_SOURCE
# Looked up once, when make reads this file: before `scripts/deps.sh` has installed the -dev
# packages the answer is an error, and DEPS_STATUS (non-zero) makes every compile stop with the
# reason instead of linking with empty flags. `make demo` and `make check` install the packages
# first and then build in a second make, which looks again.
DEPCFLAGS  := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
DEPS_STATUS := $(.SHELLSTATUS)
# libcurl is not linked: src/lib/curl_dl.c loads it when the registry client first needs it.
DEPLIBS    := $(shell $(PKG_CONFIG) --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)
DEPS_STATUS := $(DEPS_STATUS)$(.SHELLSTATUS)
# What installs the packages (a test replaces it) and what `make demo` runs once crumb is built.
DEPS_CMD   ?= sh scripts/deps.sh
DEMO_CMD   ?= sh scripts/demo.sh
SANFLAGS    = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
