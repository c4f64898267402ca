package io.hyserve.engine.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.hyserve.engine.load.CheckpointException;
import io.hyserve.engine.load.SafetensorsFile;
import io.hyserve.engine.tokenizer.HyTokenizer;
import io.hyserve.engine.tokenizer.TextPart;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.List;

/**
 * Untrusted input that reaches parsers: a checkpoint file's safetensors header and text to tokenize. Run one
 * at a time with {@code JAZZER_FUZZ=1 ./mvnw -pl inference-verticle test -Dtest='ParserFuzzTest#name'}; in
 * the normal build they replay their seeds.
 */
class ParserFuzzTest {
    private static final HyTokenizer TOKENIZER = loadTokenizer();
    private static final Path FILE = scratchFile();

    private static HyTokenizer loadTokenizer() {
        try {
            return HyTokenizer.load(Path.of(System.getProperty("hyserve.fixtures")).resolve("tokenizer"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path scratchFile() {
        try {
            Path file = Files.createTempFile("fuzz", ".safetensors");
            file.toFile().deleteOnExit();
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Any bytes open as a checkpoint or are refused with a {@link CheckpointException}. */
    @FuzzTest(maxDuration = "10s")
    void safetensorsHeadersParseOrAreRefused(byte[] bytes) throws IOException {
        Files.write(FILE, bytes);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile file = SafetensorsFile.open(FILE, arena);
            file.tensors().values().forEach(tensor -> assertThat(tensor.elementCount()).isNotNegative());
        } catch (CheckpointException refused) {
            // a clear refusal is the contract
        }
    }

    /** Any text encodes; decoding gives back its NFC form; literal parts never yield special tokens. */
    @FuzzTest(maxDuration = "10s")
    void anyTextRoundTripsThroughTheTokenizer(FuzzedDataProvider data) {
        String text = data.consumeRemainingAsString();
        int[] ids = TOKENIZER.encode(text);
        String expected = withoutLoneSurrogates(Normalizer.normalize(text, Normalizer.Form.NFC));
        assertThat(TOKENIZER.decode(ids, false)).isEqualTo(expected);
        for (int id : TOKENIZER.encode(List.of(new TextPart(text, true)))) {
            assertThat(TOKENIZER.isSpecial(id)).isFalse();
        }
    }

    /** What UTF-8 can carry of a Java string: a lone surrogate becomes U+FFFD. */
    private static String withoutLoneSurrogates(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                out.append(c).append(text.charAt(++i));
            } else {
                out.append(Character.isSurrogate(c) ? '\uFFFD' : c);
            }
        }
        return out.toString();
    }
}
