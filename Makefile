# crest - build everything with `make`, test with `make test`.
# Source lists are wildcards: a new file in src/ needs no edit here.
CC      ?= cc
# `make MPI=1`: the crest command built with mpicc (Debian libopenmpi-dev;
# MPICH's mpicc too) into build-mpi/, so `mpirun -np N crest train ...`
# spreads extraction and training over N ranks (src/cli/dist.c). Off by
# default: the plain build has no MPI dependency. The library never calls
# MPI, only the command does.
MPI     ?=
ifeq ($(MPI),1)
CC      := mpicc
BUILD   ?= build-mpi
MPI_DEF := -DCREST_MPI
endif
BUILD   ?= build
OPT     ?= -O3 -g
SAN     ?=
# libhdf5 (Debian libhdf5-dev, the serial build) for Keras .h5 files.
HDF5_CFLAGS := $(shell pkg-config --cflags hdf5-serial 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS   := $(shell pkg-config --libs hdf5-serial 2>/dev/null || echo -lhdf5_serial)
# The crest command links libhdf5's archive when libhdf5-dev has one: the
# shared library brings libcurl and its TLS, Kerberos and LDAP libraries
# (27 of the command's 58) for HDF5's S3 driver, which crest never uses;
# loading them cost every run about 4 MB of memory (crest infer's peak RSS
# on MobileNetV2: 33.6 -> 29.4 MB). libcrest.so and .a keep the shared one.
HDF5_A      := $(firstword $(wildcard $(patsubst -L%,%/libhdf5.a,$(filter -L%,$(HDF5_LIBS)))))
HDF5_CLI    := $(if $(HDF5_A),$(HDF5_A) -lsz -lz -ldl,$(HDF5_LIBS))
# libzip (Debian libzip-dev) for Keras 3 .keras files.
ZIP_CFLAGS  := $(shell pkg-config --cflags libzip 2>/dev/null)
ZIP_LIBS    := $(shell pkg-config --libs libzip 2>/dev/null || echo -lzip)
# ONNX export: C structs generated at build time by protoc-c (Debian
# protobuf-c-compiler) from the onnx.proto of Debian libonnx-dev, into
# $(BUILD)/gen (never into the repository); libprotobuf-c packs them.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
PROTOC_C   ?= protoc-c
# cairo (Debian libcairo2-dev) draws the training report's pictures: the
# command (src/cli/) only, libcrest does not link it; fontconfig (which
# libcairo2-dev brings) only to release its caches once the report is drawn.
# The command loads both when it draws (src/cli/cairo_lazy.c: dlopen of
# libcairo.so.2 and libfontconfig.so.1), so only their headers are needed
# here: linked, they and the libraries they need cost every run 1.6 MB.
CAIRO_CFLAGS := $(shell pkg-config --cflags cairo fontconfig 2>/dev/null || echo -I/usr/include/cairo)
CAIRO_LIBS   := -ldl
GEN     := $(BUILD)/gen
CFLAGS  := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Werror $(OPT) $(SAN) -fno-math-errno -pthread -fPIC \
           -Iinclude -Isrc -I$(GEN) $(HDF5_CFLAGS) $(ZIP_CFLAGS)
LDLIBS  := -lcjson -ljpeg -lpng $(HDF5_LIBS) $(ZIP_LIBS) -lprotobuf-c -lm -pthread
TESTLIBS := -lcmocka

# The version: one place, CREST_VERSION in include/crest.h; libcrest.so's
# SONAME carries its major number.
VERSION := $(shell sed -n 's/^\#define CREST_VERSION "\(.*\)"/\1/p' include/crest.h)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))
# make install [PREFIX=/usr/local] [DESTDIR=]
PREFIX  ?= /usr/local
DESTDIR ?=

