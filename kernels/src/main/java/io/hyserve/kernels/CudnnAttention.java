package io.hyserve.kernels;

import static io.hyserve.kernels.Cudnn.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Causal GQA attention of a prefill chunk through cuDNN 9's fused scaled-dot-product attention: the graph
 * {@code softmax(mask(scale · Q·Kᵀ))·V} that cuDNN's flash-attention engines take whole. Q, K, V and the output
 * are bf16, rows of tokens with the heads side by side; the chunk's queries are the last positions of the keys
 * (the mask is aligned bottom-right), so a later chunk of a prompt attends to everything before it. The graph has
 * the layout cuDNN's own frontend gives it (the softmax statistics branch, the probabilities in bf16 for the second
 * product, the bottom-right shift as an add then a subtract), which is what its engines match.
 *
 * <p>One execution plan per exact shape, built on first use (heuristics, and perhaps a run-time compile): right for
 * a benchmark or a fixed chunk size; a serving path with every prompt length would need cuDNN's dynamic shapes.
 * Not thread-safe: the device's worker thread calls it.
 */
public final class CudnnAttention implements AutoCloseable {
    private static final long Q = 1;
    private static final long K = 2;
    private static final long V = 3;
    private static final long O = 4;
    private static final long SCALE = 5;
    private static final long MASKED = 6;
    private static final long KEYS = 7;
    private static final long QUERIES = 8;
    private static final int ALIGNMENT = 16;
    private static final int MAX_HEAD_DIM = 256;

    private final Gpu gpu;
    private final Cudnn cudnn;
    private final MemorySegment handle;
    private final Map<Shape, Plan> plans = new HashMap<>();
    private DeviceMemory workspace;

    /** A chunk of {@code queries} tokens attending to {@code keys} positions, the chunk's own last. */
    public record Shape(int queries, int keys, int heads, int kvHeads, int headDim) {
        public Shape {
            if (queries < 1 || keys < queries || heads < 1 || kvHeads < 1 || heads % kvHeads != 0 || headDim < 8
                    || headDim % 8 != 0 || headDim > MAX_HEAD_DIM) {
                throw new IllegalArgumentException(("%d queries over %d keys, %d heads over %d KV heads of %d: "
                        + "cuDNN attention takes keys ≥ queries ≥ 1, whole head groups and a head size that is a "
                        + "multiple of 8 up to %d").formatted(queries, keys, heads, kvHeads, headDim, MAX_HEAD_DIM));
            }
        }

        /** Whether the mask needs shifting: the chunk does not start the sequence. */
        boolean bottomRight() {
            return keys > queries;
        }

        long queryBytes() {
            return 2L * queries * heads * headDim;
        }

        long keyBytes() {
            return 2L * keys * kvHeads * headDim;
        }
    }

    private record Plan(MemorySegment plan, long workspaceBytes, List<MemorySegment> descriptors) {}

    /**
     * Loads cuDNN 9 for {@code gpu}'s stream from the first folder of {@code libraryPath} that has it, else from the
     * dynamic loader's search path.
     */
    public CudnnAttention(Gpu gpu, List<Path> libraryPath) {
        this.gpu = gpu;
        this.cudnn = new Cudnn(libraryPath);
        long version = cudnn.version();
        // As cuDNN's frontend: bottom-right masks on any length from 9.6; bf16 attention broken in 9.10.0 and 9.10.1.
        if (version < 90_600 || version == 91_000 || version == 91_001) {
            throw new IllegalStateException("cuDNN %d: fused attention here needs 9.6 or later, not 9.10.0 or 9.10.1"
                    .formatted(version));
        }
        gpu.bind();
        this.handle = cudnn.createHandle(gpu.streamHandle());
    }

    /** The loaded library's version, as {@code CUDNN_VERSION} (90_500 for 9.5.0). */
    public long version() {
        return cudnn.version();
    }

