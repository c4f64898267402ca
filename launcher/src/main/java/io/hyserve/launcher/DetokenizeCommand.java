package io.hyserve.launcher;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.engine.tokenizer.HyTokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code detokenize}: token ids to text (invalid UTF-8 becomes U+FFFD; ids without a token are an error). */
@Command(name = "detokenize", mixinStandardHelpOptions = true, description = "Decode token ids into text.")
final class DetokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--tokenizer", paramLabel = "DIR", description = "Folder with hy.tiktoken (default: bundled)")
    Path tokenizer;

    @Option(names = "--ids", required = true, paramLabel = "IDS", converter = TokenIdList.Converter.class,
            description = "Comma-separated token ids")
    TokenIdList ids;

    @Option(names = "--skip-special-tokens", description = "Drop special tokens from the text")
    boolean skipSpecialTokens;

    @Option(names = "--json", description = "Print {\"text\":\"…\"}")
    boolean json;

    @Override
    public Integer call() throws IOException {
        HyTokenizer loaded = HyTokenizer.load(tokenizer != null ? tokenizer : ProjectHome.bundledTokenizer());
        String text = loaded.decode(ids.ids(), skipSpecialTokens);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(new ObjectMapper().writeValueAsString(Map.of("text", text)));
        } else {
            out.println(text);
        }
        out.flush();
        return 0;
    }
}
