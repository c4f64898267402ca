package io.hyserve.engine.backend.cuda;

import io.hyserve.engine.backend.Activations;
import io.hyserve.engine.backend.Backend;
import io.hyserve.engine.backend.ExpertWeights;
import io.hyserve.engine.backend.KvLayout;
import io.hyserve.engine.backend.KvStorage;
import io.hyserve.engine.backend.Routing;
import io.hyserve.engine.backend.StepLayout;
import io.hyserve.engine.backend.Weight;
import io.hyserve.engine.backend.WeightShape;
import io.hyserve.engine.load.DType;
import io.hyserve.engine.load.Tensor;
import io.hyserve.kernels.CublasGemm;
import io.hyserve.kernels.DeviceMemory;
import io.hyserve.kernels.ElementwiseKernel;
import io.hyserve.kernels.EmbeddingKernel;
import io.hyserve.kernels.ExpertLoop;
import io.hyserve.kernels.FusedMoeKernel;
import io.hyserve.kernels.Gpu;
import io.hyserve.kernels.MatmulKernel;
import io.hyserve.kernels.MoeRoutingKernel;
import io.hyserve.kernels.PagedAttentionKernel;
import io.hyserve.kernels.RmsNormKernel;
import io.hyserve.kernels.RopeQkNormKernel;
import io.hyserve.kernels.SiluMulKernel;
import io.hyserve.kernels.TensorCoreGemm;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The forward pass's operations on an NVIDIA GPU through the kernels module: weights stay as the checkpoint
 * stores them (BF16, F16 or F32) in device memory, activations and the paged KV pool are float32 there, and every
 * operation is one or a few kernel launches on the device's stream. Host arrays in the interface (token ids,
 * rotary tables, step layouts, routing decisions) cross in small synchronous copies.
 *
 * <p>With {@code cuda-bf16}, products with BF16 weights run on bf16 tensor cores: routed experts through the fused
 * grouped-GEMM kernel, the output projection through cuBLASLt when it loads, the other projections (the router
 * excepted) through the tensor-core GEMM. With {@code cuda}
 * activations stay float32 throughout (what the golden logits are checked on): the warp-per-row matmul, and the
 * routed experts as a loop over the step's active experts (the baseline the fused kernel is measured against).
 */
public final class CudaBackend implements Backend {
    private static final Logger log = LoggerFactory.getLogger(CudaBackend.class);
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Gpu gpu;
    private final EmbeddingKernel embedding;
    private final RmsNormKernel norm;
    private final RopeQkNormKernel rope;
    private final MatmulKernel matmul;
    private final ElementwiseKernel elementwise;
    private final PagedAttentionKernel attention;
    private final SiluMulKernel siluMul;
    private final MoeRoutingKernel routing;
    private final ExpertLoop expertLoop;
    private final FusedMoeKernel fusedMoeKernel;
    private final FusedMoeKernel.Scratch fusedScratch;
    /**
     * Whether BF16 weights run on bf16 tensor cores: routed experts through the fused MoE kernel, other products
     * (the router excepted) through the tensor-core GEMM.
     */
    private final boolean bf16;
    private final TensorCoreGemm tensorCoreGemm;
    /**
     * The output projection's product on a bf16 backend: cuBLAS beat our GEMM on the lm_head at 1, 32 and 256 rows
     * (through PyTorch, choosing its algorithm per row count; ours pins one). Null on the float32 path, where
     * cuBLASLt 13 is not found, or after it failed once.
     */
    private CublasGemm cublas;
    private final List<TensorCoreGemm.Weight> tensorCoreTables = new ArrayList<>();
    /** Per layer (the model's experts array), the experts as each MoE path takes them; null: fused does not apply. */
    private final Map<ExpertWeights[], FusedMoeKernel.Experts> fusedExperts = new IdentityHashMap<>();
    private final Map<ExpertWeights[], List<ExpertLoop.Expert>> loopExperts = new IdentityHashMap<>();
    /** The last routing route() returned; its decisions are still in the route.* scratch buffers. */
    private Routing lastRouting;
    private final Map<String, DeviceMemory> scratch = new HashMap<>();
    private final List<DeviceMemory> weights = new ArrayList<>();
    /** Activations not yet released; what the model still holds at close is freed then. */
    private final Set<CudaActivations> live = new HashSet<>();
    private StepOnDevice stepOnDevice;
    /** The attention's work list for {@link #attentionPlanStep}, shared by every layer of the step. */
    private PagedAttentionKernel.Plan attentionPlan;
    private StepLayout attentionPlanStep;
    private float[] ropeCos;
    private float[] ropeSin;
    private long weightBytesRead;
    private long flops;

