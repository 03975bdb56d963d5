# The two commands: `make run` and `make test`. Both install what is missing first.
#
#   make run     build, then start bitcask-server on ./data, port 6380 (http 8380);
#                connect with `redis-cli -p 6380`, stop with Ctrl-C
#                (PORT=, HTTP_PORT=, DATA_DIR= override; `make demo` runs the library demo)
#   make test    build release (gcc), ASan+UBSan and TSan (clang) trees, run every test suite and
#                check the formatting (make format fixes it)
#   make bench   the engine on the seed's grid, its features, and the Python package;
#                writes bench/results/{engine,features,python}.md
#                (bench-peers: vs LMDB/LevelDB/RocksDB; bench-server, bench-replication,
#                bench-cluster: vs redis-server)
#
# CI=true turns warnings into errors.

# The Python module is built for the interpreter `python3` names, the one the tests run.
PYTHON := $(shell command -v python3)
CMAKE_FLAGS := -G Ninja $(if $(filter true,$(CI)),-DBITCASK_WERROR=ON,) -DPython_EXECUTABLE=$(PYTHON)

.PHONY: all deps build build-asan build-tsan run demo test format bench bench-quick bench-peers bench-peers-full bench-server bench-replication bench-cluster fuzz soak soak-failover clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build

# With clang, as the TSan tree: it compiles this tree in half the time gcc takes (the release
# tree is gcc's), and its thread-safety analysis checks every file here too.
build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBITCASK_SANITIZE=address $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan

# With clang: its thread-safety analysis (-Werror=thread-safety) checks the engine's locks.
build-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBITCASK_SANITIZE=thread -DBITCASK_TSAN_ONLY=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-tsan

PORT ?= 6380
HTTP_PORT ?= 8380
DATA_DIR ?= data
run: build
	@echo "bitcask-server: data in $(DATA_DIR)/; the bitcask tool is ./build/bitcask (try ./build/bitcask --help)"
	./build/bitcask-server --dir $(DATA_DIR) --port $(PORT) --http-port $(HTTP_PORT)

demo: build
	./build/bitcask_demo /tmp/bitcask-demo

test: build build-asan build-tsan
	@scripts/run-tests

# clang-format every C++ file in place (make test checks that nothing would change).
format: deps
	@scripts/format

bench: build
	./build/bench/engine_bench --out bench/results/engine.md
	./build/bench/feature_bench --out bench/results/features.md
	PYTHONPATH=build/python $(PYTHON) bench/python_bench.py --out bench/results/python.md

bench-quick: build
	./build/bench/engine_bench --quick --out bench/results/engine-quick.md

# Under libFuzzer (clang) with ASan+UBSan, FUZZ_SECONDS each (default 60): the RESP parser,
# the server's commands over a real store (what a replica applies from its leader's stream too),
# recovery of stores made of the input's bytes, and the RDB loader (a full sync from any leader).
# Corpora build up in build-fuzz/corpus-* between runs.
FUZZ_SECONDS ?= 60
fuzz: deps
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DBITCASK_FUZZ=ON >/dev/null
	@cmake --build build-fuzz
	@mkdir -p build-fuzz/corpus-resp build-fuzz/corpus-commands build-fuzz/corpus-store build-fuzz/corpus-rdb
	./build-fuzz/resp_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build-fuzz/corpus-resp
	./build-fuzz/commands_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -dict=tests/commands_fuzz.dict build-fuzz/corpus-commands
	./build-fuzz/store_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=8192 build-fuzz/corpus-store
	./build-fuzz/rdb_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build-fuzz/corpus-rdb tests/rdb_corpus

# The damage test (random harm to a store's files; damage must never read back as data) over
# SOAK_ROUNDS fresh seeds under ASan+UBSan: about 0.2 s a round. A failure prints its seed;
# BITCASK_DAMAGE_FIRST_SEED=<seed> BITCASK_DAMAGE_ROUNDS=1 ./build-asan/tests/damage_test
# replays it.
SOAK_ROUNDS ?= 2000
soak: build-asan
	BITCASK_DAMAGE_ROUNDS=$(SOAK_ROUNDS) BITCASK_DAMAGE_FIRST_SEED=$$(date +%s) ./build-asan/tests/damage_test

# Sentinel failover under a writer, FAILOVER_ROUNDS times (about 20 s each): kill -9 of the
# leader, no WAIT-confirmed write lost, the old leader rejoins; prints each failover's time.
FAILOVER_ROUNDS ?= 10
soak-failover: build
	BITCASK_FAILOVER_ROUNDS=$(FAILOVER_ROUNDS) ./build/tests/replication_test --gtest_filter='*SentinelFailover*'

clean:
	rm -rf build build-asan build-tsan build-fuzz build-wheel

# Side-by-side with LMDB, LevelDB and RocksDB: bench/results/peers.{md,csv,png}. A few minutes;
# `make bench-peers-full` runs the 1M and 10M rows (about an hour on 2 cores).
# Debian's own interpreter, which has python3-matplotlib for the plots.
PLOT_PYTHON ?= /usr/bin/python3
bench-peers: build
	$(PLOT_PYTHON) bench/peers/run_peers.py --quick

bench-peers-full: build
	$(PLOT_PYTHON) bench/peers/run_peers.py --full

# redis-benchmark (SET, GET, INCR, MSET; 50 clients; -P 1 and -P 16) against bitcask-server and
# a real redis-server with appendonly yes / appendfsync everysec: bench/results/server.md; the
# same with appendfsync always on both (8 and 50 clients, beside the flush floor):
# bench/results/server-always.md; then
# replication (bench-replication alone): leaders with 0, 1 and 2 replicas, SET + WAIT latency,
# lag under load, a full sync of 1M keys and Sentinel failover, beside redis-server:
# bench/results/replication.md. About 20 minutes in all.
bench-server: build
	$(PLOT_PYTHON) bench/server_bench.py --out bench/results/server.md
	$(PLOT_PYTHON) bench/server_bench.py --appendfsync always --clients 8,50 --tests SET,INCR,MSET \
	  --pipelines 1 --requests 30000 --runs 5 --out bench/results/server-always.md
	$(PLOT_PYTHON) bench/replication_bench.py --out bench/results/replication.md

bench-replication: build
	$(PLOT_PYTHON) bench/replication_bench.py --out bench/results/replication.md

# cluster mode (bench-cluster alone): the cost of routing, 1-3 shards pinned to one core, and
# the memory of the per-slot key index, beside redis-server: bench/results/cluster.md.
bench-cluster: build
	$(PLOT_PYTHON) bench/cluster_bench.py --out bench/results/cluster.md
