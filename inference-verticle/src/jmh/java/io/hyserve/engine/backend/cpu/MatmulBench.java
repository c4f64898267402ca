package io.hyserve.engine.backend.cpu;

import io.hyserve.engine.backend.Activations;
import io.hyserve.engine.backend.Weight;
import io.hyserve.engine.load.DType;
import io.hyserve.engine.load.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The CPU backend's matrix product over a BF16 weight, by token count: decode (1), an expert's few routed
 * tokens (2, 3), batched decode (8) and prefill (64). {@code rows=2816} is one expert of the medium synthetic
 * model (7 MB, cache-resident after the first pass: this measures the kernel, not memory); {@code rows=65536}
 * (160 MB) streams from memory. Read the {@code :gflops} and {@code :gbytes} rows: their "ops/s" is GFLOP/s
 * and GB/s of weights.
 *
 * <p>Run from the project folder: {@code ./mvnw -Pjmh -pl inference-verticle -am package -DskipTests && java
 * --add-modules jdk.incubator.vector -jar inference-verticle/target/benchmarks.jar MatmulBench}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@State(Scope.Benchmark)
public class MatmulBench {
    @Param({"1", "2", "3", "8", "64"})
    int tokens;

    @Param({"2816", "65536"})
    int rows;

    @Param({"2"})
    int threads;

    /** Resident weights are packed for the tiles (the engine's default); mapped ones are read row-major. */
    @Param({"true", "false"})
    boolean resident;

    static final int COLS = 1280;

    CpuBackend backend;
    Arena arena;
    Weight weight;
    Activations in;
    Activations out;

    @Setup(Level.Trial)
    public void setUp() {
        backend = CpuBackend.vector(threads, resident);
        arena = Arena.ofShared();
        MemorySegment data = arena.allocate(2L * rows * COLS, 64);
        SplittableRandom random = new SplittableRandom(1);
        ValueLayout.OfShort bf16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < (long) rows * COLS; i++) {
            data.set(bf16, 2 * i, (short) (Float.floatToRawIntBits((float) random.nextDouble(-0.05, 0.05)) >>> 16));
        }
        weight = backend.upload(new Tensor("w", Path.of("memory"), DType.BF16, "BF16", new long[] {rows, COLS}, data));
        in = backend.allocate(tokens, COLS);
        out = backend.allocate(tokens, rows);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        arena.close();
    }

    /** Work per call, so JMH's per-second counters read as GFLOP/s and GB/s. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Work {
        public double gflops;
        public double gbytes;
    }

    @Benchmark
    public void matmul(Work work) {
        backend.matmul(out, in, weight);
        work.gflops += 2e-9 * tokens * rows * COLS;
        work.gbytes += 2e-9 * rows * COLS;
    }
}
