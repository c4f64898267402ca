package io.hyserve.engine;

/**
 * A snapshot of the scheduler and KV cache, refreshed after every step.
 *
 * @param preemptions requests preempted so far (each recomputes later)
 * @param kvBlocksFree blocks new tokens can use now (free, or cached and unreferenced)
 * @param kvBlocksCached full blocks findable by prefix
 * @param prefixQueryTokens prompt tokens looked up in the prefix cache so far
 * @param prefixHitTokens of those, tokens served from cache instead of recomputed
 * @param lastStepTokens tokens in the most recent forward step
 */
public record EngineStats(
        int running,
        int waiting,
        long preemptions,
        int kvBlocksTotal,
        int kvBlocksUsed,
        int kvBlocksFree,
        int kvBlocksCached,
        int kvBlockSize,
        long prefixQueryTokens,
        long prefixHitTokens,
        long steps,
        long stepTokens,
        int lastStepTokens,
        int lastStepSequences) {

    /** Mean tokens per forward step so far. */
    public double meanTokensPerStep() {
        return steps == 0 ? 0 : (double) stepTokens / steps;
    }
}
