package io.hyserve.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Command-line arguments as UTF-8 whatever the locale. The JVM decodes argv with the locale's charset
 * ({@code sun.jnu.encoding}); under a POSIX/C locale that turns every non-ASCII character into '?'. On Linux
 * the raw bytes are still in {@code /proc/self/cmdline}, so they are decoded again as UTF-8.
 */
final class Utf8Arguments {
    private Utf8Arguments() {}

    static String[] recover(String[] args) {
        String encoding = System.getProperty("sun.jnu.encoding", "UTF-8");
        if (args.length == 0 || encoding.equalsIgnoreCase("UTF-8") || encoding.equalsIgnoreCase("UTF8")) {
            return args;
        }
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc/self/cmdline"));
            List<String> all = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] == 0) {
                    all.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                    start = i + 1;
                }
            }
            if (all.size() < args.length) {
                return args;
            }
            return all.subList(all.size() - args.length, all.size()).toArray(String[]::new);
        } catch (IOException | RuntimeException e) {
            return args;
        }
    }
}
