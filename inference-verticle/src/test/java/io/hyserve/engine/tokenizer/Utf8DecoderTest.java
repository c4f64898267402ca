package io.hyserve.engine.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Maximal-subpart replacement, checked against Python's output and against the definition. */
class Utf8DecoderTest {

    /** Expected text printed by Python's {@code bytes.fromhex(hex).decode("utf-8", "replace")}. */
    @ParameterizedTest
    @CsvSource({
        "e4bd41,   \uFFFDA",
        "bda0,     \uFFFD\uFFFD",
        "eda080,   \uFFFD\uFFFD\uFFFD",
        "f080,     \uFFFD\uFFFD",
        "f09f,     \uFFFD",
        "f09f8d,   \uFFFD",
        "f09f8d95, \uD83C\uDF55",
        "c0af,     \uFFFD\uFFFD",
        "e080af,   \uFFFD\uFFFD\uFFFD",
        "f4908080, \uFFFD\uFFFD\uFFFD\uFFFD",
        "f5,       \uFFFD",
        "ff41,     \uFFFDA",
        "c2,       \uFFFD",
        "e4bdc2a0, \uFFFD\u00A0",
        "f0908080, \uD800\uDC00",
        "efbfbf,   \uFFFF",
        "edbfbf,   \uFFFD\uFFFD\uFFFD",
        "eeb080,   \uEC00",
        "41c3,     A\uFFFD",
        "c3c3a9,   \uFFFD\u00E9",
    })
    void replacesLikePython(String hex, String expected) {
        byte[] bytes = HexFormat.of().parseHex(hex);
        assertThat(Utf8Decoder.decode(bytes, 0, bytes.length)).isEqualTo(expected);
    }

    /**
     * The slow twin is the definition itself (Unicode §3.9 D93b): at an offset that does not start a complete
     * character, replace the longest prefix of some well-formed sequence, or one byte. The JDK's decoder is no
     * twin: it replaces an encoded surrogate ({@code ED A0 80}) with one U+FFFD where Python gives three.
     */
    @Test
    void equalsTheMaximalSubpartDefinition() {
        RandomTrials.check(0x0778_0001L, 3000, Utf8DecoderTest::utf8ish, RandomTrials::hex, bytes -> {
            assertThat(Utf8Decoder.decode(bytes, 0, bytes.length)).isEqualTo(decodeByDefinition(bytes));
        });
    }

    private static final Set<String> PROPER_PREFIXES = properPrefixesOfEveryCharacter();

    private static String decodeByDefinition(byte[] bytes) {
        StringBuilder out = new StringBuilder();
        HexFormat hex = HexFormat.of();
        int i = 0;
        while (i < bytes.length) {
            int longestPrefix = 1;
            int codePoint = -1;
            int length = 1;
            for (int n = 1; n <= 4 && i + n <= bytes.length; n++) {
                String candidate = hex.formatHex(bytes, i, i + n);
                int decoded = completeCharacter(bytes, i, n);
                if (decoded >= 0) {
                    codePoint = decoded;
                    length = n;
                    break;
                }
                if (PROPER_PREFIXES.contains(candidate)) {
                    longestPrefix = n;
                }
            }
            if (codePoint >= 0) {
                out.appendCodePoint(codePoint);
                i += length;
            } else {
                out.append('\uFFFD');
                i += longestPrefix;
            }
        }
        return out.toString();
    }

    /** The scalar value whose UTF-8 encoding is exactly {@code bytes[at, at + n)}, or -1. */
    private static int completeCharacter(byte[] bytes, int at, int n) {
        byte[] slice = Arrays.copyOfRange(bytes, at, at + n);
        String s = new String(slice, StandardCharsets.UTF_8);
        // Invalid input decodes to U+FFFD, whose encoding differs from the input, so the round trip decides.
        boolean valid = s.codePointCount(0, s.length()) == 1 && Arrays.equals(s.getBytes(StandardCharsets.UTF_8), slice);
        return valid ? s.codePointAt(0) : -1;
    }

    private static Set<String> properPrefixesOfEveryCharacter() {
        Set<String> prefixes = new HashSet<>();
        HexFormat hex = HexFormat.of();
        for (int cp = 0x80; cp <= Character.MAX_CODE_POINT; cp++) {
            if (cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE) {
                continue;
            }
            byte[] encoded = Character.toString(cp).getBytes(StandardCharsets.UTF_8);
            for (int n = 1; n < encoded.length; n++) {
                prefixes.add(hex.formatHex(encoded, 0, n));
            }
        }
        return prefixes;
    }

    @Test
    void decodingInChunksEqualsDecodingAtOnce() {
        RandomTrials.check(0x0778_0002L, 1000, Utf8DecoderTest::chunked, Chunked::toString, input -> {
            byte[] bytes = input.bytes();
            int chunk = input.chunk();
            StringBuilder out = new StringBuilder();
            byte[] pending = new byte[0];
            for (int at = 0; at < bytes.length; at += chunk) {
                byte[] buffer = new byte[pending.length + Math.min(chunk, bytes.length - at)];
                System.arraycopy(pending, 0, buffer, 0, pending.length);
                System.arraycopy(bytes, at, buffer, pending.length, buffer.length - pending.length);
                int stop = Utf8Decoder.decode(buffer, 0, buffer.length, out, false);
                assertThat(buffer.length - stop).isLessThanOrEqualTo(3);
                pending = Arrays.copyOfRange(buffer, stop, buffer.length);
            }
            Utf8Decoder.decode(pending, 0, pending.length, out, true);
            assertThat(out.toString()).isEqualTo(Utf8Decoder.decode(bytes, 0, bytes.length));
        });
    }

    record Chunked(byte[] bytes, int chunk) {
        @Override
        public String toString() {
            return RandomTrials.hex(bytes) + ", chunk " + chunk;
        }
    }

    /** {@link #utf8ish} bytes, fed to the decoder 1..5 at a time. */
    static Chunked chunked(SplittableRandom random) {
        return new Chunked(utf8ish(random), random.nextInt(1, 6));
    }

    private static final byte[] EDGY_BYTES = HexFormat.of().parseHex(
            "00417f808f909fa0bfc0c1c2dfe0e4edeeeff0f3f4f5ff");

    /**
     * Mostly lead and continuation bytes around the edges of the valid ranges, plus ASCII and valid text.
     * Equally likely: noise (0..24 bytes, each an edge-case byte or any byte), the UTF-8 of random text, or
     * 0..4 of those two joined.
     */
    static byte[] utf8ish(SplittableRandom random) {
        return switch (random.nextInt(3)) {
            case 0 -> noise(random);
            case 1 -> validText(random);
            default -> {
                ByteArrayOutputStream joined = new ByteArrayOutputStream();
                int parts = random.nextInt(5);
                for (int i = 0; i < parts; i++) {
                    joined.writeBytes(random.nextBoolean() ? noise(random) : validText(random));
                }
                yield joined.toByteArray();
            }
        };
    }

    private static byte[] noise(SplittableRandom random) {
        byte[] bytes = new byte[random.nextInt(25)];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = random.nextBoolean() ? EDGY_BYTES[random.nextInt(EDGY_BYTES.length)] : (byte) random.nextInt(256);
        }
        return bytes;
    }

    private static byte[] validText(SplittableRandom random) {
        return RandomText.text(random).getBytes(StandardCharsets.UTF_8);
    }
}
