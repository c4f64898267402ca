package io.hyserve.engine.tokenizer;

import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Fixed-seed random trials for the property-style tests. The test's seed drives a {@link SplittableRandom}
 * that hands each trial its own seed; the trial's input is drawn from {@code new SplittableRandom(trialSeed)}.
 * A failing trial is reported with the test seed, the trial number, the trial seed and the input (escaped),
 * so it can be regenerated on its own.
 */
final class RandomTrials {

    private RandomTrials() {}

    static <T> void check(long seed, int trials, Function<SplittableRandom, T> generator,
            Function<? super T, String> describe, Consumer<? super T> property) {
        SplittableRandom seeds = new SplittableRandom(seed);
        for (int trial = 0; trial < trials; trial++) {
            long trialSeed = seeds.nextLong();
            T input = generator.apply(new SplittableRandom(trialSeed));
            try {
                property.accept(input);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("trial %d of %d failed (seed %#xL, trial seed %#xL: the input is drawn from new SplittableRandom(%#xL))%ninput: %s%n%s"
                        .formatted(trial, trials, seed, trialSeed, trialSeed, describe.apply(input), e), e);
            }
        }
    }

    /** {@code s} as a Java string literal: printable ASCII as is, everything else (lone surrogates too) escaped. */
    static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c >= 0x20 && c < 0x7F) {
                        out.append(c);
                    } else {
                        out.append("\\u%04X".formatted((int) c));
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    /** {@code bytes} as hex, with their count. */
    static String hex(byte[] bytes) {
        return bytes.length + " bytes: " + HexFormat.of().formatHex(bytes);
    }
}