    /**
     * Queues {@code out = attention(q, k, v)} on the device's stream.
     *
     * @param out (queries, heads × headDim) bf16
     * @param q (queries, heads × headDim) bf16
     * @param k (keys, kvHeads × headDim) bf16
     * @param v (keys, kvHeads × headDim) bf16
     */
    public void prefill(DeviceMemory out, DeviceMemory q, DeviceMemory k, DeviceMemory v, Shape shape) {
        requireHolds(out, shape.queryBytes(), "out");
        requireHolds(q, shape.queryBytes(), "q");
        requireHolds(k, shape.keyBytes(), "k");
        requireHolds(v, shape.keyBytes(), "v");
        gpu.bind();
        Plan plan = plans.computeIfAbsent(shape, this::build);
        if (plan.workspaceBytes() > 0) {
            workspace = gpu.reserve(workspace, plan.workspaceBytes());
        }
        try (Arena call = Arena.ofConfined()) {
            // The by-value scalars (scale, masked-score value, key and query counts) are host memory that cuDNN reads
            // while it queues the kernels, so the call's memory may go once execute returns.
            MemorySegment scalars = call.allocate(16, 4);
            scalars.set(ValueLayout.JAVA_FLOAT, 0, (float) (1.0 / Math.sqrt(shape.headDim())));
            scalars.set(ValueLayout.JAVA_FLOAT, 4, -Float.MAX_VALUE);
            scalars.set(ValueLayout.JAVA_INT, 8, shape.keys());
            scalars.set(ValueLayout.JAVA_INT, 12, shape.queries());
            long[] uids = shape.bottomRight() ? new long[] {Q, K, V, O, SCALE, MASKED, KEYS, QUERIES}
                    : new long[] {Q, K, V, O, SCALE, MASKED};
            MemorySegment[] data = {device(q), device(k), device(v), device(out), scalars.asSlice(0, 4),
                scalars.asSlice(4, 4), scalars.asSlice(8, 4), scalars.asSlice(12, 4)};
            MemorySegment pack = cudnn.createDescriptor(VARIANT_PACK_DESCRIPTOR);
            try {
                cudnn.set(pack, ATTR_VARIANT_PACK_UNIQUE_IDS, TYPE_INT64, uids.length, longs(call, uids));
                cudnn.set(pack, ATTR_VARIANT_PACK_DATA_POINTERS, TYPE_VOID_PTR, uids.length,
                        pointers(call, java.util.Arrays.copyOf(data, uids.length)));
                cudnn.set(pack, ATTR_VARIANT_PACK_WORKSPACE, TYPE_VOID_PTR, 1, pointers(call,
                        plan.workspaceBytes() > 0 ? device(workspace) : MemorySegment.NULL));
                cudnn.finalizeDescriptor(pack, "variant pack");
                cudnn.execute(handle, plan.plan(), pack);
            } finally {
                cudnn.destroyDescriptor(pack);
            }
        }
    }

    private static MemorySegment device(DeviceMemory memory) {
        return MemorySegment.ofAddress(memory.address());
    }

    private static void requireHolds(DeviceMemory memory, long bytes, String what) {
        if (memory.bytes() < bytes) {
            throw new IllegalArgumentException("%s holds %d bytes, %d needed".formatted(what, memory.bytes(), bytes));
        }
    }

    /** The graph for one shape, and the first engine configuration cuDNN's heuristics offer that finalizes. */
    private Plan build(Shape shape) {
        return Graph.attention(cudnn, shape).plan(handle, shape);
    }

    /**
     * Descriptors of one graph, kept alive with its plan. Its operations need no device: only the operation graph
     * and what follows take the handle.
     */
    static final class Graph {
        private final Cudnn cudnn;
        private final Arena values = Arena.ofConfined();
        private final List<MemorySegment> descriptors = new ArrayList<>();
        private final List<MemorySegment> operations = new ArrayList<>();
        private long nextVirtual = 100;

        private Graph(Cudnn cudnn) {
            this.cudnn = cudnn;
        }

        /** The operations of {@code softmax(mask(scale · Q·Kᵀ))·V} for {@code shape}, each finalized. */
        static Graph attention(Cudnn cudnn, Shape shape) {
            Graph graph = new Graph(cudnn);
            try {
                graph.build(shape);
                return graph;
            } catch (RuntimeException e) {
                graph.discard();
                throw e;
            }
        }

