package io.hyserve.launcher;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hyserve.engine.Engine;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code score}: the last position's highest logits for a token-id prompt. */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Print the last position's top logits, sorted by descending logit (ties: lower id first).")
final class ScoreCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    EngineOptions engine;

    @Option(names = "--prompt-ids", required = true, paramLabel = "IDS", converter = TokenIdList.Converter.class,
            description = "Comma-separated token ids, fed exactly as given")
    TokenIdList promptIds;

    @Option(names = "--top", defaultValue = "20", description = "How many logits (default: ${DEFAULT-VALUE})")
    int top;

    @Option(names = "--json", description = "Print {\"ids\":[…],\"logits\":[…]}")
    boolean json;

    @Override
    public Integer call() throws InterruptedException {
        if (top <= 0) {
            throw new IllegalArgumentException("--top must be positive");
        }
        float[] logits;
        try (Engine running = engine.startEngine()) {
            logits = running.lastLogits(promptIds.ids()).get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
        int[] best = TopLogits.of(logits, top);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode result = mapper.createObjectNode();
            var ids = result.putArray("ids");
            var values = result.putArray("logits");
            for (int id : best) {
                ids.add(id);
                values.add(logits[id]);
            }
            out.println(result);
        } else {
            for (int id : best) {
                out.printf("%d\t%.6f%n", id, logits[id]);
            }
        }
        out.flush();
        return 0;
    }
}
