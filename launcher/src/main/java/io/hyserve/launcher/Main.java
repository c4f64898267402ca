package io.hyserve.launcher;

import io.hyserve.engine.InvalidRequestException;
import io.hyserve.engine.load.CheckpointException;
import io.hyserve.engine.tokenizer.ChatTemplateException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.FileDescriptor;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code hunyuan} command line. Output goes to stdout as UTF-8; logs and progress go to stderr. */
@Command(
        name = "hunyuan",
        mixinStandardHelpOptions = true,
        version = "hunyuan-serve 0.1.0",
        description = "Serve and run Hunyuan-Large (HunYuan MoE) models on the JVM.",
        subcommands = {
            GenerateCommand.class,
            ScoreCommand.class,
            TokenizeCommand.class,
            DetokenizeCommand.class,
            BenchCommand.class,
            SynthCommand.class,
            ServeCommand.class,
            ServeBenchCommand.class
        })
public final class Main {
    /** Exit status for input the command refuses (bad ids, bad checkpoint, invalid request). */
    static final int EXIT_INPUT_ERROR = 1;

    public static void main(String[] args) {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(out);
        System.exit(run(Utf8Arguments.recover(args), out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cli.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof InvalidRequestException || e instanceof CheckpointException
                    || e instanceof ChatTemplateException || e instanceof IllegalArgumentException
                    || e instanceof IOException || e instanceof UncheckedIOException) {
                commandLine.getErr().println("error: " + e.getMessage());
                return EXIT_INPUT_ERROR;
            }
            throw e;
        });
        return cli.execute(args);
    }
}