        private void build(Shape shape) {
            long h = shape.heads();
            long hk = shape.kvHeads();
            long d = shape.headDim();
            long sq = shape.queries();
            long sk = shape.keys();
            long[] rows = {sq * h * d, d, h * d, 1};
            MemorySegment q = tensor(Q, DATA_BFLOAT16, new long[] {1, h, sq, d}, rows);
            // Kᵀ as a view of the key rows: (d, keys) per KV head.
            MemorySegment kt = tensor(K, DATA_BFLOAT16, new long[] {1, hk, d, sk},
                    new long[] {sk * hk * d, d, 1, hk * d});
            MemorySegment v = tensor(V, DATA_BFLOAT16, new long[] {1, hk, sk, d},
                    new long[] {sk * hk * d, d, hk * d, 1});
            MemorySegment o = tensor(O, DATA_BFLOAT16, new long[] {1, h, sq, d}, rows);
            MemorySegment scale = scalar(SCALE, DATA_FLOAT);
            MemorySegment masked = scalar(MASKED, DATA_FLOAT);
            long[] scores = {1, h, sq, sk};
            long[] perRow = {1, h, sq, 1};

            MemorySegment s = pointwise(POINTWISE_MUL, DATA_FLOAT, matmul(q, kt, scores), scale, scores,
                    DATA_FLOAT);
            MemorySegment row = index(s, 2, scores);
            if (shape.bottomRight()) {
                row = pointwise(POINTWISE_ADD, DATA_INT32, row, scalar(KEYS, DATA_INT32), scores, DATA_INT32);
                row = pointwise(POINTWISE_SUB, DATA_INT32, row, scalar(QUERIES, DATA_INT32), scores, DATA_INT32);
            }
            MemorySegment visible = pointwise(POINTWISE_CMP_GE, DATA_BOOLEAN, row, index(s, 3, scores),
                    scores, DATA_BOOLEAN);
            MemorySegment causal = select(s, masked, visible, scores);
            MemorySegment max = reduce(REDUCE_MAX, causal, perRow);
            MemorySegment shifted = pointwise(POINTWISE_SUB, DATA_FLOAT, causal, max, scores, DATA_FLOAT);
            MemorySegment exp = pointwise(POINTWISE_EXP, DATA_FLOAT, shifted, null, scores, DATA_FLOAT);
            MemorySegment sum = reduce(REDUCE_ADD, exp, perRow);
            // The statistics (log-sum-exp) stay virtual, unread, but are part of the pattern the engines match.
            pointwise(POINTWISE_ADD, DATA_FLOAT, pointwise(POINTWISE_LOG, DATA_FLOAT, sum, null, perRow, DATA_FLOAT),
                    max, perRow, DATA_FLOAT);
            MemorySegment probabilities = pointwise(POINTWISE_DIV, DATA_FLOAT, exp, sum, scores, DATA_BFLOAT16);
            matmulInto(probabilities, v, o);
        }

        int operations() {
            return operations.size();
        }

        /** Frees what was built, for a graph that never became a plan. */
        void discard() {
            descriptors.forEach(cudnn::destroyDescriptor);
            values.close();
        }

        private MemorySegment create(int type) {
            MemorySegment descriptor = cudnn.createDescriptor(type);
            descriptors.add(descriptor);
            return descriptor;
        }

        private void link(MemorySegment descriptor, int name, MemorySegment target) {
            cudnn.set(descriptor, name, TYPE_BACKEND_DESCRIPTOR, 1, pointers(values, target));
        }

        MemorySegment tensor(long uid, int dataType, long[] dims, long[] strides) {
            return tensor(uid, dataType, dims, strides, false, false);
        }

        MemorySegment scalar(long uid, int dataType) {
            return tensor(uid, dataType, new long[] {1, 1, 1, 1}, new long[] {1, 1, 1, 1}, false, true);
        }

        private MemorySegment intermediate(int dataType, long[] dims) {
            long[] strides = new long[dims.length];
            long stride = 1;
            for (int i = dims.length - 1; i >= 0; i--) {
                strides[i] = stride;
                stride *= dims[i];
            }
            return tensor(nextVirtual++, dataType, dims, strides, true, false);
        }

        private MemorySegment tensor(long uid, int dataType, long[] dims, long[] strides, boolean virtual,
                boolean byValue) {
            MemorySegment t = create(TENSOR_DESCRIPTOR);
            cudnn.set(t, ATTR_TENSOR_DATA_TYPE, TYPE_DATA_TYPE, 1, int32(values, dataType));
            cudnn.set(t, ATTR_TENSOR_DIMENSIONS, TYPE_INT64, dims.length, longs(values, dims));
            cudnn.set(t, ATTR_TENSOR_STRIDES, TYPE_INT64, strides.length, longs(values, strides));
            cudnn.set(t, ATTR_TENSOR_UNIQUE_ID, TYPE_INT64, 1, longs(values, uid));
            cudnn.set(t, ATTR_TENSOR_BYTE_ALIGNMENT, TYPE_INT64, 1, longs(values, ALIGNMENT));
            cudnn.set(t, ATTR_TENSOR_IS_VIRTUAL, TYPE_BOOLEAN, 1, bool(values, virtual));
            if (byValue) {
                cudnn.set(t, ATTR_TENSOR_IS_BY_VALUE, TYPE_BOOLEAN, 1, bool(values, true));
            }
            cudnn.finalizeDescriptor(t, "tensor " + uid);
            return t;
        }

