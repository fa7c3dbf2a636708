# config.mk: compilers, flags and library flags for the Makefile; override on the command line.
VERSION     = 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/lib/crumb

CC         ?= cc
MUSLCC     ?= musl-gcc
PKG_CONFIG ?= pkg-config

PKGS        = libarchive libelf libcrypto ext2fs com_err jansson
CFLAGS     ?= -O2 -g
WARN        = -Wall -Wextra -Werror -Wno-unused-parameter
STD         = -std=c11 -D_GNU_SOURCE
DEPCFLAGS  := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
DEPLIBS    := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
SANFLAGS    = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
