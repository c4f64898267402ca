package io.hyserve.kernels;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The unfused MoE: for each expert the step routes tokens to, gather their rows, gate/up/down through the float32
 * matmul kernel and SwiGLU, scatter the results; then one weighted combine into {@code out}. Routing decisions are
 * host arrays (each expert's row lists cross in small copies). Float32 activations throughout: the path the
 * golden logits are checked on, and the baseline the fused kernel is measured against.
 */
public final class ExpertLoop implements AutoCloseable {
    private final Gpu gpu;
    private final MatmulKernel matmul;
    private final SiluMulKernel siluMul;
    private final ElementwiseKernel elementwise;
    private final Map<String, DeviceMemory> scratch = new HashMap<>();

    /** One expert's weights, as the checkpoint stores them: gate/up (intermediate, hidden), down (hidden, intermediate). */
    public record Expert(DeviceMemory gate, DeviceMemory up, DeviceMemory down, MatmulKernel.WeightType type) {}

    public ExpertLoop(Gpu gpu) {
        this.gpu = gpu;
        this.matmul = new MatmulKernel(gpu);
        this.siluMul = new SiluMulKernel(gpu);
        this.elementwise = new ElementwiseKernel(gpu);
    }

    /**
     * {@code out[t] += Σ_j weights[t, j] · mlp(in[t], experts[chosen[t, j]])}, summed in top-k order.
     *
     * @return the number of experts that ran (each one's weights read once)
     */
    public int run(DeviceMemory out, DeviceMemory in, int[] chosen, float[] weights, int topK, List<Expert> experts,
            int hidden, int intermediate) {
        int tokens = chosen.length / topK;
        DeviceMemory expertOut = scratch("out", 4L * chosen.length * hidden);
        int ran = 0;
        for (int e = 0; e < experts.size(); e++) {
            int count = 0;
            for (int expert : chosen) {
                count += expert == e ? 1 : 0;
            }
            if (count == 0) {
                continue;
            }
            int[] picks = new int[count]; // indices into the (token, k) list
            int[] sourceRows = new int[count];
            for (int i = 0, n = 0; i < chosen.length; i++) {
                if (chosen[i] == e) {
                    picks[n] = i;
                    sourceRows[n++] = i / topK;
                }
            }
            Expert expert = experts.get(e);
            DeviceMemory gathered = scratch("in", 4L * count * hidden);
            DeviceMemory gateOut = scratch("gate", 4L * count * intermediate);
            DeviceMemory upOut = scratch("up", 4L * count * intermediate);
            DeviceMemory downOut = scratch("down", 4L * count * hidden);
            elementwise.gatherRows(gathered, in, scratch("rows", 4L * count).write(sourceRows), count, hidden);
            matmul.multiply(gateOut, gathered, expert.gate(), expert.type(), count, intermediate, hidden);
            matmul.multiply(upOut, gathered, expert.up(), expert.type(), count, intermediate, hidden);
            siluMul.apply(gateOut, upOut, (long) count * intermediate);
            matmul.multiply(downOut, gateOut, expert.down(), expert.type(), count, hidden, intermediate);
            elementwise.scatterRows(expertOut, downOut, scratch("picks", 4L * count).write(picks), count, hidden);
            ran++;
        }
        elementwise.moeCombine(out, expertOut, scratch("weights", 4L * weights.length).write(weights), tokens, topK,
                hidden);
        return ran;
    }

    /**
     * A device buffer of at least {@code bytes} kept under {@code name}. Reuse is safe: kernels run in stream
     * order, and the synchronous copies that refill a buffer wait for the kernels queued before them.
     */
    private DeviceMemory scratch(String name, long bytes) {
        return scratch.compute(name, (key, buffer) -> gpu.reserve(buffer, bytes));
    }

    @Override
    public void close() {
        scratch.values().forEach(DeviceMemory::close);
        scratch.clear();
    }
}
