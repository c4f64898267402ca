package io.hyserve.launcher;

import io.hyserve.engine.model.SyntheticCheckpoint;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code synth}: writes a random-weight checkpoint with Hunyuan-Large proportions for benchmarks. */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = "Write a random-weight BF16 HunYuan checkpoint (small ≈ 140 MB, medium ≈ 1.8 GB).")
final class SynthCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(SynthCommand.class);

    @Option(names = "--out", required = true, paramLabel = "DIR")
    Path out;

    @Option(names = "--preset", defaultValue = "medium", description = "small or medium (default: ${DEFAULT-VALUE})")
    String preset;

    @Option(names = "--seed", defaultValue = "1")
    long seed;

    @Override
    public Integer call() {
        SyntheticCheckpoint.Preset shape = SyntheticCheckpoint.preset(preset);
        long started = System.nanoTime();
        log.atInfo().setMessage("writing synthetic checkpoint").addKeyValue("preset", shape)
                .addKeyValue("megabytes", shape.bytes() >> 20).log();
        SyntheticCheckpoint.write(out, shape, seed);
        log.atInfo().setMessage("synthetic checkpoint written").addKeyValue("out", out)
                .addKeyValue("seconds", "%.1f".formatted((System.nanoTime() - started) / 1e9)).log();
        return 0;
    }
}
