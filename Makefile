# qmin: one Makefile. Sources are listed by hand, as ninja does.
#   make                 static musl binaries in build/bin (zig c++: toolchain/musl.sh), simulation build in build/sim/bin
#   make check           lint, lib/ unit tests, Bats suite
#   make SANITIZE=1 check  the same under ASan+UBSan (dynamic link, build/asan/)
#   make xen-check       real Xen 4.17 in QEMU (test/xen/run.sh), then demo-check
#   make image SITE=F    the production dom0 and its VMs for the host site file F
#                        describes, in build/image (image/build.sh, qmin-site(5))
#   make demo            the seed's topology booted in QEMU, at dom0's shell (demo/run.sh)
#   make demo-check      the same, checked, powered off: exit 0 only if all passed
#   make production-check  the production image of site/server.site booted in QEMU
#   make install DESTDIR=... PREFIX=...
VERSION   := 0.1.0
PREFIX    ?= /usr
DESTDIR   ?=
SANITIZE  ?= 0
# Static archives only contribute what a binary uses, so one list serves all.
LDLIBS_XEN := -lxenvchan -lxenstore -lxengnttab -lxenevtchn -lxentoollog -lxentoolcore
# Where the musl toolchain is kept, once per machine (toolchain/musl.sh).
TOOLCHAIN_CACHE ?= $(HOME)/.cache/qmin
include toolchain/pins

TOOLS     := mkxendev nic-handoff qrx-agent qrx-broker qrx-call vif-route xvm-start
SBIN_TOOLS := mkxendev nic-handoff qrx-agent qrx-broker xvm-start
# vif-route is a hotplug script: it goes to /etc/xen/scripts, where xl looks.

# lib/: only what several tools share, in the layers of lib/LAYERS.
LIB_SRCS  := lib/cli.cc lib/device_nodes.cc lib/error.cc lib/event_loop.cc \
             lib/files.cc lib/ipaddr.cc lib/log.cc lib/misc_devices.cc lib/mounts.cc \
             lib/netlink.cc lib/netlink_config.cc lib/policy.cc lib/policy_eval.cc lib/policy_rule.cc \
             lib/policy_store.cc lib/process.cc lib/qrx_channel.cc lib/qrx_data.cc lib/qrx_data_ends.cc \
             lib/qrx_proto.cc lib/qrx_service.cc lib/rate_limit.cc lib/sysfs.cc lib/text.cc \
             lib/unix_socket.cc lib/vm_facts.cc lib/xen_host.cc lib/xenstore.cc \
             lib/xenstore_watcher.cc lib/xl_jobs.cc lib/xlcfg.cc
# Each tool's own code lives beside its main in cmd/TOOL/; the three qrx tools
# share their engine in cmd/qrx/. A tool's sources see lib/ and their own
# folder only, so one tool's code cannot include another's.
QRX_SRCS  := cmd/qrx/qrx_agent.cc cmd/qrx/qrx_ask.cc cmd/qrx/qrx_broker.cc cmd/qrx/qrx_call.cc \
             cmd/qrx/qrx_domains.cc cmd/qrx/qrx_runner.cc
mkxendev_SRCS    := cmd/mkxendev/mkxendev.cc
vif-route_SRCS   := cmd/vif-route/vif_route.cc
nic-handoff_SRCS := cmd/nic-handoff/nic_checks.cc cmd/nic-handoff/nic_handoff.cc cmd/nic-handoff/nic_host.cc \
                    cmd/nic-handoff/nic_record.cc cmd/nic-handoff/nic_steps.cc \
                    cmd/nic-handoff/nic_reconnect.cc
xvm-start_SRCS   := cmd/xvm-start/xvm_graph.cc cmd/xvm-start/xvm_run.cc cmd/xvm-start/xvm_start.cc \
                    cmd/xvm-start/xvm_starter.cc cmd/xvm-start/xvm_stopper.cc
qrx-agent_SRCS   := $(QRX_SRCS)
qrx-broker_SRCS  := $(QRX_SRCS)
qrx-call_SRCS    := $(QRX_SRCS)
ENGINE_SRCS := $(sort $(foreach tool,$(TOOLS),$($(tool)_SRCS)))
TEST_SRCS := lib/cli_test.cc lib/device_nodes_test.cc lib/error_test.cc lib/event_loop_test.cc \
             lib/files_test.cc lib/ipaddr_test.cc lib/log_test.cc lib/misc_devices_test.cc \
             lib/mounts_test.cc lib/policy_eval_test.cc lib/policy_test.cc lib/process_test.cc \
             lib/qrx_data_test.cc lib/qrx_proto_test.cc lib/qrx_service_test.cc lib/rate_limit_test.cc \
             lib/text_test.cc lib/vchan_socket_test.cc lib/vm_facts_test.cc lib/xenstore_test.cc \
             cmd/mkxendev/mkxendev_test.cc cmd/nic-handoff/nic_handoff_test.cc \
             cmd/vif-route/vif_route_test.cc cmd/xvm-start/xvm_graph_test.cc \
             test/fakes/xenstore_tree_test.cc toolchain/slim_runtime_test.cc