SRC     := $(wildcard src/*.c src/*/*.c)
LIBSRC  := $(filter-out src/cli/%,$(SRC))
CLISRC  := $(wildcard src/cli/*.c)
LIBOBJ  := $(LIBSRC:%.c=$(BUILD)/%.o) $(GEN)/onnx.pb-c.o
CLIOBJ  := $(CLISRC:%.c=$(BUILD)/%.o)
CLIPART := $(filter-out $(BUILD)/src/cli/crest.o,$(CLIOBJ))
TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c))
HDRS    := $(wildcard include/*.h src/*.h src/*/*.h tests/*.h tests/emu/*.h)
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TIME ?= 60
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

.PHONY: all lib test asan emu clang bench demo setup clean fuzz fuzz-build fuzzers install print-ldlibs
all: lib $(BUILD)/crest $(BUILD)/crest.1 $(BUILD)/tests/crest_examples $(TESTS) $(EXAMPLES)
lib: $(BUILD)/libcrest.a $(BUILD)/libcrest.so

$(CLIOBJ): CFLAGS += $(CAIRO_CFLAGS) $(MPI_DEF)

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(GEN)/onnx.pb-c.c: $(wildcard $(ONNX_PROTO))
	@command -v $(PROTOC_C) > /dev/null || { echo "make: $(PROTOC_C) not found: the ONNX export needs Debian protobuf-c-compiler and libprotobuf-c-dev (tools/setup.sh installs them)" >&2; exit 1; }
	@test -r $(ONNX_PROTO) || { echo "make: $(ONNX_PROTO) not found: the ONNX export needs Debian libonnx-dev (tools/setup.sh installs it), or set ONNX_PROTO" >&2; exit 1; }
	@mkdir -p $(GEN)
	$(PROTOC_C) --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(GEN) $(ONNX_PROTO)

$(GEN)/onnx.pb-c.h: $(GEN)/onnx.pb-c.c

$(GEN)/onnx.pb-c.o: $(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/src/io/onnx.o $(BUILD)/src/io/onnx_ops.o $(BUILD)/src/io/onnx_proto.o $(BUILD)/src/io/onnx_int8.o: $(GEN)/onnx.pb-c.h

$(BUILD)/libcrest.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

# Only crest_* is exported (tools/install/libcrest.map); the command, the
# tests and the examples link libcrest.a, where the internals stay reachable.
$(BUILD)/libcrest.so: $(LIBOBJ) tools/install/libcrest.map
	$(CC) $(CFLAGS) -shared -Wl,-soname,libcrest.so.$(MAJOR) \
	    -Wl,--version-script=tools/install/libcrest.map -o $@ $(LIBOBJ) $(LDLIBS)

# crest(1), from the same tables as --help.
$(BUILD)/crest.1: $(BUILD)/crest
	$(BUILD)/crest help --man > $@.tmp && mv $@.tmp $@

# The pkg-config file and the CMake package, from tools/install/*.in.
$(BUILD)/install/%: tools/install/%.in include/crest.h
	@mkdir -p $(dir $@)
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' \
	    -e 's|@LIBS_PRIVATE@|$(LDLIBS)|g' $< > $@

INSTALL_GEN := $(BUILD)/install/crest.pc $(BUILD)/install/crestConfig.cmake \
               $(BUILD)/install/crestConfigVersion.cmake

install: lib $(BUILD)/crest $(BUILD)/crest.1 $(INSTALL_GEN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/lib/cmake/crest $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/crest $(DESTDIR)$(PREFIX)/bin/crest
	install -m 755 $(BUILD)/libcrest.so $(DESTDIR)$(PREFIX)/lib/libcrest.so.$(VERSION)
	ln -sf libcrest.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libcrest.so.$(MAJOR)
	ln -sf libcrest.so.$(MAJOR) $(DESTDIR)$(PREFIX)/lib/libcrest.so
	install -m 644 $(BUILD)/libcrest.a $(DESTDIR)$(PREFIX)/lib/libcrest.a
	install -m 644 include/crest.h $(DESTDIR)$(PREFIX)/include/crest.h
	install -m 644 $(BUILD)/install/crest.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/crest.pc
	install -m 644 $(BUILD)/install/crestConfig.cmake \
	    $(BUILD)/install/crestConfigVersion.cmake $(DESTDIR)$(PREFIX)/lib/cmake/crest/
	install -m 644 $(BUILD)/crest.1 $(DESTDIR)$(PREFIX)/share/man/man1/crest.1

$(BUILD)/crest: $(CLIOBJ) $(BUILD)/libcrest.a
	$(CC) $(CFLAGS) -o $@ $^ $(subst $(HDF5_LIBS),$(HDF5_CLI),$(LDLIBS)) $(CAIRO_LIBS)

# crest with the examples' custom model and Lambda registered (scenarios.sh).
$(BUILD)/tests/crest_examples: tests/crest_examples.c $(CLIPART) $(BUILD)/libcrest.a $(HDRS) \
                               examples/way2_custom_model.c examples/way5_lambda_head.c \
                               $(wildcard examples/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(CLIPART) $(BUILD)/libcrest.a $(LDLIBS) $(CAIRO_LIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libcrest.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libcrest.a $(TESTLIBS) $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(BUILD)/libcrest.a include/crest.h $(wildcard examples/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libcrest.a $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libcrest.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O3 -o $@ $< $(BUILD)/libcrest.a $(LDLIBS)

setup:
	bash tools/setup.sh

# The README's test command: set-up, build, the whole suite.
test: setup all
	bash tests/run.sh $(BUILD)

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all
	CREST_SANITIZED=1 bash tests/run.sh build-asan

# The AVX-512 VNNI, AVX-VNNI and AVX-512 kernels on any x86-64 CPU: built
# with their intrinsics in portable C (tests/emu/x86_emu.h over Debian
# libsimde-dev) and under ASan+UBSan into build-emu/, where every level
# reports itself supported; tests/emu/run.sh checks each level
# against the generic loops and whole int8 and float models against the
# native build. Slow, so only the kernel tests and the command are built.
EMU_FLAGS := -DCR_X86_EMULATED -Itests/emu -Wno-psabi
emu: all
	$(MAKE) BUILD=build-emu OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all $(EMU_FLAGS)" \
	    build-emu/crest build-emu/tests/test_q8_kernels build-emu/tests/test_kernels
	bash tests/emu/run.sh $(BUILD) build-emu

# gcc and clang must both build cleanly.
clang:
	$(MAKE) CC=clang BUILD=build-clang all

# libFuzzer harnesses (clang): every loader, built into build-fuzz/fuzz/;
# `make fuzz` runs each for FUZZ_TIME seconds and fails on any crash.
fuzz-build:
	$(MAKE) CC=clang BUILD=build-fuzz OPT="-O1 -g -fno-omit-frame-pointer" SAN="$(FUZZ_SAN)" fuzzers

fuzzers: $(FUZZERS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libcrest.a $(HDRS) $(wildcard tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libcrest.a $(LDLIBS)

fuzz: fuzz-build
	bash tests/fuzz/run.sh build-fuzz $(FUZZ_TIME)

bench: all $(BENCHES)

# The README's main job: transfer learning on the pretrained MobileNetV2.
demo: setup all
	$(BUILD)/examples/way3_pretrained

clean:
	rm -rf build build-asan build-clang build-emu build-fuzz build-mpi

# The link flags, for scripts that build a tool against libcrest.a
# (tests/fuzz/make_seeds.sh).
print-ldlibs:
	@echo $(LDLIBS)
