package io.hyserve.engine.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code tokenizer_golden.json}: HF/tiktoken ids, regex pieces and decodes, case by case. */
class TokenizerGoldenTest {

    private static final JsonNode GOLDEN = Fixtures.json("tokenizer_golden.json");
    private static final HyTokenizer TOKENIZER = Fixtures.tokenizer();

    static Stream<Named<JsonNode>> encodeCases() {
        return named(GOLDEN.get("cases"));
    }

    static Stream<Named<JsonNode>> decodeCases() {
        return named(GOLDEN.get("decode_cases"));
    }

    private static Stream<Named<JsonNode>> named(JsonNode cases) {
        return StreamSupport.stream(cases.spliterator(), false).map(c -> Named.of(c.get("name").asText(), c));
    }

    @Test
    void describesTheSameTokenizer() {
        assertThat(GOLDEN.get("mergeable_tokens").intValue()).isEqualTo(TOKENIZER.vocabulary().size());
        assertThat(GOLDEN.get("tokenizer_size").intValue()).isEqualTo(TOKENIZER.size()).isEqualTo(128166);
        assertThat(GOLDEN.get("pattern").asText()).isEqualTo(PreTokenizerReference.PATTERN);
        JsonNode specials = GOLDEN.get("special_tokens");
        List<String> names = new ArrayList<>();
        specials.get("names_in_id_order").forEach(n -> names.add(n.asText()));
        assertThat(names).isEqualTo(SpecialTokens.hunyuanSurfaces());
        for (int i = 0; i < names.size(); i++) {
            int id = specials.get("first_id").intValue() + i;
            assertThat(TOKENIZER.specialTokenId(names.get(i))).hasValue(id);
            assertThat(TOKENIZER.isSpecial(id)).isTrue();
        }
        assertThat(GOLDEN.get("cases")).hasSize(46);
        assertThat(GOLDEN.get("decode_cases")).hasSize(11);
    }

    @ParameterizedTest
    @MethodSource("encodeCases")
    void encodesToTheGoldenIds(JsonNode c) {
        assertThat(TOKENIZER.encode(c.get("text").asText())).containsExactly(Fixtures.ints(c.get("ids")));
    }

    @ParameterizedTest
    @MethodSource("encodeCases")
    void handWrittenPreTokenizerGivesTheGoldenPieces(JsonNode c) {
        assertThat(TOKENIZER.pieces(c.get("text").asText(), PreTokenizer::pieces)).isEqualTo(strings(c.get("pieces")));
    }

    @ParameterizedTest
    @MethodSource("encodeCases")
    void regexTwinGivesTheGoldenPieces(JsonNode c) {
        assertThat(TOKENIZER.pieces(c.get("text").asText(), PreTokenizerReference::pieces))
                .isEqualTo(strings(c.get("pieces")));
    }

    @ParameterizedTest
    @MethodSource("encodeCases")
    void decodingTheIdsGivesTheNfcText(JsonNode c) {
        String text = c.get("text").asText();
        String nfc = Normalizer.normalize(text, Normalizer.Form.NFC);
        assertThat(!nfc.equals(text)).isEqualTo(c.get("nfc_changed").booleanValue());
        assertThat(TOKENIZER.decode(Fixtures.ints(c.get("ids")), false)).isEqualTo(nfc);
        assertThat(TOKENIZER.decode(TOKENIZER.encode(text), false)).isEqualTo(nfc);
    }

    @Test
    void hfDefaultEncodeWrapsInStartAndEndOfText() {
        int start = TOKENIZER.specialTokenId("<|startoftext|>").orElseThrow();
        int end = TOKENIZER.specialTokenId("<|endoftext|>").orElseThrow();
        JsonNode examples = GOLDEN.get("hf_encode_default_examples");
        assertThat(examples).hasSize(2);
        for (JsonNode example : examples) {
            int[] ids = TOKENIZER.encode(example.get("text").asText());
            int[] wrapped = new int[ids.length + 2];
            wrapped[0] = start;
            System.arraycopy(ids, 0, wrapped, 1, ids.length);
            wrapped[ids.length + 1] = end;
            assertThat(wrapped).containsExactly(Fixtures.ints(example.get("ids")));
        }
    }

    @ParameterizedTest
    @MethodSource("decodeCases")
    void decodesToTheGoldenText(JsonNode c) {
        int[] ids = Fixtures.ints(c.get("ids"));
        boolean skip = c.get("skip_special_tokens").booleanValue();
        if (c.has("error")) {
            assertThatThrownBy(() -> TOKENIZER.decode(ids, skip))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("128200");
            assertThatThrownBy(() -> TOKENIZER.streamingDetokenizer(skip).next(128200))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("128200");
            return;
        }
        assertThat(TOKENIZER.decode(ids, skip)).isEqualTo(c.get("text").asText());
        assertThat(HexFormat.of().formatHex(concatenatedBytes(ids, skip))).isEqualTo(c.get("bytes_hex").asText());

        StreamingDetokenizer stream = TOKENIZER.streamingDetokenizer(skip);
        StringBuilder streamed = new StringBuilder();
        for (int id : ids) {
            streamed.append(stream.next(id));
        }
        assertThat(streamed.append(stream.finish()).toString()).isEqualTo(c.get("text").asText());
    }

    @Test
    void specialTokenSurfaceBytesAreTheirUtf8Text() {
        int eos = TOKENIZER.specialTokenId("<|eos|>").orElseThrow();
        assertThat(TOKENIZER.tokenBytes(eos)).isEqualTo("<|eos|>".getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] concatenatedBytes(int[] ids, boolean skipSpecialTokens) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int id : ids) {
            if (!(skipSpecialTokens && TOKENIZER.isSpecial(id))) {
                bytes.writeBytes(TOKENIZER.tokenBytes(id));
            }
        }
        return bytes.toByteArray();
    }

    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(v -> values.add(v.asText()));
        return values;
    }
}
