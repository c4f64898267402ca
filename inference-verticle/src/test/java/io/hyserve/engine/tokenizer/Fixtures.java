package io.hyserve.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** The shared tokenizer fixtures, through {@link io.hyserve.engine.testing.Fixtures}. */
final class Fixtures {

    private static HyTokenizer tokenizer;

    private Fixtures() {}

    static Path tokenizerDir() {
        return io.hyserve.engine.testing.Fixtures.tokenizer();
    }

    static JsonNode json(String fileName) {
        return io.hyserve.engine.testing.Fixtures.json(tokenizerDir().resolve(fileName));
    }

    /** The real Hunyuan tokenizer, loaded once per test JVM. */
    static synchronized HyTokenizer tokenizer() {
        if (tokenizer == null) {
            try {
                tokenizer = HyTokenizer.load(tokenizerDir());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tokenizer;
    }

    static int[] ints(JsonNode array) {
        return io.hyserve.engine.testing.Fixtures.ints(array);
    }
}
