package io.hyserve.devicecheck;

import io.hyserve.engine.Engine;
import io.hyserve.engine.EngineConfig;
import io.hyserve.engine.GenerationRequest;
import io.hyserve.engine.Prompt;
import io.hyserve.engine.StepStats;
import io.hyserve.engine.TokenEvent;
import io.hyserve.engine.model.LoadProgress;
import io.hyserve.engine.model.SyntheticCheckpoint;
import io.hyserve.engine.sample.SamplingParams;
import io.hyserve.kernels.Gpu;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import reactor.core.publisher.Flux;

/**
 * Decode steps of the {@code medium} synthetic model (written on the spot, 1.8 GB) at batch 1 and 32 through the
 * engine's real path: weight bytes each step reads over its time, against the GPU's copy bandwidth measured in the
 * same run. Usage: {@code java -cp device-tests.jar io.hyserve.devicecheck.DecodeBench DEVICE PRESET TOKENIZER_DIR}
 * (DEVICE cuda on the GPU machine; cpu reports the same figures without a roof).
 */
public final class DecodeBench {
    private static final int PROMPT_TOKENS = 128;
    private static final int DECODE_TOKENS = 64;

    private DecodeBench() {}

    public static void main(String[] args) throws IOException {
        run(args[0], SyntheticCheckpoint.preset(args[1]), Path.of(args[2]), System.out);
    }

    static void run(String device, SyntheticCheckpoint.Preset preset, Path tokenizer, PrintStream out)
            throws IOException {
        Path model = Files.createTempDirectory("decode-bench");
        SyntheticCheckpoint.write(model, preset, 42);
        EngineConfig config = EngineConfig.builder(model, tokenizer).device(device).maxNumSeqs(32)
                .prefixCaching(false).build();
        try (Engine engine = Engine.start(config, LoadProgress.NONE)) {
            List<StepStats> steps = new CopyOnWriteArrayList<>();
            engine.addStepListener(steps::add);
            SplittableRandom random = new SplittableRandom(7);
            generate(engine, prompts(random, 4), 8); // warm-up: module loads, first launches
            double roof = device.equals("cuda") ? copyBandwidth() : Double.NaN;
            out.printf("decode bench: %s on %s%s%n", preset.name(), engine.backendName(),
                    Double.isNaN(roof) ? "" : ", copy bandwidth %.0f GB/s".formatted(roof / 1e9));
            for (int batch : new int[] {1, 32}) {
                List<int[]> prompts = prompts(random, batch);
                steps.clear();
                generate(engine, prompts, DECODE_TOKENS);
                List<StepStats> decode = steps.stream().filter(s -> s.tokens() == batch && s.sequences() == batch).toList();
                double seconds = decode.stream().mapToLong(StepStats::nanos).sum() / 1e9;
                long bytes = decode.stream().mapToLong(StepStats::weightBytes).sum();
                double bytesPerSecond = bytes / seconds;
                out.printf("decode bench: batch %d, %d steps, %.1f steps/s, %.0f MB of weights per step, %.0f GB/s%s%n",
                        batch, decode.size(), decode.size() / seconds, bytes / 1e6 / Math.max(1, decode.size()),
                        bytesPerSecond / 1e9, Double.isNaN(roof) ? ""
                                : " = %.1f %% of the copy bandwidth".formatted(100 * bytesPerSecond / roof));
            }
        } finally {
            try (var files = Files.list(model)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(model);
        }
    }

    private static double copyBandwidth() {
        try (Gpu gpu = Gpu.open(0)) {
            return gpu.copyBandwidth(1L << 30, 10);
        }
    }

    private static List<int[]> prompts(SplittableRandom random, int count) {
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            prompts.add(random.ints(PROMPT_TOKENS, 0, 127957).toArray());
        }
        return prompts;
    }

    private static void generate(Engine engine, List<int[]> prompts, int maxTokens) {
        SamplingParams greedy = SamplingParams.builder().temperature(0.0).maxTokens(maxTokens).ignoreEos(true).build();
        List<Flux<TokenEvent>> streams = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            streams.add(engine.submit(new GenerationRequest("bench-" + i, Prompt.tokens(prompts.get(i)), greedy)).events());
        }
        Flux.merge(streams).blockLast();
    }
}
