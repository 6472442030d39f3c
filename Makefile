# Docker from the kernel up: the lessons, the engine, the tests. Run as root (or with sudo):
#   make demo     runs every lesson's demo and final/'s (installs what it needs first)
#   make test     the whole suite; ends with "N passed, N failed, N skipped"
# Also: make (all binaries), make deps, make rootfs, make doctor, make clean, make format,
#       make asan (the suite under AddressSanitizer + UBSan), make bench (speed and accuracy)

LESSON_DIRS := $(patsubst %/Makefile,%,$(sort $(wildcard lessons/*/Makefile)))
ROOTFS      := build/rootfs
MAKEFLAGS   += --no-print-directory
# -j only where make starts: a make started by this one (make demo runs make all) shares its
# jobserver, and setting -j again there would make it warn "resetting jobserver mode".
ifeq ($(MAKELEVEL),0)
MAKEFLAGS   += -j$(shell nproc)
endif
# Targets here run one after another (programs share build/common-obj); each program's own
# make compiles in parallel.
.NOTPARALLEL:

# final/: minidocker, the engine built from the lessons
.PHONY: all lessons final doctor-bin demo test deps rootfs doctor clean format asan unit bench

all: lessons final doctor-bin

lessons:
	@for d in $(LESSON_DIRS); do $(MAKE) -C $$d || exit 1; done

doctor-bin:
	@$(MAKE) -C doctor

final:
	@$(MAKE) -C final

deps:
	@scripts/install-deps.sh

rootfs: $(ROOTFS)/bin/busybox

$(ROOTFS)/bin/busybox: scripts/build-rootfs.sh
	@scripts/build-rootfs.sh $(ROOTFS)

doctor: deps doctor-bin rootfs
	@doctor/doctor

demo: deps
	@$(MAKE) all rootfs
	@for d in $(LESSON_DIRS); do $(MAKE) -C $$d demo || exit 1; done
	@$(MAKE) -C final demo

unit:
	@$(MAKE) -C tests/unit
	@$(MAKE) -C tests/tools

test: deps
	@$(MAKE) all rootfs unit
	@tests/run.sh

asan: deps
	@$(MAKE) SANITIZE=1 all unit
	@$(MAKE) rootfs
	@SANITIZE=1 tests/run.sh

bench: deps
	@$(MAKE) all rootfs
	@tests/bench.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	@for d in $(LESSON_DIRS) final doctor tests/unit tests/tools; do $(MAKE) -C $$d clean; done
	rm -rf build
