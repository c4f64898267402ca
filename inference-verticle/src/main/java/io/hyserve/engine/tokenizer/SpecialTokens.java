package io.hyserve.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Special tokens: surface text ↔ id, and the scan for their earliest occurrence in text.
 *
 * <p>Every surface form has the shape {@code <|name|>} with no {@code "|>"} inside the name (checked here),
 * so the only candidate starting at an occurrence of {@code "<|"} ends at the first {@code "|>"} after it.
 * That turns the scan into {@code indexOf("<|")} plus a map lookup, instead of trying every surface form
 * at every position.
 */
final class SpecialTokens {

    /** A special token found in text at {@code [start, end)}. */
    record Match(int start, int end, int id) {}

    private static final String OPEN = "<|";
    private static final String CLOSE = "|>";

    private final int firstId;
    private final List<String> surfaces; // index = id - firstId
    private final List<byte[]> surfaceBytes;
    private final Map<String, Integer> ids = new HashMap<>();
    private final int maxLength;

    SpecialTokens(int firstId, List<String> surfaces) {
        this.firstId = firstId;
        this.surfaces = List.copyOf(surfaces);
        this.surfaceBytes = new ArrayList<>(surfaces.size());
        int longest = 0;
        for (int i = 0; i < surfaces.size(); i++) {
            String s = surfaces.get(i);
            if (!s.startsWith(OPEN) || s.length() < 4 || s.indexOf(CLOSE, OPEN.length()) != s.length() - 2) {
                throw new IllegalArgumentException("special token " + s + " is not of the form <|name|>");
            }
            if (ids.put(s, firstId + i) != null) {
                throw new IllegalArgumentException("duplicate special token " + s);
            }
            surfaceBytes.add(s.getBytes(StandardCharsets.UTF_8));
            longest = Math.max(longest, s.length());
        }
        this.maxLength = longest;
    }

    /** Hunyuan's special tokens, in id order from 127957 (tokenization_hy.py). */
    static List<String> hunyuanSurfaces() {
        List<String> names = new ArrayList<>(209);
        names.addAll(List.of("<|endoftext|>", "<|startoftext|>", "<|bos|>", "<|eos|>", "<|pad|>"));
        for (int n = 0; n <= 203; n++) {
            names.add("<|extra_" + n + "|>");
        }
        return names;
    }

    int firstId() {
        return firstId;
    }

    int endId() {
        return firstId + surfaces.size();
    }

    boolean contains(int id) {
        return id >= firstId && id < endId();
    }

    String surface(int id) {
        return surfaces.get(id - firstId);
    }

    byte[] surfaceBytes(int id) {
        return surfaceBytes.get(id - firstId);
    }

    /** The id of an exact surface form, or -1. */
    int id(String surface) {
        Integer id = ids.get(surface);
        return id == null ? -1 : id;
    }

    /** The earliest special token in {@code text[from, text.length())}, or null. */
    Match find(String text, int from) {
        for (int open = text.indexOf(OPEN, from); open >= 0; open = text.indexOf(OPEN, open + 1)) {
            int close = closeWithin(text, open);
            if (close >= 0) {
                Integer id = ids.get(text.substring(open, close + CLOSE.length()));
                if (id != null) {
                    return new Match(open, close + CLOSE.length(), id);
                }
            }
        }
        return null;
    }

    /** The first "|>" after the "<|" at {@code open} that could still close a surface form, or -1. */
    private int closeWithin(String text, int open) {
        int last = Math.min(text.length(), open + maxLength) - CLOSE.length();
        for (int i = open + OPEN.length(); i <= last; i++) {
            if (text.charAt(i) == '|' && text.charAt(i + 1) == '>') {
                return i;
            }
        }
        return -1;
    }
}
