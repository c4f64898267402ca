package io.hyserve.kernels;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code out = in @ weight^T} through cuBLASLt for BF16 weights (n, k): float32 activations rounded to bf16 by our
 * {@code hy_to_bf16} (as {@link TensorCoreGemm} does), float32 accumulation and output, on the device's stream.
 * A row's result is the same whatever the number of rows: each weight shape runs one algorithm, pinned on first use
 * (see {@link #algorithm}). Not thread-safe, as {@link Gpu}.
 */
public final class CublasGemm implements AutoCloseable {
    /** The row count whose heuristic choice every row count of a shape runs: a prefill step's worth. */
    static final int REFERENCE_ROWS = 256;
    static final long WORKSPACE_BYTES = 32L << 20;
    private static final int ELEMENTWISE_BLOCK = 256;

    private final CublasLt lt;
    private final Gpu gpu;
    private final Arena arena;
    /** Destroys what this object created, newest first. */
    private final Deque<Runnable> cleanup = new ArrayDeque<>();
    private final Map<Long, Shape> shapes = new HashMap<>();
    private final MemorySegment handle;
    private final MemorySegment matmulDesc;
    private final MemorySegment preference;
    private final MemorySegment one;
    private final MemorySegment zero;
    private final MemorySegment checkResult;
    private final DeviceMemory workspace;
    private DeviceMemory inBf16;

    /** A weight's layout, its pinned algorithm, and the row counts checked against that algorithm. */
    private record Shape(int n, int k, MemorySegment weightLayout, MemorySegment algo, Map<Integer, Batch> batches) {}

    /** Column-major layouts of the activations (k, rows) and of the output (n, rows). */
    private record Batch(MemorySegment in, MemorySegment out) {}

    /**
     * Opens cuBLASLt 13 from the first folder of {@code libraryPath} that has it (else the dynamic loader's search
     * path) before touching the device, so that a missing library is reported as such.
     *
     * @throws IllegalStateException naming the library and where it was looked for
     */
    public CublasGemm(Gpu gpu, List<Path> libraryPath) {
        this.lt = new CublasLt(libraryPath);
        this.gpu = gpu;
        this.arena = Arena.ofShared();
        try {
            gpu.bind();
            handle = owned(lt.createHandle(), lt::destroyHandle);
            matmulDesc = owned(lt.createMatmulDesc(CublasLt.COMPUTE_32F, CublasLt.CUDA_R_32F), lt::destroyMatmulDesc);
            // Row-major out (rows, n) is column-major D (n, rows) = op(A) · B: A the row-major weight read as
            // column-major (k, n) and transposed, B the row-major activations read as column-major (k, rows).
            lt.setMatmulDesc(matmulDesc, CublasLt.DESC_TRANSA, arena.allocateFrom(JAVA_INT, CublasLt.OP_T));
            lt.setMatmulDesc(matmulDesc, CublasLt.DESC_TRANSB, arena.allocateFrom(JAVA_INT, CublasLt.OP_N));
            preference = owned(lt.createPreference(), lt::destroyPreference);
            lt.setPreference(preference, CublasLt.PREF_MAX_WORKSPACE_BYTES,
                    arena.allocateFrom(JAVA_LONG, WORKSPACE_BYTES));
            one = arena.allocateFrom(JAVA_FLOAT, 1f);
            zero = arena.allocateFrom(JAVA_FLOAT, 0f);
            checkResult = arena.allocate(CublasLt.HEURISTIC_RESULT);
            workspace = gpu.allocate(WORKSPACE_BYTES);
            cleanup.push(workspace::close);
        } catch (RuntimeException e) {
            release();
            throw e;
        }
    }

    /** in (rows, k) float32, weight (n, k) BF16 words, out (rows, n) float32, all row-major. */
    public void multiply(DeviceMemory out, DeviceMemory in, DeviceMemory weight, int rows, int n, int k) {
        if (rows < 0 || n <= 0 || k <= 0) {
            throw new IllegalArgumentException("rows %d, n %d, k %d".formatted(rows, n, k));
        }
        if (rows == 0) {
            return;
        }
        requireHolds(in, 4L * rows * k, "in");
        requireHolds(weight, 2L * n * k, "weight");
        requireHolds(out, 4L * rows * n, "out");
        gpu.bind();
        Shape shape = shape(n, k);
        Batch batch = batch(shape, rows);
        long elements = (long) rows * k;
        inBf16 = gpu.reserve(inBf16, 2 * elements);
        gpu.launch(FusedMoeKernel.MODULE, "hy_to_bf16",
                Math.toIntExact((elements + ELEMENTWISE_BLOCK - 1) / ELEMENTWISE_BLOCK), 1, ELEMENTWISE_BLOCK, 0,
                inBf16, in, elements);
        MemorySegment d = device(out);
        lt.matmul(handle, matmulDesc, one, device(weight), shape.weightLayout(), device(inBf16), batch.in(), zero, d,
                batch.out(), d, batch.out(), shape.algo(), device(workspace), WORKSPACE_BYTES, gpu.streamHandle());
    }

    /**
     * The algorithm every row count of an (n, k) weight runs, as cuBLASLt numbers it: the heuristic's first choice
     * for {@value #REFERENCE_ROWS} rows with split-K turned off, chosen on first use.
     */
    public String algorithm(int n, int k) {
        gpu.bind();
        return lt.describe(shape(n, k).algo());
    }

    private Shape shape(int n, int k) {
        long key = (long) n << 32 | k;
        Shape shape = shapes.get(key);
        if (shape == null) {
            MemorySegment weightLayout = owned(lt.createLayout(CublasLt.CUDA_R_16BF, k, n, k), lt::destroyLayout);
            shape = new Shape(n, k, weightLayout, pinnedAlgorithm(weightLayout, n, k), new HashMap<>());
            shapes.put(key, shape);
        }
        return shape;
    }

    private MemorySegment pinnedAlgorithm(MemorySegment weightLayout, int n, int k) {
        Batch reference = layouts(n, k, REFERENCE_ROWS);
        MemorySegment result = arena.allocate(CublasLt.HEURISTIC_RESULT);
        int found = lt.heuristic(handle, matmulDesc, weightLayout, reference.in(), reference.out(), reference.out(),
                preference, result);
        int state = result.get(JAVA_INT, CublasLt.RESULT_STATE);
        if (found == 0 || state != 0) {
            throw new IllegalStateException("cuBLASLt has no algorithm for a (%d, %d) BF16 weight at %d rows%s"
                    .formatted(n, k, REFERENCE_ROWS, found == 0 ? "" : ": " + lt.statusName(state)));
        }
        MemorySegment algo = arena.allocate(CublasLt.ALGO).copyFrom(result.asSlice(0, CublasLt.ALGO.byteSize()));
        // Heuristics pick the kernel and the split of k per row count, which changes a row's sum order: one
        // algorithm without split-K for all row counts keeps a row's result independent of its batch.
        lt.disableSplitK(algo);
        return algo;
    }

    /** The layouts for {@code rows}, once the shape's algorithm is known to run them. */
    private Batch batch(Shape shape, int rows) {
        Batch batch = shape.batches().get(rows);
        if (batch == null) {
            batch = layouts(shape.n(), shape.k(), rows);
            int status = lt.check(handle, matmulDesc, shape.weightLayout(), batch.in(), batch.out(), batch.out(),
                    shape.algo(), checkResult);
            if (status != 0) {
                throw new IllegalStateException(("cuBLASLt's algorithm for a (%d, %d) weight (%s) does not run %d "
                        + "rows: %s; another algorithm would make a row's result depend on its batch").formatted(
                        shape.n(), shape.k(), lt.describe(shape.algo()), rows, lt.statusName(status)));
            }
            long needed = checkResult.get(JAVA_LONG, CublasLt.RESULT_WORKSPACE_SIZE);
            if (needed > WORKSPACE_BYTES) {
                throw new IllegalStateException(("cuBLASLt's algorithm for a (%d, %d) weight needs %d bytes of "
                        + "workspace at %d rows, more than the %d reserved").formatted(shape.n(), shape.k(), needed,
                        rows, WORKSPACE_BYTES));
            }
            shape.batches().put(rows, batch);
        }
        return batch;
    }

    private Batch layouts(int n, int k, int rows) {
        return new Batch(owned(lt.createLayout(CublasLt.CUDA_R_16BF, k, rows, k), lt::destroyLayout),
                owned(lt.createLayout(CublasLt.CUDA_R_32F, n, rows, n), lt::destroyLayout));
    }

    private MemorySegment owned(MemorySegment created, Consumer<MemorySegment> destroy) {
        cleanup.push(() -> destroy.accept(created));
        return created;
    }

    private static MemorySegment device(DeviceMemory memory) {
        return MemorySegment.ofAddress(memory.address());
    }

    private static void requireHolds(DeviceMemory memory, long bytes, String what) {
        if (memory.bytes() < bytes) {
            throw new IllegalArgumentException("%s holds %d bytes, %d needed".formatted(what, memory.bytes(), bytes));
        }
    }

    /** Waits for the queued products (they use the workspace), then frees everything; before the {@link Gpu}'s. */
    @Override
    public void close() {
        if (!gpu.closed()) {
            gpu.synchronize();
        }
        release();
    }

    private void release() {
        if (inBf16 != null) {
            inBf16.close();
        }
        while (!cleanup.isEmpty()) {
            cleanup.pop().run();
        }
        arena.close();
    }
}