        private MemorySegment mode(int mode, int precision, long axis) {
            MemorySegment pw = create(POINTWISE_DESCRIPTOR);
            cudnn.set(pw, ATTR_POINTWISE_MODE, TYPE_POINTWISE_MODE, 1, int32(values, mode));
            cudnn.set(pw, ATTR_POINTWISE_MATH_PREC, TYPE_DATA_TYPE, 1, int32(values, precision));
            if (axis >= 0) {
                cudnn.set(pw, ATTR_POINTWISE_AXIS, TYPE_INT64, 1, longs(values, axis));
            }
            cudnn.finalizeDescriptor(pw, "pointwise mode " + mode);
            return pw;
        }

        private MemorySegment operation(MemorySegment operation, String what) {
            cudnn.finalizeDescriptor(operation, what);
            operations.add(operation);
            return operation;
        }

        /** {@code y = x (mode) b}, b null for a unary mode; y a new intermediate of {@code dataType}. */
        MemorySegment pointwise(int mode, int precision, MemorySegment x, MemorySegment b, long[] dims, int dataType) {
            return pointwiseOperation(mode(mode, precision, -1), x, b, null, dims, dataType, "pointwise mode " + mode);
        }

        /** Each element's index along {@code axis} of {@code shapeOf}. */
        MemorySegment index(MemorySegment shapeOf, long axis, long[] dims) {
            return pointwiseOperation(mode(POINTWISE_GEN_INDEX, DATA_INT32, axis), shapeOf, null, null, dims,
                    DATA_INT32, "index along " + axis);
        }

        /** {@code y = keep ? x : otherwise}. */
        MemorySegment select(MemorySegment x, MemorySegment otherwise, MemorySegment keep, long[] dims) {
            return pointwiseOperation(mode(POINTWISE_BINARY_SELECT, DATA_FLOAT, -1), x, otherwise, keep, dims,
                    DATA_FLOAT, "select");
        }

        /** A pointwise operation of {@code x} (and {@code b}, {@code t} when given) into a new intermediate. */
        private MemorySegment pointwiseOperation(MemorySegment mode, MemorySegment x, MemorySegment b, MemorySegment t,
                long[] dims, int dataType, String what) {
            MemorySegment y = intermediate(dataType, dims);
            MemorySegment op = create(OPERATION_POINTWISE_DESCRIPTOR);
            link(op, ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, mode);
            link(op, ATTR_OPERATION_POINTWISE_XDESC, x);
            if (b != null) {
                link(op, ATTR_OPERATION_POINTWISE_BDESC, b);
            }
            if (t != null) {
                link(op, ATTR_OPERATION_POINTWISE_TDESC, t);
            }
            link(op, ATTR_OPERATION_POINTWISE_YDESC, y);
            operation(op, what);
            return y;
        }

        MemorySegment reduce(int operator, MemorySegment x, long[] dims) {
            MemorySegment y = intermediate(DATA_FLOAT, dims);
            MemorySegment reduction = create(REDUCTION_DESCRIPTOR);
            cudnn.set(reduction, ATTR_REDUCTION_OPERATOR, TYPE_REDUCTION_OPERATOR_TYPE, 1, int32(values, operator));
            cudnn.set(reduction, ATTR_REDUCTION_COMP_TYPE, TYPE_DATA_TYPE, 1, int32(values, DATA_FLOAT));
            cudnn.finalizeDescriptor(reduction, "reduction " + operator);
            MemorySegment op = create(OPERATION_REDUCTION_DESCRIPTOR);
            link(op, ATTR_OPERATION_REDUCTION_XDESC, x);
            link(op, ATTR_OPERATION_REDUCTION_YDESC, y);
            link(op, ATTR_OPERATION_REDUCTION_DESC, reduction);
            operation(op, "reduction " + operator);
            return y;
        }

        MemorySegment matmul(MemorySegment a, MemorySegment b, long[] dims) {
            MemorySegment c = intermediate(DATA_FLOAT, dims);
            matmulInto(a, b, c);
            return c;
        }

        void matmulInto(MemorySegment a, MemorySegment b, MemorySegment c) {
            MemorySegment matmul = create(MATMUL_DESCRIPTOR);
            cudnn.set(matmul, ATTR_MATMUL_COMP_TYPE, TYPE_DATA_TYPE, 1, int32(values, DATA_FLOAT));
            cudnn.finalizeDescriptor(matmul, "matmul");
            MemorySegment op = create(OPERATION_MATMUL_DESCRIPTOR);
            link(op, ATTR_OPERATION_MATMUL_ADESC, a);
            link(op, ATTR_OPERATION_MATMUL_BDESC, b);
            link(op, ATTR_OPERATION_MATMUL_CDESC, c);
            link(op, ATTR_OPERATION_MATMUL_DESC, matmul);
            operation(op, "matmul");
        }

