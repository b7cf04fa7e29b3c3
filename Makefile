# crest - build everything with `make`, test with `make test`.
# Source lists are wildcards: a new file in src/ needs no edit here.
CC      ?= cc
BUILD   ?= build
OPT     ?= -O3 -g
SAN     ?=
# libhdf5 (Debian libhdf5-dev, the serial build) for Keras .h5 files.
HDF5_CFLAGS := $(shell pkg-config --cflags hdf5-serial 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS   := $(shell pkg-config --libs hdf5-serial 2>/dev/null || echo -lhdf5_serial)
# libzip (Debian libzip-dev) for Keras 3 .keras files.
ZIP_CFLAGS  := $(shell pkg-config --cflags libzip 2>/dev/null)
ZIP_LIBS    := $(shell pkg-config --libs libzip 2>/dev/null || echo -lzip)
CFLAGS  := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Werror $(OPT) $(SAN) -fno-math-errno -pthread -fPIC \
           -Iinclude -Isrc $(HDF5_CFLAGS) $(ZIP_CFLAGS)
LDLIBS  := -lcjson -ljpeg -lpng $(HDF5_LIBS) $(ZIP_LIBS) -lm -pthread
TESTLIBS := -lcmocka

SRC     := $(wildcard src/*.c src/*/*.c)
LIBSRC  := $(filter-out src/cli/%,$(SRC))
CLISRC  := $(wildcard src/cli/*.c)
LIBOBJ  := $(LIBSRC:%.c=$(BUILD)/%.o)
CLIOBJ  := $(CLISRC:%.c=$(BUILD)/%.o)
CLIPART := $(filter-out $(BUILD)/src/cli/crest.o,$(CLIOBJ))
TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c))
HDRS    := $(wildcard include/*.h src/*.h src/*/*.h tests/*.h)
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TIME ?= 60
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

.PHONY: all lib test asan clang bench demo setup clean fuzz fuzz-build fuzzers
all: lib $(BUILD)/crest $(BUILD)/tests/crest_examples $(TESTS) $(EXAMPLES)
lib: $(BUILD)/libcrest.a $(BUILD)/libcrest.so

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libcrest.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libcrest.so: $(LIBOBJ)
	$(CC) $(CFLAGS) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/crest: $(CLIOBJ) $(BUILD)/libcrest.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# crest with the examples' custom model and Lambda registered (scenarios.sh).
$(BUILD)/tests/crest_examples: tests/crest_examples.c $(CLIPART) $(BUILD)/libcrest.a $(HDRS) \
                               examples/way2_custom_model.c examples/way5_lambda_head.c \
                               $(wildcard examples/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(CLIPART) $(BUILD)/libcrest.a $(LDLIBS)

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
	rm -rf build build-asan build-clang build-fuzz
