package io.hyserve.launcher;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.engine.tokenizer.HyTokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tokenize}: text to token ids (special-token text is parsed; nothing is added). */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Encode text (from --text, --text-file or stdin) into token ids.")
final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--tokenizer", paramLabel = "DIR", description = "Folder with hy.tiktoken (default: bundled)")
    Path tokenizer;

    @ArgGroup(exclusive = true)
    Source source;

    static final class Source {
        @Option(names = "--text", paramLabel = "TEXT")
        String text;

        @Option(names = "--text-file", paramLabel = "FILE", description = "UTF-8 text file")
        Path file;
    }

    @Option(names = "--json", description = "Print {\"ids\":[…]}")
    boolean json;

    @Override
    public Integer call() throws IOException {
        String text;
        if (source != null && source.text != null) {
            text = source.text;
        } else if (source != null && source.file != null) {
            text = Files.readString(source.file, StandardCharsets.UTF_8);
        } else {
            text = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        }
        int[] ids = HyTokenizer.load(tokenizer != null ? tokenizer : ProjectHome.bundledTokenizer()).encode(text);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(new ObjectMapper().writeValueAsString(Map.of("ids", ids)));
        } else {
            out.println(Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(",")));
        }
        out.flush();
        return 0;
    }
}
