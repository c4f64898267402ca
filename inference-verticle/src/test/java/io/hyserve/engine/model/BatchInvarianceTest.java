package io.hyserve.engine.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.hyserve.engine.backend.KvStorage;
import io.hyserve.engine.backend.StepLayout;
import io.hyserve.engine.backend.cpu.CpuBackend;
import io.hyserve.engine.kv.BlockTable;
import io.hyserve.engine.kv.KvCacheManager;
import io.hyserve.engine.testing.Fixtures;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A sequence's logits are bit-identical whether its prompt runs in one step, in chunks, token by token, or
 * in a ragged step shared with another sequence: every reduction runs in the same order in all of them.
 */
class BatchInvarianceTest {
    private static final int BLOCK = 16;
    private static CpuBackend backend;
    private static HunyuanModel model;
    private static int vocab;

    @BeforeAll
    static void load() {
        backend = CpuBackend.vector(2);
        model = HunyuanModel.load(Fixtures.model(Fixtures.BF16_MODEL), backend, LoadProgress.NONE);
        vocab = model.config().vocabSize();
    }

    @AfterAll
    static void close() {
        model.close();
        backend.close();
    }

    private static int[] randomPrompt(long seed, int length) {
        return new SplittableRandom(seed).ints(length, 0, 128000).toArray();
    }

    /** Logits of every position of {@code prompt}, fed in steps of {@code chunk} tokens. */
    private static float[] run(int[] prompt, int chunk) {
        KvCacheManager cache = new KvCacheManager(64, BLOCK, false);
        try (KvStorage kv = model.allocateKv(64, BLOCK)) {
            BlockTable blocks = new BlockTable();
            cache.allocate(blocks, prompt.length);
            float[] all = new float[prompt.length * vocab];
            for (int start = 0; start < prompt.length; start += chunk) {
                int from = start;
                int end = Math.min(prompt.length, start + chunk);
                int[] positions = new int[end - start];
                Arrays.setAll(positions, i -> from + i);
                int[] rows = new int[end - start];
                Arrays.setAll(rows, i -> i);
                float[] logits = model.forward(Arrays.copyOfRange(prompt, start, end),
                        StepLayout.of(positions, new int[rows.length], new int[][] {blocks.toArray()}, BLOCK), kv, rows);
                System.arraycopy(logits, 0, all, start * vocab, logits.length);
            }
            return all;
        }
    }