    private CudaBackend(Gpu gpu, boolean bf16, List<Path> libraryPath) {
        this.gpu = gpu;
        this.bf16 = bf16;
        this.cublas = bf16 ? loadCublas(gpu, libraryPath) : null;
        this.embedding = new EmbeddingKernel(gpu);
        this.norm = new RmsNormKernel(gpu);
        this.rope = new RopeQkNormKernel(gpu);
        this.matmul = new MatmulKernel(gpu);
        this.elementwise = new ElementwiseKernel(gpu);
        this.attention = new PagedAttentionKernel(gpu);
        this.siluMul = new SiluMulKernel(gpu);
        this.routing = new MoeRoutingKernel(gpu);
        this.expertLoop = new ExpertLoop(gpu);
        this.fusedMoeKernel = new FusedMoeKernel(gpu);
        this.fusedScratch = new FusedMoeKernel.Scratch(gpu);
        this.tensorCoreGemm = new TensorCoreGemm(gpu);
    }

    /**
     * Opens GPU {@code ordinal}; fails with the reason when there is none ({@link Gpu#availability()}).
     *
     * @param bf16 products with BF16 weights on bf16 tensor cores (activations rounded to bf16 at their input;
     *     the router stays float32); otherwise float32 activations throughout, as the golden logits are checked
     * @param libraryPath folders searched first for cuBLASLt 13 (the bf16 path's output projection)
     */
    public static CudaBackend open(int ordinal, boolean bf16, List<Path> libraryPath) {
        return new CudaBackend(Gpu.open(ordinal), bf16, libraryPath);
    }

    private static CublasGemm loadCublas(Gpu gpu, List<Path> libraryPath) {
        try {
            return new CublasGemm(gpu, libraryPath);
        } catch (RuntimeException unavailable) { // not found, or no handle on this device
            log.atInfo().setMessage("cuBLASLt not loaded: the output projection runs on our tensor-core GEMM")
                    .addKeyValue("reason", unavailable.getMessage()).log();
            return null;
        }
    }

    @Override
    public String name() {
        return "cuda (" + gpu.name() + (!bf16 ? ", float32)"
                : cublas != null ? ", bf16 tensor cores, cuBLASLt output projection)" : ", bf16 tensor cores)");
    }

    @Override
    public Weight upload(Tensor tensor) {
        WeightShape shape = WeightShape.of(tensor, "CUDA");
        int rows = shape.rows();
        int cols = shape.cols();
        DType dtype = tensor.requireReadableDtype();
        DeviceMemory memory;
        MatmulKernel.WeightType type;
        if (rows == 1) {
            // Norm weights and biases feed float32 element-wise kernels.
            memory = gpu.allocate(4L * cols).write(widen(tensor.data(), dtype, cols));
            type = MatmulKernel.WeightType.F32;
        } else {
            memory = gpu.allocate(tensor.data().byteSize()).write(tensor.data());
            type = switch (dtype) {
                case BF16 -> MatmulKernel.WeightType.BF16;
                case F16 -> MatmulKernel.WeightType.F16;
                case F32 -> MatmulKernel.WeightType.F32;
            };
        }
        weights.add(memory);
        TensorCoreGemm.Weight tensorCores = null;
        // The router stays float32 even in bf16 models (as the reference computes it): it picks the experts.
        if (bf16 && type == MatmulKernel.WeightType.BF16 && TensorCoreGemm.supports(rows, cols)
                && !tensor.name().endsWith(".mlp.gate.wg.weight")) {
            tensorCores = tensorCoreGemm.prepare(memory, rows, cols);
            tensorCoreTables.add(tensorCores);
        }
        // The output projection (the embedding table when tied) is the widest product of a step.
        boolean outputProjection = tensor.name().equals("lm_head.weight")
                || tensor.name().equals("model.embed_tokens.weight");
        return new CudaWeight(memory, type, rows, cols, (long) rows * cols * dtype.byteSize(), tensorCores,
                tensorCores != null && outputProjection);
    }

