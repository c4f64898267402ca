package io.hyserve.engine.model;

/**
 * Rotate-half RoPE with the dynamic-NTK-alpha base (spec §3.2): {@code base' = theta * alpha^(d/(d-2))},
 * {@code inv_freq[j] = base'^(-2j/d)}. Angles are computed in double (closer to the exact math than the
 * official float32 table; the spec allows either) and rounded to float once.
 */
public final class RotaryEmbedding {
    private final double[] inverseFrequencies; // (headDim / 2)

    public RotaryEmbedding(HunyuanConfig config) {
        int d = config.headDim();
        double base = config.effectiveRopeBase();
        inverseFrequencies = new double[d / 2];
        for (int j = 0; j < d / 2; j++) {
            inverseFrequencies[j] = Math.pow(base, -2.0 * j / d);
        }
    }

    public double[] inverseFrequencies() {
        return inverseFrequencies.clone();
    }

    /** cos and sin tables {@code (positions.length, headDim/2)} for the given absolute positions. */
    public float[][] tables(int[] positions) {
        int half = inverseFrequencies.length;
        float[] cos = new float[positions.length * half];
        float[] sin = new float[positions.length * half];
        for (int t = 0; t < positions.length; t++) {
            for (int j = 0; j < half; j++) {
                double angle = positions[t] * inverseFrequencies[j];
                cos[t * half + j] = (float) Math.cos(angle);
                sin[t * half + j] = (float) Math.sin(angle);
            }
        }
        return new float[][] {cos, sin};
    }
}
