package io.hyserve.engine.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The shared fixtures folder ({@code ../shared/fixtures}, passed by the build as {@code hyserve.fixtures}). */
public final class Fixtures {
    public static final String F32_MODEL = "tiny-hunyuan-moe";
    public static final String BF16_MODEL = "tiny-hunyuan-moe-bf16";
    /** The golden format these tests were written against. */
    public static final int GOLDEN_FORMAT_VERSION = 1;

    private Fixtures() {}

    public static Path root() {
        String configured = System.getProperty("hyserve.fixtures");
        if (configured == null) {
            throw new IllegalStateException("system property hyserve.fixtures is not set; run the tests through Maven, "
                    + "which points it at ../shared/fixtures beside the checkout");
        }
        Path root = Path.of(configured).toAbsolutePath().normalize();
        if (!Files.isDirectory(root)) {
            throw new IllegalStateException("fixtures folder " + root + " does not exist; the shared fixtures must sit "
                    + "beside the checkout as ../shared/fixtures");
        }
        return root;
    }

    /**
     * The fixture models the golden tests cover: both, or those listed in {@code hyserve.fixtures.models}
     * (comma-separated), which the device check sets because only one fits what travels to the GPU machine.
     */
    public static List<String> goldenModels() {
        String only = System.getProperty("hyserve.fixtures.models");
        return only == null || only.isBlank() ? List.of(F32_MODEL, BF16_MODEL) : List.of(only.split(","));
    }

    public static Path model(String name) {
        return root().resolve(name);
    }

    public static Path tokenizer() {
        return root().resolve("tokenizer");
    }

    public static JsonNode json(Path file) {
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read fixture " + file, e);
        }
    }

    /** The model's golden.json, after checking it is the format these tests understand. */
    public static JsonNode golden(String model) {
        Path file = model(model).resolve("golden.json");
        JsonNode golden = json(file);
        int version = golden.path("format_version").asInt(-1);
        if (version != GOLDEN_FORMAT_VERSION) {
            throw new IllegalStateException("%s has format_version %d; these tests expect %d"
                    .formatted(file, version, GOLDEN_FORMAT_VERSION));
        }
        return golden;
    }

    public static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    public static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asDouble();
        }
        return out;
    }
}
