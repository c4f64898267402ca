/**
 * Hunyuan-Large's tokenizer and chat template (spec {@code hunyuan-architecture.md} §7–8).
 *
 * <p>Public API: {@link io.hyserve.engine.tokenizer.HyTokenizer} (encode, decode, special tokens),
 * {@link io.hyserve.engine.tokenizer.StreamingDetokenizer} (per-sequence incremental decode) and
 * {@link io.hyserve.engine.tokenizer.ChatTemplate} with {@link io.hyserve.engine.tokenizer.ChatMessage} and
 * {@link io.hyserve.engine.tokenizer.ChatTemplateException}. Everything else is package-private.
 *
 * <p>Each fast path has its slow twin beside it, compared by property tests: {@code PreTokenizer} (hand
 * written) with {@code PreTokenizerReference} (the regex in {@code java.util.regex}), {@code BytePairEncoder}
 * (heap, pair-rank table) with {@code BytePairEncoderReference} (plain quadratic merge over bytes).
 *
 * <p>Tests: {@code ./mvnw test} (goldens from {@code shared/fixtures/tokenizer}, located by the
 * {@code hyserve.fixtures} system property). Throughput: {@code TokenizerBench} under {@code -Pjmh}.
 */
package io.hyserve.engine.tokenizer;
