# leaktop — memory-growth monitor.  `make` builds ./leaktop; `make test` runs the suite.
BUILD    ?= build
ARCH     ?= x86
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PYTHON   ?= /usr/bin/python3

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Iuser -Ibpf -I$(BUILD)
LDLIBS   += -lbpf -ldw -lelf -lz -ljson-c -lncursesw -lstdc++ -lcapstone -lm -lprotobuf-c
BPF_CFLAGS = -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Ibpf

# Userspace sources; main() lives in user/main.c so unit tests can link the rest.
USER_SRCS := $(filter-out user/main.c,$(wildcard user/*.c))
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
TARGET_SRCS := $(filter-out tests/targets/lib%,$(wildcard tests/targets/*.c tests/targets/*.cc))
TARGETS   := $(patsubst tests/targets/%,$(BUILD)/targets/%,$(basename $(TARGET_SRCS)))

.PHONY: all deps clean test unit e2e demo vmlinux fuzz soak bench bench-unwind bench-python bench-html mutants
all: leaktop

deps:
	@./scripts/install-deps.sh

$(BUILD)/.deps-ok: scripts/install-deps.sh
	@./scripts/install-deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/leaktop.bpf.o: bpf/leaktop.bpf.c bpf/leaktop.h bpf/python_stack.bpf.h bpf/sampling.h bpf/alloc_table.h \
		bpf/unwind.h bpf/unwind.bpf.h bpf/alloc_table.bpf.h vmlinux/$(ARCH)/vmlinux.h | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/leaktop.skel.h: $(BUILD)/leaktop.bpf.o
	$(BPFTOOL) gen skeleton $< name leaktop_bpf > $@

$(BUILD)/user/%.o: user/%.c $(wildcard user/*.h) bpf/leaktop.h bpf/unwind.h $(BUILD)/leaktop.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# The HTML report's style sheet and script, compiled in as byte arrays.
HTML_ASSETS := user/html/report.css user/html/report.js
$(BUILD)/html_assets.c: $(HTML_ASSETS)
	@mkdir -p $(@D)
	{ xxd -i -n html_report_css user/html/report.css && xxd -i -n html_report_js user/html/report.js; } > $@.tmp
	mv $@.tmp $@
$(BUILD)/html_assets.o: $(BUILD)/html_assets.c
	$(CC) $(CFLAGS) -c $< -o $@

leaktop: $(BUILD)/user/main.o $(USER_OBJS) $(BUILD)/html_assets.o $(BUILD)/profile.pb-c.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# pprof's own schema (Debian's golang-github-google-pprof-dev), compiled by
# protobuf-c for the --pprof view: never a copy of it in this tree.
PPROF_PROTO ?= /usr/share/gocode/src/github.com/google/pprof/proto/profile.proto
$(BUILD)/profile.pb-c.c $(BUILD)/profile.pb-c.h &: $(BUILD)/.deps-ok
	protoc-c -I$(dir $(PPROF_PROTO)) --c_out=$(BUILD) $(PPROF_PROTO)
$(BUILD)/profile.pb-c.o: $(BUILD)/profile.pb-c.c $(BUILD)/profile.pb-c.h
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/user/output_pprof.o: $(BUILD)/profile.pb-c.h

# Unit tests of pure userspace logic, built with AddressSanitizer.
$(BUILD)/unit_tests: $(UNIT_SRCS) $(USER_SRCS) $(wildcard user/*.h tests/unit/*.h) $(BUILD)/leaktop.skel.h \
		$(BUILD)/html_assets.c $(BUILD)/profile.pb-c.c
	@mkdir -p $(@D)
	# Test fixtures list struct fields positionally; the ones left out are meant 0.
	$(CC) $(CFLAGS) -Wno-missing-field-initializers -O1 -fsanitize=address,undefined \
		-fno-omit-frame-pointer -Itests/unit $(UNIT_SRCS) $(USER_SRCS) $(BUILD)/html_assets.c \
		$(BUILD)/profile.pb-c.c -o $@ $(LDLIBS)

# Target programs with known allocation patterns for the end-to-end tests.
$(BUILD)/targets/%: tests/targets/%.c | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -pthread $(TARGET_CFLAGS_$*) $< -o $@ $(TARGET_LDLIBS_$*)
$(BUILD)/targets/%: tests/targets/%.cc | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	g++ -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror $< -o $@ $(TARGET_LDLIBS_$*)

# Other allocators: jemalloc (as Debian's redis uses it) and tcmalloc.
TARGET_LDLIBS_jemalloc = -ljemalloc
TARGET_LDLIBS_tcmalloc = -ltcmalloc_minimal
# cpp_throw.cc again, with the operator new of these allocators.
$(BUILD)/targets/cpp_throw_jemalloc $(BUILD)/targets/cpp_throw_tcmalloc: tests/targets/cpp_throw.cc
TARGET_LDLIBS_cpp_throw_jemalloc = -ljemalloc
TARGET_LDLIBS_cpp_throw_tcmalloc = -ltcmalloc_minimal

# A library loaded at run time by the dlopen target, without frame pointers.
$(BUILD)/targets/libleaky.so: tests/targets/libleaky.c | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -fomit-frame-pointer -Wall -Wextra -Werror -shared -fPIC $< -o $@
$(BUILD)/targets/dlopen: $(BUILD)/targets/libleaky.so
TARGET_LDLIBS_dlopen = -ldl
$(BUILD)/targets/plugins: $(BUILD)/targets/libleaky.so
TARGET_LDLIBS_plugins = -ldl

# Two plugins from one source, loaded one in the other's place (dlswap).
$(BUILD)/targets/libswap_a.so: tests/targets/libswap.c | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -fomit-frame-pointer -Wall -Wextra -Werror -shared -fPIC -DSWAP_A $< -o $@
$(BUILD)/targets/libswap_b.so: tests/targets/libswap.c | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -fomit-frame-pointer -Wall -Wextra -Werror -shared -fPIC $< -o $@
$(BUILD)/targets/dlswap: $(BUILD)/targets/libswap_a.so $(BUILD)/targets/libswap_b.so
TARGET_LDLIBS_dlswap = -ldl
$(BUILD)/targets/dlreplace: $(BUILD)/targets/libswap_a.so $(BUILD)/targets/libswap_b.so
TARGET_LDLIBS_dlreplace = -ldl

# Compiled without frame pointers: the immediate caller must still be right.
TARGET_CFLAGS_nofp = -fomit-frame-pointer -O2
# A statically linked executable carries its own malloc.
TARGET_CFLAGS_static = -static
# No libc, so no allocator to find.
TARGET_CFLAGS_nomalloc = -static -nostdlib -fno-stack-protector

# libFuzzer harnesses (clang's compiler-rt): ELF/DWARF input from the target.
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 600
$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(USER_SRCS) $(wildcard user/*.h) $(BUILD)/leaktop.skel.h
	@mkdir -p $(@D)
	$(CLANG) -std=gnu11 -g -O1 -Wall -Wextra -Werror -Iuser -Ibpf -I$(BUILD) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		$< user/symbolizer.c user/string_set.c user/allocators.c user/elf_code.c user/return_sites.c \
		user/unwind_tables.c user/python.c user/python_layouts.c user/python_linetable.c \
		-o $@ -ldw -lelf -lz -lstdc++ -lcapstone

# Each harness runs FUZZ_SECONDS divided among them; findings land in build/fuzz-findings.
fuzz: $(FUZZERS)
	@mkdir -p $(BUILD)/fuzz-findings
	@for f in $(FUZZERS); do \
		name=$$(basename $$f); corpus=$(BUILD)/fuzz-corpus/$$name; mkdir -p $$corpus; \
		echo "fuzzing $$name for $$(( $(FUZZ_SECONDS) / $(words $(FUZZERS)) ))s"; \
		$$f -max_total_time=$$(( $(FUZZ_SECONDS) / $(words $(FUZZERS)) )) -timeout=10 \
			-artifact_prefix=$(BUILD)/fuzz-findings/ $$corpus tests/fuzz/corpus/$${name#fuzz_} || exit 1; \
	done

# The suite runs on PYTEST_WORKERS pytest-xdist workers (most tests wait on
# intervals, not on a CPU; see tests/conftest.py for what they share).
# PYTEST_WORKERS=0 runs every test in this process, one at a time.
PYTEST_WORKERS ?= 3
test: leaktop $(BUILD)/unit_tests $(TARGETS) $(FUZZERS)
	LEAKTOP=$(CURDIR)/leaktop UNIT_TESTS=$(CURDIR)/$(BUILD)/unit_tests TARGETS_DIR=$(CURDIR)/$(BUILD)/targets \
		FUZZERS_DIR=$(CURDIR)/$(BUILD) \
		$(PYTHON) -m pytest -p no:cacheprovider -q -rfEs -n $(PYTEST_WORKERS) --dist load tests

# Mutation check (scripts/mutants.py): every deliberately broken leaktop must
# fail a test.  Slow (a build and a suite run per mutant): not part of `test`.
mutants: leaktop $(BUILD)/unit_tests $(TARGETS)
	$(PYTHON) scripts/mutants.py

demo: leaktop $(BUILD)/targets/demo
	./leaktop -i 1 -c 15 -n 5 -- $(BUILD)/targets/demo

# Benchmark programs (bench/): not tests; see bench/soak.sh.
$(BUILD)/bench/%: bench/%.c | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g -fno-omit-frame-pointer -Wall -Wextra -Werror $< -o $@

# The same allocation loop without frame pointers (bench/unwind_cost.sh).
$(BUILD)/bench/deep_nofp: bench/deep.c | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g -fomit-frame-pointer -Wall -Wextra -Werror $< -o $@

soak: leaktop $(BUILD)/targets/turnover
	./bench/soak.sh $(SOAK_SECONDS)

# The uprobe floor: empty programs on leaktop's probes (bench/floor.*).
$(BUILD)/bench/floor.bpf.o: bench/floor.bpf.c vmlinux/$(ARCH)/vmlinux.h | $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/bench/floor.skel.h: $(BUILD)/bench/floor.bpf.o
	$(BPFTOOL) gen skeleton $< name floor_bpf > $@
FLOOR_SRCS := user/allocator_scan.c user/allocators.c user/placement.c user/elf_code.c user/return_sites.c user/unwind_tables.c
$(BUILD)/bench/floor: bench/floor.c $(BUILD)/bench/floor.skel.h $(FLOOR_SRCS) $(wildcard user/*.h)
	$(CC) $(CFLAGS) -I$(BUILD)/bench $< $(FLOOR_SRCS) -o $@ -lbpf -ldw -lelf -lz -lcapstone

# Throughput of the churn target: untraced, under the floor, under leaktop exact
# and sampled (and memleak when MEMLEAK=/path/to/memleak is given), alternating
# rounds; the BPF run time per call of each program (and per malloc+free, with
# memleak's); then leaktop's RSS and CPU with 100 k stacks and 1 M live blocks.
bench: leaktop $(BUILD)/bench/churn $(BUILD)/bench/floor $(BUILD)/bench/stacks $(BUILD)/bench/deep_nofp
	./bench/throughput.sh
	./bench/prog_cost.sh
	./bench/memory.sh

# Cost of the kernel unwinder per allocation and per frame.
bench-unwind: leaktop $(BUILD)/bench/deep $(BUILD)/bench/deep_nofp
	./bench/unwind_cost.sh

# The Python walk's cost per event and per frame, per interpreter present.
bench-python: leaktop
	./bench/python_cost.sh

# How fast a browser opens a --html report of 10,000 stacks.
bench-html: leaktop $(BUILD)/bench/stacks $(BUILD)/targets/exact
	./bench/html_load.sh

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

clean:
	rm -rf $(BUILD) leaktop

# The version `leaktop --version` prints (scripts/version.sh: git describe, or
# the VERSION file).  The header is rewritten only when the version changed.
LEAKTOP_VERSION := $(shell ./scripts/version.sh)
.PHONY: FORCE
$(BUILD)/version.h: FORCE
	@mkdir -p $(@D)
	@echo '#define LEAKTOP_VERSION "$(LEAKTOP_VERSION)"' | cmp -s - $@ || \
		echo '#define LEAKTOP_VERSION "$(LEAKTOP_VERSION)"' > $@
$(BUILD)/user/options.o $(BUILD)/unit_tests: $(BUILD)/version.h

# Installation: PREFIX and DESTDIR as usual.  The binary goes to sbin (it
# needs root); the unit's ExecStart and the man page name the installed paths.
PREFIX      ?= /usr/local
sbindir     ?= $(PREFIX)/sbin
mandir      ?= $(PREFIX)/share/man
docdir      ?= $(PREFIX)/share/doc/leaktop
bashcompdir ?= $(PREFIX)/share/bash-completion/completions
unitdir     ?= $(PREFIX)/lib/systemd/system
DOCS        := README.md $(wildcard docs/*.md)
.PHONY: install uninstall
install: leaktop
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(docdir) \
		$(DESTDIR)$(bashcompdir) $(DESTDIR)$(unitdir)
	install -m 0755 leaktop $(DESTDIR)$(sbindir)/leaktop
	sed -e 's/@VERSION@/$(LEAKTOP_VERSION)/' -e 's,@DOCDIR@,$(docdir),' docs/leaktop.8 \
		> $(DESTDIR)$(mandir)/man8/leaktop.8
	chmod 0644 $(DESTDIR)$(mandir)/man8/leaktop.8
	install -m 0644 completion/leaktop.bash $(DESTDIR)$(bashcompdir)/leaktop
	sed 's,/usr/local/sbin/leaktop,$(sbindir)/leaktop,' docs/leaktop@.service \
		> $(DESTDIR)$(unitdir)/leaktop@.service
	chmod 0644 $(DESTDIR)$(unitdir)/leaktop@.service
	install -m 0644 $(DOCS) $(DESTDIR)$(docdir)

uninstall:
	rm -f $(DESTDIR)$(sbindir)/leaktop $(DESTDIR)$(mandir)/man8/leaktop.8 \
		$(DESTDIR)$(bashcompdir)/leaktop $(DESTDIR)$(unitdir)/leaktop@.service
	rm -rf $(DESTDIR)$(docdir)

# A Debian package, built with dpkg's tools (scripts/make-deb.sh):
# $(BUILD)/deb/leaktop_VERSION_ARCH.deb.
.PHONY: deb
deb: leaktop
	BUILD=$(BUILD) MAKE=$(MAKE) ./scripts/make-deb.sh