    private static float[] widen(MemorySegment data, DType dtype, int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (dtype) {
                case F32 -> data.get(FLOAT, 4L * i);
                case BF16 -> Float.intBitsToFloat((data.get(HALF, 2L * i) & 0xffff) << 16);
                case F16 -> Float.float16ToFloat(data.get(HALF, 2L * i));
            };
        }
        return out;
    }

    @Override
    public Activations allocate(int rows, int cols) {
        CudaActivations activations = new CudaActivations(gpu.allocate(4L * rows * cols), rows, cols);
        live.add(activations);
        return activations;
    }

    @Override
    public void release(Activations activations) {
        CudaActivations a = cuda(activations);
        if (live.remove(a)) {
            a.memory().close();
        }
    }

    @Override
    public KvStorage allocateKv(KvLayout layout) {
        long slots = (long) layout.numBlocks() * layout.blockSize();
        DeviceMemory memory = gpu.allocate(layout.totalBytes());
        return new CudaKvStorage(layout, new PagedAttentionKernel.Pool(memory, layout.numKvHeads(), layout.headDim(),
                layout.blockSize(), slots));
    }

    @Override
    public long weightBytesRead() {
        return weightBytesRead;
    }

    @Override
    public long flops() {
        return flops;
    }

    @Override
    public float[] toHost(Activations activations) {
        CudaActivations a = cuda(activations);
        float[] host = new float[a.rows() * a.cols()];
        a.memory().read(host);
        return host;
    }

    @Override
    public void toHost(Activations activations, float[] destination) {
        CudaActivations a = cuda(activations);
        if (destination.length == a.rows() * a.cols()) {
            a.memory().read(destination);
        } else {
            System.arraycopy(toHost(activations), 0, destination, 0, a.rows() * a.cols());
        }
    }

    @Override
    public void embed(Activations out, Weight table, int[] ids) {
        CudaActivations o = cuda(out);
        CudaWeight w = cuda(table);
        requireShape(o, ids.length, w.cols());
        for (int id : ids) {
            if (id < 0 || id >= w.rows()) {
                throw new IllegalArgumentException("token id %d is outside the vocabulary [0, %d)".formatted(id, w.rows()));
            }
        }
        embedding.gather(o.memory(), w.memory(), w.type(), ints("ids", ids), ids.length, w.cols());
    }

    @Override
    public void rmsNorm(Activations out, Activations in, Weight weight, float eps) {
        CudaActivations o = cuda(out);
        CudaActivations x = cuda(in);
        requireShape(o, x.rows(), x.cols());
        requireVector(weight, x.cols());
        norm.rmsNorm(o.memory(), x.memory(), cuda(weight).memory(), x.rows(), x.cols(), eps);
    }

    @Override
    public void headRmsNorm(Activations x, int numHeads, Weight weight, float eps) {
        CudaActivations a = cuda(x);
        int d = a.cols() / numHeads;
        if (d * numHeads != a.cols()) {
            throw new IllegalArgumentException("%d columns are not %d heads".formatted(a.cols(), numHeads));
        }
        requireVector(weight, d);
        norm.rmsNorm(a.memory(), a.memory(), cuda(weight).memory(), a.rows() * numHeads, d, eps);
    }

    @Override
    public void matmul(Activations out, Activations in, Weight weight) {
        CudaActivations o = cuda(out);
        CudaActivations x = cuda(in);
        CudaWeight w = cuda(weight);
        if (x.cols() != w.cols()) {
            throw new IllegalArgumentException("matmul input has %d columns, weight has %d".formatted(x.cols(), w.cols()));
        }
        requireShape(o, x.rows(), w.rows());
        weightBytesRead += w.byteSize();
        flops += 2L * x.rows() * w.rows() * w.cols();
        if (w.viaCublas() && cublas != null && multiplyWithCublas(o, x, w)) {
            return;
        }
        if (w.tensorCores() != null) {
            tensorCoreGemm.multiply(o.memory(), x.memory(), w.tensorCores(), x.rows());
        } else {
            matmul.multiply(o.memory(), x.memory(), w.memory(), w.type(), x.rows(), w.rows(), w.cols());
        }
    }

    /**
     * Whether cuBLASLt took the product. A failure (its pinned algorithm refusing a row count first seen now, say)
     * is logged and our GEMM takes the product from then on: outputs from that step on carry its rounding instead.
     */
    private boolean multiplyWithCublas(CudaActivations o, CudaActivations x, CudaWeight w) {
        try {
            cublas.multiply(o.memory(), x.memory(), w.memory(), x.rows(), w.rows(), w.cols());
            return true;
        } catch (RuntimeException e) {
            log.atWarn().setMessage("cuBLASLt failed on the output projection; our tensor-core GEMM takes it over")
                    .setCause(e).log();
            try {
                cublas.close();
            } finally {
                cublas = null;
            }
            return false;
        }
    }

    @Override
    public void addBias(Activations x, Weight bias) {
        CudaActivations a = cuda(x);
        requireVector(bias, a.cols());
        elementwise.addBias(a.memory(), cuda(bias).memory(), a.rows(), a.cols());
    }

    @Override
    public void zero(Activations x) {
        cuda(x).memory().zero();
    }

    @Override
    public void add(Activations acc, Activations x) {
        CudaActivations a = cuda(acc);
        CudaActivations b = cuda(x);
        requireShape(a, b.rows(), b.cols());
        elementwise.add(a.memory(), b.memory(), (long) a.rows() * a.cols());
    }

    @Override
    public void rope(Activations x, int numHeads, float[] cos, float[] sin) {
        CudaActivations a = cuda(x);
        int d = a.cols() / numHeads;
        if (d * numHeads != a.cols() || cos.length < a.rows() * d / 2 || sin.length != cos.length) {
            throw new IllegalArgumentException("rotary tables of %d values for %d rows of %d heads of %d"
                    .formatted(cos.length, a.rows(), numHeads, d));
        }
        // Queries and keys of every layer share the step's tables (new arrays each step): copied once per step.
        if (cos != ropeCos || sin != ropeSin) {
            floats("cos", cos);
            floats("sin", sin);
            ropeCos = cos;
            ropeSin = sin;
        }
        rope.apply(a.memory(), scratch.get("cos"), scratch.get("sin"), null, a.rows(), numHeads, d, 0f);
    }

    @Override
    public void writeKv(KvStorage kv, int kvLayer, Activations keys, Activations values, StepLayout step,
            boolean unitRmsKeys, float eps) {
        CudaKvStorage store = (CudaKvStorage) kv;
        CudaActivations k = cuda(keys);
        CudaActivations v = cuda(values);
        int width = store.layout().numKvHeads() * store.layout().headDim();
        if (k.rows() != step.numTokens() || v.rows() != step.numTokens() || k.cols() < width || v.cols() < width) {
            throw new IllegalArgumentException("keys (%d, %d) and values (%d, %d) for %d tokens of %d columns"
                    .formatted(k.rows(), k.cols(), v.rows(), v.cols(), step.numTokens(), width));
        }
        attention.writeKv(store.pool(), kvLayer, k.memory(), k.cols(), v.memory(), v.cols(), onDevice(step).slots(),
                step.numTokens(), unitRmsKeys, eps);
    }

    @Override
    public void attention(Activations out, Activations queries, KvStorage kv, int kvLayer, Weight keyNorm,
            StepLayout step) {
        CudaKvStorage store = (CudaKvStorage) kv;
        CudaActivations q = cuda(queries);
        CudaActivations o = cuda(out);
        requireShape(o, q.rows(), q.cols());
        int d = store.layout().headDim();
        int heads = q.cols() / d;
        flops += step.attentionFlops(heads, d);
        StepOnDevice layout = onDevice(step);
        if (attentionPlanStep != step) {
            attentionPlan = attention.plan(step.positions(), step.tokenSequence(), heads, store.layout().numKvHeads());
            attentionPlanStep = step;
        }
        attention.attend(o.memory(), q.memory(), store.pool(), kvLayer, keyNorm == null ? null : cuda(keyNorm).memory(),
                layout.positions(), layout.sequences(), layout.tables(), layout.maxBlocks(), step.numTokens(), heads,
                attentionPlan);
    }

    /** A step's layout on the device: slots, positions, owning sequences and block tables padded to one width. */
    private record StepOnDevice(StepLayout step, DeviceMemory slots, DeviceMemory positions, DeviceMemory sequences,
            DeviceMemory tables, int maxBlocks) {}

    /**
     * Every layer of a step uses the same layout (the engine builds a new one per step), so it is copied to the
     * device once per step instead of once per layer, each copy a wait for the stream.
     */
    private StepOnDevice onDevice(StepLayout step) {
        if (stepOnDevice != null && stepOnDevice.step() == step) {
            return stepOnDevice;
        }
        int[][] tables = step.blockTables();
        int maxBlocks = 1;
        for (int[] table : tables) {
            maxBlocks = Math.max(maxBlocks, table.length);
        }
        int[] flat = new int[tables.length * maxBlocks];
        for (int s = 0; s < tables.length; s++) {
            System.arraycopy(tables[s], 0, flat, s * maxBlocks, tables[s].length);
        }
        stepOnDevice = new StepOnDevice(step, ints("slots", step.slots()), ints("positions", step.positions()),
                ints("sequences", step.tokenSequence()), ints("tables", flat), maxBlocks);
        return stepOnDevice;
    }

    @Override
    public void siluMul(Activations gate, Activations up) {
        CudaActivations g = cuda(gate);
        CudaActivations u = cuda(up);
        requireShape(g, u.rows(), u.cols());
        siluMul.apply(g.memory(), u.memory(), (long) g.rows() * g.cols());
    }

    @Override
    public Routing route(Activations routerLogits, int topK) {
        CudaActivations logits = cuda(routerLogits);
        int tokens = logits.rows();
        DeviceMemory experts = scratch("route.experts", 4L * tokens * topK);
        DeviceMemory combine = scratch("route.weights", 4L * tokens * topK);
        routing.route(logits.memory(), experts, combine, tokens, logits.cols(), topK);
        int[] chosen = new int[tokens * topK];
        float[] weightsOut = new float[tokens * topK];
        experts.read(chosen);
        combine.read(weightsOut);
        lastRouting = new Routing(topK, chosen, weightsOut);
        return lastRouting;
    }

    @Override
    public void moeExperts(Activations out, Activations in, Routing decisions, ExpertWeights[] experts) {
        CudaActivations o = cuda(out);
        CudaActivations x = cuda(in);
        int hidden = x.cols();
        int intermediate = experts[0].gate().rows();
        int[] chosen = decisions.experts();
        boolean[] active = new boolean[experts.length];
        for (int expert : chosen) {
            active[expert] = true;
        }
        for (int e = 0; e < experts.length; e++) {
            weightBytesRead += active[e] ? experts[e].byteSize() : 0;
        }
        flops += 6L * chosen.length * intermediate * hidden;
        if (bf16 && !fusedExperts.containsKey(experts)) {
            fusedExperts.put(experts, fusedTable(experts));
        }
        FusedMoeKernel.Experts fused = bf16 ? fusedExperts.get(experts) : null;
        if (fused == null) {
            List<ExpertLoop.Expert> loop = loopExperts.computeIfAbsent(experts, CudaBackend::loopTable);
            expertLoop.run(o.memory(), x.memory(), chosen, decisions.weights(), decisions.topK(), loop, hidden,
                    intermediate);
            return;
        }
        int tokens = decisions.numTokens();
        DeviceMemory expertsPerToken;
        DeviceMemory weights;
        if (decisions == lastRouting) { // still on the device where route() left it
            expertsPerToken = scratch.get("route.experts");
            weights = scratch.get("route.weights");
        } else {
            expertsPerToken = ints("moe.experts", chosen);
            weights = floats("moe.weights", decisions.weights());
        }
        fusedMoeKernel.run(o.memory(), x.memory(), expertsPerToken, weights, fused, tokens, decisions.topK(), true,
                FusedMoeKernel.Plan.of(chosen, decisions.topK(), experts.length), fusedScratch);
    }

    /** The fused kernel's tables of a layer's experts, or null where it does not apply (weights not BF16). */
    private FusedMoeKernel.Experts fusedTable(ExpertWeights[] experts) {
        List<DeviceMemory> gate = new ArrayList<>();
        List<DeviceMemory> up = new ArrayList<>();
        List<DeviceMemory> down = new ArrayList<>();
        for (ExpertWeights expert : experts) {
            for (Weight w : List.of(expert.gate(), expert.up(), expert.down())) {
                if (cuda(w).type() != MatmulKernel.WeightType.BF16) {
                    return null;
                }
            }
            gate.add(cuda(expert.gate()).memory());
            up.add(cuda(expert.up()).memory());
            down.add(cuda(expert.down()).memory());
        }
        int hidden = experts[0].gate().cols();
        int intermediate = experts[0].gate().rows();
        if (experts.length > FusedMoeKernel.MAX_EXPERTS || hidden % 8 != 0 || intermediate % 8 != 0) {
            return null;
        }
        return FusedMoeKernel.Experts.upload(gpu, gate, up, down, experts.length, hidden, intermediate);
    }

    private static List<ExpertLoop.Expert> loopTable(ExpertWeights[] experts) {
        List<ExpertLoop.Expert> loop = new ArrayList<>();
        for (ExpertWeights expert : experts) {
            CudaWeight gate = cuda(expert.gate());
            loop.add(new ExpertLoop.Expert(gate.memory(), cuda(expert.up()).memory(), cuda(expert.down()).memory(),
                    gate.type()));
        }
        return loop;
    }

    @Override
    public void gatherRows(Activations out, Activations in, int[] rows) {
        CudaActivations o = cuda(out);
        CudaActivations x = cuda(in);
        requireShape(o, rows.length, x.cols());
        elementwise.gatherRows(o.memory(), x.memory(), ints("gather", rows), rows.length, x.cols());
    }

    @Override
    public void close() {
        gpu.synchronize();
        live.forEach(a -> a.memory().close());
        live.clear();
        scratch.values().forEach(DeviceMemory::close);
        expertLoop.close();
        attention.close();
        tensorCoreTables.forEach(TensorCoreGemm.Weight::close);
        tensorCoreGemm.close();
        fusedScratch.close();
        fusedExperts.values().stream().filter(java.util.Objects::nonNull).forEach(FusedMoeKernel.Experts::close);
        weights.forEach(DeviceMemory::close);
        if (cublas != null) {
            cublas.close();
        }
        gpu.close();
    }

    /**
     * A device buffer of at least {@code bytes} kept under {@code name}. Reuse is safe: kernels run in stream
     * order, and the synchronous copies that refill a buffer wait for the kernels queued before them.
     */
    private DeviceMemory scratch(String name, long bytes) {
        return scratch.compute(name, (key, buffer) -> gpu.reserve(buffer, bytes));
    }

    private DeviceMemory ints(String name, int[] values) {
        return scratch(name, 4L * values.length).write(values);
    }

    private DeviceMemory floats(String name, float[] values) {
        return scratch(name, 4L * values.length).write(values);
    }

    private static CudaActivations cuda(Activations a) {
        if (a instanceof CudaActivations c) {
            return c;
        }
        throw new IllegalArgumentException("activations of another backend: " + a.getClass().getSimpleName());
    }

    private static CudaWeight cuda(Weight w) {
        if (w instanceof CudaWeight c) {
            return c;
        }
        throw new IllegalArgumentException("weight of another backend: " + w.getClass().getSimpleName());
    }

    private static void requireShape(CudaActivations a, int rows, int cols) {
        if (a.rows() != rows || a.cols() != cols) {
            throw new IllegalArgumentException("activations are (%d, %d), expected (%d, %d)"
                    .formatted(a.rows(), a.cols(), rows, cols));
        }
    }

    private static void requireVector(Weight w, int cols) {
        if (w.rows() != 1 || w.cols() != cols) {
            throw new IllegalArgumentException("vector weight (%d, %d) does not match %d columns"
                    .formatted(w.rows(), w.cols(), cols));
        }
    }
}
