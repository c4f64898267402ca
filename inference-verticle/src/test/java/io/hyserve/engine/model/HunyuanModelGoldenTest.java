package io.hyserve.engine.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.hyserve.engine.backend.Backend;
import io.hyserve.engine.backend.Routing;
import io.hyserve.engine.backend.cpu.CpuBackend;
import io.hyserve.engine.backend.cuda.CudaBackend;
import io.hyserve.engine.testing.Fixtures;
import io.hyserve.engine.testing.GoldenTensors;
import io.hyserve.engine.testing.SingleSequence;
import io.hyserve.kernels.Gpu;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The forward pass against the independent float64 reference (golden.json / golden.safetensors) of both
 * tiny checkpoints, on the vectorised CPU backend, its scalar twin, and the CUDA backend where a GPU is usable.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HunyuanModelGoldenTest {
    private final Map<String, HunyuanModel> models = new HashMap<>();
    private final List<Backend> backends = new ArrayList<>();

    Stream<Arguments> modelsAndBackends() {
        List<Arguments> out = new ArrayList<>();
        for (String model : Fixtures.goldenModels()) {
            for (String backend : List.of("cpu-vector", "cpu-vector-resident", "cpu-scalar", "cuda")) {
                out.add(Arguments.of(model, backend));
            }
        }
        return out.stream();
    }

    Stream<Arguments> casesOfEveryModel() {
        return modelsAndBackends().flatMap(args -> casesOf((String) args.get()[0], (String) args.get()[1]));
    }

    Stream<Arguments> goldenCases() {
        return Fixtures.goldenModels().stream().flatMap(model -> casesOf(model));
    }

    private static Stream<Arguments> casesOf(String model, Object... more) {
        List<Arguments> cases = new ArrayList<>();
        for (JsonNode c : Fixtures.golden(model).get("cases")) {
            List<Object> arguments = new ArrayList<>(List.of(model));
            arguments.addAll(List.of(more));
            arguments.add(c.get("name").asText());
            cases.add(Arguments.of(arguments.toArray()));
        }
        return cases.stream();
    }

    private HunyuanModel model(String name, String backendName) {
        if (backendName.equals("cuda")) {
            Gpu.Availability gpu = Gpu.availability();
            assumeTrue(gpu.available(), "no GPU: " + gpu.reason());
        }
        return models.computeIfAbsent(name + "/" + backendName, key -> {
            Backend backend = switch (backendName) {
                case "cpu-vector" -> CpuBackend.vector(2);
                case "cpu-vector-resident" -> CpuBackend.vector(2, true); // BF16 weights packed for the tiles
                case "cpu-scalar" -> CpuBackend.scalar(2);
                // float32 activations, as the goldens require
                default -> CudaBackend.open(0, false, java.util.List.of());
            };
            backends.add(backend);
            return HunyuanModel.load(Fixtures.model(name), backend, LoadProgress.NONE);
        });
    }

    private static JsonNode goldenCase(String model, String name) {
        for (JsonNode c : Fixtures.golden(model).get("cases")) {
            if (c.get("name").asText().equals(name)) {
                return c;
            }
        }
        throw new IllegalArgumentException(name);
    }

    private static double tolerance(String model) {
        return Fixtures.golden(model).get("suggested_tolerances").get("float32_engine_abs_logit").asDouble();
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("casesOfEveryModel")
    void lastLogitsMatchReferenceWithinTolerance(String modelName, String backend, String caseName) {
        JsonNode golden = goldenCase(modelName, caseName);
        int[] ids = Fixtures.ints(golden.get("input_ids"));
        HunyuanModel model = model(modelName, backend);
        float[] expected = GoldenTensors.read(modelName, golden.get("last_logits_tensor").asText());
        double tol = tolerance(modelName);

        float[] all;
        try (SingleSequence sequence = new SingleSequence(model, ids.length)) {
            all = sequence.appendAll(ids, ForwardObserver.NONE);
        }
        int vocab = model.config().vocabSize();
        float[] last = Arrays.copyOfRange(all, (ids.length - 1) * vocab, ids.length * vocab);
        assertThat(last).hasSize(expected.length);
        double worst = 0;
        for (int i = 0; i < vocab; i++) {
            worst = Math.max(worst, Math.abs(last[i] - expected[i]));
        }
        assertThat(worst).as("max |logit - reference| over all %d ids", vocab).isLessThanOrEqualTo(tol);

        assertTopIds(last, golden.get("last_top20"), tol, "last position top-20");
        JsonNode perPosition = golden.get("per_position_top5");
        for (int p = 0; p < ids.length; p++) {
            float[] row = Arrays.copyOfRange(all, p * vocab, (p + 1) * vocab);
            assertTopIds(row, perPosition.get(p), tol, "position " + p + " top-5");
        }
    }

    /** Weights read in place and weights packed into resident memory give the same bits, not merely close ones. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("goldenCases")
    void residentWeightsGiveTheSameBitsAsMappedWeights(String modelName, String caseName) {
        int[] ids = Fixtures.ints(goldenCase(modelName, caseName).get("input_ids"));
        float[] mapped;
        float[] resident;
        try (SingleSequence sequence = new SingleSequence(model(modelName, "cpu-vector"), ids.length)) {
            mapped = sequence.appendAll(ids, ForwardObserver.NONE);
        }
        try (SingleSequence sequence = new SingleSequence(model(modelName, "cpu-vector-resident"), ids.length)) {
            resident = sequence.appendAll(ids, ForwardObserver.NONE);
        }
        // Compared as Float.equals does (by bits); AssertJ's element-wise diff is quadratic on this many logits.
        assertThat(Arrays.mismatch(resident, mapped)).as("first logit that differs").isEqualTo(-1);
    }

    /** Top ids equal the reference's, except that neighbours closer than the tolerance may swap. */
    private static void assertTopIds(float[] logits, JsonNode expectedTop, double tol, String what) {
        int[] expectedIds = Fixtures.ints(expectedTop.get("ids"));
        double[] expectedValues = Fixtures.doubles(expectedTop.get("values"));
        int[] actual = topIds(logits, expectedIds.length);
        for (int i = 0; i < expectedIds.length; i++) {
            if (actual[i] == expectedIds[i]) {
                continue;
            }
            boolean nearTie = (i > 0 && Math.abs(expectedValues[i] - expectedValues[i - 1]) < tol)
                    || (i + 1 < expectedIds.length && Math.abs(expectedValues[i] - expectedValues[i + 1]) < tol);
            assertThat(nearTie).as("%s rank %d: got id %d, reference %d (not a near-tie)", what, i, actual[i],
                    expectedIds[i]).isTrue();
        }
    }

    static int[] topIds(float[] logits, int k) {
        int[] top = new int[k];
        boolean[] taken = new boolean[logits.length];
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int i = 0; i < logits.length; i++) {
                if (!taken[i] && (best < 0 || logits[i] > logits[best])) {
                    best = i;
                }
            }
            taken[best] = true;
            top[j] = best;
        }
        return top;
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("casesOfEveryModel")
    void greedyContinuationThroughKvCacheMatchesReference(String modelName, String backend, String caseName) {
        JsonNode golden = goldenCase(modelName, caseName);
        int[] prompt = Fixtures.ints(golden.get("input_ids"));
        int[] expected = Fixtures.ints(golden.get("greedy").get("ids"));
        HunyuanModel model = model(modelName, backend);
        int[] generated = new int[expected.length];
        try (SingleSequence sequence = new SingleSequence(model, prompt.length + expected.length)) {
            float[] logits = sequence.appendLast(prompt);
            for (int i = 0; i < expected.length; i++) {
                generated[i] = argmax(logits);
                logits = sequence.appendLast(generated[i]);
            }
        }
        assertThat(generated).containsExactly(expected);
    }

    static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("modelsAndBackends")
    void hiddenStatesAndRoutingMatchReferenceLayerByLayer(String modelName, String backend) {
        JsonNode golden = goldenCase(modelName, "len7");
        int[] ids = Fixtures.ints(golden.get("input_ids"));
        HunyuanModel model = model(modelName, backend);
        int hidden = model.config().hiddenSize();
        int layers = model.config().numHiddenLayers();
        float[] expected = GoldenTensors.read(modelName, "len7.hidden_states"); // (layers + 2, 7, hidden)
        int stride = ids.length * hidden;
        List<float[]> states = new ArrayList<>();
        Map<Integer, Routing> routings = new HashMap<>();
        try (SingleSequence sequence = new SingleSequence(model, ids.length)) {
            sequence.appendAll(ids, new ForwardObserver() {
                @Override
                public void embeddings(float[] x) {
                    states.add(x);
                }

                @Override
                public void layerOutput(int layer, float[] x) {
                    states.add(x);
                }

                @Override
                public void routing(int layer, Routing routing) {
                    routings.put(layer, routing);
                }

                @Override
                public void finalNorm(float[] y) {
                    states.add(y);
                }
            });
        }
        assertThat(states).hasSize(layers + 2);
        for (int s = 0; s < states.size(); s++) {
            float[] actual = states.get(s);
            for (int i = 0; i < stride; i++) {
                double reference = expected[s * stride + i];
                assertThat((double) actual[i]).as("hidden state %d element %d", s, i)
                        .isCloseTo(reference, within(1e-4 + 1e-4 * Math.abs(reference)));
            }
        }
        for (JsonNode layerRouting : golden.get("routing")) {
            int layer = layerRouting.get("layer").asInt();
            Routing routing = routings.get(layer);
            for (int t = 0; t < ids.length; t++) {
                int[] experts = Fixtures.ints(layerRouting.get("experts").get(t));
                double[] weights = Fixtures.doubles(layerRouting.get("weights").get(t));
                for (int j = 0; j < experts.length; j++) {
                    assertThat(routing.experts()[t * routing.topK() + j]).as("layer %d token %d expert", layer, t)
                            .isEqualTo(experts[j]);
                    assertThat((double) routing.weights()[t * routing.topK() + j]).isCloseTo(weights[j], within(1e-5));
                }
            }
        }
    }

    @AfterAll
    void close() {
        models.values().forEach(HunyuanModel::close);
        backends.forEach(Backend::close);
    }
}
