package io.hyserve.engine;

/**
 * What one forward step did, for observers on the engine thread (benchmarks, metrics).
 *
 * @param sequences requests in the step
 * @param tokens tokens computed (prefill chunks plus one per decoding request)
 * @param sampled requests that sampled a token
 * @param weightBytes weight bytes the backend streamed
 * @param flops floating-point operations of the matrix products and attention
 */
public record StepStats(int sequences, int tokens, int sampled, long nanos, long weightBytes, long flops) {}
