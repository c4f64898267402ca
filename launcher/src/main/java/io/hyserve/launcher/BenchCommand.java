package io.hyserve.launcher;

import io.hyserve.engine.bench.ModelBench;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code bench}: prefill and decode speed on a checkpoint, with the machine's bandwidth measured alongside. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prefill tokens/s and batch-1 decode tokens/s against the measured memory bandwidth.")
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR")
    Path model;

    @Option(names = "--threads", description = "CPU threads (default: all cores)")
    Integer threads;

    @Option(names = "--prompt-tokens", defaultValue = "512")
    int promptTokens;

    @Option(names = "--decode-tokens", defaultValue = "64")
    int decodeTokens;

    @Override
    public Integer call() {
        int workers = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        ModelBench.Result r = ModelBench.run(model, workers, promptTokens, decodeTokens);
        PrintWriter out = spec.commandLine().getOut();
        out.printf("backend                        %s%n", r.backend());
        out.printf("prefill                        %.1f tokens/s (%d-token prompt)%n", r.prefillTokensPerSecond(), r.promptTokens());
        out.printf("decode (batch 1)               %.2f tokens/s (%d tokens, median step %.2f ms)%n",
                r.decodeTokensPerSecond(), r.decodeTokens(), r.medianDecodeStepMillis());
        out.printf("weight bytes per decode token  %.1f MB%n", r.weightBytesPerDecodeToken() / 1e6);
        out.printf("decode weight traffic          %.2f GB/s%n",
                r.weightBytesPerDecodeToken() * r.decodeTokensPerSecond() / 1e9);
        out.printf("memory bandwidth (triad)       %.2f GB/s (%d threads)%n", r.triadBytesPerSecond() / 1e9, r.threads());
        out.printf("decode / bandwidth             %.1f %%%n", 100 * r.decodeBandwidthFraction());
        out.flush();
        return 0;
    }
}