FAKE_TOOLS := xenstored-fake xsctl socket-service qrx-hostile qrx-dom0 stdin-socket
FAKE_LIB_SRCS := test/fakes/xenstore_tree.cc test/fakes/xenstore_wire.cc

# Two toolchains. The shipped build (build/): TOOLCHAIN=zig, static musl
# binaries from zig c++, against Xen's libraries built for musl
# (toolchain/musl.sh); the dom0 and the VMs run these. TOOLCHAIN=host: the
# host's g++ and its Xen libraries (Debian's libxen-dev: glibc; Alpine's:
# musl), static, in build/host/. The sanitizer build (build/asan/,
# SANITIZE=1) is always the host's: ASan and UBSan live with g++ and glibc.
ifeq ($(SANITIZE),1)
TOOLCHAIN := host
OUT       := build/asan
MODE_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LINK_MODE := -fsanitize=address,undefined
else
TOOLCHAIN ?= zig
OUT       := $(if $(filter zig,$(TOOLCHAIN)),build,build/host)
# -Os: a third of -O2's size (dom0 runs from RAM, qrx-call starts per call),
# and no slower in make bench.
MODE_FLAGS := -Os -D_FORTIFY_SOURCE=2
LINK_MODE := -static
endif
ifeq ($(TOOLCHAIN),zig)
ZIG        := $(TOOLCHAIN_CACHE)/zig-$(ZIG_VERSION)/zig
XEN_MUSL   := $(TOOLCHAIN_CACHE)/xen-musl-$(XEN_SOURCE_VERSION)
GTEST_MUSL := $(TOOLCHAIN_CACHE)/gtest-musl
# What toolchain/musl.sh makes last: everything is there once this is.
TOOLCHAIN_READY := $(GTEST_MUSL)/lib/libgtest_main.a
CXX        := $(ZIG) c++ -target x86_64-linux-musl
export ZIG_GLOBAL_CACHE_DIR := $(TOOLCHAIN_CACHE)/zig-cache
export ZIG_LOCAL_CACHE_DIR := $(TOOLCHAIN_CACHE)/zig-cache
# zig defines NDEBUG at any -O; qmin's build has never had it. -s: zig keeps
# debug information otherwise.
TOOLCHAIN_CPPFLAGS := -UNDEBUG -isystem $(XEN_MUSL)/include -isystem $(GTEST_MUSL)/include
TOOLCHAIN_LDFLAGS  := -s -L$(XEN_MUSL)/lib -L$(GTEST_MUSL)/lib
UNIT_LINK          := -static -lgtest -lgtest_main $(LDLIBS_XEN)
# zig's linker has no --wrap, and musl needs none of slim_runtime's wraps.
SLIM_RUNTIME_LINK  :=
$(TOOLCHAIN_READY): toolchain/pins toolchain/musl.sh
	bash toolchain/musl.sh $(TOOLCHAIN_CACHE)
else
CXX                := g++
TOOLCHAIN_READY    :=
TOOLCHAIN_CPPFLAGS :=
TOOLCHAIN_LDFLAGS  :=
# Debian's gtest is built to link dynamically.
UNIT_LINK          := -lgtest -lgtest_main -pthread -Wl,-Bstatic $(LDLIBS_XEN) -Wl,-Bdynamic
# glibc's answers to two calls of Xen's archives, replaced (slim_runtime.cc);
# with a musl host, they wrap nothing.
SLIM_RUNTIME_LINK  := -Wl,--wrap=__isoc99_sscanf -Wl,--wrap=__assert_fail
endif

