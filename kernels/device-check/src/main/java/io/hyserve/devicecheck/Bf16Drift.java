package io.hyserve.devicecheck;

import io.hyserve.engine.Engine;
import io.hyserve.engine.EngineConfig;
import io.hyserve.engine.GenerationRequest;
import io.hyserve.engine.Prompt;
import io.hyserve.engine.TokenEvent;
import io.hyserve.engine.model.LoadProgress;
import io.hyserve.engine.sample.SamplingParams;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;

/**
 * How far the bf16 path ({@code cuda-bf16}: routed experts on bf16 tensor cores) drifts from the float32 path
 * ({@code cuda}) end to end: the last-position logits of random prompts (relative L2 error, largest difference
 * over the largest logit, whether the argmax agrees) and greedy continuations (tokens equal before the first
 * difference). Usage: {@code java -cp device-tests.jar io.hyserve.devicecheck.Bf16Drift MODEL_DIR TOKENIZER_DIR}.
 */
public final class Bf16Drift {
    private static final int PROMPTS = 8;
    private static final int PROMPT_TOKENS = 96;
    private static final int CONTINUATION = 32;

    private Bf16Drift() {}

    public static void main(String[] args) throws Exception {
        compare(Path.of(args[0]), Path.of(args[1]), System.out);
    }

    /** What one device path produced for the same prompts. */
    private record Outputs(List<float[]> logits, List<int[]> greedy) {}

    static void compare(Path model, Path tokenizer, PrintStream out) throws InterruptedException, ExecutionException {
        SplittableRandom random = new SplittableRandom(3);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < PROMPTS; i++) {
            prompts.add(random.ints(PROMPT_TOKENS, 0, 127_957).toArray());
        }
        Outputs reference = run("cuda", model, tokenizer, prompts);
        Outputs bf16 = run("cuda-bf16", model, tokenizer, prompts);
        double worstL2 = 0;
        double worstMax = 0;
        int argmaxAgree = 0;
        int greedyEqual = 0;
        int agreedTokens = 0;
        for (int p = 0; p < PROMPTS; p++) {
            float[] a = bf16.logits().get(p);
            float[] b = reference.logits().get(p);
            double difference = 0;
            double norm = 0;
            double largestDifference = 0;
            double largest = 0;
            for (int i = 0; i < b.length; i++) {
                double d = a[i] - (double) b[i];
                difference += d * d;
                norm += (double) b[i] * b[i];
                largestDifference = Math.max(largestDifference, Math.abs(d));
                largest = Math.max(largest, Math.abs(b[i]));
            }
            worstL2 = Math.max(worstL2, Math.sqrt(difference / norm));
            worstMax = Math.max(worstMax, largestDifference / largest);
            argmaxAgree += argmax(a) == argmax(b) ? 1 : 0;
            int[] x = bf16.greedy().get(p);
            int[] y = reference.greedy().get(p);
            int same = 0;
            while (same < Math.min(x.length, y.length) && x[same] == y[same]) {
                same++;
            }
            agreedTokens += same;
            greedyEqual += same == y.length && x.length == y.length ? 1 : 0;
        }
        out.printf("bf16 drift: %s: last logits rel. L2 ≤ %.2e, max |diff| ≤ %.2e of the largest logit, argmax agrees "
                + "%d/%d; greedy %d tokens: %d/%d identical, %.1f tokens agree before the first difference on average%n",
                model.getFileName(), worstL2, worstMax, argmaxAgree, PROMPTS, CONTINUATION, greedyEqual, PROMPTS,
                (double) agreedTokens / PROMPTS);
    }

    private static Outputs run(String device, Path model, Path tokenizer, List<int[]> prompts)
            throws InterruptedException, ExecutionException {
        EngineConfig config = EngineConfig.builder(model, tokenizer).device(device).prefixCaching(false).build();
        try (Engine engine = Engine.start(config, LoadProgress.NONE)) {
            List<float[]> logits = new ArrayList<>();
            List<int[]> greedy = new ArrayList<>();
            SamplingParams sampling = SamplingParams.builder().temperature(0.0).maxTokens(CONTINUATION).ignoreEos(true)
                    .build();
            for (int i = 0; i < prompts.size(); i++) {
                logits.add(engine.lastLogits(prompts.get(i)).get());
                greedy.add(engine.submit(new GenerationRequest("drift-" + i, Prompt.tokens(prompts.get(i)), sampling))
                        .events().ofType(TokenEvent.Token.class).map(TokenEvent.Token::tokenId).collectList().block()
                        .stream().mapToInt(Integer::intValue).toArray());
            }
            return new Outputs(logits, greedy);
        }
    }

    private static int argmax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}
