package io.hyserve.engine.sample;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Chooses each next token of one request. Processing follows transformers on the float32 logits: logit bias,
 * repetition penalty (prompt and output), presence/frequency penalties (OpenAI, output only), temperature,
 * top-k (keep logits >= the k-th largest), top-p (keep a token while the mass of strictly better tokens is
 * below p), min-p, then a draw from the request's own seeded generator. The same seed and the same logits
 * always give the same token, whatever else the engine is running.
 */
public final class Sampler {
    /** Top-p first looks for the nucleus among this many best tokens before sorting the whole vocabulary. */
    private static final int NUCLEUS_PROBE = 1024;

    private final Sampling params;
    private final int vocab;
    private final SplittableRandom random;
    private final BitSet seen = new BitSet(); // ids in prompt or output, for the repetition penalty
    private final Map<Integer, Integer> outputCounts = new HashMap<>();
    private final float[] work;
    private final int[] candidates;
    private final double[] probabilities;

    public Sampler(Sampling params, int[] promptIds, int vocab) {
        this.params = params;
        this.vocab = vocab;
        this.random = new SplittableRandom(params.seed());
        this.work = new float[vocab];
        this.candidates = new int[vocab];
        this.probabilities = new double[vocab];
        for (int id : promptIds) {
            seen.set(id);
        }
    }

    /** Picks the next token from {@code logits[offset .. offset+vocab)} and records it for the penalties. */
    public int next(float[] logits, int offset) {
        System.arraycopy(logits, offset, work, 0, vocab);
        for (Map.Entry<Integer, Double> bias : params.logitBias().entrySet()) {
            work[bias.getKey()] += bias.getValue().floatValue();
        }
        applyPenalties(work);
        int token = params.greedy() ? argmax(work) : draw(work);
        seen.set(token);
        outputCounts.merge(token, 1, Integer::sum);
        return token;
    }

    private void applyPenalties(float[] l) {
        float repetition = (float) params.repetitionPenalty();
        if (repetition != 1f) {
            for (int id = seen.nextSetBit(0); id >= 0 && id < vocab; id = seen.nextSetBit(id + 1)) {
                l[id] = l[id] < 0 ? l[id] * repetition : l[id] / repetition;
            }
        }
        if (params.presencePenalty() != 0 || params.frequencyPenalty() != 0) {
            for (Map.Entry<Integer, Integer> e : outputCounts.entrySet()) {
                l[e.getKey()] -= (float) (params.presencePenalty() + params.frequencyPenalty() * e.getValue());
            }
        }
    }

    /** Argmax with the lowest id on exact ties (torch.argmax). */
    static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }

    private int draw(float[] l) {
        float temperature = (float) params.temperature();
        for (int i = 0; i < vocab; i++) {
            l[i] /= temperature;
        }
        int count;
        int[] ordered = null; // candidates best-first, once sorted
        if (params.topK() > 0 && params.topK() < vocab) {
            ordered = TopSelection.top(l, null, vocab, params.topK());
            float kth = l[ordered[ordered.length - 1]];
            count = 0;
            for (int i = 0; i < vocab; i++) {
                if (l[i] >= kth) {
                    candidates[count++] = i;
                }
            }
            if (count != ordered.length) {
                ordered = null; // ties with the k-th value are kept too; order them below
            }
        } else {
            count = vocab;
            for (int i = 0; i < vocab; i++) {
                candidates[i] = i;
            }
        }
        softmax(l, candidates, count);
        if (params.topP() < 1) {
            if (ordered == null) {
                ordered = orderedNucleusCandidates(l, count);
            }
            count = nucleus(ordered);
        } else if (ordered != null) {
            count = ordered.length;
        }
        int[] kept = ordered != null ? ordered : candidates;
        if (params.minP() > 0) {
            count = applyMinP(kept, count);
        }
        double total = 0;
        for (int i = 0; i < count; i++) {
            total += probabilities[kept[i]];
        }
        double u = random.nextDouble() * total;
        for (int i = 0; i < count; i++) {
            u -= probabilities[kept[i]];
            if (u < 0) {
                return kept[i];
            }
        }
        return kept[count - 1];
    }

    /** probabilities[id] for the candidates, computed in double from float logits. */
    private void softmax(float[] l, int[] ids, int count) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            max = Math.max(max, l[ids[i]]);
        }
        double sum = 0;
        for (int i = 0; i < count; i++) {
            double e = Math.exp(l[ids[i]] - max);
            probabilities[ids[i]] = e;
            sum += e;
        }
        for (int i = 0; i < count; i++) {
            probabilities[ids[i]] /= sum;
        }
    }

    /** Candidates best-first, sorting only as far as the nucleus can reach. */
    private int[] orderedNucleusCandidates(float[] l, int count) {
        int[] probe = TopSelection.top(l, candidates, count, NUCLEUS_PROBE);
        double mass = 0;
        for (int id : probe) {
            mass += probabilities[id];
        }
        return mass >= params.topP() || probe.length == count ? probe : TopSelection.top(l, candidates, count, count);
    }

    /** Keeps token i while the mass of the tokens before it is below top_p (at least one token). */
    private int nucleus(int[] ordered) {
        double before = 0;
        int keep = 0;
        while (keep < ordered.length && (keep == 0 || before < params.topP())) {
            before += probabilities[ordered[keep]];
            keep++;
        }
        return keep;
    }

    /** Keeps tokens whose probability is at least min_p times the best one's; compacts {@code kept}. */
    private int applyMinP(int[] kept, int count) {
        double best = 0;
        for (int i = 0; i < count; i++) {
            best = Math.max(best, probabilities[kept[i]]);
        }
        double threshold = params.minP() * best;
        int out = 0;
        for (int i = 0; i < count; i++) {
            if (probabilities[kept[i]] >= threshold) {
                kept[out++] = kept[i];
            }
        }
        return out;
    }
}