    private static void assertBitIdentical(float[] a, float[] b) {
        assertThat(a.length).isEqualTo(b.length);
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                throw new AssertionError("position %d id %d: %s vs %s".formatted(i / vocab, i % vocab, a[i], b[i]));
            }
        }
    }

    @Test
    void chunkBoundariesDoNotChangeAnyLogit() {
        int[] prompt = randomPrompt(1, 45);
        float[] whole = run(prompt, prompt.length);
        assertBitIdentical(run(prompt, 16), whole);
        assertBitIdentical(run(prompt, 7), whole);
        assertBitIdentical(run(prompt, 1), whole);
    }

    @Test
    void sharingAStepWithAnotherSequenceDoesNotChangeAnyLogit() {
        int[] first = randomPrompt(2, 21);
        int[] second = randomPrompt(3, 38);
        float[] alone1 = run(first, first.length);
        float[] alone2 = run(second, second.length);

        KvCacheManager cache = new KvCacheManager(64, BLOCK, false);
        try (KvStorage kv = model.allocateKv(64, BLOCK)) {
            BlockTable b1 = new BlockTable();
            BlockTable b2 = new BlockTable();
            cache.allocate(b2, second.length); // second sequence gets the low blocks this time
            cache.allocate(b1, first.length);
            int total = first.length + second.length;
            int[] ids = new int[total];
            int[] positions = new int[total];
            int[] owner = new int[total];
            int[] rows = new int[total];
            // Interleave the two sequences' tokens in one ragged step.
            int i1 = 0;
            int i2 = 0;
            for (int t = 0; t < total; t++) {
                boolean takeFirst = i1 < first.length && (t % 2 == 0 || i2 >= second.length);
                owner[t] = takeFirst ? 0 : 1;
                positions[t] = takeFirst ? i1 : i2;
                ids[t] = takeFirst ? first[i1++] : second[i2++];
                rows[t] = t;
            }
            float[] mixed = model.forward(ids, StepLayout.of(positions, owner, new int[][] {b1.toArray(), b2.toArray()}, BLOCK),
                    kv, rows);
            float[] got1 = new float[alone1.length];
            float[] got2 = new float[alone2.length];
            for (int t = 0; t < total; t++) {
                float[] target = owner[t] == 0 ? got1 : got2;
                System.arraycopy(mixed, t * vocab, target, positions[t] * vocab, vocab);
            }
            assertBitIdentical(got1, alone1);
            assertBitIdentical(got2, alone2);
        }
    }

    /**
     * Six sequences advance through ragged steps in random chunks, sometimes one token at a time (decode),
     * sometimes many (prefill), in random company: every logit equals the sequence's single full run.
     */
    @Test
    void randomRaggedBatchesGiveEverySequenceItsSingleRunLogits() {
        SplittableRandom random = new SplittableRandom(5);
        int count = 6;
        int[][] prompts = new int[count][];
        float[][] alone = new float[count][];
        for (int s = 0; s < count; s++) {
            prompts[s] = randomPrompt(100 + s, 10 + random.nextInt(50));
            alone[s] = run(prompts[s], prompts[s].length);
        }
        KvCacheManager cache = new KvCacheManager(64, BLOCK, false);
        try (KvStorage kv = model.allocateKv(64, BLOCK)) {
            BlockTable[] tables = new BlockTable[count];
            int[] done = new int[count];
            float[][] got = new float[count][];
            for (int s = 0; s < count; s++) {
                tables[s] = new BlockTable();
                cache.allocate(tables[s], prompts[s].length);
                got[s] = new float[prompts[s].length * vocab];
            }
            while (java.util.stream.IntStream.range(0, count).anyMatch(s -> done[s] < prompts[s].length)) {
                java.util.List<int[]> parts = new java.util.ArrayList<>(); // {sequence, start, length}
                for (int s = 0; s < count; s++) {
                    int left = prompts[s].length - done[s];
                    if (left > 0 && random.nextInt(3) > 0) {
                        int length = random.nextBoolean() ? 1 : 1 + random.nextInt(left);
                        parts.add(new int[] {s, done[s], Math.min(length, left)});
                    }
                }
                java.util.Collections.shuffle(parts, new java.util.Random(random.nextLong()));
                int tokens = parts.stream().mapToInt(p -> p[2]).sum();
                if (tokens == 0) {
                    continue;
                }
                int[] ids = new int[tokens];
                int[] positions = new int[tokens];
                int[] owners = new int[tokens];
                int[] rows = new int[tokens];
                int[][] stepTables = new int[parts.size()][];
                int t = 0;
                for (int i = 0; i < parts.size(); i++) {
                    int[] part = parts.get(i);
                    stepTables[i] = tables[part[0]].toArray();
                    for (int j = 0; j < part[2]; j++, t++) {
                        ids[t] = prompts[part[0]][part[1] + j];
                        positions[t] = part[1] + j;
                        owners[t] = i;
                        rows[t] = t;
                    }
                }
                float[] logits = model.forward(ids, StepLayout.of(positions, owners, stepTables, BLOCK), kv, rows);
                t = 0;
                for (int[] part : parts) {
                    for (int j = 0; j < part[2]; j++, t++) {
                        System.arraycopy(logits, t * vocab, got[part[0]], (part[1] + j) * vocab, vocab);
                    }
                    done[part[0]] += part[2];
                }
            }
            for (int s = 0; s < count; s++) {
                assertBitIdentical(got[s], alone[s]);
            }
        }
    }

    @Test
    void threadCountDoesNotChangeAnyLogit() {
        int[] prompt = randomPrompt(4, 30);
        float[] twoThreads = run(prompt, 8);
        try (CpuBackend single = CpuBackend.vector(1);
                HunyuanModel sequential = HunyuanModel.load(Fixtures.model(Fixtures.BF16_MODEL), single, LoadProgress.NONE)) {
            HunyuanModel saved = model;
            model = sequential;
            try {
                assertBitIdentical(run(prompt, 8), twoThreads);
            } finally {
                model = saved;
            }
        }
    }
}
