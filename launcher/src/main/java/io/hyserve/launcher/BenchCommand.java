package io.hyserve.launcher;

import io.hyserve.engine.bench.ModelBench;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code bench}: the serving path's speed on a checkpoint, against roofs measured in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prefill, batch-1 decode and concurrent throughput against measured memory bandwidth "
                + "and matmul peak.")
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "DIR", description = "Folder with hy.tiktoken (default: bundled)")
    Path tokenizer;

    @Option(names = "--threads", description = "CPU threads (default: all cores)")
    Integer threads;

    @Option(names = "--prompt-tokens", defaultValue = "512", description = "Prefill prompt length (default: ${DEFAULT-VALUE})")
    int promptTokens;

    @Option(names = "--decode-tokens", defaultValue = "64",
            description = "Tokens each request generates (default: ${DEFAULT-VALUE})")
    int decodeTokens;

    @Option(names = "--concurrency", defaultValue = "1,8,32", split = ",",
            description = "Concurrent requests per run (default: ${DEFAULT-VALUE})")
    List<Integer> concurrency;

    @Override
    public Integer call() {
        int workers = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        ModelBench.Result r = ModelBench.run(new ModelBench.Options(model,
                tokenizer != null ? tokenizer : ProjectHome.tokenizerFor(model), workers, promptTokens, decodeTokens,
                concurrency));
        PrintWriter out = spec.commandLine().getOut();
        out.printf("backend                        %s%n", r.backend());
        out.printf("memory bandwidth (triad)       %.2f GB/s%n", r.triadBytesPerSecond() / 1e9);
        out.printf("memory bandwidth (read only)   %.2f GB/s (context; the bound uses the triad)%n",
                r.readBytesPerSecond() / 1e9);
        out.printf("matmul peak (our kernel)       %.1f GFLOP/s%n", r.matmulFlopsPerSecond() / 1e9);
        out.printf("prefill                        %.1f tokens/s (%d-token prompt)%n", r.prefillTokensPerSecond(),
                r.promptTokens());
        if (r.decode() != null) {
            out.printf("decode (batch 1)               %.2f tokens/s%n", r.decode().tokensPerSecond());
            out.printf("weight bytes per decode token  %.1f MB%n", r.decode().weightBytesPerToken() / 1e6);
            out.printf("decode / bandwidth             %.1f %% of the triad, %.1f %% of the read-only figure%n",
                    100 * r.decode().bandwidthFraction(), 100 * r.decode().fractionOf(r.readBytesPerSecond()));
        }
        out.printf("%nconcurrency  output tok/s  seqs/step  tokens/step  bound s  actual s  of bound  %16s  %16s%n",
                "prompt steps", "decode steps");
        for (ModelBench.Load load : r.loads()) {
            out.printf("%11d  %12.1f  %9.1f  %11.1f  %7.2f  %8.2f  %6.1f %%  %5.1f %% of %4.2f s"
                    + "  %5.1f %% of %4.2f s%n",
                    load.concurrency(), load.outputTokensPerSecond(), load.meanSequencesPerStep(),
                    load.meanTokensPerStep(), load.boundSeconds(), load.stepSeconds(), 100 * load.fractionOfBound(),
                    100 * load.prefillSteps().fraction(), load.prefillSteps().seconds(),
                    100 * load.decodeSteps().fraction(), load.decodeSteps().seconds());
        }
        out.printf("%n(%d-token prompts, %d tokens each; bound = per step max(weight bytes read / triad, FLOPs / peak))%n",
                ModelBench.LOAD_PROMPT_TOKENS, decodeTokens);
        out.flush();
        return 0;
    }
}