WARNINGS  := -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Wnon-virtual-dtor -Werror
HARDENING := -fstack-protector-strong -fstack-clash-protection -fcf-protection
CXXFLAGS  ?=
CPPFLAGS  := -iquote lib -DQMIN_VERSION='"$(VERSION)"' -MMD -MP $(TOOLCHAIN_CPPFLAGS)
# qmin's code throws nothing (errors are values): it carries no exception
# tables. Tests keep them (GoogleTest is built with them), and so does the
# terminate handler that reports the standard library's own.
NO_EXCEPTIONS := -fno-exceptions -fno-asynchronous-unwind-tables
$(OUT)/obj/toolchain/slim_runtime.o $(OUT)/obj/%_test.o $(OUT)/obj/test/%.o: NO_EXCEPTIONS :=
ALLFLAGS  = -std=c++20 $(MODE_FLAGS) $(WARNINGS) $(HARDENING) $(NO_EXCEPTIONS) -ffunction-sections -fdata-sections $(CXXFLAGS)
LDFLAGS   := $(LINK_MODE) -Wl,--gc-sections -Wl,-z,relro,-z,now -Wl,-z,noexecstack $(TOOLCHAIN_LDFLAGS)
LDLIBS    := $(LDLIBS_XEN)
# Each tool links toolchain/slim_runtime.o: a terminate handler without the
# runtime's demangler, and with glibc, two C library calls made by Xen's
# archives answered in a few hundred bytes instead of glibc's 120 KB.
SLIM_RUNTIME_SRCS := toolchain/slim_runtime.cc
SLIM_RUNTIME_OBJS = $(SLIM_RUNTIME_SRCS:%.cc=$(OBJ)/%.o)

OBJ       := $(OUT)/obj
LIB_A     := $(OUT)/libqmin.a
BINS      := $(TOOLS:%=$(OUT)/bin/%)
SIM_BINS  := $(TOOLS:%=$(OUT)/sim/bin/%)
FAKE_BINS := $(FAKE_TOOLS:%=$(OUT)/test/%)
UNIT_TEST := $(OUT)/test/lib_test

.PHONY: all sim check unit bats lint xen-check fuzz bench install clean image demo demo-check \
        demo-image production-check
.SECONDARY:
all: $(BINS) sim
sim: $(SIM_BINS)

$(OBJ)/%.o: %.cc | $(TOOLCHAIN_READY)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(if $(findstring test/fakes,$<),-iquote test/fakes) $(ALLFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_SRCS:%.cc=$(OBJ)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The production and the simulation build differ in one object: the vchan transport.
objects_of = $(patsubst %.cc,$(OBJ)/%.o,$(1))
define tool_rules
$(OUT)/bin/$(1): $(OBJ)/cmd/$(1)/main.o $(call objects_of,$($(1)_SRCS)) $(SLIM_RUNTIME_OBJS) $(OBJ)/lib/vchan_xen.o $(LIB_A)
	@mkdir -p $$(dir $$@)
	$$(CXX) $$(ALLFLAGS) $$(LDFLAGS) $$(SLIM_RUNTIME_LINK) -o $$@ $$^ $$(LDLIBS)
$(OUT)/sim/bin/$(1): $(OBJ)/cmd/$(1)/main.o $(call objects_of,$($(1)_SRCS)) $(SLIM_RUNTIME_OBJS) $(OBJ)/lib/vchan_socket.o $(LIB_A)
	@mkdir -p $$(dir $$@)
	$$(CXX) $$(ALLFLAGS) $$(LDFLAGS) $$(SLIM_RUNTIME_LINK) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach tool,$(TOOLS),$(eval $(call tool_rules,$(tool))))
# The qrx mains see the qrx engine's folder as well.
$(OBJ)/cmd/qrx-%/main.o: CPPFLAGS += -iquote cmd/qrx

$(OUT)/test/%: $(OBJ)/test/fakes/%.o $(FAKE_LIB_SRCS:%.cc=$(OBJ)/%.o) $(OBJ)/lib/vchan_socket.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CXX) $(ALLFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test programs on libxenvchan for the real-Xen tier: the raw vchan probe, and
# the hostile agent (the same source as the simulation's, on real vchan).
XEN_TEST_BINS := $(OUT)/test/vchan-probe $(OUT)/test/xen/qrx-hostile
$(OUT)/test/vchan-probe: $(OBJ)/test/xen/vchan-probe.o $(OBJ)/lib/vchan_xen.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CXX) $(ALLFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(OUT)/test/xen/qrx-hostile: $(OBJ)/test/fakes/qrx-hostile.o $(OBJ)/lib/vchan_xen.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CXX) $(ALLFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests exercise the socket transport; the Xen one needs Xen (make xen-check).
$(UNIT_TEST): $(TEST_SRCS:%.cc=$(OBJ)/%.o) $(FAKE_LIB_SRCS:%.cc=$(OBJ)/%.o) $(call objects_of,$(ENGINE_SRCS)) \
             $(SLIM_RUNTIME_OBJS) $(OBJ)/lib/vchan_socket.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CXX) $(ALLFLAGS) $(filter-out -static,$(LDFLAGS)) $(SLIM_RUNTIME_LINK) -o $@ $^ $(UNIT_LINK)

