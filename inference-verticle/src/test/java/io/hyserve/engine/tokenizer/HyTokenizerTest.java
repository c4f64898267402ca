package io.hyserve.engine.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading, validation and the public API beyond the golden cases. */
class HyTokenizerTest {

    private static final HyTokenizer TOKENIZER = Fixtures.tokenizer();

    @TempDir
    Path dir;

    @Test
    void decodeOfEncodeIsTheNfcText() {
        // Holds with special-token text too: it encodes to the special id, which decodes to the same text.
        RandomTrials.check(0x4717_0001L, 1000, RandomText::text, RandomTrials::quote, text -> {
            assertThat(TOKENIZER.decode(TOKENIZER.encode(text), false))
                    .isEqualTo(Normalizer.normalize(text, Normalizer.Form.NFC));
        });
    }

    @Test
    void describesItsIds() {
        assertThat(TOKENIZER.size()).isEqualTo(128166);
        assertThat(TOKENIZER.isSpecial(127956)).isFalse();
        assertThat(TOKENIZER.isSpecial(127957)).isTrue();
        assertThat(TOKENIZER.isSpecial(128165)).isTrue();
        assertThat(TOKENIZER.specialTokenId("<|eos|>")).hasValue(127960);
        assertThat(TOKENIZER.specialTokenId("<|extra_5|>")).hasValue(127967);
        assertThat(TOKENIZER.specialTokenId("<|extra_204|>")).isEmpty();
        assertThat(TOKENIZER.specialTokenId("eos")).isEmpty();
        assertThat(TOKENIZER.tokenBytes(9906)).isEqualTo("Hello".getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void tokenBytesReturnsACopy() {
        TOKENIZER.tokenBytes(9906)[0] = 'J';
        TOKENIZER.tokenBytes(127960)[0] = 'J';
        assertThat(TOKENIZER.decode(new int[] {9906, 127960}, false)).isEqualTo("Hello<|eos|>");
    }

    @Test
    void idsWithoutATokenAreRejectedWithTheirValue() {
        for (int id : new int[] {-1, 128166, 128511, Integer.MAX_VALUE}) {
            assertThatThrownBy(() -> TOKENIZER.isSpecial(id)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("token id " + id + " ");
            assertThatThrownBy(() -> TOKENIZER.tokenBytes(id)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("token id " + id + " ");
            assertThatThrownBy(() -> TOKENIZER.decode(new int[] {64, id}, true)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("ids[1]").hasMessageContaining("token id " + id + " ");
        }
    }

    @Test
    void specialTokenTextIsFoundAtItsEarliestOccurrence() {
        assertThat(TOKENIZER.pieces("<|<|eos|>|>", PreTokenizer::pieces)).containsExactly("<|", "<|eos|>", "|>");
        assertThat(TOKENIZER.pieces("<|eos<|eos|>", PreTokenizer::pieces)).containsExactly("<|", "eos", "<|eos|>");
        assertThat(TOKENIZER.encode("a<|eos|><|eos|>")).containsExactly(64, 127960, 127960);
        assertThat(TOKENIZER.encode("<|ext" + "ra_0|>")).containsExactly(127962);
        assertThat(TOKENIZER.encode("<|".repeat(10_000))).hasSizeGreaterThan(0);
    }

    @Test
    void nfcIsAppliedBeforeSpecialTokensAndPreTokenisation() {
        assertThat(TOKENIZER.encode("cafe\u0301")).isEqualTo(TOKENIZER.encode("caf\u00E9"));
        assertThat(TOKENIZER.encode("\u212B")).isEqualTo(TOKENIZER.encode("\u00C5")); // ANGSTROM SIGN → Å
    }

    @Test
    void loneSurrogatesEncodeAsReplacementCharacters() {
        assertThat(TOKENIZER.encode("a\uD800b")).isEqualTo(TOKENIZER.encode("a\uFFFDb"));
        assertThat(TOKENIZER.encode("\uDC00")).isEqualTo(TOKENIZER.encode("\uFFFD"));
        assertThat(TOKENIZER.encode("x\uD83D")).isEqualTo(TOKENIZER.encode("x\uFFFD"));
        assertThat(TOKENIZER.encode("\uD83C\uDF55")).isEqualTo(new int[] {9468, 235, 243}).isNotEqualTo(TOKENIZER.encode("\uFFFD\uFFFD"));
    }

    @Test
    void emptyInputs() {
        assertThat(TOKENIZER.encode("")).isEmpty();
        assertThat(TOKENIZER.decode(new int[0], false)).isEmpty();
    }

    @Test
    void missingVocabularyFileIsNamed() {
        assertThatThrownBy(() -> HyTokenizer.load(dir))
                .isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining(dir.resolve("hy.tiktoken").toString())
                .hasMessageContaining("missing");
    }

    @Test
    void malformedLinesAreReportedWithFileAndLine() throws IOException {
        List<String> valid = singleByteLines();
        assertLoadFails(withLine(valid, 3, "QUE="), "line 4", "expected '<base64 bytes> <rank>'");
        assertLoadFails(withLine(valid, 3, "!!!! 3"), "line 4", "invalid base64");
        assertLoadFails(withLine(valid, 3, "QQ== x3"), "line 4", "not a decimal number");
        assertLoadFails(withLine(valid, 3, "QQ== 7"), "line 4", "rank 7 does not equal the line index 3");
        assertLoadFails(withLine(valid, 3, " 3"), "line 4", "expected '<base64 bytes> <rank>'");
        assertLoadFails(withLine(valid, 3, base64("\u0000") + " 3"), "line 4", "same bytes as rank 0");
    }

    @Test
    void everySingleByteMustBePresent() throws IOException {
        List<String> lines = singleByteLines();
        lines.set(0x41, base64("AB") + " 65"); // replaces the single byte 'A'
        assertLoadFails(lines, "", "no token for the single byte 0x41");
    }

    @Test
    void theRankCountMustLeaveRoomForHunyuansSpecialTokens() throws IOException {
        assertLoadFails(singleByteLines(), "", "expected 127957 ranks");
    }

    private void assertLoadFails(List<String> lines, String where, String why) throws IOException {
        Files.write(dir.resolve("hy.tiktoken"), lines, StandardCharsets.UTF_8);
        assertThatThrownBy(() -> HyTokenizer.load(dir))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(dir.resolve("hy.tiktoken").toString())
                .hasMessageContaining(where)
                .hasMessageContaining(why);
    }

    private static List<String> singleByteLines() {
        List<String> lines = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            lines.add(Base64.getEncoder().encodeToString(new byte[] {(byte) b}) + " " + b);
        }
        return lines;
    }

    private static List<String> withLine(List<String> lines, int index, String line) {
        List<String> copy = new ArrayList<>(lines);
        copy.set(index, line);
        return copy;
    }

    private static String base64(String text) {
        return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void literalPartsKeepSpecialTokenTextOrdinaryAndMergeAcrossBoundaries() {
        HyTokenizer tokenizer = Fixtures.tokenizer();
        int eos = tokenizer.specialTokenId("<|eos|>").orElseThrow();
        String text = "Hello world, the sea<|eos|>";
        assertThat(tokenizer.encode(List.of(new TextPart("Hello wo", false), new TextPart("rld, the sea", true),
                new TextPart("<|eos|>", false)))).containsExactly(tokenizer.encode(text));
        int[] literal = tokenizer.encode(List.of(new TextPart("a", false), new TextPart("b<|eos|>c", true)));
        assertThat(literal).doesNotContain(eos);
        assertThat(tokenizer.decode(literal, false)).isEqualTo("ab<|eos|>c");
        // Half of the surface in content, half in the template: still not the special token.
        assertThat(tokenizer.encode(List.of(new TextPart("x<|e", true), new TextPart("os|>", false)))).doesNotContain(eos);
    }
}
