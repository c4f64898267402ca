package io.hyserve.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Properties;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Defaults of {@code serve} options from the environment ({@code --max-waiting} is {@code HYSERVE_MAX_WAITING}),
 * then from the properties file that {@code HYSERVE_CONFIG} names ({@code max-waiting=…}), then the option's
 * own default.
 */
public final class ServeDefaults implements IDefaultValueProvider {
    private final Properties file = new Properties();

    public ServeDefaults() {
        String path = System.getenv("HYSERVE_CONFIG");
        if (path != null && !path.isBlank()) {
            try (InputStream in = Files.newInputStream(Path.of(path))) {
                file.load(in);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read HYSERVE_CONFIG file " + path + ": " + e.getMessage(), e);
            }
        }
    }

    @Override
    public String defaultValue(ArgSpec argSpec) {
        if (!(argSpec instanceof OptionSpec option)) {
            return argSpec.defaultValue();
        }
        String name = option.longestName().replaceFirst("^--", "");
        String fromEnv = System.getenv("HYSERVE_" + name.toUpperCase(Locale.ROOT).replace('-', '_'));
        if (fromEnv != null) {
            return fromEnv;
        }
        String fromFile = file.getProperty(name);
        return fromFile != null ? fromFile : argSpec.defaultValue();
    }
}
