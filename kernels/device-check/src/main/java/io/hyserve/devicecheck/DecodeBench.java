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
 * same run; then, on the GPU, the bf16 path's drift from the float32 one on the same model ({@link Bf16Drift}).
 * Usage: {@code java -cp device-tests.jar io.hyserve.devicecheck.DecodeBench DEVICES PRESET TOKENIZER_DIR}
 * (DEVICES comma-separated: cuda,cuda-bf16 on the GPU machine; cpu reports the same figures without a roof).
 */
public final class DecodeBench {
    private static final int PROMPT_TOKENS = 128;
    private static final int DECODE_TOKENS = 64;

    private DecodeBench() {}

    public static void main(String[] args) throws Exception {
        SyntheticCheckpoint.Preset preset = SyntheticCheckpoint.preset(args[1]);
        Path tokenizer = Path.of(args[2]);
        Path model = Files.createTempDirectory("decode-bench");
        try {
            SyntheticCheckpoint.write(model, preset, 42);
            for (String device : args[0].split(",")) {
                run(device, preset, model, tokenizer, System.out);
            }
            if (args[0].contains("cuda-bf16")) {
                Bf16Drift.compare(model, tokenizer, System.out);
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

    static void run(String device, SyntheticCheckpoint.Preset preset, Path model, Path tokenizer, PrintStream out) {
        EngineConfig config = EngineConfig.builder(model, tokenizer).device(device).maxNumSeqs(32)
                .prefixCaching(false).build();
        try (Engine engine = Engine.start(config, LoadProgress.NONE)) {
            List<StepStats> steps = new CopyOnWriteArrayList<>();
            engine.addStepListener(steps::add);
            SplittableRandom random = new SplittableRandom(7);
            generate(engine, prompts(random, 4), 8); // warm-up: module loads, first launches
            double roof = device.startsWith("cuda") ? copyBandwidth() : Double.NaN;
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
