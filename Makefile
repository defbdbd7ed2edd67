# murmur: the two commands (see README.md).
#   make demo   set up, build, and run murmur's main job
#   make test   set up, build, and run the whole test suite
# Others: make build, make bench, make fuzz [FUZZ_SECONDS=600], make sanitize,
# make cuda-race-check, make clean.

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 600
CTEST_ARGS ?=

.PHONY: all deps configure build test demo bench fuzz sanitize cuda-race-check clean

all: build

deps:
	@bash deploy/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j $(JOBS) $(CTEST_ARGS)

demo: build
	@$(BUILD_DIR)/sim/murmur-sim sim/experiments/demo.toml --out $(BUILD_DIR)/sim-out/demo

bench: build
	@mkdir -p $(BUILD_DIR)/bench
	$(BUILD_DIR)/common/murmur-bench-codec --json $(BUILD_DIR)/bench/codec.json
	$(BUILD_DIR)/kernels/murmur-bench-kernels --json $(BUILD_DIR)/bench/kernels.json

# Coverage-guided fuzzing of the tensor decoder with clang's libFuzzer (+ASan/UBSan).
fuzz: deps
	@cmake -S . -B build-fuzz -G Ninja -DMURMUR_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DMURMUR_SANITIZE=address,undefined >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target murmur-fuzz-codec
	@mkdir -p build-fuzz/corpus
	build-fuzz/common/murmur-fuzz-codec -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -print_final_stats=1 build-fuzz/corpus common/codec/fuzz_corpus

# Everything under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize:
	@$(MAKE) test BUILD_DIR=build-asan CMAKE_FLAGS="-DMURMUR_SANITIZE=address,undefined"

# The CUDA kernels run under the CPU emulation of CUDA with ThreadSanitizer:
# a missing __syncthreads shows up as a data race on shared memory. The CPU
# kernels the test compares against run on one OpenMP thread (libgomp is not
# instrumented), and function entry/exit hooks are off because TSan is not
# yet initialized when the AVX2 clones' resolvers run.
cuda-race-check: deps
	@CXXFLAGS="--param=tsan-instrument-func-entry-exit=0" cmake -S . -B build-tsan -G Ninja \
	  -DMURMUR_SANITIZE=thread -DMURMUR_NO_CUDA=ON -DMURMUR_BUILD_BENCHMARKS=OFF \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target murmur_kernels_cuda_emulated_test
	OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1 build-tsan/kernels/murmur_kernels_cuda_emulated_test

clean:
	rm -rf $(BUILD_DIR) build-fuzz build-asan build-tsan
