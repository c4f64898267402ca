package io.hyserve.engine.backend.cpu;

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
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The CPU backend: weights read in place from the mapped checkpoint, activations in float32 on the heap,
 * the KV pool off-heap. {@link #vector} uses the Vector API kernels; {@link #scalar} their plain twin.
 */
public final class CpuBackend implements Backend {
    private final Kernels kernels;
    private final Parallel parallel;
    private final String name;
    /** Owns F16 weights converted to F32 at upload (CPU kernels read F32 and BF16 only). */
    private final Arena converted = Arena.ofShared();
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);
    /** Updated by the dispatching thread only (work counters, not timing). */
    private long weightBytesRead;
    private long flops;

    /** Null when weights are read in place from the mapped checkpoint. */
    private final ResidentWeights resident;

    private CpuBackend(Kernels kernels, int threads, boolean residentWeights, String name) {
        this.kernels = kernels;
        this.parallel = new Parallel(threads);
        this.resident = residentWeights ? new ResidentWeights() : null;
        this.name = name;
    }

    /**
     * The Vector API backend. With {@code residentWeights} every weight is copied into aligned, huge-page
     * memory at load, BF16 matrices packed in the order the matmul tiles read them (as fast to stream as memory
     * gets, costs RAM the size of the weights); without, weights are read in place from the memory-mapped
     * checkpoint (no copy, page cache only). Both give the same bits.
     */
    public static CpuBackend vector(int threads, boolean residentWeights) {
        return new CpuBackend(new VectorKernels(), threads, residentWeights, "cpu-vector");
    }

    public static CpuBackend vector(int threads) {
        return vector(threads, false);
    }

    /** The plain scalar twin of every kernel, for tests and reference runs. */
    public static CpuBackend scalar(int threads) {
        return new CpuBackend(new ScalarKernels(), threads, false, "cpu-scalar");
    }

    @Override
    public String name() {
        return name + " (" + parallel.threads() + " threads"
                + (kernels instanceof VectorKernels ? ", " + VectorKernels.FLOATS.length() + " float lanes" : "")
                + (resident != null ? ", resident weights)" : ", mapped weights)");
    }

    @Override
    public Weight upload(Tensor tensor) {
        WeightShape shape = WeightShape.of(tensor, "CPU");
        int rows = shape.rows();
        int cols = shape.cols();
        DType dtype = tensor.requireReadableDtype();
        if (dtype == DType.F16) {
            return new CpuWeight(halfToFloat(tensor.data()), DType.F32, rows, cols);
        }
        if (resident == null) {
            return new CpuWeight(tensor.data(), dtype, rows, cols);
        }
        if (dtype == DType.BF16 && kernels instanceof VectorKernels) {
            return CpuWeight.packBf16(resident.allocate(tensor.data().byteSize()), tensor.data(), rows, cols,
                    VectorMatmul.PAIR_CHUNK);
        }
        return new CpuWeight(resident.copy(tensor.data()), dtype, rows, cols);
    }

    private MemorySegment halfToFloat(MemorySegment half) {
        ValueLayout.OfShort f16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        long count = half.byteSize() / 2;
        MemorySegment out = converted.allocate(count * 4, 64);
        for (long i = 0; i < count; i++) {
            out.set(CpuWeight.F32, 4 * i, Float.float16ToFloat(half.get(f16, 2 * i)));
        }
        return out;
    }

    @Override
    public Activations allocate(int rows, int cols) {
        return new CpuActivations(rows, cols);
    }

    @Override
    public KvStorage allocateKv(KvLayout layout) {
        return new CpuKvStorage(layout);
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
        return cpu(activations).data.clone();
    }

    @Override
    public void toHost(Activations activations, float[] destination) {
        float[] data = cpu(activations).data;
        System.arraycopy(data, 0, destination, 0, data.length);
    }

    @Override
    public void embed(Activations out, Weight table, int[] ids) {
        CpuActivations o = cpu(out);
        CpuWeight w = cpu(table);
        requireShape(o, ids.length, w.cols);
        for (int t = 0; t < ids.length; t++) {
            if (ids[t] < 0 || ids[t] >= w.rows) {
                throw new IllegalArgumentException("token id %d is outside the vocabulary [0, %d)".formatted(ids[t], w.rows));
            }
            for (int c = 0; c < w.cols; c++) {
                o.data[t * w.cols + c] = w.get(ids[t], c);
            }
        }
    }

    @Override
    public void rmsNorm(Activations out, Activations in, Weight weight, float eps) {
        CpuActivations o = cpu(out);
        CpuActivations x = cpu(in);
        float[] w = cpu(weight).vector;
        requireShape(o, x.rows, x.cols);
        if (w == null || w.length != x.cols) {
            throw new IllegalArgumentException("norm weight does not match %d columns".formatted(x.cols));
        }
        int n = x.cols;
        parallel.forRange(x.rows, 1, (long) x.rows * n, (start, end) -> {
            for (int t = start; t < end; t++) {
                kernels.scaleByWeight(x.data, t * n, inverseRms(x.data, t * n, n, eps), w, o.data, t * n, n);
            }
        });
    }

    private float inverseRms(float[] x, int off, int n, float eps) {
        float meanSquare = kernels.sumOfSquares(x, off, n) / n;
        return (float) (1.0 / Math.sqrt(meanSquare + eps));
    }

    @Override
    public void headRmsNorm(Activations x, int numHeads, Weight weight, float eps) {
        CpuActivations a = cpu(x);
        float[] w = cpu(weight).vector;
        int d = a.cols / numHeads;
        if (w == null || w.length != d || d * numHeads != a.cols) {
            throw new IllegalArgumentException("head norm weight does not match head dimension " + d);
        }
        int pieces = a.rows * numHeads;
        parallel.forRange(pieces, 1, (long) pieces * d, (start, end) -> {
            for (int p = start; p < end; p++) {
                kernels.scaleByWeight(a.data, p * d, inverseRms(a.data, p * d, d, eps), w, a.data, p * d, d);
            }
        });
    }

    @Override
    public void matmul(Activations out, Activations in, Weight weight) {
        CpuActivations o = cpu(out);
        CpuActivations x = cpu(in);
        CpuWeight w = cpu(weight);
        if (x.cols != w.cols) {
            throw new IllegalArgumentException("matmul input has %d columns, weight has %d".formatted(x.cols, w.cols));
        }
        requireShape(o, x.rows, w.rows);
        long work = (long) x.rows * w.rows * w.cols;
        weightBytesRead += w.byteSize();
        flops += 2 * work;
        float[] input = kernels.prepareInput(x.data, x.rows, w.cols, w);
        parallel.forRange(w.rows, grain(w.rows, 8, w.byteSize(), work), work,
                (start, end) -> kernels.matmul(input, x.rows, w, start, end, o.data, w.rows));
    }

    @Override
    public void addBias(Activations x, Weight bias) {
        CpuActivations a = cpu(x);
        float[] b = cpu(bias).vector;
        for (int t = 0; t < a.rows; t++) {
            for (int c = 0; c < a.cols; c++) {
                a.data[t * a.cols + c] += b[c];
            }
        }
    }

    @Override
    public void zero(Activations x) {
        Arrays.fill(cpu(x).data, 0f);
    }

    @Override
    public void add(Activations acc, Activations x) {
        CpuActivations a = cpu(acc);
        CpuActivations b = cpu(x);
        requireShape(a, b.rows, b.cols);
        for (int i = 0; i < a.data.length; i++) {
            a.data[i] += b.data[i];
        }
    }

    @Override
    public void rope(Activations x, int numHeads, float[] cos, float[] sin) {
        CpuActivations a = cpu(x);
        int d = a.cols / numHeads;
        int half = d / 2;
        for (int t = 0; t < a.rows; t++) {
            for (int h = 0; h < numHeads; h++) {
                int base = t * a.cols + h * d;
                for (int j = 0; j < half; j++) {
                    float c = cos[t * half + j];
                    float s = sin[t * half + j];
                    float lo = a.data[base + j];
                    float hi = a.data[base + j + half];
                    a.data[base + j] = lo * c - hi * s;
                    a.data[base + j + half] = hi * c + lo * s;
                }
            }
        }
    }

    @Override
    public void writeKv(KvStorage kv, int kvLayer, Activations keys, Activations values, StepLayout step,
            boolean unitRmsKeys, float eps) {
        CpuKvStorage store = (CpuKvStorage) kv;
        CpuActivations k = cpu(keys);
        CpuActivations v = cpu(values);
        KvLayout layout = store.layout();
        int d = layout.headDim();
        for (int t = 0; t < step.numTokens(); t++) {
            for (int h = 0; h < layout.numKvHeads(); h++) {
                int src = t * k.cols + h * d;
                float scale = unitRmsKeys ? inverseRms(k.data, src, d, eps) : 1f;
                long keyAt = store.offset(kvLayer, false, step.slots()[t], h);
                long valueAt = store.offset(kvLayer, true, step.slots()[t], h);
                for (int i = 0; i < d; i++) {
                    store.pool.set(CpuWeight.F32, keyAt + 4L * i, k.data[src + i] * scale);
                    store.pool.set(CpuWeight.F32, valueAt + 4L * i, v.data[src + i]);
                }
            }
        }
    }

    @Override
    public void attention(Activations out, Activations queries, KvStorage kv, int kvLayer, Weight keyNorm,
            StepLayout step) {
        CpuKvStorage store = (CpuKvStorage) kv;
        CpuActivations q = cpu(queries);
        CpuActivations o = cpu(out);
        requireShape(o, q.rows, q.cols);
        KvLayout layout = store.layout();
        int d = layout.headDim();
        int heads = q.cols / d;
        int group = heads / layout.numKvHeads();
        float[] keyWeight = keyNorm == null ? null : cpu(keyNorm).vector;
        float scale = (float) (1.0 / Math.sqrt(d));
        long work = step.attentionFlops(heads, d) / 2;
        flops += 2 * work;
        parallel.forRange(q.rows * heads, 1, work, (start, end) -> {
            Scratch s = scratch.get();
            for (int task = start; task < end; task++) {
                int t = task / heads;
                int h = task % heads;
                attendOne(store, kvLayer, q.data, t * q.cols + h * d, o.data, keyWeight, scale, d, h / group,
                        step.blockTables()[step.tokenSequence()[t]], step.positions()[t], step.blockSize(), s);
            }
        });
    }

    /**
     * One query head over positions {@code 0..position} of its sequence: scores, softmax, weighted values.
     * Keys and values are visited block by block; within a block one head's slots are evenly spaced.
     */
    private void attendOne(CpuKvStorage store, int kvLayer, float[] q, int qOff, float[] out, float[] keyWeight,
            float scale, int d, int kvHead, int[] blockTable, int position, int blockSize, Scratch s) {
        float[] query = s.query(d);
        for (int i = 0; i < d; i++) {
            // Folding this layer's key-norm weight into the query: q·(w⊙k̂) = (q⊙w)·k̂.
            query[i] = keyWeight == null ? q[qOff + i] : q[qOff + i] * keyWeight[i];
        }
        int length = position + 1;
        float[] scores = s.scores(length);
        long stride = store.slotBytes();
        for (int start = 0; start < length; start += blockSize) {
            int count = Math.min(blockSize, length - start);
            long first = store.offset(kvLayer, false, blockTable[start / blockSize] * blockSize, kvHead);
            kernels.dots(query, store.pool, first, stride, count, d, scores, start);
        }
        float max = Float.NEGATIVE_INFINITY;
        for (int p = 0; p < length; p++) {
            scores[p] *= scale;
            max = Math.max(max, scores[p]);
        }
        float sum = 0;
        for (int p = 0; p < length; p++) {
            scores[p] = (float) Math.exp(scores[p] - max);
            sum += scores[p];
        }
        float[] acc = s.accumulator(d);
        for (int start = 0; start < length; start += blockSize) {
            int count = Math.min(blockSize, length - start);
            long first = store.offset(kvLayer, true, blockTable[start / blockSize] * blockSize, kvHead);
            kernels.accumulate(scores, start, store.pool, first, stride, count, acc, d);
        }
        for (int i = 0; i < d; i++) {
            out[qOff + i] = acc[i] / sum;
        }
    }

    @Override
    public void siluMul(Activations gate, Activations up) {
        CpuActivations g = cpu(gate);
        CpuActivations u = cpu(up);
        requireShape(g, u.rows, u.cols);
        siluTimes(g.data, u.data);
    }

    /** {@code gate[i] = silu(gate[i]) · up[i]}, the SwiGLU activation shared by dense and expert MLPs. */
    private static void siluTimes(float[] gate, float[] up) {
        for (int i = 0; i < gate.length; i++) {
            float z = gate[i];
            gate[i] = z * (float) (1.0 / (1.0 + Math.exp(-z))) * up[i];
        }
    }

    @Override
    public Routing route(Activations routerLogits, int topK) {
        CpuActivations logits = cpu(routerLogits);
        int experts = logits.cols;
        int[] chosen = new int[logits.rows * topK];
        float[] weights = new float[logits.rows * topK];
        float[] probs = new float[experts];
        for (int t = 0; t < logits.rows; t++) {
            int off = t * experts;
            float max = Float.NEGATIVE_INFINITY;
            for (int e = 0; e < experts; e++) {
                max = Math.max(max, logits.data[off + e]);
            }
            float sum = 0;
            for (int e = 0; e < experts; e++) {
                probs[e] = (float) Math.exp(logits.data[off + e] - max);
                sum += probs[e];
            }
            for (int e = 0; e < experts; e++) {
                probs[e] /= sum;
            }
            float chosenMass = 0;
            for (int j = 0; j < topK; j++) {
                int best = -1;
                for (int e = 0; e < experts; e++) {
                    // Strictly greater keeps the lowest index on exact ties, like torch.topk for top-1.
                    if (probs[e] >= 0 && (best < 0 || probs[e] > probs[best])) {
                        best = e;
                    }
                }
                chosen[t * topK + j] = best;
                weights[t * topK + j] = probs[best];
                chosenMass += probs[best];
                probs[best] = -1;
            }
            if (topK > 1) {
                for (int j = 0; j < topK; j++) {
                    weights[t * topK + j] /= chosenMass;
                }
            }
        }
        return new Routing(topK, chosen, weights);
    }

    @Override
    public void moeExperts(Activations out, Activations in, Routing routing, ExpertWeights[] experts) {
        experts(cpu(out), cpu(in), routing, experts, null);
    }

    @Override
    public void moe(Activations out, Activations in, Routing routing, ExpertWeights[] experts, ExpertWeights shared,
            Activations sharedGate, Activations sharedUp) {
        if (shared == null) {
            zero(out);
        }
        experts(cpu(out), cpu(in), routing, experts, shared);
    }

    /**
     * {@code o += Σ routed}, after {@code o = mlp(x, shared)} when there is a shared expert: the shared expert is
     * one more group of the grouped loops (all tokens), so a layer's experts stream in two parallel loops.
     */
    private void experts(CpuActivations o, CpuActivations x, Routing routing, ExpertWeights[] experts,
            ExpertWeights shared) {
        int hidden = x.cols;
        int topK = routing.topK();
        int tokens = routing.numTokens();
        requireShape(o, tokens, hidden);
        List<ExpertGroup> groups = new ArrayList<>();
        if (shared != null) {
            groups.add(new ExpertGroup(shared, x, o.data));
        }
        int[] assignment = new int[tokens * topK];
        for (int e = 0; e < experts.length; e++) {
            int count = 0;
            for (int i = 0; i < routing.experts().length; i++) {
                if (routing.experts()[i] == e) {
                    assignment[count++] = i;
                }
            }
            if (count > 0) {
                groups.add(new ExpertGroup(experts[e], Arrays.copyOf(assignment, count), topK, x));
            }
        }
        if (groups.isEmpty()) {
            return;
        }
        // Gate and up projections of every active expert in one parallel loop, then every down projection:
        // two dispatches per layer however many experts the step's tokens reach (the fused-MoE shape).
        runGrouped(groups, false, (g, matrix, r0, r1) -> kernels.matmul(g.input, g.count,
                matrix == 0 ? g.gate : g.up, r0, r1, matrix == 0 ? g.gateOut : g.upOut, g.gate.rows));
        for (ExpertGroup g : groups) {
            siluTimes(g.gateOut, g.upOut);
            g.downInput = kernels.prepareInput(g.gateOut, g.count, g.gate.rows, g.down);
        }
        runGrouped(groups, true, (g, matrix, r0, r1) -> kernels.matmul(g.downInput, g.count, g.down, r0, r1,
                g.downOut, hidden));
        // (tokens * topK, hidden): each chosen expert's output for each token; summed in the token's top-k order.
        float[] expertOut = new float[tokens * topK * hidden];
        for (ExpertGroup g : groups) {
            if (g.picks != null) {
                for (int i = 0; i < g.count; i++) {
                    System.arraycopy(g.downOut, i * hidden, expertOut, g.picks[i] * hidden, hidden);
                }
            }
            weightBytesRead += g.gate.byteSize() + g.up.byteSize() + g.down.byteSize();
            flops += 6L * g.count * g.gate.rows * hidden;
        }
        float[] weights = routing.weights();
        for (int t = 0; t < tokens; t++) {
            for (int c = 0; c < hidden; c++) {
                float sum = 0;
                for (int j = 0; j < topK; j++) {
                    sum += weights[t * topK + j] * expertOut[(t * topK + j) * hidden + c];
                }
                o.data[t * hidden + c] += sum;
            }
        }
    }

    /** One expert's share of a step: the tokens routed to it, gathered, and its buffers. */
    private final class ExpertGroup {
        final CpuWeight gate;
        final CpuWeight up;
        final CpuWeight down;
        final int[] picks; // (count) indices into the token-major (token, k) list of choices; null: every token
        final int count;
        final float[] input; // (count, hidden) in the layout gate/up read
        final float[] gateOut; // (count, intermediate)
        final float[] upOut; // (count, intermediate)
        final float[] downOut; // (count, hidden)
        float[] downInput;

        /** A routed expert: the tokens of {@code picks}, gathered; its down projection into a buffer of its own. */
        ExpertGroup(ExpertWeights expert, int[] picks, int topK, CpuActivations x) {
            this(expert, picks, picks.length, gather(x, picks, topK), x.cols, new float[picks.length * x.cols]);
        }

        /** The shared expert: every token, read in place; its down projection writes {@code out} itself. */
        ExpertGroup(ExpertWeights expert, CpuActivations x, float[] out) {
            this(expert, null, x.rows, x.data, x.cols, out);
        }

        private ExpertGroup(ExpertWeights expert, int[] picks, int count, float[] rows, int hidden, float[] downOut) {
            this.gate = cpu(expert.gate());
            this.up = cpu(expert.up());
            this.down = cpu(expert.down());
            this.picks = picks;
            this.count = count;
            this.input = kernels.prepareInput(rows, count, hidden, gate);
            this.gateOut = new float[count * gate.rows];
            this.upOut = new float[count * gate.rows];
            this.downOut = downOut;
        }
    }

    /** The input rows of the tokens behind {@code picks} (indices into the (token, k) list), in pick order. */
    private static float[] gather(CpuActivations x, int[] picks, int topK) {
        int hidden = x.cols;
        float[] gathered = new float[picks.length * hidden];
        for (int g = 0; g < picks.length; g++) {
            System.arraycopy(x.data, (picks[g] / topK) * hidden, gathered, g * hidden, hidden);
        }
        return gathered;
    }

    private interface GroupedBody {
        void run(ExpertGroup group, int matrix, int rowStart, int rowEnd);
    }

    /** Rows per unit of the grouped loops: large enough that per-call overhead stays small. */
    private static final int GROUPED_ROWS = 32;

    /**
     * Runs the gate and up products ({@code down} false) or the down products of every group as one parallel
     * loop over blocks of rows, so threads stay busy across experts instead of meeting at a barrier after each.
     */
    private void runGrouped(List<ExpertGroup> groups, boolean down, GroupedBody body) {
        int matrices = down ? 1 : 2;
        List<int[]> units = new ArrayList<>(); // (group, matrix, first row)
        long bytes = 0;
        long work = 0;
        for (int g = 0; g < groups.size(); g++) {
            ExpertGroup group = groups.get(g);
            CpuWeight first = down ? group.down : group.gate;
            for (int m = 0; m < matrices; m++) {
                for (int r = 0; r < first.rows; r += GROUPED_ROWS) {
                    units.add(new int[] {g, m, r});
                }
            }
            bytes += first.byteSize() * matrices;
            work += (long) group.count * first.rows * first.cols * matrices;
        }
        parallel.forRange(units.size(), grain(units.size(), 1, bytes, work), work, (start, end) -> {
            for (int u = start; u < end; u++) {
                int[] unit = units.get(u);
                ExpertGroup group = groups.get(unit[0]);
                int rows = (down ? group.down : group.gate).rows;
                body.run(group, unit[1], unit[2], Math.min(rows, unit[2] + GROUPED_ROWS));
            }
        });
    }

    /** Weight bytes below which a parallel loop's chunk is not split further: a stream the prefetcher can follow. */
    private static final long CHUNK_BYTES = 1L << 20;
    /** Multiply-adds below which a chunk is not split further. */
    private static final long CHUNK_WORK = 1L << 22;

    /**
     * Units per chunk of a parallel loop over {@code count} units (a multiple of {@code align}): each thread
     * gets the same number of chunks, as few as keep every chunk of a memory-bound product one long stream of
     * at least {@link #CHUNK_BYTES} (a prefetcher restarts at every new stream), as many as 16 per thread for
     * the load balance of compute-bound ones.
     */
    private int grain(int count, int align, long bytes, long work) {
        int threads = parallel.threads();
        long perThread = Math.max(bytes / (threads * CHUNK_BYTES), work / (threads * CHUNK_WORK));
        int chunks = threads * (int) Math.clamp(perThread, 1, 16);
        int grain = (count + chunks - 1) / chunks;
        return (grain + align - 1) / align * align;
    }

    @Override
    public void gatherRows(Activations out, Activations in, int[] rows) {
        CpuActivations o = cpu(out);
        CpuActivations x = cpu(in);
        requireShape(o, rows.length, x.cols);
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(x.data, rows[i] * x.cols, o.data, i * x.cols, x.cols);
        }
    }

    @Override
    public void close() {
        parallel.close();
        converted.close();
        if (resident != null) {
            resident.close();
        }
    }

    private static CpuActivations cpu(Activations a) {
        return (CpuActivations) a;
    }

    private static CpuWeight cpu(Weight w) {
        return (CpuWeight) w;
    }

    private static void requireShape(CpuActivations a, int rows, int cols) {
        if (a.rows != rows || a.cols != cols) {
            throw new IllegalArgumentException("activations are (%d, %d), expected (%d, %d)"
                    .formatted(a.rows, a.cols, rows, cols));
        }
    }

    /** Per-thread buffers for attention, grown as contexts grow. */
    private static final class Scratch {
        private float[] query = new float[0];
        private float[] scores = new float[0];
        private float[] accumulator = new float[0];

        float[] query(int length) {
            if (query.length < length) {
                query = new float[length];
            }
            return query;
        }

        float[] scores(int length) {
            if (scores.length < length) {
                scores = new float[Math.max(length, scores.length * 2)];
            }
            return scores;
        }

        float[] accumulator(int length) {
            if (accumulator.length < length) {
                accumulator = new float[length];
            }
            Arrays.fill(accumulator, 0, length, 0f);
            return accumulator;
        }
    }
}
