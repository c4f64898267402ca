package io.hyserve.launcher;

import io.hyserve.engine.model.LoadProgress;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Logs weight loading at most once a second, and once at the end. */
final class LoadProgressLog implements LoadProgress {
    private static final Logger log = LoggerFactory.getLogger("io.hyserve.load");
    private static final long INTERVAL_NANOS = 1_000_000_000L;

    private final Path model;
    private final long started = System.nanoTime();
    private long lastReport = started;

    LoadProgressLog(Path model) {
        this.model = model;
    }

    @Override
    public void update(int tensorsDone, int tensorsTotal, long bytesDone, long bytesTotal) {
        long now = System.nanoTime();
        boolean last = tensorsDone == tensorsTotal;
        if (!last && now - lastReport < INTERVAL_NANOS) {
            return;
        }
        lastReport = now;
        log.atInfo().setMessage(last ? "weights loaded" : "loading weights")
                .addKeyValue("model", model)
                .addKeyValue("tensors", tensorsDone + "/" + tensorsTotal)
                .addKeyValue("megabytes", "%d/%d".formatted(bytesDone >> 20, bytesTotal >> 20))
                .addKeyValue("seconds", "%.1f".formatted((now - started) / 1e9))
                .log();
    }
}
