package io.hyserve.kernels;

/**
 * Plain float32 twins of the kernels, written from the spec as the CPU backend computes them (sequential sums,
 * so the kernels' tree-ordered sums differ by rounding only).
 */
final class CpuReference {
    private CpuReference() {}

    static float[] embedBf16(short[] table, int cols, int[] ids) {
        float[] out = new float[ids.length * cols];
        for (int t = 0; t < ids.length; t++) {
            for (int c = 0; c < cols; c++) {
                out[t * cols + c] = Float.intBitsToFloat((table[ids[t] * cols + c] & 0xffff) << 16);
            }
        }
        return out;
    }

    static float[] rmsNorm(float[] in, float[] weight, int rows, int cols, float eps) {
        float[] out = new float[in.length];
        for (int r = 0; r < rows; r++) {
            float squares = 0;
            for (int c = 0; c < cols; c++) {
                squares += in[r * cols + c] * in[r * cols + c];
            }
            float inverse = (float) (1.0 / Math.sqrt(squares / cols + eps));
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = in[r * cols + c] * inverse * weight[c];
            }
        }
        return out;
    }

    /** Rotates each head's halves by the token's angles, then normalises the head when a weight is given. */
    static float[] ropeQkNorm(float[] x, float[] cos, float[] sin, float[] weight, int tokens, int heads, int headDim,
            float eps) {
        float[] out = x.clone();
        int half = headDim / 2;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * headDim;
                for (int j = 0; j < half; j++) {
                    float lo = x[base + j];
                    float hi = x[base + j + half];
                    out[base + j] = lo * cos[t * half + j] - hi * sin[t * half + j];
                    out[base + j + half] = hi * cos[t * half + j] + lo * sin[t * half + j];
                }
                if (weight != null) {
                    float[] head = java.util.Arrays.copyOfRange(out, base, base + headDim);
                    System.arraycopy(rmsNorm(head, weight, 1, headDim, eps), 0, out, base, headDim);
                }
            }
        }
        return out;
    }

    record Routing(int[] experts, float[] weights) {}

    static Routing route(float[] logits, int tokens, int numExperts, int topK) {
        int[] chosen = new int[tokens * topK];
        float[] weights = new float[tokens * topK];
        for (int t = 0; t < tokens; t++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int e = 0; e < numExperts; e++) {
                max = Math.max(max, logits[t * numExperts + e]);
            }
            float[] p = new float[numExperts];
            float sum = 0;
            for (int e = 0; e < numExperts; e++) {
                p[e] = (float) Math.exp(logits[t * numExperts + e] - max);
                sum += p[e];
            }
            float mass = 0;
            for (int j = 0; j < topK; j++) {
                int best = -1;
                for (int e = 0; e < numExperts; e++) {
                    if (p[e] >= 0 && (best < 0 || p[e] > p[best])) {
                        best = e;
                    }
                }
                chosen[t * topK + j] = best;
                weights[t * topK + j] = p[best] / sum;
                mass += p[best] / sum;
                p[best] = -1;
            }
            if (topK > 1) {
                for (int j = 0; j < topK; j++) {
                    weights[t * topK + j] /= mass;
                }
            }
        }
        return new Routing(chosen, weights);
    }

    static float[] siluMul(float[] gate, float[] up) {
        float[] out = new float[gate.length];
        for (int i = 0; i < gate.length; i++) {
            out[i] = gate[i] * (float) (1.0 / (1.0 + Math.exp(-gate[i]))) * up[i];
        }
        return out;
    }

    /** in (rows, k) @ weight (n, k)^T, weights already widened to float32. */
    static float[] matmul(float[] in, float[] weight, int rows, int n, int k) {
        float[] out = new float[rows * n];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < n; o++) {
                double sum = 0;
                for (int i = 0; i < k; i++) {
                    sum += (double) in[r * k + i] * weight[o * k + i];
                }
                out[r * n + o] = (float) sum;
            }
        }
        return out;
    }

    /**
     * Causal attention of token t (at positions[t] of sequence seq[t]) over its own keys and values, given in
     * position order per sequence: keys[seq][p] (kvHeads × headDim), already unit-RMS when keyNorm is given.
     */
    static float[] attention(float[] queries, float[][][] keys, float[][][] values, float[] keyNorm, int[] positions,
            int[] seq, int heads, int kvHeads, int headDim) {
        float[] out = new float[queries.length];
        int group = heads / kvHeads;
        for (int t = 0; t < positions.length; t++) {
            for (int h = 0; h < heads; h++) {
                int kv = h / group;
                int length = positions[t] + 1;
                double[] scores = new double[length];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p < length; p++) {
                    double dot = 0;
                    for (int i = 0; i < headDim; i++) {
                        double q = queries[(t * heads + h) * headDim + i] * (keyNorm == null ? 1 : keyNorm[i]);
                        dot += q * keys[seq[t]][p][kv * headDim + i];
                    }
                    scores[p] = dot / Math.sqrt(headDim);
                    max = Math.max(max, scores[p]);
                }
                double sum = 0;
                for (int p = 0; p < length; p++) {
                    scores[p] = Math.exp(scores[p] - max);
                    sum += scores[p];
                }
                for (int i = 0; i < headDim; i++) {
                    double acc = 0;
                    for (int p = 0; p < length; p++) {
                        acc += scores[p] * values[seq[t]][p][kv * headDim + i];
                    }
                    out[(t * heads + h) * headDim + i] = (float) (acc / sum);
                }
            }
        }
        return out;
    }
}