TEST_ENV := QMIN_BIN=$(CURDIR)/$(OUT)/bin QMIN_SIM_BIN=$(CURDIR)/$(OUT)/sim/bin \
            QMIN_TEST_BIN=$(CURDIR)/$(OUT)/test

# The tiers run one after the other (their output stays readable, and timing
# tests do not compete); each may still build in parallel.
check:
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) bats
unit: $(UNIT_TEST) $(FAKE_BINS)
	$(TEST_ENV) $(UNIT_TEST) --gtest_brief=1
# The sanitizer build links dynamically: tests of the static build are left to make check.
BATS_FILTER := $(if $(filter 1,$(SANITIZE)),--filter-tags '!static-build')
bats: all $(FAKE_BINS)
	$(TEST_ENV) bats --formatter tap --print-output-on-failure $(BATS_FILTER) test/bats

lint:
	bash test/lint.sh

# Fuzz targets, built with clang's libFuzzer against the parsers' sources.
FUZZ_TARGETS := policy qrx_proto service_command xlcfg
FUZZ_SRCS    := lib/policy.cc lib/policy_eval.cc lib/policy_rule.cc lib/qrx_proto.cc lib/vm_facts.cc lib/xlcfg.cc lib/files.cc \
                lib/error.cc lib/text.cc lib/qrx_service.cc lib/process.cc lib/unix_socket.cc
FUZZ_SECONDS ?= 30
build/fuzz/%_fuzz: test/fuzz/%_fuzz.cc $(FUZZ_SRCS) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	clang++ -std=c++20 -g -O1 -iquote lib -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_SRCS)
fuzz: $(FUZZ_TARGETS:%=build/fuzz/%_fuzz)
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus-$$t && \
	  build/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1 \
	    build/fuzz/corpus-$$t test/fuzz/corpus/$$t 2>&1 | tail -n 3 || exit 1; \
	done

# Benchmarks: each claim a ratio against a baseline measured in the same run.
build/bench/policy_bench: $(OBJ)/test/bench/policy_bench.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CXX) $(ALLFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
bench: all $(FAKE_BINS) build/bench/policy_bench
	$(MAKE) TOOLCHAIN=host $(TOOLS:%=build/host/bin/%)
	bash test/bench/sizes.sh
	build/bench/policy_bench
	bash test/bench/qrx_bench.sh
	bash test/bench/vif_route_bench.sh

# Real Xen in QEMU (root; downloads Debian's Xen and kernel packages once):
# the scenarios, the demo's whole topology, then a production image.
xen-check: all $(FAKE_BINS) $(XEN_TEST_BINS)
	bash test/xen/run.sh
	bats --formatter tap test/xen/harness.bats
	$(MAKE) demo-check
	$(MAKE) production-check

# The RAM-only dom0 and its VMs for one host, from Debian 12 packages.
SITE ?=
image: all
	bash image/build.sh --site "$(SITE)"
# The seed's topology cold-booted in QEMU, from the demo's own image (its
# site file and its layer of checks): `demo` leaves you at dom0's shell,
# `demo-check` powers off and fails unless every check passed.
DEMO_IMAGE := $(CURDIR)/build/demo/image
demo-image: all
	QMIN_IMAGE_OUT=$(DEMO_IMAGE) bash image/build.sh --site site/demo.site
demo: demo-image
	QMIN_IMAGE_OUT=$(DEMO_IMAGE) bash demo/run.sh
demo-check: demo-image
	QMIN_IMAGE_OUT=$(DEMO_IMAGE) bash demo/run.sh --check
# site/server.site's image, with QEMU's addresses and another NIC, booted with
# its VM images in the boot module and no image server.
production-check: all
	bash test/xen/production.sh

# The tools, man pages, OpenRC scripts (templates: @SBINDIR@ becomes where
# the tools are) and configuration; what the system has is kept (hotplug/install.sh).
install: $(BINS)
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" OUT="$(OUT)" SBIN_TOOLS="$(SBIN_TOOLS)" bash hotplug/install.sh

clean:
	rm -rf build

-include $(shell find $(OBJ) -name '*.d' -type f 2>/dev/null)