        Plan plan(MemorySegment handle, Shape shape) {
            try {
                MemorySegment handlePointer = pointers(values, handle);
                MemorySegment graph = create(OPERATIONGRAPH_DESCRIPTOR);
                cudnn.set(graph, ATTR_OPERATIONGRAPH_HANDLE, TYPE_HANDLE, 1, handlePointer);
                cudnn.set(graph, ATTR_OPERATIONGRAPH_OPS, TYPE_BACKEND_DESCRIPTOR, operations.size(),
                        pointers(values, operations.toArray(MemorySegment[]::new)));
                cudnn.finalizeDescriptor(graph, "operation graph");
                String refusal = "the heuristics offered no engine configuration";
                for (int mode : new int[] {HEUR_MODE_A, HEUR_MODE_FALLBACK}) {
                    List<MemorySegment> configs;
                    try {
                        configs = configurations(graph, mode);
                    } catch (Cudnn.CudnnException noHeuristics) {
                        refusal = noHeuristics.getMessage();
                        continue;
                    }
                    for (MemorySegment config : configs) {
                        MemorySegment plan = cudnn.createDescriptor(EXECUTION_PLAN_DESCRIPTOR);
                        try {
                            cudnn.set(plan, ATTR_EXECUTION_PLAN_HANDLE, TYPE_HANDLE, 1, handlePointer);
                            cudnn.set(plan, ATTR_EXECUTION_PLAN_ENGINE_CONFIG, TYPE_BACKEND_DESCRIPTOR, 1,
                                    pointers(values, config));
                            refusal = cudnn.tryFinalize(plan);
                            if (refusal == null) {
                                MemorySegment bytes = values.allocate(ValueLayout.JAVA_LONG);
                                cudnn.get(plan, ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, TYPE_INT64, 1, bytes);
                                descriptors.add(plan);
                                return new Plan(plan, bytes.get(ValueLayout.JAVA_LONG, 0), List.copyOf(descriptors));
                            }
                        } catch (RuntimeException e) {
                            cudnn.destroyDescriptor(plan);
                            throw e;
                        }
                        cudnn.destroyDescriptor(plan);
                    }
                }
                throw new IllegalStateException(("cuDNN %d offers no engine that runs the attention graph for %s; "
                        + "the last refusal: %s").formatted(cudnn.version(), shape, refusal));
            } catch (RuntimeException e) {
                descriptors.forEach(cudnn::destroyDescriptor);
                throw e;
            } finally {
                values.close();
            }
        }

        /** The engine configurations the heuristics rank for {@code graph}, best first. */
        private List<MemorySegment> configurations(MemorySegment graph, int mode) {
            MemorySegment heuristics = create(ENGINEHEUR_DESCRIPTOR);
            link(heuristics, ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
            cudnn.set(heuristics, ATTR_ENGINEHEUR_MODE, TYPE_HEUR_MODE, 1, int32(values, mode));
            cudnn.finalizeDescriptor(heuristics, "engine heuristics");
            int offered = (int) cudnn.get(heuristics, ATTR_ENGINEHEUR_RESULTS, TYPE_BACKEND_DESCRIPTOR, 0,
                    MemorySegment.NULL);
            if (offered == 0) {
                return List.of();
            }
            MemorySegment[] configs = new MemorySegment[offered];
            for (int i = 0; i < offered; i++) {
                configs[i] = create(ENGINECFG_DESCRIPTOR);
            }
            MemorySegment array = pointers(values, configs);
            int filled = (int) cudnn.get(heuristics, ATTR_ENGINEHEUR_RESULTS, TYPE_BACKEND_DESCRIPTOR, offered, array);
            List<MemorySegment> ranked = new ArrayList<>();
            for (int i = 0; i < Math.min(filled, offered); i++) {
                ranked.add(array.getAtIndex(ValueLayout.ADDRESS, i));
            }
            return ranked;
        }
    }

    @Override
    public void close() {
        gpu.bind();
        for (Plan plan : plans.values()) {
            plan.descriptors().forEach(cudnn::destroyDescriptor);
        }
        plans.clear();
        cudnn.destroyHandle(handle);
        if (workspace != null) {
            workspace.close();
        }
    }
}
